//! Running independent jobs side by side within a memory budget.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use anyhow::Result;

/// Runs `job(i)` for every `i` in `0..costs.len()`. Jobs start in order, each as soon as the
/// jobs running beside it leave room for its cost within `budget` (a job alone always starts,
/// whatever its cost), at most `width` at once. Once a job has failed no other starts; the
/// first failure (in order) is returned after the running jobs finish. A job that panics
/// panics the caller.
pub(crate) fn within<T: Send>(
    costs: &[u64],
    budget: u64,
    width: usize,
    job: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let n = costs.len();
    let mut results: Vec<Option<Result<T>>> = (0..n).map(|_| None).collect();
    let (tx, rx) = mpsc::channel();
    let job = &job;
    std::thread::scope(|scope| {
        let (mut next, mut running, mut load, mut failed) = (0usize, 0usize, 0u64, false);
        loop {
            while !failed
                && next < n
                && running < width.max(1)
                && (running == 0 || load.saturating_add(costs[next]) <= budget)
            {
                let (tx, i) = (tx.clone(), next);
                scope.spawn(move || {
                    let outcome = catch_unwind(AssertUnwindSafe(|| job(i)));
                    // The receiver outlives every job (it waits for all of them).
                    let _ = tx.send((i, outcome));
                });
                load = load.saturating_add(costs[i]);
                running += 1;
                next += 1;
            }
            if running == 0 {
                break;
            }
            let (i, outcome) = rx.recv().expect("a running job reports back");
            running -= 1;
            load = load.saturating_sub(costs[i]);
            let r = outcome.unwrap_or_else(|panic| resume_unwind(panic));
            failed |= r.is_err();
            results[i] = Some(r);
        }
    });
    let mut out = Vec::with_capacity(n);
    for r in results.into_iter().flatten() {
        out.push(r?);
    }
    Ok(out)
}

/// Resident memory of this process, in bytes (Linux; 0 where it cannot be read).
pub(crate) fn resident_now() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Runs jobs of `costs` that record the load and count running beside them.
    fn observe(costs: &[u64], budget: u64, width: usize) -> (Vec<usize>, u64, usize) {
        let load = AtomicU64::new(0);
        let (peak_load, running, peak_running) =
            (AtomicU64::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
        let order = Mutex::new(Vec::new());
        let out = within(costs, budget, width, |i| {
            order.lock().unwrap().push(i);
            let l = load.fetch_add(costs[i], Ordering::SeqCst) + costs[i];
            peak_load.fetch_max(l, Ordering::SeqCst);
            let r = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak_running.fetch_max(r, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(15));
            running.fetch_sub(1, Ordering::SeqCst);
            load.fetch_sub(costs[i], Ordering::SeqCst);
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(out, (0..costs.len()).map(|i| i * 10).collect::<Vec<_>>());
        let started = order.into_inner().unwrap();
        (
            started,
            peak_load.load(Ordering::SeqCst),
            peak_running.load(Ordering::SeqCst),
        )
    }

    #[test]
    fn jobs_start_in_order_and_never_exceed_the_budget_together() {
        let costs = [3, 5, 2, 7, 1, 4, 4, 6];
        for (budget, width) in [(8, 2), (8, 8), (10, 3), (1, 4), (100, 2)] {
            let (mut started, peak, running) = observe(&costs, budget, width);
            // Jobs started side by side may record themselves in either order; one at a
            // time (budget 1), they run in order.
            if budget > 1 {
                started.sort_unstable();
            }
            assert_eq!(started, (0..costs.len()).collect::<Vec<_>>());
            let widest = *costs.iter().max().unwrap();
            assert!(peak <= budget.max(widest), "{budget}: load {peak}");
            assert!(running <= width, "{width}: {running} at once");
        }
    }

    #[test]
    fn a_job_over_the_budget_runs_alone() {
        let (_, peak, running) = observe(&[9, 20, 9], 10, 4);
        assert_eq!((peak, running), (20, 1));
    }

    #[test]
    fn jobs_that_fit_together_run_together() {
        // Two jobs each wait (up to 10 s) for the other: only side by side do both finish.
        let (a, b) = (mpsc::channel(), mpsc::channel());
        let ends = Mutex::new(vec![(a.0, b.1), (b.0, a.1)]);
        let out = within(&[4, 4], 8, 2, |_| {
            let (tx, rx) = ends.lock().unwrap().pop().unwrap();
            tx.send(()).unwrap();
            rx.recv_timeout(Duration::from_secs(10))
                .map_err(|_| anyhow::anyhow!("ran alone"))
        })
        .unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn after_a_failure_no_job_starts_and_the_first_failure_is_returned() {
        let started = AtomicUsize::new(0);
        let r = within(&[1, 1, 1, 1], 1, 1, |i| {
            started.fetch_add(1, Ordering::SeqCst);
            if i >= 1 {
                anyhow::bail!("job {i} failed");
            }
            Ok(())
        });
        assert_eq!(r.unwrap_err().to_string(), "job 1 failed");
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }
}

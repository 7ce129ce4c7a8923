//! Planning segments within a budget: every segment fits, one segment fewer (cut as the
//! planner cuts) does not, and budgets no cut can meet are clear errors.

use zkml_circuits::cost::{choose_within, memory_estimate, Objective, Phases, MEMORY_BASE};
use zkml_circuits::VisibilityConfig;
use zkml_ir::Program;
use zkml_segments::plan::{
    plan_cuts, plan_for, resident_bytes, size_segments_fitting, Budget, MEMORY_HEADROOM,
};
use zkml_segments::CutProgram;
use zkml_test_support::{deep_program, Fixture};

/// Whether `count` segments, cut and sized as the planner does, all fit.
fn fits_as(program: &Program, budget: Budget, count: usize) -> bool {
    let vis = VisibilityConfig::default();
    let Ok(cuts) = plan_cuts(program, vis, count) else {
        return false;
    };
    let cut = CutProgram::new(program.clone(), vis, cuts).unwrap();
    let resident = resident_bytes(program);
    size_segments_fitting(&cut, Objective::Proving, Phases::Any, budget, resident)
        .unwrap()
        .iter()
        .all(|c| budget.fits(c, resident))
}

#[test]
fn planned_segments_fit_and_one_fewer_does_not() {
    let vis = VisibilityConfig::default();
    let program = deep_program(48, 12);
    let whole = choose_within(&program, vis, Objective::Proving, Phases::Any).unwrap();
    let need = memory_estimate(&whole, whole.k);
    let resident = resident_bytes(&program);
    // A memory budget whose room (after the headroom and what the process holds) is the
    // whole circuit's estimate with its variable part cut by `by`.
    let memory = |by: u64| {
        let room = MEMORY_BASE + (need - MEMORY_BASE) / by + resident;
        Budget::Memory((room as f64 / MEMORY_HEADROOM) as u64 + 1)
    };
    let mut cut_somewhere = false;
    for budget in [
        Budget::Logrows(whole.k - 1),
        Budget::Logrows(whole.k - 2),
        memory(2),
        memory(3),
        Budget::Memory(2 * need),
    ] {
        let (cut, circuits) = plan_for(&program, vis, budget, Objective::Proving, Phases::Any)
            .unwrap_or_else(|e| panic!("{budget:?}: {e}"));
        let n = cut.len();
        // The planner sizes each segment once for all the counts it tries: its circuits are
        // those the segments of its cut get sized afresh.
        assert_eq!(
            circuits,
            size_segments_fitting(&cut, Objective::Proving, Phases::Any, budget, resident).unwrap(),
            "{budget:?}"
        );
        assert!(
            circuits.iter().all(|c| budget.fits(c, resident)),
            "{budget:?}: {circuits:?}"
        );
        if let Budget::Memory(bytes) = budget {
            let room = (bytes as f64 * MEMORY_HEADROOM) as u64;
            assert!(circuits
                .iter()
                .all(|c| memory_estimate(c, c.k) + resident <= room));
        }
        match budget {
            Budget::Memory(b) if b == 2 * need => assert_eq!(n, 1, "the whole circuit fits"),
            // One segment where a shape of the whole circuit other than the fastest fits.
            _ if n == 1 => {}
            _ => {
                cut_somewhere = true;
                assert!(
                    !fits_as(&program, budget, n - 1),
                    "{budget:?}: {} segments would fit (whole: {whole:?})",
                    n - 1
                );
            }
        }
        eprintln!(
            "{budget:?}: {n} segments, k {:?}",
            circuits.iter().map(|c| c.k).collect::<Vec<_>>()
        );
    }
    assert!(cut_somewhere, "some budget cuts the program");
}

#[test]
fn budgets_no_cut_meets_are_errors() {
    let f = Fixture::load("mlp_small");
    let vis = VisibilityConfig::default();
    for budget in [Budget::Logrows(6), Budget::Memory(1_000)] {
        let e = plan_for(&f.program, vis, budget, Objective::Proving, Phases::Any)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("no cut of the program into"), "{e}");
        assert!(e.contains("the widest needs"), "{e}");
    }
}

/// An embedding of 8,192 rows of 4 (a 32,768-entry lookup table) before twelve dense layers:
/// the segment holding it needs 2^14 rows however the rest is cut (2^16 in one table bank; with
/// several, each of its four columns is a part of 8,192 entries that no bank splits further).
fn embedding_program() -> Program {
    use zkml_ir::{InputDomain, Op, ProgramBuilder};
    let mut b = ProgramBuilder::new(16).unwrap();
    let ids = b
        .input_in("ids", vec![4], 0, InputDomain::Integer { lo: 0, hi: 8191 })
        .unwrap();
    let table: Vec<i64> = (0..8192 * 4).map(|i| (i * 7919 % 255) - 127).collect();
    let emb = b.constant("emb", vec![8192, 4], 0, table).unwrap();
    let mut x = b.push("take", Op::Take { axis: 0 }, &[emb, ids]).unwrap();
    let mut x2 = b
        .push("flat", Op::Reshape { shape: vec![1, 16] }, &[x])
        .unwrap();
    for layer in 0..12 {
        let w: Vec<i64> = (0..16 * 16)
            .map(|i| ((i + layer) * 31 % 255) as i64 - 127)
            .collect();
        let w = b
            .parameter(&format!("w{layer}"), vec![16, 16], 8, w)
            .unwrap();
        let mm = b.push(&format!("mm{layer}"), Op::MatMul, &[x2, w]).unwrap();
        x = b
            .push(&format!("rescale{layer}"), Op::Rescale { shift: 10 }, &[mm])
            .unwrap();
        x2 = b.push(&format!("relu{layer}"), Op::Relu, &[x]).unwrap();
    }
    b.output(x2, "y");
    b.finish().unwrap()
}

#[test]
fn a_node_no_cut_shrinks_stops_the_search() {
    let program = embedding_program();
    let vis = VisibilityConfig::default();
    let whole = choose_within(&program, vis, Objective::Proving, Phases::Any).unwrap();
    assert!(whole.k >= 14, "{whole:?}");
    let start = std::time::Instant::now();
    let e = plan_for(
        &program,
        vis,
        Budget::Logrows(13),
        Objective::Proving,
        Phases::Any,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("does not fit the budget at any cut"), "{e}");
    assert!(e.contains("segment 0 of"), "{e}");
    eprintln!("{e} ({:.1} s)", start.elapsed().as_secs_f64());
}

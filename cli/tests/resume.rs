//! A one-shot chain proof that stops before it is done goes on where it stopped when run again:
//! the segment proofs it made are kept in `DIR/progress` with its links' blinding values, and
//! a later run of the same command proves only the rest. A saved proof that does not verify,
//! one saved by another run, the progress of another input (private inputs included) or a
//! damaged state file is not used; two runs never share the folder.

mod common;

use std::path::{Path, PathBuf};

use common::{fixtures, run_json, s, zkml};
use serde_json::Value;

fn fixture(file: &str) -> PathBuf {
    fixtures().join("mlp_small").join(file)
}

const SEGMENTS: &str = "3";

/// `prove --segments 3` into `out`, its chain file at `chain`; the finished command.
fn prove(cache: &Path, out: &Path, chain: &Path, input: &Path) -> std::process::Output {
    prove_with(cache, out, chain, input, &[])
}

fn prove_with(
    cache: &Path,
    out: &Path,
    chain: &Path,
    input: &Path,
    extra: &[&str],
) -> std::process::Output {
    zkml(cache)
        .args(["prove", s(&fixture("model.onnx")), "--input", s(input)])
        .args([
            "--out",
            s(out),
            "-o",
            s(chain),
            "--segments",
            SEGMENTS,
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The segments (1-based) whose proof this run made, and those it took from the progress.
fn proven_and_resumed(run: &Value) -> (Vec<usize>, Vec<usize>) {
    let timings = run["timings"].as_object().unwrap();
    let with = |stage: &str| -> Vec<usize> {
        (1..=3)
            .filter(|i| {
                timings
                    .keys()
                    .any(|k| k.starts_with(&format!("segment {i}/3: {stage}")))
            })
            .collect()
    };
    let proven = with("prove");
    let checked = with("check the saved proof");
    let resumed = checked
        .into_iter()
        .filter(|i| !proven.contains(i))
        .collect();
    (proven, resumed)
}

/// A run stopped after its proofs (its chain file could not be written) keeps them: the next
/// run proves nothing again, and its chain verifies against the input.
#[test]
fn a_stopped_chain_proof_goes_on_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let chain = out.join("chain.json");
    let input = fixture("input.json");
    // The user's own file where the chain goes: the run proves every segment, then refuses
    // to overwrite it.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(&chain, b"my notes").unwrap();
    let stopped = prove(&cache, &out, &chain, &input);
    assert!(!stopped.status.success());
    let err = String::from_utf8_lossy(&stopped.stderr);
    assert!(err.contains("chain.json"), "{err}");
    assert_eq!(std::fs::read(&chain).unwrap(), b"my notes");
    let progress = out.join("progress");
    for i in 0..3 {
        assert!(progress.join(format!("segment-{i}.saved.json")).exists());
    }
    let state = std::fs::read_to_string(progress.join("state.json")).unwrap();
    assert!(state.contains("zkml-chain-progress"), "{state}");
    // The run has ended: its lock is gone.
    assert!(!progress.join("lock").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let secret = "the links' blinding values are secret";
        assert_eq!(mode(&progress.join("state.json")), 0o600, "{secret}");
        assert_eq!(mode(&progress), 0o700, "{secret}");
    }

    std::fs::remove_file(&chain).unwrap();
    let again = prove(&cache, &out, &chain, &input);
    let again = json(&again);
    assert_eq!(again["resumed_segments"], serde_json::json!([0, 1, 2]));
    assert_eq!(
        proven_and_resumed(&again),
        (vec![], vec![1, 2, 3]),
        "{again}"
    );
    assert_eq!(again["verified"], true);
    // Done: the progress (and its secrets) is gone.
    assert!(!progress.exists());
    let v = run_json(
        &cache,
        &["verify", "--proof", s(&chain), "--input", s(&input)],
    );
    assert_eq!(v["verified"], true);
    assert_eq!(v["input"], "proven");
    // The same outputs as a run from scratch.
    let fresh = json(&prove(
        &cache,
        &dir.path().join("fresh"),
        &dir.path().join("fresh/chain.json"),
        &input,
    ));
    assert_eq!(proven_and_resumed(&fresh), (vec![1, 2, 3], vec![]));
    assert_eq!(again["outputs"], fresh["outputs"]);
}

/// Leaves `out/progress` as a run stopped after all its proofs leaves it.
fn stopped_run(cache: &Path, out: &Path, input: &Path) {
    stopped_run_with(cache, out, input, &[]);
}

/// [`stopped_run`] with `extra` flags.
fn stopped_run_with(cache: &Path, out: &Path, input: &Path, extra: &[&str]) {
    let chain = out.join("chain.json");
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(&chain, b"in the way").unwrap();
    assert!(!prove_with(cache, out, &chain, input, extra)
        .status
        .success());
    std::fs::remove_file(&chain).unwrap();
}

/// A saved proof with a flipped byte is proven again; the others are used.
#[test]
fn a_damaged_saved_proof_is_proven_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let input = fixture("input.json");
    stopped_run(&cache, &out, &input);
    let saved = out.join("progress/segment-1.saved.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let proof = file["proof"]["proof"].as_str().unwrap().to_string();
    // A byte in the middle of the proof.
    let at = proof.len() / 2;
    let flipped = if &proof[at..at + 1] == "0" { "1" } else { "0" };
    file["proof"]["proof"] =
        Value::String(format!("{}{flipped}{}", &proof[..at], &proof[at + 1..]));
    std::fs::write(&saved, serde_json::to_vec(&file).unwrap()).unwrap();

    let chain = out.join("chain.json");
    let again = json(&prove(&cache, &out, &chain, &input));
    assert_eq!(proven_and_resumed(&again), (vec![2], vec![1, 3]), "{again}");
    assert_eq!(again["verified"], true);
    let v = run_json(
        &cache,
        &["verify", "--proof", s(&chain), "--input", s(&input)],
    );
    assert_eq!(v["verified"], true);
}

/// The progress of another input is not used: every segment is proven for this one, and the
/// chain verifies against it.
#[test]
fn progress_of_another_input_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let input = fixture("input.json");
    stopped_run(&cache, &out, &input);
    // The same shape, other values.
    let mut other: Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    for v in other["input_data"][0].as_array_mut().unwrap() {
        *v = Value::from(v.as_f64().unwrap() * 0.5 + 0.125);
    }
    let other_input = dir.path().join("other.json");
    std::fs::write(&other_input, serde_json::to_vec(&other).unwrap()).unwrap();

    let chain = out.join("chain.json");
    let done = prove(&cache, &out, &chain, &other_input);
    let done = json(&done);
    assert_eq!(done["resumed_segments"], serde_json::json!([]));
    assert_eq!(proven_and_resumed(&done), (vec![1, 2, 3], vec![]), "{done}");
    let v = run_json(
        &cache,
        &["verify", "--proof", s(&chain), "--input", s(&other_input)],
    );
    assert_eq!(v["verified"], true);
    assert_eq!(v["input"], "proven");
    assert!(!out.join("progress").exists());
}

/// A saved proof from another run of the same input verifies under its key but carries other
/// blinding values: it is not used (it names another run), and the chain links.
#[test]
fn a_saved_proof_of_another_run_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = fixture("input.json");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    stopped_run(&cache, &a, &input);
    stopped_run(&cache, &b, &input);
    std::fs::copy(
        b.join("progress/segment-1.saved.json"),
        a.join("progress/segment-1.saved.json"),
    )
    .unwrap();
    let chain = a.join("chain.json");
    let again = json(&prove(&cache, &a, &chain, &input));
    assert_eq!(proven_and_resumed(&again), (vec![2], vec![1, 3]), "{again}");
    assert_eq!(again["verified"], true);
    assert!(!a.join("progress").exists());
}

/// With private inputs the input file is not checked against the chain: the state's digest of
/// the input is what keeps another input's proofs out.
#[test]
fn private_inputs_of_another_value_start_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let input = fixture("input.json");
    let private = ["--input-visibility", "private"];
    let chain = out.join("chain.json");
    stopped_run_with(&cache, &out, &input, &private);
    let other_input = dir.path().join("other.json");
    let mut other: Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
    for v in other["input_data"][0].as_array_mut().unwrap() {
        *v = Value::from(-v.as_f64().unwrap());
    }
    std::fs::write(&other_input, serde_json::to_vec(&other).unwrap()).unwrap();
    let done = json(&prove_with(&cache, &out, &chain, &other_input, &private));
    assert_eq!(done["resumed_segments"], serde_json::json!([]), "{done}");
    let fresh = json(&prove(
        &cache,
        &dir.path().join("fresh"),
        &dir.path().join("fresh/chain.json"),
        &other_input,
    ));
    assert_eq!(done["outputs"], fresh["outputs"]);
}

/// A damaged state file is replaced: the run starts afresh instead of failing for good.
#[test]
fn a_damaged_state_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let input = fixture("input.json");
    stopped_run(&cache, &out, &input);
    let state_path = out.join("progress/state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    state["links"][0] = Value::String("0xnot a word".into());
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let done = json(&prove(&cache, &out, &out.join("chain.json"), &input));
    assert_eq!(done["resumed_segments"], serde_json::json!([]), "{done}");
    assert_eq!(done["verified"], true);
}

/// A second run into a folder a living run holds is refused; the lock of a run that ended
/// without removing it is taken over.
#[test]
fn one_run_at_a_time_proves_into_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let input = fixture("input.json");
    let chain = out.join("chain.json");
    let lock = out.join("progress/lock");
    std::fs::create_dir_all(out.join("progress")).unwrap();
    // This test's own process: alive.
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    let refused = prove(&cache, &out, &chain, &input);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("another zkml run"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(lock.exists(), "the living run's lock stays");
    assert!(!chain.exists());
    // A process id no process has (beyond Linux's largest).
    std::fs::write(&lock, "4194305").unwrap();
    let done = json(&prove(&cache, &out, &chain, &input));
    assert_eq!(done["verified"], true);
    assert!(!out.join("progress").exists());
}

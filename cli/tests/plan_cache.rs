//! The plan cache: a chain proof's plan (its cuts and each segment's circuit), and the one
//! circuit sized for a whole program, are kept under `<cache>/plans` and taken by the next run
//! of the same program with the same request and settings, instead of planning again. Another
//! request or other settings plan afresh; an entry that cannot be read or does not cut the
//! program as it says is ignored and replaced.

mod common;

use std::path::{Path, PathBuf};

use common::{fixtures, run_json, s, zkml};
use serde_json::Value;

fn fixture(file: &str) -> PathBuf {
    fixtures().join("mlp_small").join(file)
}

fn prove(cache: &Path, out: &Path, extra: &[&str]) -> Value {
    let model = fixture("model.onnx");
    let input = fixture("input.json");
    let mut args = vec!["prove", s(&model), "--input", s(&input), "--out", s(out)];
    args.extend_from_slice(extra);
    run_json(cache, &args)
}

/// The cache's entries, sorted.
fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache.join("plans"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn cuts(run: &Value) -> Vec<u64> {
    run["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

#[test]
fn a_rerun_takes_the_plan_kept_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = prove(&cache, &dir.path().join("a"), &["--segments", "3"]);
    assert_eq!(first["verified"], true);
    let kept = entries(&cache);
    assert_eq!(kept.len(), 1, "one plan kept: {kept:?}");
    let entry: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert_eq!(entry["format"], "zkml-plan");
    assert_eq!(entry["cuts"].as_array().unwrap().len(), 2);
    assert_eq!(entry["circuits"].as_array().unwrap().len(), 3);

    // The next run takes the entry as it is: a segment's circuit edited in it (made one size
    // larger, which still fits) is the one it proves with, and the chain still verifies.
    let ks = |run: &Value| -> Vec<u64> {
        run["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|seg| seg["k"].as_u64().unwrap())
            .collect()
    };
    let mut edited = entry.clone();
    let larger = entry["circuits"][1]["k"].as_u64().unwrap() + 1;
    edited["circuits"][1]["k"] = serde_json::json!(larger);
    std::fs::write(&kept[0], serde_json::to_vec(&edited).unwrap()).unwrap();
    let second = prove(&cache, &dir.path().join("b"), &["--segments", "3"]);
    let mut expected = ks(&first);
    expected[1] = larger;
    assert_eq!(ks(&second), expected, "the kept plan was not used");
    assert_eq!(cuts(&second), cuts(&first));
    assert_eq!(second["verified"], true);
    assert_eq!(second["outputs"], first["outputs"]);

    // Another request, or other settings, is another plan.
    prove(&cache, &dir.path().join("c"), &["--segments", "2"]);
    assert_eq!(entries(&cache).len(), 2);
    prove(
        &cache,
        &dir.path().join("d"),
        &["--segments", "3", "--output-visibility", "hashed"],
    );
    assert_eq!(entries(&cache).len(), 3);
}

#[test]
fn unusable_entries_are_planned_afresh_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = prove(&cache, &dir.path().join("a"), &["--segments", "3"]);
    let kept = entries(&cache);
    let original = std::fs::read(&kept[0]).unwrap();
    let entry: Value = serde_json::from_slice(&original).unwrap();
    let mut fewer = entry.clone();
    fewer["circuits"].as_array_mut().unwrap().pop();
    let mut outside = entry.clone();
    outside["cuts"] = serde_json::json!([1_000_000, 2_000_000]);
    let mut foreign = entry.clone();
    foreign["format"] = serde_json::json!("zkml-chain");
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"{\"format\": \"zkml-pl".to_vec()),
        ("empty", Vec::new()),
        ("a circuit short", serde_json::to_vec(&fewer).unwrap()),
        (
            "cuts outside the program",
            serde_json::to_vec(&outside).unwrap(),
        ),
        ("another format", serde_json::to_vec(&foreign).unwrap()),
    ];
    for (i, (what, bytes)) in damaged.into_iter().enumerate() {
        std::fs::write(&kept[0], bytes).unwrap();
        let run = prove(
            &cache,
            &dir.path().join(format!("r{i}")),
            &["--segments", "3"],
        );
        assert_eq!(run["verified"], true, "{what}");
        assert_eq!(cuts(&run), cuts(&first), "{what}: planned afresh");
        assert_eq!(run["outputs"], first["outputs"], "{what}");
        assert_eq!(
            std::fs::read(&kept[0]).unwrap(),
            original,
            "{what}: the entry was replaced by the plan made"
        );
    }
}

/// A kept plan whose circuits are too small for their segments makes the run fail with an
/// error, not a panic and not a proof.
#[test]
fn a_kept_plan_too_small_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    prove(&cache, &dir.path().join("a"), &["--segments", "2"]);
    let kept = entries(&cache);
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    for c in entry["circuits"].as_array_mut().unwrap() {
        c["k"] = serde_json::json!(4);
    }
    std::fs::write(&kept[0], serde_json::to_vec(&entry).unwrap()).unwrap();
    let out = dir.path().join("b");
    let run = zkml(&cache)
        .args(["prove", s(&fixture("model.onnx")), "--input"])
        .arg(fixture("input.json"))
        .args(["--out", s(&out), "--segments", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("the layout needs 2^"), "{stderr}");
    assert!(!out.join("chain.json").exists());
}

/// One-shot proving of a program that fits one circuit keeps that circuit too, and proving the
/// same model again (a node answering every request with a proof) takes it instead of sizing
/// the program again; a whole-program entry is never taken for segments, nor the reverse.
#[test]
fn the_whole_programs_circuit_is_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = prove(&cache, &dir.path().join("a"), &[]);
    assert_eq!(first["verified"], true);
    let kept = entries(&cache);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert_eq!(entry["cuts"], serde_json::json!([]));
    assert_eq!(entry["circuits"][0], first["circuit"]);
    // Taken as it is: one size larger is what the next proof uses, and it verifies.
    let larger = first["circuit"]["k"].as_u64().unwrap() + 1;
    entry["circuits"][0]["k"] = serde_json::json!(larger);
    std::fs::write(&kept[0], serde_json::to_vec(&entry).unwrap()).unwrap();
    let second = prove(&cache, &dir.path().join("b"), &[]);
    assert_eq!(
        second["circuit"]["k"], larger,
        "the kept circuit was not used"
    );
    assert_eq!(second["verified"], true);
    assert_eq!(second["outputs"], first["outputs"]);
    // Segments of the same program are planned apart.
    prove(&cache, &dir.path().join("c"), &["--segments", "2"]);
    assert_eq!(entries(&cache).len(), 2);
}

/// `zkml setup` of a program that is one circuit keeps and takes its circuit the same way.
#[test]
fn setup_takes_the_kept_circuit() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let program = dir.path().join("model.zkml");
    let (model, input) = (fixture("model.onnx"), fixture("input.json"));
    run_json(
        &cache,
        &[
            "compile",
            s(&model),
            "--calibration",
            s(&input),
            "-o",
            s(&program),
        ],
    );
    let setup = |out: &str| {
        let out = dir.path().join(out);
        run_json(&cache, &["setup", s(&program), "--out", s(&out)])
    };
    let first = setup("a");
    let kept = entries(&cache);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert_eq!(entry["circuits"][0], first["circuit"]);
    let larger = first["circuit"]["k"].as_u64().unwrap() + 1;
    entry["circuits"][0]["k"] = serde_json::json!(larger);
    std::fs::write(&kept[0], serde_json::to_vec(&entry).unwrap()).unwrap();
    assert_eq!(
        setup("b")["circuit"]["k"],
        larger,
        "the kept circuit was not used"
    );
}

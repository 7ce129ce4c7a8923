//! End-to-end tests of the `zkml` binary on the committed fixtures.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const FIXTURES: &[&str] = &[
    "mlp",
    "mlp_small",
    "lenet",
    "depthwise_separable",
    "transformer",
    "pytorch_style",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn zkml() -> Command {
    Command::cargo_bin("zkml").unwrap()
}

fn run_json(args: &[&str]) -> Value {
    let out = zkml().args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "zkml {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn expected(name: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(fixtures().join(name).join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    serde_json::from_value(v["output_data"].clone()).unwrap()
}

fn as_lists(v: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Quantized outputs within 1% of the largest onnxruntime output magnitude, arg-max agreeing.
fn assert_close_to_onnxruntime(name: &str, outputs: &[Vec<f64>]) {
    let exp = expected(name);
    assert_eq!(outputs.len(), exp.len(), "{name}: output count");
    for (k, (got, want)) in outputs.iter().zip(&exp).enumerate() {
        assert_eq!(got.len(), want.len(), "{name}: output {k} length");
        let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 0.01 * max,
                "{name}: output {k}[{i}] = {a}, onnxruntime {b} (max {max})"
            );
        }
    }
}

#[test]
fn every_fixture_runs_within_one_percent_of_onnxruntime() {
    for name in FIXTURES {
        let dir = fixtures().join(name);
        let model = dir.join("model.onnx");
        let input = dir.join("input.json");
        let v = run_json(&[
            "run",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ]);
        for key in ["outputs", "float_outputs", "max_abs_error"] {
            assert!(!v[key].is_null(), "{name}: '{key}' missing from {v}");
        }
        assert_eq!(v["float_engine"], "tract", "{name}");
        assert_close_to_onnxruntime(name, &as_lists(&v["outputs"]));
        // tract's float outputs agree with onnxruntime's too.
        let float = as_lists(&v["float_outputs"]);
        for (f, e) in float.iter().zip(expected(name)) {
            for (a, b) in f.iter().zip(&e) {
                assert!(
                    (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
                    "{name}: tract {a} vs onnxruntime {b}"
                );
            }
        }
        for o in v["per_output"].as_array().unwrap() {
            if !o["argmax"].is_null() {
                assert_eq!(o["argmax"]["agrees"], true, "{name}: arg-max differs: {o}");
            }
        }
    }
}

#[test]
fn compile_then_run_and_inspect_the_program() {
    let tmp = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let dir = fixtures().join(name);
        let input = dir.join("input.json");
        let program = tmp.path().join(format!("{name}.zkml"));
        let c = run_json(&[
            "compile",
            dir.join("model.onnx").to_str().unwrap(),
            "--calibration",
            input.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
        ]);
        let report = &c["calibration"]["outputs"][0];
        assert!(
            report["relative_error"].as_f64().unwrap() < 0.01,
            "{name}: {report}"
        );
        let v = run_json(&[
            "run",
            program.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ]);
        assert_close_to_onnxruntime(name, &as_lists(&v["outputs"]));
        assert!(
            !v["float_outputs"].is_null(),
            "{name}: the program keeps its source model"
        );
        let i = run_json(&["inspect", program.to_str().unwrap()]);
        assert!(i["nodes"].as_array().unwrap().len() > 2);
        assert!(i["parameters"].as_u64().unwrap() > 0);
        if *name == "transformer" {
            let tables = i["tables"].as_array().unwrap();
            assert!(!tables.is_empty(), "softmax and erf use lookup tables");
            for t in tables {
                assert!(t["domain"][0].as_i64().unwrap() <= t["domain"][1].as_i64().unwrap());
            }
        }
        // Human-readable output works too.
        zkml()
            .args(["inspect", program.to_str().unwrap()])
            .assert()
            .success();
    }
}

#[test]
fn unsupported_ops_are_named_with_their_node() {
    let dir = fixtures().join("unsupported");
    for (model, input, op, node) in [
        (
            "nonmaxsuppression.onnx",
            "nms_input.json",
            "NonMaxSuppression",
            "nms",
        ),
        ("loop.onnx", "loop_input.json", "Loop", "repeat"),
    ] {
        let out = zkml()
            .args([
                "run",
                dir.join(model).to_str().unwrap(),
                "--input",
                dir.join(input).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("unsupported op '{op}'")), "{err}");
        assert!(err.contains(&format!("node '{node}'")), "{err}");
        assert!(err.contains("opset 13"), "{err}");
        assert!(err.contains("supported ops: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn malformed_models_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let input = fixtures().join("mlp_small/input.json");
    let truncated = fixtures().join("unsupported/truncated.onnx");
    let garbage = tmp.path().join("garbage.onnx");
    std::fs::write(
        &garbage,
        b"\x08\x07this is not an onnx model at all \xff\xfe",
    )
    .unwrap();
    let empty = tmp.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let missing = tmp.path().join("missing.onnx");
    for model in [&truncated, &garbage, &empty, &missing] {
        let out = zkml()
            .args([
                "run",
                model.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", model.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = zkml()
        .args([
            "run",
            truncated.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed ONNX model"));
    // Every prefix of a real model is rejected or imported, never a panic.
    let bytes = std::fs::read(fixtures().join("mlp_small/model.onnx")).unwrap();
    for cut in (0..bytes.len()).step_by(97) {
        let r = std::panic::catch_unwind(|| {
            zkml_onnx::parse_model(bytes[..cut].to_vec(), None, &Default::default())
        });
        assert!(r.is_ok(), "panic on a prefix of {cut} bytes");
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixtures().join("mlp_small/model.onnx");
    let cases: &[(&str, &str)] = &[
        (
            r#"{"input_data": [[1, 2, 3]]}"#,
            "needs 16 values, the file holds 3",
        ),
        (
            r#"{"input_data": [[1, NaN, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]]}"#,
            "non-finite number NaN",
        ),
        (
            r#"{"input_data": [[Infinity, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]]}"#,
            "non-finite number Infinity",
        ),
        (
            r#"{"input_data": [[1, 2], [3]]}"#,
            "takes 1 input(s), the file holds 2",
        ),
        (r#"{"input": [[1]]}"#, "missing the \"input_data\" key"),
        (
            r#"{"input_data": [["a", 2]]}"#,
            "is the string \"a\", not a number",
        ),
        ("not json", "input file is not valid"),
    ];
    for (i, (text, message)) in cases.iter().enumerate() {
        let input = tmp.path().join(format!("in{i}.json"));
        std::fs::write(&input, text).unwrap();
        let out = zkml()
            .args([
                "run",
                model.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(message),
            "{text}: expected '{message}' in: {err}"
        );
    }
    // A value far outside the calibrated range is an out-of-range error, not a wrong answer.
    let program = tmp.path().join("small.zkml");
    let calib = fixtures().join("mlp_small/input.json");
    run_json(&[
        "compile",
        model.to_str().unwrap(),
        "--calibration",
        calib.to_str().unwrap(),
        "-o",
        program.to_str().unwrap(),
    ]);
    let big = tmp.path().join("big.json");
    std::fs::write(
        &big,
        format!("{{\"input_data\": [[{}]]}}", vec!["1000.0"; 16].join(",")),
    )
    .unwrap();
    let out = zkml()
        .args([
            "run",
            program.to_str().unwrap(),
            "--input",
            big.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside the representable range"), "{err}");
    // --json reports the error as JSON too.
    let out = zkml()
        .args([
            "run",
            program.to_str().unwrap(),
            "--input",
            big.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("outside the representable range"));
}

#[test]
fn compile_never_overwrites_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let model = fixtures().join("mlp_small/model.onnx");
    let precious = tmp.path().join("notes.txt");
    std::fs::write(&precious, "my notes").unwrap();
    let out = zkml()
        .args([
            "compile",
            model.to_str().unwrap(),
            "-o",
            precious.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "my notes");
    // Writing over the input model itself is refused even with --force.
    let copy = tmp.path().join("model.onnx");
    std::fs::copy(&model, &copy).unwrap();
    let out = zkml()
        .args([
            "compile",
            copy.to_str().unwrap(),
            "-o",
            copy.to_str().unwrap(),
            "--force",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&model).unwrap()
    );
    // A previous program is ours to replace.
    let program = tmp.path().join("m.zkml");
    zkml()
        .args([
            "compile",
            model.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
        ])
        .assert()
        .success();
    zkml()
        .args([
            "compile",
            model.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
        ])
        .assert()
        .success();
}

#[test]
fn symbolic_batch_defaults_to_one_and_dims_can_be_set() {
    let dir = fixtures().join("pytorch_style");
    let model = dir.join("model.onnx");
    let v = run_json(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        dir.join("input.json").to_str().unwrap(),
    ]);
    assert_eq!(v["per_output"][0]["shape"], serde_json::json!([1, 10]));
    let tmp = tempfile::tempdir().unwrap();
    let two = tmp.path().join("two.json");
    let one: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("input.json")).unwrap()).unwrap();
    let mut data: Vec<f64> = serde_json::from_value(one["input_data"][0].clone()).unwrap();
    data.extend(data.clone());
    std::fs::write(&two, serde_json::json!({"input_data": [data]}).to_string()).unwrap();
    let v = run_json(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        two.to_str().unwrap(),
        "--dim",
        "batch_size=2",
    ]);
    assert_eq!(v["per_output"][0]["shape"], serde_json::json!([2, 10]));
    let outputs = as_lists(&v["outputs"]);
    assert_eq!(outputs[0].len(), 20);
    for i in 0..10 {
        assert!(
            (outputs[0][i] - outputs[0][i + 10]).abs() < 1e-9,
            "both batch rows hold the same input"
        );
    }
}

fn zkml_in(cache: &Path) -> Command {
    let mut c = zkml();
    c.env("ZKML_CACHE_DIR", cache);
    c
}

#[test]
fn one_shot_prove_then_verify_and_reject_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let dir = fixtures().join("mlp_small");
    let out = tmp.path().join("out");
    let o = zkml_in(&cache)
        .args([
            "prove",
            dir.join("model.onnx").to_str().unwrap(),
            "--input",
            dir.join("input.json").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("WARNING: this SRS was generated locally"),
        "the insecure SRS is announced"
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    for key in ["proof", "vk", "pk", "program", "timings", "outputs"] {
        assert!(!v[key].is_null(), "summary lacks '{key}': {v}");
    }
    assert_close_to_onnxruntime("mlp_small", &as_lists(&v["outputs"]));
    // The outputs equal `zkml run`'s.
    let run = run_json(&[
        "run",
        dir.join("model.onnx").to_str().unwrap(),
        "--input",
        dir.join("input.json").to_str().unwrap(),
    ]);
    assert_eq!(v["outputs"], run["outputs"]);
    let proof = out.join("proof.json");
    let vk = out.join("vk.bin");
    let verify = |proof: &Path, vk: &Path| {
        zkml_in(&cache)
            .args([
                "verify",
                "--proof",
                proof.to_str().unwrap(),
                "--vk",
                vk.to_str().unwrap(),
            ])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(verify(&proof, &vk), Some(0));
    // The key's digest: printed by inspect, the one the proof file names, and pinned by
    // --vk-digest (another key's digest is invalid, a malformed one unreadable).
    let info = run_json(&["inspect", vk.to_str().unwrap()]);
    let digest = info["vk_digest"].as_str().unwrap().to_string();
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(
        file["vk_digest"].as_str().unwrap().trim_start_matches("0x"),
        &digest[2..]
    );
    assert_eq!(info["public_values"], 26, "{info}");
    let pinned = |d: &str| {
        zkml_in(&cache)
            .args(["verify", "--proof", proof.to_str().unwrap()])
            .args(["--vk", vk.to_str().unwrap(), "--vk-digest", d])
            .output()
            .unwrap()
    };
    let o = pinned(&digest);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("(the pinned one)"));
    let other = format!("0x{}", "ab".repeat(32));
    let o = pinned(&other);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not the pinned one") && err.contains(&digest),
        "{err}"
    );
    assert_eq!(pinned("0x1234").status.code(), Some(2));
    // Flipped proof byte: invalid (1).
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let hexs = p["proof"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = hexs.chars().collect();
    chars[200] = if chars[200] == '0' { '1' } else { '0' };
    p["proof"] = Value::String(chars.into_iter().collect());
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, p.to_string()).unwrap();
    assert_eq!(verify(&bad, &vk), Some(1));
    // Changed public value: invalid (1).
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    p["instances"][0] = Value::String(format!("0x{:064x}", 12345));
    std::fs::write(&bad, p.to_string()).unwrap();
    assert_eq!(verify(&bad, &vk), Some(1));
    // Every field the file reports on is bound: an extra output entry, another key's or
    // program's digest, or a changed readable account is invalid (1).
    let original: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let tampered = |edit: &dyn Fn(&mut Value)| {
        let mut p = original.clone();
        edit(&mut p);
        std::fs::write(&bad, p.to_string()).unwrap();
        let o = zkml_in(&cache)
            .args(["verify", "--proof", bad.to_str().unwrap()])
            .args(["--vk", vk.to_str().unwrap()])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = tampered(&|p| {
        p["outputs"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!([1.0]));
        p["quantized_outputs"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!([1]));
    });
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("lists 2 outputs, but the verifying key proves 1"),
        "{err}"
    );
    let (code, err) =
        tampered(&|p| p["vk_digest"] = Value::String(format!("0x{}", "cd".repeat(32))));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("names verifying key"), "{err}");
    let (code, err) =
        tampered(&|p| p["program_digest"] = Value::String(format!("0x{}", "ef".repeat(32))));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("names program"), "{err}");
    let (code, err) = tampered(&|p| p["public"][1]["values"][0] = serde_json::json!(12345));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("readable 'public' account"), "{err}");
    assert_eq!(tampered(&|_| {}).0, Some(0), "the untouched copy verifies");
    // Unreadable inputs: 2.
    std::fs::write(&bad, "not json").unwrap();
    assert_eq!(verify(&bad, &vk), Some(2));
    let bad_vk = tmp.path().join("bad.vk");
    std::fs::write(&bad_vk, b"ZKMLVK\0\0\x01\0\0\0garbage").unwrap();
    assert_eq!(verify(&proof, &bad_vk), Some(2));
    assert_eq!(verify(&proof, &tmp.path().join("missing.vk")), Some(2));
    // Running again reuses the cached keys.
    let o = zkml_in(&cache)
        .args([
            "prove",
            dir.join("model.onnx").to_str().unwrap(),
            "--input",
            dir.join("input.json").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["timings"]["load cached keys"].is_null(), "{v}");
}

#[test]
fn setup_prove_verify_with_explicit_keys_and_srs() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let dir = fixtures().join("pytorch_style");
    let program = tmp.path().join("m.zkml");
    let input = dir.join("input.json");
    zkml_in(&cache)
        .args([
            "compile",
            dir.join("model.onnx").to_str().unwrap(),
            "--calibration",
            input.to_str().unwrap(),
            "-o",
            program.to_str().unwrap(),
        ])
        .assert()
        .success();
    let srs = tmp.path().join("big.srs");
    let o = zkml_in(&cache)
        .args([
            "gen-srs",
            "--logrows",
            "13",
            "-o",
            srs.to_str().unwrap(),
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("WARNING"));
    let keys = tmp.path().join("keys");
    let s = zkml_in(&cache)
        .args([
            "setup",
            program.to_str().unwrap(),
            "--srs",
            srs.to_str().unwrap(),
            "--out",
            keys.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let proof = tmp.path().join("proof.json");
    let p = zkml_in(&cache)
        .args([
            "prove",
            program.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--pk",
            keys.join("pk.bin").to_str().unwrap(),
            "--srs",
            srs.to_str().unwrap(),
            "-o",
            proof.to_str().unwrap(),
            "--out",
            tmp.path().join("o").to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    zkml_in(&cache)
        .args([
            "verify",
            "--proof",
            proof.to_str().unwrap(),
            "--vk",
            keys.join("vk.bin").to_str().unwrap(),
        ])
        .assert()
        .success();
    // A different SRS than at setup is refused with a clear message.
    let other = tmp.path().join("other.srs");
    zkml_in(&cache)
        .args([
            "gen-srs",
            "--logrows",
            "13",
            "-o",
            other.to_str().unwrap(),
            "--seed",
            "6",
        ])
        .assert()
        .success();
    let p = zkml_in(&cache)
        .args([
            "prove",
            program.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--pk",
            keys.join("pk.bin").to_str().unwrap(),
            "--srs",
            other.to_str().unwrap(),
            "--out",
            tmp.path().join("o2").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(p.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&p.stderr).contains("SRS does not match"),
        "{}",
        String::from_utf8_lossy(&p.stderr)
    );
    // A corrupt proving key is a clear error.
    let mut pk = std::fs::read(keys.join("pk.bin")).unwrap();
    let n = pk.len();
    pk[n - 100] ^= 1;
    let bad_pk = tmp.path().join("bad_pk.bin");
    std::fs::write(&bad_pk, pk).unwrap();
    let p = zkml_in(&cache)
        .args([
            "prove",
            program.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--pk",
            bad_pk.to_str().unwrap(),
            "--srs",
            srs.to_str().unwrap(),
            "--out",
            tmp.path().join("o3").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(p.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&p.stderr).contains("checksum mismatch"));
}

#[test]
fn hashed_and_private_visibility_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let dir = fixtures().join("mlp_small");
    let input = dir.join("input.json");
    let prove = |out: &Path, vis: [&str; 3]| {
        let o = zkml_in(&cache)
            .args([
                "prove",
                dir.join("model.onnx").to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--input-visibility",
                vis[0],
                "--output-visibility",
                vis[1],
                "--param-visibility",
                vis[2],
                "--json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let verify = |out: &Path, proof: &Path, input: Option<&Path>| {
        let mut c = zkml_in(&cache);
        c.args([
            "verify",
            "--proof",
            proof.to_str().unwrap(),
            "--vk",
            out.join("vk.bin").to_str().unwrap(),
            "--json",
        ]);
        if let Some(i) = input {
            c.args(["--input", i.to_str().unwrap()]);
        }
        let o = c.output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), v)
    };

    // Everything hashed: three public values, outputs and input checked against the hashes.
    let out = tmp.path().join("hashed");
    let summary = prove(&out, ["hashed", "hashed", "hashed"]);
    assert_eq!(summary["verified"], true);
    assert_eq!(summary["public_values"], 3);
    let proof = out.join("proof.json");
    let (code, v) = verify(&out, &proof, Some(&input));
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["outputs"], "hash_matches");
    assert_eq!(v["input"], "hash_matches");
    assert!(v["parameters_hash"].as_str().unwrap().starts_with("0x"));
    // Another input does not match the proven input hash.
    let other = tmp.path().join("other.json");
    let mut data: Value = serde_json::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let x = data["input_data"][0][0].as_f64().unwrap();
    data["input_data"][0][0] = Value::from(x + 0.5);
    std::fs::write(&other, data.to_string()).unwrap();
    let (code, v) = verify(&out, &proof, Some(&other));
    assert_eq!(code, Some(1), "{v}");
    // An edited output in the proof file does not match the proven output hash.
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let q = p["quantized_outputs"][0][0].as_i64().unwrap();
    p["quantized_outputs"][0][0] = Value::from(q + 1);
    let scale_step = p["outputs"][0][0].as_f64().unwrap() / q as f64;
    p["outputs"][0][0] = Value::from((q + 1) as f64 * scale_step);
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, p.to_string()).unwrap();
    let (code, v) = verify(&out, &bad, None);
    assert_eq!(code, Some(1), "{v}");
    // A changed hash is an invalid proof.
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    p["instances"][1] = Value::String(format!("0x{:064x}", 7));
    std::fs::write(&bad, p.to_string()).unwrap();
    assert_eq!(verify(&out, &bad, None).0, Some(1));

    // Private outputs stay out of the proof file and are reported as unproven; public inputs
    // are checked value for value.
    let out = tmp.path().join("private");
    prove(&out, ["public", "private", "private"]);
    let proof = out.join("proof.json");
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(p["outputs"], Value::Array(vec![]));
    let (code, v) = verify(&out, &proof, Some(&input));
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["outputs"], "unproven");
    assert_eq!(v["input"], "proven");
    assert_eq!(verify(&out, &proof, Some(&other)).0, Some(1));
}

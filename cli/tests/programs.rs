//! One-shot `prove` keeps one program (and so one verifying key) per model while inputs fit its
//! calibrated ranges, says plainly when an input needs a new one, and the serving flow (fixed
//! calibration, `--pk`) refuses an input outside its ranges instead of changing keys.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/mlp_small")
        .join(file)
}

/// The fixture's input with every value multiplied by `factor`, written into `dir`.
fn scaled_input(dir: &Path, factor: f64) -> PathBuf {
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("input.json")).unwrap()).unwrap();
    for row in v["input_data"].as_array_mut().unwrap() {
        for x in row.as_array_mut().unwrap() {
            *x = Value::from(x.as_f64().unwrap() * factor);
        }
    }
    let path = dir.join(format!("input-{factor}.json"));
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// One-shot `prove` of the fixture on `input`: its JSON report, its stderr and the bytes of
/// the verifying key it wrote.
fn prove(dir: &Path, input: &Path, out: &str) -> (Value, String, Vec<u8>) {
    let o = Command::cargo_bin("zkml")
        .unwrap()
        .arg("prove")
        .arg(fixture("model.onnx"))
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(dir.join(out))
        .args(["--device", "cpu", "--json"])
        .env("ZKML_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    let vk = std::fs::read(dir.join(out).join("vk.bin")).unwrap();
    (v, stderr, vk)
}

#[test]
fn one_shot_proofs_of_a_model_share_a_key_while_inputs_fit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (first, _, vk1) = prove(d, &fixture("input.json"), "a");
    assert_eq!(first["program_source"]["kind"], "compiled", "{first}");

    // A smaller input fits the first program: same program, same key.
    let (second, _, vk2) = prove(d, &scaled_input(d, 0.5), "b");
    assert_eq!(second["program_source"]["kind"], "reused", "{second}");
    assert_eq!(second["program_source"]["calibration_inputs"], 1);
    assert_eq!(vk1, vk2, "an input that fits keeps the verifying key");

    // A far larger one does not: a new program, said plainly, and a new key.
    let (third, note, vk3) = prove(d, &scaled_input(d, 64.0), "c");
    assert_eq!(third["program_source"]["kind"], "recompiled", "{third}");
    assert_eq!(third["program_source"]["calibration_inputs"], 2);
    assert!(
        note.contains("does not fit") && note.contains("verifying key differs"),
        "{note}"
    );
    assert_ne!(vk1, vk3);

    // The new program is calibrated on both inputs: the first fits it again.
    let (fourth, _, vk4) = prove(d, &fixture("input.json"), "d");
    assert_eq!(fourth["program_source"]["kind"], "reused", "{fourth}");
    assert_eq!(vk3, vk4);
}

#[test]
fn a_fixed_program_refuses_an_input_outside_its_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let program = d.join("m.zkml");
    Command::cargo_bin("zkml")
        .unwrap()
        .arg("compile")
        .arg(fixture("model.onnx"))
        .arg("--calibration")
        .arg(fixture("input.json"))
        .arg("-o")
        .arg(&program)
        .assert()
        .success();
    let cache = d.join("cache");
    Command::cargo_bin("zkml")
        .unwrap()
        .arg("setup")
        .arg(&program)
        .arg("--out")
        .arg(d.join("keys"))
        .env("ZKML_CACHE_DIR", &cache)
        .assert()
        .success();
    let o = Command::cargo_bin("zkml")
        .unwrap()
        .arg("prove")
        .arg(&program)
        .arg("--input")
        .arg(scaled_input(d, 64.0))
        .arg("--pk")
        .arg(d.join("keys/pk.bin"))
        .arg("-o")
        .arg(d.join("proof.json"))
        .env("ZKML_CACHE_DIR", &cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("outside the representable range")
            || err.contains("leaves the representable range"),
        "{err}"
    );
}

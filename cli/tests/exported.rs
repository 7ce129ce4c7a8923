//! The `zkml` binary on exporter fixtures: language-model top-1 agreement, integer inputs
//! (exact, range-checked to their domains, bad values named), and a converted tree ensemble
//! proven and verified in Rust and on the local EVM.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn exported(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/exported")
        .join(name)
}

fn zkml_in(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("zkml").unwrap();
    c.env("ZKML_CACHE_DIR", cache);
    c
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "zkml failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn run_reports_top1_token_agreement_for_logits() {
    let tmp = tempfile::tempdir().unwrap();
    let d = exported("gpt2");
    let out = zkml_in(tmp.path())
        .args(["run"])
        .arg(d.join("model.onnx"))
        .arg("--input")
        .arg(d.join("input.json"))
        .arg("--json")
        .output()
        .unwrap();
    let v = json_of(&out);
    let top1 = &v["per_output"][0]["top1"];
    assert_eq!(top1["rows"], 16, "{v}");
    assert_eq!(top1["agree"], 16, "{v}");
    // And in the human-readable form.
    let out = zkml_in(tmp.path())
        .args(["run"])
        .arg(d.join("model.onnx"))
        .arg("--input")
        .arg(d.join("input.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("top-1 along the last axis: 16/16 rows agree"),
        "{text}"
    );
}

/// Runs `zkml run` on the GPT-2 fixture with the given token ids (and extra arguments);
/// returns the exit code and stderr.
fn run_tokens(ids: &str, extra: &[&str]) -> (Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input.json");
    std::fs::write(&input, format!("{{\"input_data\": [[{ids}]]}}")).unwrap();
    let out = zkml_in(tmp.path())
        .arg("run")
        .arg(exported("gpt2").join("model.onnx"))
        .arg("--input")
        .arg(&input)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn integer_inputs_are_exact_and_bad_values_are_named() {
    let ok: Vec<String> = (0..16).map(|i| (i * 17 % 256).to_string()).collect();
    let (code, err) = run_tokens(&ok.join(", "), &[]);
    assert_eq!(code, Some(0), "{err}");

    let mut fractional = ok.clone();
    fractional[3] = "7.5".into();
    let (code, err) = run_tokens(&fractional.join(", "), &[]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("input 0 'input_ids' element 3 is 7.5, but the input takes integers"),
        "{err}"
    );

    let mut outside = ok.clone();
    outside[5] = "256".into();
    let (code, err) = run_tokens(&outside.join(", "), &[]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains(
            "input 0 'input_ids' element 5 is 256, outside the input's domain int [-256, 255]"
        ),
        "{err}"
    );

    // A narrower domain given on the command line is enforced; an empty one is refused.
    let mut big = ok.clone();
    big[0] = "150".into();
    let (code, err) = run_tokens(&big.join(", "), &["--input-domain", "input_ids=0:99"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("outside the input's domain int [0, 99]"),
        "{err}"
    );
    let (code, err) = run_tokens(&ok.join(", "), &["--input-domain", "input_ids=5:1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the domain 5:1 is empty"), "{err}");
}

#[test]
fn an_unnamed_batch_dimension_takes_the_rows_of_the_input_file() {
    // skl2onnx leaves the batch dimension unnamed: four rows in the file are a batch of four.
    let tmp = tempfile::tempdir().unwrap();
    let d = exported("random_forest");
    let text = std::fs::read_to_string(d.join("input.json")).unwrap();
    let row: Vec<f64> = serde_json::from_str::<Value>(&text).unwrap()["input_data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let rows: Vec<f64> = (0..4)
        .flat_map(|r| row.iter().map(move |x| x * (1.0 - 0.4 * r as f64)))
        .collect();
    let input = tmp.path().join("rows.json");
    std::fs::write(
        &input,
        serde_json::json!({ "input_data": [rows] }).to_string(),
    )
    .unwrap();
    let v = json_of(
        &zkml_in(tmp.path())
            .arg("run")
            .arg(d.join("model.onnx"))
            .arg("--input")
            .arg(&input)
            .arg("--json")
            .output()
            .unwrap(),
    );
    // Labels [4] and probabilities [4, 3], every row's arg-max as the float model's.
    assert_eq!(v["outputs"][0].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(v["outputs"][1].as_array().unwrap().len(), 12, "{v}");
    assert_eq!(v["per_output"][1]["top1"]["rows"], 4, "{v}");
    assert_eq!(v["per_output"][1]["top1"]["agree"], 4, "{v}");

    // Values that do not fill whole rows are an error naming the sizes.
    let odd = tmp.path().join("odd.json");
    std::fs::write(
        &odd,
        serde_json::json!({ "input_data": [rows[..30]] }).to_string(),
    )
    .unwrap();
    let out = zkml_in(tmp.path())
        .arg("run")
        .arg(d.join("model.onnx"))
        .arg("--input")
        .arg(&odd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs 8 values, the file holds 30"), "{err}");
}

#[test]
fn a_converted_random_forest_proves_and_verifies_on_the_local_evm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    let d = exported("random_forest");
    let o = zkml_in(&cache)
        .arg("prove")
        .arg(d.join("model.onnx"))
        .arg("--input")
        .arg(d.join("input.json"))
        .arg("--out")
        .arg(&out)
        .args(["--optimize", "evm-gas", "--json"])
        .output()
        .unwrap();
    let v = json_of(&o);
    assert_eq!(v["verified"], true, "{v}");
    // The label is an integer class; the probabilities follow onnxruntime's.
    let exp: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap()).unwrap();
    assert_eq!(v["outputs"][0], exp["output_data"][0], "{v}");
    let evm = tmp.path().join("evm");
    let o = zkml_in(&cache)
        .args(["create-evm-verifier", "--vk"])
        .arg(out.join("vk.bin"))
        .arg("--out")
        .arg(&evm)
        .arg("--json")
        .output()
        .unwrap();
    json_of(&o);
    let o = zkml_in(&cache)
        .args(["verify-evm", "--proof"])
        .arg(out.join("proof.json"))
        .arg("--verifier")
        .arg(&evm)
        .arg("--json")
        .output()
        .unwrap();
    let v = json_of(&o);
    assert_eq!(v["verified"], true, "{v}");
}

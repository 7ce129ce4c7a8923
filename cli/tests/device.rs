//! `--device`: the plain build proves on the CPU under `auto`, and refuses `gpu` with a clear
//! error (the GPU prover is a separate build; scripts/gpu-check.sh tests it on a GPU machine).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/mlp_small")
        .join(file)
}

fn zkml() -> Command {
    Command::cargo_bin("zkml").unwrap()
}

#[test]
fn auto_and_cpu_prove_on_the_cpu_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    for device in ["auto", "cpu"] {
        let out = zkml()
            .arg("prove")
            .arg(fixture("model.onnx"))
            .arg("--input")
            .arg(fixture("input.json"))
            .arg("--out")
            .arg(dir.path().join(device))
            .args(["--device", device, "--json"])
            .env("ZKML_CACHE_DIR", dir.path().join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["device"], "cpu", "{v}");
        assert_eq!(v["verified"], true, "{v}");
        assert!(v["gpu_memory_peak_bytes"].is_null(), "{v}");
        assert!(v["timings"]["prove (cpu)"].as_f64().is_some(), "{v}");
    }
}

#[test]
fn gpu_without_the_gpu_prover_is_a_clear_error_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let prove = zkml()
        .arg("prove")
        .arg(fixture("model.onnx"))
        .arg("--input")
        .arg(fixture("input.json"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--device", "gpu"])
        .output()
        .unwrap();
    assert_eq!(prove.status.code(), Some(1));
    let err = String::from_utf8_lossy(&prove.stderr);
    assert!(
        err.contains("--device gpu") && err.contains("without the CUDA prover"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing is written");

    let setup = zkml()
        .arg("setup")
        .arg(fixture("model.onnx"))
        .args(["--device", "gpu", "--json"])
        .arg("--out")
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert_eq!(setup.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&setup.stdout).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("without the CUDA prover"),
        "{v}"
    );

    let bad = zkml()
        .arg("prove")
        .arg(fixture("model.onnx"))
        .args(["--input", "x.json", "--device", "tpu"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown device is a usage error"
    );
}

#[test]
fn single_phase_sizing_drops_the_second_phase_the_gpu_prover_lacks() {
    // LeNet's convolutions are checked by Freivalds' test on the CPU; `--single-phase` (implied
    // by `--device gpu`) lays them out directly, at a larger size.
    let dir = tempfile::tempdir().unwrap();
    let lenet = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/lenet");
    let program = dir.path().join("lenet.zkml");
    zkml()
        .arg("compile")
        .arg(lenet.join("model.onnx"))
        .arg("--calibration")
        .arg(lenet.join("input.json"))
        .arg("-o")
        .arg(&program)
        .assert()
        .success();
    let sized = |extra: &[&str]| -> Value {
        let out = zkml()
            .arg("gen-srs")
            .arg("--for")
            .arg(&program)
            .args(extra)
            .args(["--seed", "1", "--json", "-o"])
            .arg(dir.path().join("srs.bin"))
            .arg("--force")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let any = sized(&[]);
    assert_eq!(any["circuit"]["freivalds"], true, "{any}");
    let one = sized(&["--single-phase"]);
    assert_ne!(one["circuit"]["freivalds"], true, "{one}");
    assert!(
        one["logrows"].as_u64() >= any["logrows"].as_u64(),
        "{one} {any}"
    );
}

//! A reader that goes away before `zkml` has printed everything (`zkml inspect ... | head`)
//! ends the run quietly with the status a shell gives a process ended by SIGPIPE: no panic.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::{fixtures, s};

#[test]
fn a_closed_output_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let program = dir.path().join("mlp.zkml");
    let mlp = fixtures().join("mlp");
    common::run_json(
        &cache,
        &[
            "compile",
            s(&mlp.join("model.onnx")),
            "--calibration",
            s(&mlp.join("input.json")),
            "-o",
            s(&program),
        ],
    );
    let mut bin = std::process::Command::new(assert_cmd::cargo::cargo_bin("zkml"));
    bin.env("ZKML_CACHE_DIR", &cache)
        .args(["inspect", s(&program)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = bin.spawn().unwrap();
    // The reader leaves before the first line.
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

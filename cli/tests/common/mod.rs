//! What the CLI test suites share: the `zkml` binary with its own cache, JSON runs, and runs
//! expected to fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The `zkml` binary, caching under `cache`.
pub fn zkml(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("zkml").unwrap();
    c.env("ZKML_CACHE_DIR", cache);
    c
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `zkml ARGS --json`, which must succeed; returns its JSON.
pub fn run_json(cache: &Path, args: &[&str]) -> Value {
    let out = zkml(cache).args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "zkml {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `zkml ARGS`, which must fail with exit code `code` and without a panic; returns what
/// it printed (stdout, then stderr).
pub fn fails(cache: &Path, args: &[&str], code: i32) -> String {
    let out = zkml(cache).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "zkml {args:?}: {text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

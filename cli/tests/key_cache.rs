//! The key cache stays within `$ZKML_KEY_CACHE_GB`: one-shot proving removes the proving keys
//! used least recently to make room, keeps their verifying keys, and goes on without caching a
//! key that cannot fit; a limit that is not a number is refused before any key is made.

mod common;

use std::path::{Path, PathBuf};

use common::{fixtures, s, zkml};

/// Proves `model` one shot under `cache`, with `env` set; returns what it printed on stderr.
fn prove(cache: &Path, out: &Path, model: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let dir = fixtures().join(model);
    let mut cmd = zkml(cache);
    cmd.args(["prove", s(&dir.join("model.onnx"))])
        .args(["--input", s(&dir.join("input.json")), "--out", s(out)])
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{model}: {err}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("verified: yes"));
    err
}

/// The cache's key directories and whether each holds a proving key and a verifying key.
fn keys(cache: &Path) -> Vec<(PathBuf, bool, bool)> {
    let mut dirs: Vec<_> = std::fs::read_dir(cache.join("keys"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .map(|d| {
            let (pk, vk) = (d.join("pk.bin").exists(), d.join("vk.bin").exists());
            (d, pk, vk)
        })
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn a_key_over_the_limit_is_not_cached_and_the_proof_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));
    let err = prove(
        &cache,
        &out,
        "mlp_small",
        &[],
        &[("ZKML_KEY_CACHE_GB", "0")],
    );
    assert!(err.contains("cannot cache the keys"), "{err}");
    assert!(
        err.contains("larger than the key cache's limit of 0.00 GB"),
        "{err}"
    );
    let listed = keys(&cache);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        !listed[0].1 && listed[0].2,
        "verifying key alone: {listed:?}"
    );
    // Without the limit the key is made again, then cached, then loaded.
    let err = prove(&cache, &out, "mlp_small", &[], &[]);
    assert!(err.contains("generate keys"), "{err}");
    assert!(keys(&cache)[0].1);
    let err = prove(&cache, &out, "mlp_small", &[], &[]);
    assert!(err.contains("load cached keys"), "{err}");
    assert!(!err.contains("generate keys"), "{err}");
    // Groth16's keys are held to the same limit.
    let groth16 = ["--backend", "groth16"];
    let err = prove(
        &cache,
        &out,
        "mlp_small",
        &groth16,
        &[("ZKML_KEY_CACHE_GB", "0")],
    );
    assert!(err.contains("larger than the key cache's limit"), "{err}");
    assert_eq!(keys(&cache).iter().filter(|k| k.1).count(), 1);
}

#[test]
fn the_least_recently_used_proving_key_makes_room_for_a_new_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));
    let hashed = ["--input-visibility", "hashed"];
    prove(&cache, &out, "mlp_small", &[], &[]);
    let first = keys(&cache);
    prove(&cache, &out, "mlp_small", &hashed, &[]);
    let both = keys(&cache);
    assert_eq!(both.len(), 2);
    let (plain, other): (Vec<_>, Vec<_>) = both.iter().partition(|k| first.contains(k));
    let (plain, other) = (&plain[0].0, &other[0].0);
    let size = |d: &Path| std::fs::metadata(d.join("pk.bin")).unwrap().len();
    let (a, b) = (size(plain), size(other));
    // The plain key is written again under a limit with room for it alone: the other key,
    // used least recently, goes; its verifying key stays.
    std::fs::remove_file(plain.join("pk.bin")).unwrap();
    let limit = format!("{}", (a + b / 2) as f64 / 1e9);
    let err = prove(
        &cache,
        &out,
        "mlp_small",
        &[],
        &[("ZKML_KEY_CACHE_GB", &limit)],
    );
    assert!(
        err.contains("key cache: removed 1 proving key used least recently"),
        "{err}"
    );
    assert!(plain.join("pk.bin").exists() && plain.join("vk.bin").exists());
    assert!(!other.join("pk.bin").exists() && other.join("vk.bin").exists());
}

#[test]
fn a_limit_that_is_not_a_number_is_refused_before_any_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixtures().join("mlp_small");
    let out = tmp.path().join("out");
    let cache = tmp.path().join("cache");
    let run = zkml(&cache)
        .args(["prove", s(&dir.join("model.onnx"))])
        .args(["--input", s(&dir.join("input.json")), "--out", s(&out)])
        .env("ZKML_KEY_CACHE_GB", "lots")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ZKML_KEY_CACHE_GB=\"lots\" is not a number"),
        "{err}"
    );
    assert!(
        !err.contains("generate keys") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!cache.join("keys").exists());
}

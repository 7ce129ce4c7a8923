//! The EVM commands end to end through the `zkml` binary: `create-evm-verifier`,
//! `encode-calldata` and `verify-evm` on a real proof, tampered proofs, another model's proof,
//! unreadable inputs, and files the user wrote.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn zkml(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("zkml").unwrap();
    c.env("ZKML_CACHE_DIR", cache);
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// One-shot proof of a fixture into `out`, with extra setup flags.
fn prove(cache: &Path, name: &str, out: &Path, extra: &[&str]) {
    let dir = fixtures().join(name);
    let o = zkml(cache)
        .args([
            "prove",
            s(&dir.join("model.onnx")),
            "--input",
            s(&dir.join("input.json")),
            "--out",
            s(out),
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn create(cache: &Path, vk: &Path, dir: &Path) -> std::process::Output {
    zkml(cache)
        .args([
            "create-evm-verifier",
            "--vk",
            s(vk),
            "--out",
            s(dir),
            "--json",
        ])
        .output()
        .unwrap()
}

/// Runs `verify-evm`; returns the exit code and the JSON it printed.
fn verify_evm(cache: &Path, proof: &Path, dir: &Path) -> (Option<i32>, Value) {
    let o = zkml(cache)
        .args([
            "verify-evm",
            "--proof",
            s(proof),
            "--verifier",
            s(dir),
            "--json",
        ])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v)
}

#[test]
fn create_verifier_then_verify_on_the_local_evm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    prove(&cache, "mlp_small", &out, &[]);
    let evm = tmp.path().join("evm");
    let o = create(&cache, &out.join("vk.bin"), &evm);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["runtime_size"].as_u64().unwrap() <= 24_576, "{v}");
    for f in [
        "src/ZkmlVerifier.sol",
        "ZkmlVerifier.abi.json",
        "ZkmlVerifier.bin",
        "ZkmlVerifier.runtime.bin",
        "ZkmlVerifierKey0.bin",
        "verifier.json",
        "vk.bin",
    ] {
        assert!(evm.join(f).is_file(), "{f} missing");
    }
    let abi: Value =
        serde_json::from_str(&std::fs::read_to_string(evm.join("ZkmlVerifier.abi.json")).unwrap())
            .unwrap();
    assert_eq!(abi[0]["name"], "verifyProof");

    let proof = out.join("proof.json");
    let (code, v) = verify_evm(&cache, &proof, &evm);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["verified"], true);
    let gas = v["gas_used"].as_u64().unwrap();
    assert!(gas > 21_000, "{v}");

    // The calldata is the ABI encoding of verifyProof(proof, instances).
    let o = zkml(&cache)
        .args(["encode-calldata", "--proof", s(&proof), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let calldata = c["calldata"].as_str().unwrap();
    assert!(calldata.starts_with("0x1e8e1e13"), "{calldata}");
    assert_eq!(
        c["bytes"].as_u64().unwrap() as usize * 2 + 2,
        calldata.len()
    );
    assert_eq!(c["bytes"], v["calldata_bytes"]);

    // A flipped proof byte and a changed public value: rejected (1).
    let text = std::fs::read_to_string(&proof).unwrap();
    let bad = tmp.path().join("bad.json");
    let mut p: Value = serde_json::from_str(&text).unwrap();
    let mut chars: Vec<char> = p["proof"].as_str().unwrap().chars().collect();
    chars[300] = if chars[300] == 'a' { 'b' } else { 'a' };
    p["proof"] = Value::String(chars.into_iter().collect());
    std::fs::write(&bad, p.to_string()).unwrap();
    let (code, v) = verify_evm(&cache, &bad, &evm);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verified"], false);
    let mut p: Value = serde_json::from_str(&text).unwrap();
    p["instances"][3] = Value::String(format!("0x{:064x}", 7));
    std::fs::write(&bad, p.to_string()).unwrap();
    assert_eq!(verify_evm(&cache, &bad, &evm).0, Some(1));

    // Another model's proof: rejected, and the reason names the key.
    let other = tmp.path().join("other");
    prove(&cache, "pytorch_style", &other, &[]);
    let (code, v) = verify_evm(&cache, &other.join("proof.json"), &evm);
    assert_eq!(code, Some(1));
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("another verifying key"),
        "{v}"
    );

    // The listed outputs are checked against the key beside the verifier: an output changed in
    // the file is rejected (1) although the contract accepts the proof.
    assert_eq!(verify_evm(&cache, &proof, &evm).1["claims_checked"], true);
    let mut p: Value = serde_json::from_str(&text).unwrap();
    let q = p["quantized_outputs"][0][0].as_i64().unwrap();
    p["quantized_outputs"][0][0] = (q + 1).into();
    std::fs::write(&bad, p.to_string()).unwrap();
    let (code, v) = verify_evm(&cache, &bad, &evm);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verified"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("does not hold what was proven"),
        "{v}"
    );
    // Another key's vk.bin beside the verifier: unreadable (2).
    let ours = std::fs::read(evm.join("vk.bin")).unwrap();
    std::fs::copy(other.join("vk.bin"), evm.join("vk.bin")).unwrap();
    let (code, v) = verify_evm(&cache, &proof, &evm);
    assert_eq!(code, Some(2), "{v}");
    assert!(v["error"].as_str().unwrap().contains("not the key"), "{v}");
    std::fs::write(evm.join("vk.bin"), ours).unwrap();

    // A version-1 manifest (one key contract, `key_bytecode`) is still read.
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(evm.join("verifier.json")).unwrap()).unwrap();
    assert_eq!(m["key_bytecodes"].as_array().unwrap().len(), 1, "{m}");
    let v1 = tmp.path().join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    m["version"] = 1.into();
    m["key_bytecode"] = m["key_bytecodes"][0].clone();
    m.as_object_mut().unwrap().remove("key_bytecodes");
    std::fs::write(v1.join("verifier.json"), m.to_string()).unwrap();
    assert_eq!(verify_evm(&cache, &proof, &v1).0, Some(0));
    // A manifest without key contracts, or of an unknown version: unreadable (2).
    m.as_object_mut().unwrap().remove("key_bytecode");
    std::fs::write(v1.join("verifier.json"), m.to_string()).unwrap();
    assert_eq!(verify_evm(&cache, &proof, &v1).0, Some(2));
    m["version"] = 9.into();
    std::fs::write(v1.join("verifier.json"), m.to_string()).unwrap();
    assert_eq!(verify_evm(&cache, &proof, &v1).0, Some(2));

    // Unreadable inputs: 2.
    std::fs::write(&bad, "{").unwrap();
    assert_eq!(verify_evm(&cache, &bad, &evm).0, Some(2));
    assert_eq!(
        verify_evm(&cache, &proof, &tmp.path().join("nowhere")).0,
        Some(2)
    );
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("verifier.json"), "[1, 2]").unwrap();
    assert_eq!(verify_evm(&cache, &proof, &broken).0, Some(2));

    // Regenerating over our own files is fine; over a file the user wrote, it is refused and
    // nothing is written.
    assert!(create(&cache, &out.join("vk.bin"), &evm).status.success());
    let mine = evm.join("ZkmlVerifier.abi.json");
    std::fs::write(&mine, "my notes").unwrap();
    let before = std::fs::read(evm.join("verifier.json")).unwrap();
    let o = create(&cache, &other.join("vk.bin"), &evm);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my notes");
    assert_eq!(std::fs::read(evm.join("verifier.json")).unwrap(), before);

    // A corrupt key: a clear error.
    let bad_vk = tmp.path().join("bad.vk");
    std::fs::write(&bad_vk, b"not a key").unwrap();
    let o = create(&cache, &bad_vk, &tmp.path().join("evm2"));
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("verifying key"),
        "{e}"
    );
}

/// Hashed inputs and outputs put the Poseidon rounds' gates into the verifier: it stays
/// deployable, accepts the real proof and rejects a tampered one.
#[test]
fn hashed_io_verifiers_verify_on_the_local_evm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    prove(
        &cache,
        "mlp_small",
        &out,
        &[
            "--input-visibility",
            "hashed",
            "--output-visibility",
            "hashed",
        ],
    );
    let evm = tmp.path().join("evm");
    let o = create(&cache, &out.join("vk.bin"), &evm);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        ["inline", "interpreted"].contains(&v["gates"].as_str().unwrap()),
        "{v}"
    );
    assert!(v["runtime_size"].as_u64().unwrap() <= 24_576, "{v}");
    let proof = out.join("proof.json");
    let (code, r) = verify_evm(&cache, &proof, &evm);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["verified"], true, "{r}");

    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let hex = p["proof"].as_str().unwrap().to_string();
    let flipped = if hex.ends_with('0') { '1' } else { '0' };
    p["proof"] = Value::String(format!("{}{flipped}", &hex[..hex.len() - 1]));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, p.to_string()).unwrap();
    let (code, r) = verify_evm(&cache, &bad, &evm);
    assert_eq!(code, Some(1), "{r}");
}

/// `--optimize evm-gas` end to end: the one-shot proof of the small MLP comes from a folded
/// circuit whose verifier costs at most 350,000 gas; a changed public output is rejected.
#[test]
fn gas_optimized_proof_verifies_cheaply_on_the_local_evm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    prove(&cache, "mlp_small", &out, &["--optimize", "evm-gas"]);
    let evm = tmp.path().join("evm");
    let o = create(&cache, &out.join("vk.bin"), &evm);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let proof = out.join("proof.json");
    let (code, v) = verify_evm(&cache, &proof, &evm);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["verified"], true, "{v}");
    let gas = v["gas_used"].as_u64().unwrap();
    assert!(gas <= 350_000, "{v}");

    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let last = p["instances"].as_array().unwrap().len() - 1;
    let other = [7u64, 8]
        .map(|v| format!("0x{v:064x}"))
        .into_iter()
        .find(|w| p["instances"][last] != *w.as_str())
        .unwrap();
    p["instances"][last] = Value::String(other);
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, p.to_string()).unwrap();
    let (code, r) = verify_evm(&cache, &bad, &evm);
    assert_eq!(code, Some(1), "{r}");
}

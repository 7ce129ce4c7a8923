//! Groth16 keys from a ceremony, with the real tool chain: zkml exports the constraint system,
//! snarkjs runs both phases (a contribution each) and audits the result (`zkey verify`), zkml
//! loads the final `.zkey`, proves, and the proof verifies in zkml, in snarkjs (with the
//! ceremony's own verifying key) and in the EVM. A `.zkey` for another circuit, a damaged one,
//! and the flags used wrongly are clear errors.
//!
//! Needs Node.js and the pinned snarkjs (`npm ci --prefix groth16`; `scripts/test.sh` installs
//! it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run_json, s, zkml};
use serde_json::{json, Value};
use zkml_ir::{Op, ProgramBuilder};

/// Runs a zkml command expected to fail with exit code 1; returns what it printed.
fn fails(cache: &Path, args: &[&str]) -> String {
    common::fails(cache, args, 1)
}

/// `zkml setup PROGRAM --backend groth16 EXTRA...`.
fn groth16_setup<'a>(program: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["setup", program, "--backend", "groth16"];
    args.extend_from_slice(extra);
    args
}

fn snarkjs_cli() -> PathBuf {
    let cli =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../groth16/node_modules/snarkjs/build/cli.cjs");
    assert!(
        cli.exists(),
        "snarkjs is not installed: run `npm ci --prefix groth16` (scripts/test.sh does)"
    );
    cli
}

/// `node snarkjs ARGS` in `dir`.
fn snarkjs(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new("node")
        .arg(snarkjs_cli())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("node runs")
}

fn snarkjs_ok(dir: &Path, args: &[&str]) -> String {
    let out = snarkjs(dir, args);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "snarkjs {args:?}: {text}");
    text
}

/// A small model: an 8-input dense layer with 4 outputs, rescaled, then ReLU.
fn model(path: &Path) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![1, 8], 6).unwrap();
    let w: Vec<i64> = (0..32).map(|i| (i * 37 % 61) - 30).collect();
    let w = b.constant("w", vec![8, 4], 6, w).unwrap();
    let y = b.push("dense", Op::MatMul, &[x, w]).unwrap();
    let r = b.push("rescale", Op::Rescale { shift: 6 }, &[y]).unwrap();
    let out = b.push("relu", Op::Relu, &[r]).unwrap();
    b.output(out, "y");
    zkml_ir::format::save(&b.finish().unwrap(), path).unwrap();
}

/// A 256-byte proof (EVM order) and its public values as snarkjs' proof.json and public.json.
fn snarkjs_proof(proof: &Value) -> (Value, Value) {
    let bytes = hex::decode(proof["proof"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let dec = |i: usize| {
        let word: [u8; 32] = bytes[32 * i..32 * i + 32].try_into().unwrap();
        num_decimal(&word)
    };
    let p = json!({
        "pi_a": [dec(0), dec(1), "1"],
        "pi_b": [[dec(3), dec(2)], [dec(5), dec(4)], ["1", "0"]],
        "pi_c": [dec(6), dec(7), "1"],
        "protocol": "groth16",
        "curve": "bn128",
    });
    let public: Vec<String> = proof["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let b = hex::decode(w.as_str().unwrap().trim_start_matches("0x")).unwrap();
            num_decimal(&b.try_into().unwrap())
        })
        .collect();
    (p, json!(public))
}

/// A 32-byte big-endian number in decimal.
fn num_decimal(word: &[u8; 32]) -> String {
    let mut digits = vec![0u8];
    for &byte in word {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

#[test]
fn keys_from_a_snarkjs_ceremony_prove_and_verify_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cache = dir.join("cache");
    let program = dir.join("model.zkml");
    model(&program);
    let input = dir.join("input.json");
    std::fs::write(
        &input,
        r#"{"input_data": [[0.5, -1.25, 2.0, 0.75, -0.5, 1.5, -2.0, 0.25]]}"#,
    )
    .unwrap();

    // 1. The constraint system for the ceremony.
    let r1cs = dir.join("circuit.r1cs");
    let e = run_json(
        &cache,
        &groth16_setup(s(&program), &["--export-r1cs", s(&r1cs)]),
    );
    let power = e["powers_of_tau"].as_u64().unwrap().to_string();
    assert!(r1cs.exists() && !dir.join("keys").exists(), "{e}");

    // 2. Phase 1 and phase 2, one contribution each, and the audit.
    let phase1 = [
        vec!["powersoftau", "new", "bn128", &power, "pot0.ptau"],
        vec![
            "powersoftau",
            "contribute",
            "pot0.ptau",
            "pot1.ptau",
            "--name=first",
            "-e=one",
        ],
        vec!["powersoftau", "prepare", "phase2", "pot1.ptau", "pot.ptau"],
        vec!["groth16", "setup", "circuit.r1cs", "pot.ptau", "c0.zkey"],
        vec![
            "zkey",
            "contribute",
            "c0.zkey",
            "c1.zkey",
            "--name=second",
            "-e=two",
        ],
        vec!["zkey", "export", "verificationkey", "c1.zkey", "vk.json"],
    ];
    for args in &phase1 {
        snarkjs_ok(dir, args);
    }
    let audit = snarkjs_ok(
        dir,
        &["zkey", "verify", "circuit.r1cs", "pot.ptau", "c1.zkey"],
    );
    assert!(audit.contains("ZKey Ok!"), "{audit}");

    // 3. zkml's keys from the final .zkey.
    let zkey = dir.join("c1.zkey");
    let keys = dir.join("keys");
    let setup = run_json(
        &cache,
        &groth16_setup(s(&program), &["--zkey", s(&zkey), "--out", s(&keys)]),
    );
    assert_eq!(setup["insecure_setup"], false, "{setup}");
    assert_eq!(setup["ceremony_contributions"], 1, "{setup}");
    assert!(
        setup["keys_from"].as_str().unwrap().contains("snarkjs"),
        "{setup}"
    );

    // 4. Prove with them; verify in zkml.
    let out = dir.join("out");
    let pk = keys.join("pk.bin");
    let vk = keys.join("vk.bin");
    let p = run_json(
        &cache,
        &[
            "prove",
            s(&program),
            "--input",
            s(&input),
            "--pk",
            s(&pk),
            "--out",
            s(&out),
        ],
    );
    assert_eq!(p["verified"], true, "{p}");
    let r = run_json(&cache, &["run", s(&program), "--input", s(&input)]);
    assert_eq!(p["outputs"], r["outputs"], "outputs equal zkml run's");
    let proof_path = out.join("proof.json");
    zkml(&cache)
        .args(["verify", "--proof", s(&proof_path), "--vk", s(&vk)])
        .assert()
        .code(0);

    // 5. snarkjs, with the ceremony's own verifying key, accepts the proof, and rejects it for
    //    another output.
    let proof: Value = serde_json::from_slice(&std::fs::read(&proof_path).unwrap()).unwrap();
    let (sp, public) = snarkjs_proof(&proof);
    std::fs::write(dir.join("proof.snarkjs.json"), sp.to_string()).unwrap();
    std::fs::write(dir.join("public.json"), public.to_string()).unwrap();
    let ok = snarkjs_ok(
        dir,
        &[
            "groth16",
            "verify",
            "vk.json",
            "public.json",
            "proof.snarkjs.json",
        ],
    );
    assert!(ok.contains("OK"), "{ok}");
    let mut other = public.clone();
    let last = other.as_array().unwrap().len() - 1;
    other[last] = json!("12345");
    std::fs::write(dir.join("other.json"), other.to_string()).unwrap();
    let no = snarkjs(
        dir,
        &[
            "groth16",
            "verify",
            "vk.json",
            "other.json",
            "proof.snarkjs.json",
        ],
    );
    let text =
        String::from_utf8_lossy(&no.stdout).to_string() + &String::from_utf8_lossy(&no.stderr);
    assert!(
        !text.contains("OK!"),
        "snarkjs accepts another output: {text}"
    );

    // 6. On chain.
    let evm = dir.join("evm");
    run_json(
        &cache,
        &["create-evm-verifier", "--vk", s(&vk), "--out", s(&evm)],
    );
    let v = run_json(
        &cache,
        &[
            "verify-evm",
            "--proof",
            s(&proof_path),
            "--verifier",
            s(&evm),
        ],
    );
    assert_eq!(v["verified"], true, "{v}");

    // 7. Mistakes.
    let err = fails(
        &cache,
        &groth16_setup(
            s(&program),
            &[
                "--zkey",
                s(&zkey),
                "--out",
                s(&dir.join("k2")),
                "--input-visibility",
                "private",
            ],
        ),
    );
    assert!(
        err.contains(".zkey") && err.contains("public values"),
        "{err}"
    );
    let err = fails(
        &cache,
        &[
            "prove",
            s(&program),
            "--input",
            s(&input),
            "--pk",
            s(&pk),
            "--out",
            s(&dir.join("o2")),
            "--input-visibility",
            "hashed",
        ],
    );
    assert!(err.contains("ceremony"), "{err}");
    // A proving key with two points swapped (each still on its curve) loads, but its proof
    // does not verify: prove fails and writes nothing, so the earlier proof stays.
    let mut bad = zkml_groth16::ProvingKeyFile::from_bytes(&std::fs::read(&pk).unwrap()).unwrap();
    bad.pk.a_query.swap(0, 1);
    let bad_pk = dir.join("bad-pk.bin");
    std::fs::write(&bad_pk, bad.to_bytes()).unwrap();
    let before = std::fs::read(&proof_path).unwrap();
    let err = fails(
        &cache,
        &[
            "prove",
            s(&program),
            "--input",
            s(&input),
            "--pk",
            s(&bad_pk),
            "--out",
            s(&out),
            "--force",
        ],
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        std::fs::read(&proof_path).unwrap(),
        before,
        "the earlier proof kept"
    );
    // The file before any phase-2 contribution: delta is still the generator.
    let err = fails(
        &cache,
        &groth16_setup(
            s(&program),
            &[
                "--zkey",
                s(&dir.join("c0.zkey")),
                "--out",
                s(&dir.join("k1")),
            ],
        ),
    );
    assert!(err.contains("no phase-2 contribution"), "{err}");
    let bytes = std::fs::read(&zkey).unwrap();
    let cut = dir.join("cut.zkey");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(
        &cache,
        &groth16_setup(
            s(&program),
            &["--zkey", s(&cut), "--out", s(&dir.join("k3"))],
        ),
    );
    assert!(err.contains("ends early"), "{err}");
    let err = fails(
        &cache,
        &[
            "setup",
            s(&program),
            "--zkey",
            s(&zkey),
            "--out",
            s(&dir.join("k4")),
        ],
    );
    assert!(err.contains("--backend groth16"), "{err}");
    let err = fails(
        &cache,
        &groth16_setup(s(&program), &["--export-r1cs", s(&input)]),
    );
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(
        std::fs::read_to_string(&input)
            .unwrap()
            .contains("input_data"),
        "input kept"
    );
    let err = fails(
        &cache,
        &groth16_setup(s(&program), &["--zkey", s(&dir.join("missing.zkey"))]),
    );
    assert!(err.contains("missing.zkey"), "{err}");
}

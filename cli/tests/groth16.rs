//! `--backend groth16` end to end: one-shot and stepwise proving, outputs equal to `zkml run`'s,
//! `verify` with either backend's key, and every mix-up (a key of the other backend, a
//! contradicting `--backend`, a key for another program, visibilities Groth16 does not prove)
//! a clear error.

mod common;

use std::path::Path;

use common::{fails, fixtures, run_json, s, zkml};
use serde_json::Value;

/// `zkml prove MODEL --input INPUT --backend groth16 --out OUT EXTRA... --json`.
fn prove_groth16(cache: &Path, model: &Path, input: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "prove",
        s(model),
        "--input",
        s(input),
        "--backend",
        "groth16",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    run_json(cache, &args)
}

fn verify_args<'a>(proof: &'a str, vk: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["verify", "--proof", proof, "--vk", vk];
    args.extend_from_slice(extra);
    args
}

#[test]
fn one_shot_groth16_proofs_verify_with_the_outputs_of_zkml_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    for name in ["mlp_small", "mlp", "pytorch_style"] {
        let dir = fixtures().join(name);
        let input = dir.join("input.json");
        let out = tmp.path().join(name);
        let p = prove_groth16(&cache, &dir.join("model.onnx"), &input, &out, &[]);
        assert_eq!(p["verified"], true, "{name}: {p}");
        assert_eq!(p["backend"], "groth16");
        assert_eq!(p["proof_bytes"], 256, "{name}: three uncompressed points");
        let r = run_json(
            &cache,
            &["run", s(&out.join("model.zkml")), "--input", s(&input)],
        );
        assert_eq!(
            p["outputs"], r["outputs"],
            "{name}: outputs differ from zkml run's"
        );
        let file: Value =
            serde_json::from_slice(&std::fs::read(out.join("proof.json")).unwrap()).unwrap();
        assert_eq!(file["backend"], "groth16");
        assert_eq!(
            file["quantized_outputs"], r["quantized_outputs"],
            "{name}: quantized outputs"
        );
        let v = run_json(
            &cache,
            &[
                "verify",
                "--proof",
                s(&out.join("proof.json")),
                "--vk",
                s(&out.join("vk.bin")),
                "--input",
                s(&input),
            ],
        );
        assert_eq!(v["verified"], true);
        assert_eq!(v["backend"], "groth16");
        assert_eq!(v["outputs"], "proven");
        assert_eq!(v["input"], "proven");

        // The second run reuses the cached keys: the same verifying key.
        let again = prove_groth16(&cache, &dir.join("model.onnx"), &input, &out, &[]);
        assert!(again["timings"]["load cached keys"].is_number(), "{again}");
        assert!(again["timings"]
            .get("generate keys (insecure local setup)")
            .is_none());
    }
}

#[test]
fn stepwise_setup_prove_verify_and_every_mix_up_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let t = |p: &str| tmp.path().join(p);
    let dir = fixtures().join("mlp_small");
    let input = dir.join("input.json");
    run_json(
        &cache,
        &[
            "compile",
            s(&dir.join("model.onnx")),
            "--calibration",
            s(&input),
            "-o",
            s(&t("m.zkml")),
        ],
    );
    // Setup warns that its keys are insecure and reports constraints per op.
    let out = zkml(&cache)
        .args(["setup", s(&t("m.zkml")), "--backend", "groth16", "--out"])
        .arg(t("g16"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING") && err.contains("forge proofs"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("constraints per op: "), "{text}");
    let i = run_json(
        &cache,
        &["inspect", s(&t("m.zkml")), "--backend", "groth16"],
    );
    let per_node: u64 = i["constraints_per_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["constraints"].as_u64().unwrap())
        .sum();
    assert_eq!(per_node, i["constraints"].as_u64().unwrap());
    let k = run_json(&cache, &["inspect", s(&t("g16/vk.bin"))]);
    assert_eq!(k["backend"], "groth16");
    assert_eq!(k["public_values"], 26);

    let p = run_json(
        &cache,
        &[
            "prove",
            s(&t("m.zkml")),
            "--pk",
            s(&t("g16/pk.bin")),
            "--input",
            s(&input),
            "--out",
            s(&t("p")),
        ],
    );
    assert_eq!(p["backend"], "groth16", "the key decides the backend");
    assert_eq!(
        std::fs::read(t("p/vk.bin")).unwrap(),
        std::fs::read(t("g16/vk.bin")).unwrap()
    );
    let proof = t("p/proof.json");
    let (g16_vk, h2_vk) = (t("g16/vk.bin"), t("h2/vk.bin"));
    run_json(&cache, &verify_args(s(&proof), s(&g16_vk), &[]));

    // A halo2 key for the same program: the proof is rejected, naming both backends.
    run_json(&cache, &["setup", s(&t("m.zkml")), "--out", s(&t("h2"))]);
    let err = fails(&cache, &verify_args(s(&proof), s(&h2_vk), &[]), 1);
    assert!(
        err.contains("groth16 backend") && err.contains("halo2 key"),
        "{err}"
    );
    // A contradicting --backend.
    let err = fails(
        &cache,
        &verify_args(s(&proof), s(&g16_vk), &["--backend", "halo2"]),
        2,
    );
    assert!(err.contains("is a groth16 key"), "{err}");
    let err = fails(
        &cache,
        &[
            "prove",
            s(&t("m.zkml")),
            "--pk",
            s(&t("g16/pk.bin")),
            "--backend",
            "halo2",
            "--input",
            s(&input),
            "--out",
            s(&t("q")),
        ],
        1,
    );
    assert!(err.contains("is a groth16 key"), "{err}");
    // A key for another program.
    let other = fixtures().join("mlp");
    let err = fails(
        &cache,
        &[
            "prove",
            s(&other.join("model.onnx")),
            "--pk",
            s(&t("g16/pk.bin")),
            "--input",
            s(&other.join("input.json")),
            "--out",
            s(&t("q")),
        ],
        1,
    );
    assert!(err.contains("made for another program"), "{err}");
    // Visibilities and options the backend does not take.
    let (m, q) = (t("m.zkml"), t("q"));
    for extra in [&["--device", "gpu"][..], &["--srs", "x.srs"]] {
        let mut args = vec![
            "prove",
            s(&m),
            "--backend",
            "groth16",
            "--input",
            s(&input),
            "--out",
            s(&q),
        ];
        args.extend_from_slice(extra);
        let err = fails(&cache, &args, 1);
        assert!(err.contains("groth16 backend"), "{extra:?}: {err}");
    }

    // Tampered proof files: a flipped proof byte, a changed output, a changed public value.
    let text = std::fs::read_to_string(&proof).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let tampered = t("tampered.json");
    let check = |f: &Value, what: &str| {
        std::fs::write(&tampered, serde_json::to_string(f).unwrap()).unwrap();
        let out = zkml(&cache)
            .args([
                "verify",
                "--proof",
                s(&tampered),
                "--vk",
                s(&t("g16/vk.bin")),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("INVALID"), "{what}: {err}");
    };
    let mut f = file.clone();
    let hex = f["proof"].as_str().unwrap().to_string();
    let flipped = if &hex[100..101] == "0" { "1" } else { "0" };
    f["proof"] = Value::from(format!("{}{flipped}{}", &hex[..100], &hex[101..]));
    check(&f, "proof byte");
    let mut f = file.clone();
    f["quantized_outputs"][0][0] = Value::from(f["quantized_outputs"][0][0].as_i64().unwrap() + 1);
    check(&f, "listed output");
    let mut f = file.clone();
    let last = f["instances"].as_array().unwrap().len() - 1;
    let w = f["instances"][last].as_str().unwrap().to_string();
    let flipped = if w.ends_with('0') { "1" } else { "0" };
    f["instances"][last] = Value::from(format!("{}{flipped}", &w[..w.len() - 1]));
    check(&f, "public value");
    let mut f = file;
    f["backend"] = Value::from("halo2");
    check(&f, "backend field");

    // On chain: the Groth16 verifier accepts the proof (and the file's claims check out),
    // rejects a tampered one, and a halo2 verifier names the mix-up.
    let evm = t("evm");
    let c = run_json(
        &cache,
        &["create-evm-verifier", "--vk", s(&g16_vk), "--out", s(&evm)],
    );
    assert_eq!(c["backend"], "groth16");
    let v = run_json(
        &cache,
        &["verify-evm", "--proof", s(&proof), "--verifier", s(&evm)],
    );
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["claims_checked"], true);
    let gas = v["gas_used"].as_u64().unwrap();
    assert!(gas > 181_000, "four pairings cost 181,000 gas: {gas}");
    let cd = run_json(&cache, &["encode-calldata", "--proof", s(&proof)]);
    assert_eq!(cd["bytes"], 4 + 32 * 3 + 256 + 32 + 32 * 26);
    std::fs::write(&tampered, {
        let mut f: Value = serde_json::from_str(&text).unwrap();
        let w = f["instances"][0].as_str().unwrap().to_string();
        let flipped = if w.ends_with('0') { "1" } else { "0" };
        f["instances"][0] = Value::from(format!("{}{flipped}", &w[..w.len() - 1]));
        serde_json::to_string(&f).unwrap()
    })
    .unwrap();
    fails(
        &cache,
        &["verify-evm", "--proof", s(&tampered), "--verifier", s(&evm)],
        1,
    );
    let h2_evm = t("h2-evm");
    run_json(
        &cache,
        &[
            "create-evm-verifier",
            "--vk",
            s(&h2_vk),
            "--out",
            s(&h2_evm),
        ],
    );
    let err = fails(
        &cache,
        &["verify-evm", "--proof", s(&proof), "--verifier", s(&h2_evm)],
        1,
    );
    assert!(
        err.contains("groth16 backend") && err.contains("halo2 verifier"),
        "{err}"
    );
    let err = fails(
        &cache,
        &[
            "verify-evm",
            "--proof",
            s(&proof),
            "--verifier",
            s(&evm),
            "--backend",
            "halo2",
        ],
        2,
    );
    assert!(err.contains("for the groth16 backend"), "{err}");
}

#[test]
fn hashed_and_private_values_prove_verify_and_check_on_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let dir = fixtures().join("mlp_small");
    let input = dir.join("input.json");
    let out = tmp.path().join("hashed");
    let p = prove_groth16(
        &cache,
        &dir.join("model.onnx"),
        &input,
        &out,
        &[
            "--input-visibility",
            "hashed",
            "--output-visibility",
            "hashed",
            "--param-visibility",
            "hashed",
        ],
    );
    assert_eq!(p["verified"], true, "{p}");
    assert_eq!(
        p["public_values"], 3,
        "one hash each for inputs, outputs, parameters"
    );
    let proof = out.join("proof.json");
    let v = run_json(
        &cache,
        &[
            "verify",
            "--proof",
            s(&proof),
            "--vk",
            s(&out.join("vk.bin")),
            "--input",
            s(&input),
        ],
    );
    assert_eq!(v["outputs"], "hash_matches", "{v}");
    assert_eq!(v["input"], "hash_matches", "{v}");
    assert!(
        v["parameters_hash"].as_str().unwrap().starts_with("0x"),
        "{v}"
    );
    // Another input does not hash to the proven input hash.
    let other = tmp.path().join("other.json");
    let text = std::fs::read_to_string(&input).unwrap();
    let mut j: Value = serde_json::from_str(&text).unwrap();
    let x = j["input_data"][0][0].as_f64().unwrap();
    j["input_data"][0][0] = Value::from(x + 0.5);
    std::fs::write(&other, j.to_string()).unwrap();
    let err = fails(
        &cache,
        &[
            "verify",
            "--proof",
            s(&proof),
            "--vk",
            s(&out.join("vk.bin")),
            "--input",
            s(&other),
        ],
        1,
    );
    assert!(err.contains("does not hash"), "{err}");
    let evm = tmp.path().join("evm");
    run_json(
        &cache,
        &[
            "create-evm-verifier",
            "--vk",
            s(&out.join("vk.bin")),
            "--out",
            s(&evm),
        ],
    );
    let e = run_json(
        &cache,
        &["verify-evm", "--proof", s(&proof), "--verifier", s(&evm)],
    );
    assert_eq!(e["verified"], true, "{e}");
    assert_eq!(e["claims_checked"], true);

    // Private outputs: the file lists none, and verify says nothing about them is proven.
    let out = tmp.path().join("private");
    prove_groth16(
        &cache,
        &dir.join("model.onnx"),
        &input,
        &out,
        &["--output-visibility", "private"],
    );
    let file: Value =
        serde_json::from_slice(&std::fs::read(out.join("proof.json")).unwrap()).unwrap();
    assert_eq!(file["outputs"], Value::Array(vec![]));
    let v = run_json(
        &cache,
        &[
            "verify",
            "--proof",
            s(&out.join("proof.json")),
            "--vk",
            s(&out.join("vk.bin")),
        ],
    );
    assert_eq!(v["outputs"], "unproven", "{v}");
}

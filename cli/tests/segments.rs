//! `zkml prove --segments N` / `--max-logrows K` and `zkml verify` on chain files: the chain's
//! outputs are the whole program's, the chain verifies (pinned or not, with its input), and a
//! reordered, truncated, foreign or edited chain is rejected naming the segment.

mod common;

use std::path::{Path, PathBuf};

use common::{fails, fixtures, run_json, s};
use serde_json::Value;

fn fixture(name: &str, file: &str) -> PathBuf {
    fixtures().join(name).join(file)
}

fn prove_chain(cache: &Path, out: &Path, extra: &[&str]) -> Value {
    let model = fixture("mlp_small", "model.onnx");
    let input = fixture("mlp_small", "input.json");
    let mut args = vec!["prove", s(&model), "--input", s(&input), "--out", s(out)];
    args.extend_from_slice(extra);
    run_json(cache, &args)
}

#[test]
fn chains_prove_the_programs_outputs_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let whole = prove_chain(&cache, &dir.path().join("whole"), &[]);
    for n in ["1", "2", "3"] {
        let out = dir.path().join(format!("chain{n}"));
        let proved = prove_chain(&cache, &out, &["--segments", n]);
        assert_eq!(proved["verified"], true);
        assert_eq!(proved["outputs"], whole["outputs"], "{n} segments: outputs");
        assert_eq!(proved["segments"].as_array().unwrap().len().to_string(), n);
        let chain = out.join("chain.json");
        let input = fixture("mlp_small", "input.json");
        let v = run_json(
            &cache,
            &["verify", "--proof", s(&chain), "--input", s(&input)],
        );
        assert_eq!(v["verified"], true);
        assert_eq!(v["outputs"], "proven");
        assert_eq!(v["input"], "proven");
        let digest = proved["chain_digest"].as_str().unwrap();
        let pinned = run_json(
            &cache,
            &["verify", "--proof", s(&chain), "--chain-digest", digest],
        );
        assert_eq!(pinned["chain_pinned"], true);
    }
    // A program that fits the budget is one segment.
    let out = dir.path().join("budget");
    let proved = prove_chain(&cache, &out, &["--max-logrows", "8"]);
    assert_eq!(proved["segments"].as_array().unwrap().len(), 1, "{proved}");
    assert_eq!(proved["outputs"], whole["outputs"]);
}

/// Segments proven side by side report their stages even where the output is not a terminal
/// (a log file, a pipe): every segment's keys and proof, with their times.
#[test]
fn segment_stages_are_reported_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let model = fixture("mlp_small", "model.onnx");
    let input = fixture("mlp_small", "input.json");
    let out = dir.path().join("chain");
    let done = common::zkml(&cache)
        .args(["prove", s(&model), "--input", s(&input), "--out", s(&out)])
        .args(["--segments", "2"])
        .output()
        .unwrap();
    assert!(done.status.success());
    let err = String::from_utf8_lossy(&done.stderr);
    for segment in ["segment 1/2: ", "segment 2/2: "] {
        for stage in ["generate keys", "prove"] {
            assert!(
                err.lines()
                    .any(|l| l.starts_with(segment) && l.contains(stage) && l.ends_with(" s")),
                "no '{segment}{stage}' line in:\n{err}"
            );
        }
    }
}

#[test]
fn cuts_planned_at_compile_time_are_used_by_prove() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let program = dir.path().join("model.zkml");
    let model = fixture("mlp_small", "model.onnx");
    let input = fixture("mlp_small", "input.json");
    let compiled = run_json(
        &cache,
        &[
            "compile",
            s(&model),
            "--calibration",
            s(&input),
            "-o",
            s(&program),
            "--segments",
            "2",
        ],
    );
    assert_eq!(compiled["cuts"].as_array().unwrap().len(), 1, "{compiled}");
    // No segment flag: the program's own cuts.
    let out = dir.path().join("run");
    let proved = run_json(
        &cache,
        &["prove", s(&program), "--input", s(&input), "--out", s(&out)],
    );
    assert_eq!(proved["verified"], true);
    assert_eq!(proved["segments"].as_array().unwrap().len(), 2, "{proved}");
    let whole = prove_chain(&cache, &dir.path().join("whole"), &[]);
    assert_eq!(proved["outputs"], whole["outputs"]);
    let v = run_json(
        &cache,
        &[
            "verify",
            "--proof",
            s(&out.join("chain.json")),
            "--input",
            s(&input),
        ],
    );
    assert_eq!(v["verified"], true);
    // A flag still decides.
    let one = run_json(
        &cache,
        &[
            "prove",
            s(&program),
            "--input",
            s(&input),
            "--out",
            s(&dir.path().join("three")),
            "--segments",
            "3",
        ],
    );
    assert_eq!(one["segments"].as_array().unwrap().len(), 3, "{one}");
}

/// Six dense layers of width 64 with ReLU: no layer dominates, so a budget of rows can be met
/// by cutting between them.
fn deep_program() -> zkml_ir::Program {
    use zkml_ir::{Op, ProgramBuilder};
    let mut b = ProgramBuilder::new(16).unwrap();
    let mut x = b.input("x", vec![1, 64], 8).unwrap();
    let mut seed = 12345u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % 255) as i64 - 127
    };
    for layer in 0..6 {
        let w: Vec<i64> = (0..64 * 64).map(|_| next()).collect();
        let w = b
            .parameter(&format!("w{layer}"), vec![64, 64], 8, w)
            .unwrap();
        let mm = b.push(&format!("mm{layer}"), Op::MatMul, &[x, w]).unwrap();
        let r = b
            .push(&format!("rescale{layer}"), Op::Rescale { shift: 12 }, &[mm])
            .unwrap();
        x = b.push(&format!("relu{layer}"), Op::Relu, &[r]).unwrap();
    }
    b.output(x, "y");
    b.finish().unwrap()
}

#[test]
fn a_row_budget_cuts_between_layers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let program = deep_program();
    let path = dir.path().join("deep.zkml");
    std::fs::write(&path, zkml_ir::format::to_bytes(&program)).unwrap();
    let input = dir.path().join("input.json");
    let values: Vec<f64> = (0..64).map(|i| (i as f64 - 32.0) / 13.0).collect();
    std::fs::write(
        &input,
        serde_json::json!({ "input_data": [values] }).to_string(),
    )
    .unwrap();
    let args = |out: &Path, extra: &[&str]| -> Value {
        let mut a = vec!["prove", s(&path), "--input", s(&input), "--out"];
        a.push(s(out));
        a.extend_from_slice(extra);
        let a: Vec<String> = a.into_iter().map(str::to_string).collect();
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_json(&cache, &refs)
    };
    let whole = args(&dir.path().join("whole"), &[]);
    let k = whole["circuit"]["k"].as_u64().unwrap();
    let budget = (k - 1).to_string();
    let proved = args(&dir.path().join("cut"), &["--max-logrows", &budget]);
    let segments = proved["segments"].as_array().unwrap();
    assert!(segments.len() >= 2, "{proved}");
    assert!(
        segments.iter().all(|s| s["k"].as_u64().unwrap() < k),
        "{proved}"
    );
    assert_eq!(proved["outputs"], whole["outputs"]);
    let chain = dir.path().join("cut/chain.json");
    assert_eq!(
        run_json(&cache, &["verify", "--proof", s(&chain)])["verified"],
        true
    );

    // A memory budget just below the whole circuit's estimate: segments each within it. (The
    // base cost of a circuit sets a floor under any segment's estimate; the whole circuit here
    // is small, so a budget far below it is one no cut can meet.)
    let need = whole["memory_estimate_bytes"].as_u64().unwrap();
    let gb = format!("{}", (need as f64 * 0.98) / 1e9);
    let budget = (gb.parse::<f64>().unwrap() * 1e9) as u64;
    let planned = run_json(&cache, &["inspect", s(&path), "--max-memory", &gb]);
    let rows = planned["segments"].as_array().unwrap();
    assert!(rows.len() >= 2, "{planned}");
    assert!(
        rows.iter()
            .all(|r| r["memory_estimate_bytes"].as_u64().unwrap() <= budget),
        "{planned}"
    );
    let proved = args(&dir.path().join("mem"), &["--max-memory", &gb]);
    assert_eq!(proved["segments"].as_array().unwrap().len(), rows.len());
    assert_eq!(proved["outputs"], whole["outputs"]);
    // A budget no cut can meet, and one that is not a size, are clear errors.
    let tiny = fails(
        &cache,
        &["inspect", s(&path), "--max-memory", "0.000001"],
        1,
    );
    assert!(
        tiny.contains("no cut of the program into circuits whose proving takes at most"),
        "{tiny}"
    );
    let negative = fails(&cache, &["inspect", s(&path), "--max-memory=-1"], 1);
    assert!(
        negative.contains("--max-memory takes a positive number of gigabytes"),
        "{negative}"
    );
}

#[test]
fn hashed_inputs_chain_and_bind_the_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("chain");
    prove_chain(
        &cache,
        &out,
        &["--segments", "2", "--input-visibility", "hashed"],
    );
    let chain = out.join("chain.json");
    let input = fixture("mlp_small", "input.json");
    let v = run_json(
        &cache,
        &["verify", "--proof", s(&chain), "--input", s(&input)],
    );
    assert_eq!(v["input"], "hash_matches");
    let other = dir.path().join("other.json");
    let text = std::fs::read_to_string(&input).unwrap();
    let mut data: Value = serde_json::from_str(&text).unwrap();
    data["input_data"][0][0] = Value::from(0.123);
    std::fs::write(&other, data.to_string()).unwrap();
    let e = fails(
        &cache,
        &["verify", "--proof", s(&chain), "--input", s(&other)],
        1,
    );
    assert!(e.contains("hash"), "{e}");
}

#[test]
fn tampered_chains_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("chain");
    let proved = prove_chain(&cache, &out, &["--segments", "3"]);
    let chain_path = out.join("chain.json");
    let chain: Value =
        serde_json::from_str(&std::fs::read_to_string(&chain_path).unwrap()).unwrap();
    let write = |name: &str, v: &Value| -> PathBuf {
        let p = out.join(name);
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        p
    };
    let verify = |p: &Path| fails(&cache, &["verify", "--proof", s(p)], 1);

    let mut swapped = chain.clone();
    swapped["segments"].as_array_mut().unwrap().swap(0, 1);
    let e = verify(&write("swapped.json", &swapped));
    assert!(e.contains("segment 0"), "{e}");

    let mut proofs_swapped = chain.clone();
    let p0 = chain["segments"][0]["proof"].clone();
    proofs_swapped["segments"][0]["proof"] = chain["segments"][1]["proof"].clone();
    proofs_swapped["segments"][1]["proof"] = p0;
    let e = verify(&write("proofs_swapped.json", &proofs_swapped));
    assert!(
        e.contains("segment 0: the proof given is segment 1's"),
        "{e}"
    );

    let mut short = chain.clone();
    short["segments"].as_array_mut().unwrap().pop();
    let e = verify(&write("short.json", &short));
    assert!(e.contains("segment 1") || e.contains("last segment"), "{e}");

    let mut edited = chain.clone();
    edited["segments"][2]["proof"]["quantized_outputs"][0][0] = Value::from(12345);
    let e = verify(&write("edited.json", &edited));
    assert!(e.contains("segment 2"), "{e}");

    // Segment 1 replaced by the segment of another chain of the same model.
    let other = dir.path().join("other");
    prove_chain(&cache, &other, &["--segments", "2"]);
    let mut foreign = chain.clone();
    let other_chain: Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("chain.json")).unwrap()).unwrap();
    foreign["segments"][1]["proof"] = other_chain["segments"][1]["proof"].clone();
    let e = verify(&write("foreign.json", &foreign));
    assert!(e.contains("segment 1"), "{e}");

    // A wrong pin, and keys given the wrong way.
    let e = fails(
        &cache,
        &[
            "verify",
            "--proof",
            s(&chain_path),
            "--chain-digest",
            &"ab".repeat(32),
        ],
        1,
    );
    assert!(e.contains("pinned"), "{e}");
    let vk0 = out.join("segment-0.vk.bin");
    let e = fails(
        &cache,
        &["verify", "--proof", s(&chain_path), "--vk", s(&vk0)],
        2,
    );
    assert!(e.contains("chain file"), "{e}");
    assert_eq!(proved["verified"], true);
}

#[test]
fn segment_requests_that_cannot_be_met_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let model = fixture("mlp_small", "model.onnx");
    let input = fixture("mlp_small", "input.json");
    let out = dir.path().join("out");
    let base = ["prove", s(&model), "--input", s(&input), "--out", s(&out)];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let run = |extra: &[&str], code: i32| {
        let args = with(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&cache, &refs, code)
    };
    assert!(run(&["--segments", "0"], 1).contains("at least one segment"));
    assert!(run(&["--segments", "50"], 1).contains("cannot be cut into 50"));
    assert!(run(&["--segments", "2", "--backend", "groth16"], 1).contains("halo2"));
    assert!(run(&["--segments", "2", "--max-logrows", "9"], 2).contains("cannot be used with"));
    let mlp = fixture("mlp", "model.onnx");
    let mlp_input = fixture("mlp", "input.json");
    let e = fails(
        &cache,
        &[
            "prove",
            s(&mlp),
            "--input",
            s(&mlp_input),
            "--out",
            s(&out),
            "--max-logrows",
            "9",
        ],
        1,
    );
    assert!(e.contains("at most 2^9 rows"), "{e}");
    assert!(
        !out.join("chain.json").exists(),
        "nothing written on errors"
    );
}

#[test]
fn segments_prove_as_independent_jobs_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let d = |p: &str| dir.path().join(p);
    let model = fixture("mlp_small", "model.onnx");
    let input = fixture("mlp_small", "input.json");
    let program = d("m.zkml");
    run_json(
        &cache,
        &[
            "compile",
            s(&model),
            "--calibration",
            s(&input),
            "-o",
            s(&program),
        ],
    );
    let setup = run_json(
        &cache,
        &[
            "setup",
            s(&program),
            "--segments",
            "3",
            "--out",
            s(&d("keys")),
        ],
    );
    assert_eq!(setup["segments"], 3);
    let plan = d("keys/segments.json");
    run_json(
        &cache,
        &[
            "witness",
            s(&program),
            "--input",
            s(&input),
            "--plan",
            s(&plan),
            "--out",
            s(&d("jobs")),
        ],
    );
    let proofs_dir = d("proofs");
    let bad_chain = d("bad/chain.json");
    let job = |i: usize, witness: usize, pk: usize, code: Option<i32>| -> String {
        let w = d(&format!("jobs/segment-{witness}.witness.json"));
        let k = d(&format!("keys/segment-{pk}.pk.bin"));
        let i = i.to_string();
        let args = [
            "prove",
            s(&program),
            "--segment",
            &i,
            "--witness",
            s(&w),
            "--pk",
            s(&k),
            "--out",
            s(&proofs_dir),
        ];
        match code {
            None => {
                run_json(&cache, &args);
                String::new()
            }
            Some(c) => fails(&cache, &args, c),
        }
    };
    // In any order, each from its own files.
    for i in [2, 0, 1] {
        job(i, i, i, None);
    }
    let proofs: Vec<PathBuf> = (0..3)
        .map(|i| d(&format!("proofs/segment-{i}.proof.json")))
        .collect();
    let chain = d("out/chain.json");
    let mut args = vec!["chain", "--plan", s(&plan), "-o", s(&chain)];
    args.extend(proofs.iter().map(|p| s(p)));
    let assembled = run_json(&cache, &args);
    assert_eq!(assembled["chain_digest"], setup["chain_digest"]);
    let v = run_json(
        &cache,
        &[
            "verify",
            "--proof",
            s(&chain),
            "--input",
            s(&input),
            "--chain-digest",
            setup["chain_digest"].as_str().unwrap(),
        ],
    );
    assert_eq!(v["outputs"], "proven");
    assert_eq!(v["input"], "proven");
    // The one-shot chain of the same program gives the same outputs.
    let one_shot = run_json(
        &cache,
        &[
            "prove",
            s(&program),
            "--input",
            s(&input),
            "--segments",
            "3",
            "--out",
            s(&d("oneshot")),
        ],
    );
    let chain_file: Value =
        serde_json::from_str(&std::fs::read_to_string(&chain).unwrap()).unwrap();
    assert_eq!(
        chain_file["segments"][2]["proof"]["outputs"],
        one_shot["outputs"]
    );

    // Mix-ups are refused before proving.
    assert!(job(1, 2, 1, Some(1)).contains("segment 2's witness"));
    let e = job(1, 1, 2, Some(1));
    assert!(e.contains("another segment"), "{e}");
    let e = fails(
        &cache,
        &[
            "prove",
            s(&program),
            "--segment",
            "1",
            "--pk",
            s(&d("keys/segment-1.pk.bin")),
        ],
        2,
    );
    assert!(e.contains("--witness"), "{e}");
    // Proofs given out of order do not assemble.
    let mut args = vec!["chain", "--plan", s(&plan), "-o", s(&bad_chain)];
    args.extend([s(&proofs[1]), s(&proofs[0]), s(&proofs[2])]);
    let e = fails(&cache, &args, 1);
    assert!(e.contains("segment 0"), "{e}");
    assert!(!bad_chain.exists());
}

#[test]
fn the_evm_verifies_a_chain_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("chain");
    prove_chain(&cache, &out, &["--segments", "3", "--optimize", "evm-gas"]);
    let chain_path = out.join("chain.json");
    let v = run_json(&cache, &["verify-evm", "--proof", s(&chain_path)]);
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["segments"], 3);
    let gas = v["gas_used"].as_u64().unwrap();
    assert!(gas > 21_000, "{v}");
    // An edited link: segment 1's input commitment.
    let mut chain: Value =
        serde_json::from_str(&std::fs::read_to_string(&chain_path).unwrap()).unwrap();
    chain["segments"][1]["proof"]["instances"][0] = Value::from(format!("0x{}", "11".repeat(32)));
    let edited = out.join("edited.json");
    std::fs::write(&edited, chain.to_string()).unwrap();
    let e = fails(&cache, &["verify-evm", "--proof", s(&edited)], 1);
    assert!(e.contains("returned false"), "{e}");
    let e = fails(
        &cache,
        &[
            "verify-evm",
            "--proof",
            s(&chain_path),
            "--verifier",
            s(&out),
        ],
        2,
    );
    assert!(e.contains("drop --verifier"), "{e}");
}

/// `compile` and `inspect` plan cuts for the shapes `--optimize` names: the gas shapes have
/// fewer columns, so their segments take more rows.
#[test]
fn cuts_are_planned_for_the_shapes_asked() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let model = fixture("mlp", "model.onnx");
    let input = fixture("mlp", "input.json");
    let compile = |optimize: &str| -> Value {
        let out = dir.path().join(format!("{optimize}.zkml"));
        let args = [
            "compile",
            s(&model),
            "--calibration",
            s(&input),
            "-o",
            s(&out),
            "--segments",
            "2",
            "--optimize",
            optimize,
        ];
        run_json(&cache, &args)
    };
    let rows = |v: &Value, key: &str| -> Vec<u64> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_u64().unwrap())
            .collect()
    };
    let (fast, cheap) = (compile("proving"), compile("evm-gas"));
    let (fast_k, cheap_k) = (
        rows(&fast, "segment_logrows"),
        rows(&cheap, "segment_logrows"),
    );
    assert_eq!((fast_k.len(), cheap_k.len()), (2, 2));
    assert!(
        cheap_k.iter().zip(&fast_k).all(|(c, f)| c > f),
        "{cheap_k:?} against {fast_k:?}"
    );
    // inspect shows the same plans.
    let program = dir.path().join("proving.zkml");
    for (optimize, expected) in [("proving", &fast_k), ("evm-gas", &cheap_k)] {
        let shown = run_json(
            &cache,
            &[
                "inspect",
                s(&program),
                "--segments",
                "2",
                "--optimize",
                optimize,
            ],
        );
        let ks: Vec<u64> = shown["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["k"].as_u64().unwrap())
            .collect();
        assert_eq!(&ks, expected, "{optimize}");
    }
    // Without a cut to plan, the flag has nothing to do.
    let e = fails(
        &cache,
        &[
            "compile",
            s(&model),
            "-o",
            s(&dir.path().join("x.zkml")),
            "--optimize",
            "evm-gas",
        ],
        1,
    );
    assert!(e.contains("--optimize chooses the shapes"), "{e}");
    assert!(!dir.path().join("x.zkml").exists());
}

/// Cuts planned within a budget are proven within it: `prove` without flags sizes each segment
/// (or the one circuit) within what `compile` was given, not within the default 8 GB, and the
/// same request again takes the recorded cuts.
#[test]
fn planned_cuts_are_proven_within_their_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let compile = |name: &str, budget: &str| -> (PathBuf, Value) {
        let out = dir.path().join(format!("{name}-{budget}.zkml"));
        let v = run_json(
            &cache,
            &[
                "compile",
                s(&fixture(name, "model.onnx")),
                "--calibration",
                s(&fixture(name, "input.json")),
                "-o",
                s(&out),
                "--max-memory",
                budget,
                "--optimize",
                "evm-gas",
            ],
        );
        (out, v)
    };
    let ks = |rows: &Value| -> Vec<u64> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["k"].as_u64().unwrap())
            .collect()
    };
    // LeNet in 0.3 GB: three segments of 2^14 rows, where the gas shapes within 8 GB are
    // taller.
    let (lenet, planned) = compile("lenet", "0.3");
    let planned_k: Vec<u64> = planned["segment_logrows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_u64().unwrap())
        .collect();
    assert_eq!(planned["cuts"].as_array().unwrap().len(), 2, "{planned}");
    let within_default = run_json(
        &cache,
        &[
            "inspect",
            s(&lenet),
            "--segments",
            "3",
            "--optimize",
            "evm-gas",
        ],
    );
    assert!(
        ks(&within_default["segments"])
            .iter()
            .zip(&planned_k)
            .any(|(d, p)| d > p),
        "{within_default}"
    );
    let out = dir.path().join("lenet-run");
    let input = fixture("lenet", "input.json");
    let chain = run_json(
        &cache,
        &[
            "prove",
            s(&lenet),
            "--input",
            s(&input),
            "--optimize",
            "evm-gas",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(chain["verified"], true);
    assert_eq!(chain["cuts"], planned["cuts"]);
    assert_eq!(ks(&chain["segments"]), planned_k);
    // inspect with the same request shows the recorded cuts in the same shapes.
    let same = run_json(
        &cache,
        &[
            "inspect",
            s(&lenet),
            "--max-memory",
            "0.3",
            "--optimize",
            "evm-gas",
        ],
    );
    assert_eq!(same["cuts"], planned["cuts"]);
    assert_eq!(ks(&same["segments"]), planned_k);
    // One segment: the MLP in 0.1 GB is one circuit of 2^12 rows (2^17 within 8 GB).
    let (mlp, planned) = compile("mlp", "0.1");
    assert_eq!(planned["cuts"], serde_json::json!([]));
    let proof = run_json(
        &cache,
        &[
            "prove",
            s(&mlp),
            "--input",
            s(&fixture("mlp", "input.json")),
            "--optimize",
            "evm-gas",
            "--out",
            s(&dir.path().join("mlp-run")),
        ],
    );
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["circuit"]["k"], planned["segment_logrows"][0]);
    let default = run_json(
        &cache,
        &[
            "inspect",
            s(&mlp),
            "--segments",
            "1",
            "--optimize",
            "evm-gas",
        ],
    );
    assert!(
        default["segments"][0]["k"].as_u64() > proof["circuit"]["k"].as_u64(),
        "{default}"
    );
}

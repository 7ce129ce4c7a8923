//! Every fuzz target on its seeds, on every input that fuzzing ever found to break it
//! (`regressions/TARGET/`), and on a fixed number of seeded mutations of the seeds, on the
//! stable toolchain. This is the short run CI makes of each target; `scripts/fuzz.sh` runs the
//! coverage-guided fuzzer (cargo-fuzz) for as many executions as asked.

use std::path::{Path, PathBuf};

use zkml_fuzz_targets::TARGETS;

/// Mutants per seed file: a thousand or more executions per target.
const MUTANTS: usize = 1000;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// xorshift64*: the same mutants on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `seed`, of the kinds a fuzzer starts with: bit flips, boundary bytes and
/// words, truncation, repeated and deleted chunks, and text edits for text formats.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len());
        match rng.below(8) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)],
            2 => v.truncate(at),
            3 if !v.is_empty() => {
                let len = rng.below(64).min(v.len() - at);
                let chunk = v[at..at + len].to_vec();
                let to = rng.below(v.len());
                v.splice(to..to, chunk);
            }
            4 if !v.is_empty() => {
                let len = rng.below(32).min(v.len() - at);
                v.drain(at..at + len);
            }
            5 if v.len() >= at + 8 => {
                let word = [0u64, 1, u64::MAX, u64::MAX / 2, 1 << 32][rng.below(5)];
                v[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
            6 => {
                let text = [
                    "-", "9", "1e308", "NaN", "[", "]", "\"", ",", "{}", "null", "0x",
                ];
                let t = text[rng.below(text.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

#[test]
fn every_target_survives_its_seeds_regressions_and_mutants() {
    for (name, target) in TARGETS {
        let seeds = files(&root().join("seeds").join(name));
        assert!(!seeds.is_empty(), "target {name} has no seeds");
        let regressions = files(&root().join("regressions").join(name));
        let mut runs = 0;
        for path in seeds.iter().chain(&regressions) {
            target(&std::fs::read(path).unwrap());
            runs += 1;
        }
        let mut rng = Rng(0x5eed ^ name.len() as u64);
        for path in &seeds {
            let seed = std::fs::read(path).unwrap();
            for _ in 0..MUTANTS {
                target(&mutate(&seed, &mut rng));
                runs += 1;
            }
        }
        eprintln!("{name}: {runs} runs");
    }
}

#[test]
fn the_targets_accept_their_honest_seeds() {
    // The seeds are real artifacts: they decode, and the seed proof verifies (else the targets
    // would exercise only error paths).
    let seed = |t: &str, f: &str| std::fs::read(root().join("seeds").join(t).join(f)).unwrap();
    let model = root().join("seeds/model");
    let vk = std::fs::read(model.join("vk.bin")).unwrap();
    let text = std::fs::read_to_string(model.join("proof.json")).unwrap();
    let (file, proof, instances) =
        zkml_cli::commands::verify::parse_proof_file(&text).expect("seed proof file");
    let key = zkml_verifier::Key::from_bytes(&vk).unwrap();
    zkml_cli::commands::verify::check_proof(&key, &file, &proof, &instances, None)
        .expect("seed proof verifies");
    let (p, words) = zkml_contracts::abi::decode_calldata(&seed("calldata", "proof.calldata"))
        .expect("seed calldata decodes");
    zkml_verifier::verify_words(&vk, &p, &words).expect("seed calldata verifies");
    zkml_ir::format::from_bytes(&seed("program", "mlp_small.zkml")).expect("seed program");
    zkml_onnx::parse_model(
        seed("onnx", "mlp_small.onnx"),
        None,
        &zkml_onnx::ImportOptions::default(),
    )
    .expect("seed model");
    zkml_prover::ProvingKeyFile::from_bytes(&seed("pk", "pk.bin"), Path::new("pk.bin"))
        .expect("seed proving key");
    let tiny = zkml_ir::format::from_bytes(&seed("program", "tiny.zkml")).expect("seed program");
    let r1cs = zkml_groth16::compile(&tiny, None).unwrap().r1cs;
    zkml_groth16::ceremony::read_zkey(&seed("zkey", "tiny.zkey"), &r1cs).expect("seed .zkey");
}

#[test]
fn the_contract_and_the_rust_verifier_agree_on_the_honest_call() {
    // The differential target must see an accepting call, or it checks only rejections.
    let data = std::fs::read(root().join("seeds/calldata/proof.calldata")).unwrap();
    zkml_fuzz_targets::calldata(&data);
    let (proof, words) = zkml_contracts::abi::decode_calldata(&data).unwrap();
    let vk = std::fs::read(root().join("seeds/model/vk.bin")).unwrap();
    assert!(zkml_verifier::verify_words(&vk, &proof, &words).is_ok());
}

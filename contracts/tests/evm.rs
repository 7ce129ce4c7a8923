//! Generated verifiers in an in-process EVM, with real proofs of every fixture: the valid
//! proof is accepted, and every tampered variant is rejected by the contract exactly when the
//! Rust verifier rejects it.
//!
//! | tampering | contract |
//! |---|---|
//! | a flipped bit in a proof byte (sampled: first and last 64 bytes, every 61st) | returns false |
//! | a public value changed by one (first and last) | returns false |
//! | a public value replaced by one at least the field order | returns false |
//! | the proof of another fixture | returns false |
//! | the proof truncated or extended by a byte | returns false |
//! | calldata truncated inside the head or the data | reverts or returns false |

use std::path::Path;

use zkml_circuits::cost::Objective;
use zkml_circuits::VisibilityConfig;
use zkml_contracts::abi::calldata;
use zkml_contracts::evm::Evm;
use zkml_ir::input::{parse_input_json, quantize_inputs};
use zkml_prover::prove::fr_to_word;
use zkml_prover::{generate_keys, prove, srs};

const FIXTURES: &[&str] = &[
    "mlp_small",
    "mlp",
    "lenet",
    "depthwise_separable",
    "transformer",
    "pytorch_style",
];

struct Proven {
    name: &'static str,
    vk: Vec<u8>,
    proof: Vec<u8>,
    instances: Vec<[u8; 32]>,
}

fn prove_fixture(name: &'static str, vis: VisibilityConfig, objective: Objective) -> Proven {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name);
    let model = zkml_onnx::load_model(&dir.join("model.onnx"), &Default::default()).unwrap();
    let input =
        parse_input_json(&std::fs::read_to_string(dir.join("input.json")).unwrap()).unwrap();
    let program = zkml_onnx::compile(&model, std::slice::from_ref(&input), &Default::default())
        .unwrap()
        .program;
    let params = zkml_circuits::cost::choose_for(&program, vis, objective).unwrap();
    let srs = srs::generate(params.k, 99);
    let (pk, vk) = generate_keys(&program, params, vis, &srs).unwrap();
    let q = quantize_inputs(&program, &input).unwrap();
    let proof = prove(&program, &q, &pk, &srs).unwrap();
    Proven {
        name,
        vk: vk.to_bytes(),
        proof: proof.bytes,
        instances: proof.instances.iter().map(fr_to_word).collect(),
    }
}

fn rust_accepts(vk: &[u8], proof: &[u8], instances: &[[u8; 32]]) -> bool {
    zkml_verifier::verify_words(vk, proof, instances).is_ok()
}

struct Deployed {
    evm: Evm,
    addr: revm::primitives::Address,
}

fn deploy(p: &Proven) -> Deployed {
    let vk = zkml_verifier::VerifyingKey::from_bytes(&p.vk).unwrap();
    let built = zkml_contracts::build(&vk).unwrap_or_else(|e| panic!("{}: {e}", p.name));
    eprintln!(
        "{}: runtime {} bytes, key {} bytes",
        p.name,
        built.compiled.runtime.len(),
        built.key_runtime.len()
    );
    assert!(built.compiled.runtime.len() <= zkml_contracts::MAX_RUNTIME_SIZE);
    let mut evm = Evm::new();
    let addr = evm.deploy_verifier(&built).unwrap();
    assert_eq!(evm.code_size(addr), built.compiled.runtime.len());
    Deployed { evm, addr }
}

/// Calls the contract and checks it agrees with the Rust verifier; returns the verdict.
fn check(d: &mut Deployed, p: &Proven, proof: &[u8], instances: &[[u8; 32]], what: &str) -> bool {
    let out = d.evm.call(d.addr, calldata(proof, instances)).unwrap();
    let evm = out.returned_true();
    let rust = rust_accepts(&p.vk, proof, instances);
    assert_eq!(evm, rust, "{}: {what}: EVM {out:?}, Rust {rust}", p.name);
    evm
}

#[test]
fn fixtures_verify_on_chain_and_reject_tampering() {
    let proven: Vec<Proven> = FIXTURES
        .iter()
        .map(|&n| prove_fixture(n, VisibilityConfig::default(), Objective::Proving))
        .collect();
    for (i, p) in proven.iter().enumerate() {
        let mut d = deploy(p);
        let out = d
            .evm
            .call(d.addr, calldata(&p.proof, &p.instances))
            .unwrap();
        assert!(
            out.returned_true(),
            "{}: valid proof rejected: {out:?}",
            p.name
        );
        eprintln!("{}: {} gas (default shape)", p.name, out.gas_used);
        let len = p.proof.len();
        for b in (0..len).filter(|&b| b < 64 || b + 64 >= len || b % 61 == 0) {
            let mut bad = p.proof.clone();
            bad[b] ^= 1 << (b % 8);
            assert!(!check(
                &mut d,
                p,
                &bad,
                &p.instances,
                &format!("flipped byte {b}")
            ));
        }
        for idx in [0, p.instances.len() - 1] {
            let mut wrong = p.instances.clone();
            let f = zkml_verifier::encoding::fr_from_be(&wrong[idx]).unwrap();
            wrong[idx] = zkml_verifier::encoding::fr_to_be(&(f + zkml_verifier::Fr::from(1u64)));
            assert!(!check(
                &mut d,
                p,
                &p.proof,
                &wrong,
                &format!("public value {idx}")
            ));
        }
        let mut big = p.instances.clone();
        big[0] = [0xff; 32];
        assert!(!d
            .evm
            .call(d.addr, calldata(&p.proof, &big))
            .unwrap()
            .returned_true());
        let other = &proven[(i + 1) % proven.len()];
        assert!(!check(
            &mut d,
            p,
            &other.proof,
            &p.instances,
            "another model's proof"
        ));
        assert!(!check(
            &mut d,
            p,
            &p.proof[..len - 1],
            &p.instances,
            "truncated proof"
        ));
        let mut longer = p.proof.clone();
        longer.push(0);
        assert!(!check(&mut d, p, &longer, &p.instances, "extended proof"));
        let full = calldata(&p.proof, &p.instances);
        for cut in [4, 36, 100, full.len() / 2, full.len() - 1] {
            let out = d.evm.call(d.addr, full[..cut].to_vec()).unwrap();
            assert!(!out.returned_true(), "{}: calldata cut at {cut}", p.name);
        }
    }
}

/// Deploys `p`'s verifier and checks that it accepts the valid proof.
fn deploy_and_accept(p: &Proven) -> (Deployed, zkml_contracts::evm::CallOutcome) {
    let mut d = deploy(p);
    let out = d
        .evm
        .call(d.addr, calldata(&p.proof, &p.instances))
        .unwrap();
    assert!(
        out.returned_true(),
        "{}: valid proof rejected: {out:?}",
        p.name
    );
    (d, out)
}

/// Circuits shaped for gas (`--optimize evm-gas`): the valid proof is accepted and tampering
/// is rejected in agreement with the Rust verifier. Prints the gas table of BENCHMARKS.md.
#[test]
fn gas_optimized_shapes_verify_on_chain() {
    eprintln!("| model | public values | runtime bytes | key bytes | proof bytes | gas |");
    for &name in FIXTURES {
        let p = prove_fixture(name, VisibilityConfig::default(), Objective::EvmGas);
        let (mut d, out) = deploy_and_accept(&p);
        let vk = zkml_verifier::VerifyingKey::from_bytes(&p.vk).unwrap();
        let built = zkml_contracts::build(&vk).unwrap();
        eprintln!(
            "| {name} | {} | {} | {} | {} | {} |",
            p.instances.len(),
            built.compiled.runtime.len(),
            built.key_runtime.len(),
            p.proof.len(),
            out.gas_used
        );
        let len = p.proof.len();
        for b in (0..len).step_by(97) {
            let mut bad = p.proof.clone();
            bad[b] ^= 0x80;
            assert!(!check(
                &mut d,
                &p,
                &bad,
                &p.instances,
                &format!("flipped byte {b}")
            ));
        }
        let mut wrong = p.instances.clone();
        wrong[0][31] ^= 1;
        assert!(!check(&mut d, &p, &p.proof, &wrong, "public value 0"));
    }
}

/// With hashed inputs and outputs (`--optimize evm-gas`) the public instance is two hashes
/// whatever the model's size, and so is the verifier's cost: 16 inputs or 784 cost the same
/// gas up to calldata byte pricing. The valid proof is accepted and a changed hash rejected.
#[test]
fn hashed_io_gas_does_not_grow_with_input_size() {
    let vis = VisibilityConfig {
        inputs: zkml_circuits::Visibility::Hashed,
        outputs: zkml_circuits::Visibility::Hashed,
        ..Default::default()
    };
    let mut gas = Vec::new();
    for name in ["mlp_small", "mlp"] {
        let p = prove_fixture(name, vis, Objective::EvmGas);
        assert_eq!(
            p.instances.len(),
            2,
            "{name}: one hash each for inputs and outputs"
        );
        let (mut d, out) = deploy_and_accept(&p);
        for i in 0..2 {
            let mut wrong = p.instances.clone();
            wrong[i][31] ^= 1;
            assert!(!check(&mut d, &p, &p.proof, &wrong, &format!("hash {i}")));
        }
        eprintln!("{name} (hashed inputs and outputs): {} gas", out.gas_used);
        gas.push(out.gas_used);
    }
    let (small, large) = (gas[0] as f64, gas[1] as f64);
    assert!(
        (large - small).abs() <= 0.02 * small,
        "gas grew with the input size: 16 inputs {small}, 784 inputs {large}"
    );
}

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

use zkml_circuits::cost::Objective;
use zkml_circuits::VisibilityConfig;
use zkml_contracts::abi::calldata;
use zkml_contracts::evm::Evm;
use zkml_contracts::GateCode;
use zkml_prover::prove::fr_to_word;
use zkml_test_support::{Fixture, MODEL_FIXTURES as FIXTURES};

struct Proven {
    name: &'static str,
    vk: Vec<u8>,
    proof: Vec<u8>,
    instances: Vec<[u8; 32]>,
}

fn prove_fixture(name: &'static str, vis: VisibilityConfig, objective: Objective) -> Proven {
    prove_shaped(name, vis, |program| {
        zkml_circuits::cost::choose_for(program, vis, objective).unwrap()
    })
}

fn prove_shaped(
    name: &'static str,
    vis: VisibilityConfig,
    shape: impl FnOnce(&zkml_ir::Program) -> zkml_circuits::CircuitParams,
) -> Proven {
    let fixture = Fixture::load(name);
    let proven = fixture.prove(shape(&fixture.program), vis, 99);
    Proven {
        name,
        vk: proven.vk,
        proof: proven.proof.bytes,
        instances: proven.proof.instances.iter().map(fr_to_word).collect(),
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
    deploy_built(p, &built)
}

fn deploy_built(p: &Proven, built: &zkml_contracts::VerifierArtifacts) -> Deployed {
    eprintln!(
        "{}: runtime {} bytes, key {} bytes, {:?} gates",
        p.name,
        built.compiled.runtime.len(),
        built.key_size(),
        built.gates
    );
    assert!(built.compiled.runtime.len() <= zkml_contracts::MAX_RUNTIME_SIZE);
    let mut evm = Evm::new();
    let addr = evm.deploy_verifier(built).unwrap();
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

/// Both ways of evaluating the gates (inline Yul, and the interpreted program the generator
/// falls back to for wide circuits) on every fixture.
#[test]
fn fixtures_verify_on_chain_and_reject_tampering() {
    let proven: Vec<Proven> = FIXTURES
        .iter()
        .map(|&n| prove_fixture(n, VisibilityConfig::default(), Objective::Proving))
        .collect();
    // The verifiers are single-threaded: the fixtures are checked side by side.
    std::thread::scope(|scope| {
        for i in 0..proven.len() {
            let proven = &proven;
            scope.spawn(move || verify_both_ways(proven, i));
        }
    });
}

/// Deploys `proven[i]`'s verifier with inline and with interpreted gates (where inline code
/// fits) and checks each against tampering.
fn verify_both_ways(proven: &[Proven], i: usize) {
    let p = &proven[i];
    for gates in [GateCode::Inline, GateCode::Interpreted] {
        let vk = zkml_verifier::VerifyingKey::from_bytes(&p.vk).unwrap();
        let built = match zkml_contracts::build_with(&vk, gates) {
            // Wide circuits (Freivalds checks add a gate per lane) do not fit inline; the
            // generator then interprets them, which the second pass checks.
            Err(zkml_contracts::BuildError::TooLarge { size, .. }) if gates == GateCode::Inline => {
                assert!(vk.challenges > 0, "{}: inline code of {size} bytes", p.name);
                assert_eq!(
                    zkml_contracts::build(&vk).unwrap().gates.unwrap(),
                    GateCode::Interpreted
                );
                continue;
            }
            r => r.unwrap(),
        };
        assert_eq!(built.gates, Some(gates));
        reject_tampering(proven, i, &mut deploy_built(p, &built));
    }
}

/// Checks that the deployed verifier of `proven[i]` accepts its proof and rejects every
/// tampered variant, in agreement with the Rust verifier.
fn reject_tampering(proven: &[Proven], i: usize, d: &mut Deployed) {
    let p = &proven[i];
    {
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
                d,
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
                d,
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
            d,
            p,
            &other.proof,
            &p.instances,
            "another model's proof"
        ));
        assert!(!check(
            d,
            p,
            &p.proof[..len - 1],
            &p.instances,
            "truncated proof"
        ));
        let mut longer = p.proof.clone();
        longer.push(0);
        assert!(!check(d, p, &longer, &p.instances, "extended proof"));
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
            built.key_size(),
            p.proof.len(),
            out.gas_used
        );
        if name == "mlp_small" {
            // The gas target for small-instance circuits (26 public values here).
            assert!(
                out.gas_used <= 350_000,
                "mlp_small verifies for {} gas",
                out.gas_used
            );
        }
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
    // One shape for both (the one `--optimize evm-gas` picks for the larger model), so that
    // only the input size differs.
    let mut shape = None;
    for name in ["mlp", "mlp_small"] {
        let p = prove_shaped(name, vis, |program| {
            let chosen = zkml_circuits::cost::choose_for(program, vis, Objective::EvmGas).unwrap();
            let mut params = *shape.get_or_insert(chosen);
            params.k = 26;
            let layout = zkml_circuits::build(program, None, params, vis).unwrap();
            params.k = zkml_circuits::sizing::minimal_k(&layout);
            params
        });
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
    let (large, small) = (gas[0] as f64, gas[1] as f64);
    assert!(
        (large - small).abs() <= 0.02 * small,
        "gas grew with the input size: 16 inputs {small}, 784 inputs {large}"
    );
}

/// A wide circuit: inline gates would exceed the deployable size, so the verifier interprets
/// them from the key data, which no longer fits one contract: it is split over several key
/// contracts, the verifier reads them all, and its constructor accepts only the right ones in
/// the right order.
#[test]
fn wide_shapes_interpret_gates_and_split_the_key() {
    let p = prove_shaped("mlp_small", VisibilityConfig::default(), |program| {
        let mut params = zkml_circuits::CircuitParams {
            lanes: 32,
            results: 16,
            range_streams: 2,
            table_streams: 0,
            ..Default::default()
        };
        params.k = 26;
        let layout =
            zkml_circuits::build(program, None, params, VisibilityConfig::default()).unwrap();
        params.k = zkml_circuits::sizing::minimal_k(&layout);
        params
    });
    let vk = zkml_verifier::VerifyingKey::from_bytes(&p.vk).unwrap();
    let built = zkml_contracts::build(&vk).unwrap();
    assert_eq!(built.gates, Some(GateCode::Interpreted));
    assert!(matches!(
        zkml_contracts::build_with(&vk, GateCode::Inline),
        Err(zkml_contracts::BuildError::TooLarge { .. })
    ));
    assert!(
        built.key_parts.len() >= 2,
        "key data of {} bytes should need several contracts",
        built.key_size()
    );
    for part in &built.key_parts {
        assert!(part.runtime.len() <= zkml_contracts::MAX_RUNTIME_SIZE);
    }
    let (mut d, out) = deploy_and_accept(&p);
    eprintln!(
        "mlp_small (32 lanes): {} key contracts, {} key bytes, {} gas",
        built.key_parts.len(),
        built.key_size(),
        out.gas_used
    );
    let mut bad = p.proof.clone();
    bad[100] ^= 1;
    assert!(!check(&mut d, &p, &bad, &p.instances, "flipped byte 100"));
    let mut wrong = p.instances.clone();
    wrong[0][31] ^= 1;
    assert!(!check(&mut d, &p, &p.proof, &wrong, "public value 0"));

    // The key contracts swapped, or one replaced by another verifier's: the constructor reverts.
    let creations: Vec<&[u8]> = built
        .key_parts
        .iter()
        .map(|k| k.creation.as_slice())
        .collect();
    let mut swapped = creations.clone();
    swapped.swap(0, 1);
    let mut evm = Evm::new();
    assert!(evm
        .deploy_with_keys(&built.compiled.bytecode, &swapped)
        .is_err());
    let other = prove_fixture("mlp_small", VisibilityConfig::default(), Objective::Proving);
    let other = zkml_contracts::build(&zkml_verifier::VerifyingKey::from_bytes(&other.vk).unwrap())
        .unwrap();
    let mut mixed = creations.clone();
    mixed[0] = &other.key_parts[0].creation;
    assert!(evm
        .deploy_with_keys(&built.compiled.bytecode, &mixed)
        .is_err());
    // Too few addresses: the constructor's argument decoding reverts.
    assert!(evm
        .deploy_with_keys(&built.compiled.bytecode, &creations[..1])
        .is_err());
    assert!(evm
        .deploy_with_keys(&built.compiled.bytecode, &creations)
        .is_ok());
}

/// Function tables spread over two banks (two table column sets, each looked up by its own
/// streams): the proof verifies on chain, and a flipped byte or a changed public value is
/// rejected by the contract and the Rust verifier alike.
#[test]
fn banked_function_tables_verify_on_chain() {
    let p = prove_shaped("transformer", VisibilityConfig::default(), |program| {
        let mut params = zkml_circuits::CircuitParams {
            lanes: 8,
            results: 4,
            range_streams: 2,
            table_streams: 2,
            table_banks: 2,
            range_bits: 10,
            ..Default::default()
        };
        params.k = 26;
        let layout =
            zkml_circuits::build(program, None, params, VisibilityConfig::default()).unwrap();
        let rows = layout.bank_rows();
        assert!(
            rows.iter().all(|&r| r > 0),
            "both banks hold tables: {rows:?}"
        );
        params.k = zkml_circuits::sizing::minimal_k(&layout);
        params
    });
    let (mut d, out) = deploy_and_accept(&p);
    eprintln!("transformer over two table banks: {} gas", out.gas_used);
    let mut bad = p.proof.clone();
    bad[200] ^= 1;
    assert!(!check(&mut d, &p, &bad, &p.instances, "flipped byte 200"));
    let mut wrong = p.instances.clone();
    let last = wrong.len() - 1;
    wrong[last][31] ^= 1;
    assert!(!check(&mut d, &p, &p.proof, &wrong, "last public value"));
}

/// The gas profile of a verifier call accounts for the whole execution: with the intrinsic
/// gas (21,000 and 4 per calldata token, a token per zero byte and four per other byte) it
/// sums to the gas the transaction used, and it shows the one pairing, the point
/// multiplications of the final check and the one inversion (modexp) every field inverse
/// the verifier needs comes from.
#[test]
fn gas_profile_accounts_for_the_whole_call() {
    let p = prove_fixture("mlp_small", VisibilityConfig::default(), Objective::EvmGas);
    let (mut d, out) = deploy_and_accept(&p);
    let data = calldata(&p.proof, &p.instances);
    let tokens: u64 = data.iter().map(|&b| if b == 0 { 1 } else { 4 }).sum();
    let (again, profile) = d.evm.call_profiled(d.addr, data).unwrap();
    assert!(again.returned_true());
    assert_eq!(again.gas_used, out.gas_used);
    assert_eq!(profile.total() + 21_000 + 4 * tokens, out.gas_used);
    let row = |name: &str| profile.rows.iter().find(|r| r.0 == name).cloned();
    assert_eq!(row("STATICCALL precompile 8").map(|r| r.1), Some(1));
    assert!(row("STATICCALL precompile 7").is_some_and(|r| r.1 > 10));
    assert_eq!(row("STATICCALL precompile 5").map(|r| r.1), Some(1));
    eprintln!("{} gas in all", out.gas_used);
    for (name, count, gas) in profile.rows.iter().take(12) {
        eprintln!("{name}: {count} times, {gas} gas");
    }
}

//! Proving fixtures as chains of segments and verifying the chains with the standalone
//! verifier: outputs equal the evaluator's, and every tampering with the chain (missing,
//! extra, reordered, duplicated or foreign proofs, changed public values or bytes, a segment
//! proven on other values or with another blinding, keys out of order) is rejected with the
//! error that names the segment.

use halo2_proofs::halo2curves::bn256::Fr as HaloFr;
use halo2_proofs::halo2curves::ff::Field;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::{Blinding, Visibility, VisibilityConfig};
use zkml_ir::Tensor;
use zkml_prover::{generate_keys, prove_segment_on, Device, ProvingKeyFile};
use zkml_segments::plan::{plan_cuts, size_segments};
use zkml_segments::{CutProgram, SegmentWitness};
use zkml_test_support::Fixture;
use zkml_verifier::chain::{verify_chain, ChainError, SegmentProof};
use zkml_verifier::{Fr, Key};

/// A proven chain: per segment its keys, SRS, proof and instance.
struct Chain {
    cut: CutProgram,
    witness: Vec<SegmentWitness>,
    keys: Vec<Key>,
    pks: Vec<(ProvingKeyFile, zkml_prover::srs::Srs)>,
    proofs: Vec<(Vec<u8>, Vec<Fr>)>,
}

fn to_ark(f: &HaloFr) -> Fr {
    zkml_verifier::encoding::fr_from_be(&zkml_prover::prove::fr_to_word(f)).expect("canonical")
}

fn prove_one(
    chain_cut: &CutProgram,
    i: usize,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &zkml_prover::srs::Srs,
) -> (Vec<u8>, Vec<Fr>) {
    let proof = prove_segment_on(
        Device::Cpu,
        &chain_cut.segments[i].program,
        inputs,
        blinding,
        pk,
        srs,
    )
    .unwrap_or_else(|e| panic!("segment {i}: {e}"));
    (proof.bytes, proof.instances.iter().map(to_ark).collect())
}

fn prove_chain(f: &Fixture, vis: VisibilityConfig, n: usize, seed: u64) -> Chain {
    prove_chain_for(f, vis, n, seed, Objective::Proving)
}

fn prove_chain_for(
    f: &Fixture,
    vis: VisibilityConfig,
    n: usize,
    seed: u64,
    objective: Objective,
) -> Chain {
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, n).unwrap(),
    )
    .unwrap();
    let circuits = size_segments(&cut, objective, Phases::Any).unwrap();
    let witness = cut
        .witness(&f.inputs, &mut ChaCha20Rng::seed_from_u64(seed))
        .unwrap();
    let mut chain = Chain {
        cut,
        witness,
        keys: Vec::new(),
        pks: Vec::new(),
        proofs: Vec::new(),
    };
    // One SRS for every segment, cut down to each one's size.
    let widest = circuits.iter().map(|c| c.k).max().unwrap();
    let full = zkml_prover::srs::generate(widest, seed);
    for (i, params) in circuits.into_iter().enumerate() {
        let srs = zkml_prover::srs::for_k(&full, params.k).unwrap();
        let (pk, vk) = generate_keys(
            &chain.cut.segments[i].program,
            params,
            chain.cut.segment_visibility(i),
            &srs,
        )
        .unwrap();
        let w = &chain.witness[i];
        let proof = prove_one(&chain.cut, i, &w.inputs, w.blinding, &pk, &srs);
        chain.keys.push(Key::Halo2(vk));
        chain.pks.push((pk, srs));
        chain.proofs.push(proof);
    }
    chain
}

fn listed<'a>(keys: &[Key], proofs: &'a [(Vec<u8>, Vec<Fr>)]) -> Vec<SegmentProof<'a>> {
    keys.iter()
        .zip(proofs)
        .map(|(k, (p, i))| SegmentProof {
            key_digest: k.key_digest(),
            proof: p,
            instances: i,
        })
        .collect()
}

fn reference_outputs(f: &Fixture) -> Vec<Fr> {
    f.output_fields().iter().map(to_ark).collect()
}

#[test]
fn fixtures_prove_as_chains_with_the_evaluators_outputs() {
    let f = Fixture::load("mlp_small");
    for n in [1, 2, 3] {
        let chain = prove_chain(&f, VisibilityConfig::default(), n, 7);
        assert_eq!(chain.keys.len(), n);
        let verified = verify_chain(&chain.keys, &listed(&chain.keys, &chain.proofs))
            .unwrap_or_else(|e| panic!("{n} segments: {e}"));
        let outputs: Vec<Fr> = verified
            .outputs
            .iter()
            .flat_map(|(_, v)| v.clone())
            .collect();
        assert_eq!(outputs, reference_outputs(&f), "{n} segments: outputs");
        let inputs: Vec<Fr> = verified
            .inputs
            .iter()
            .flat_map(|(_, v)| v.clone())
            .collect();
        let expected: Vec<Fr> = f
            .inputs
            .iter()
            .flat_map(|t| {
                t.data()
                    .iter()
                    .map(|&v| zkml_verifier::encoding::fr_from_i128(v.into()))
            })
            .collect();
        assert_eq!(inputs, expected, "{n} segments: inputs");
    }
}

#[test]
fn hashed_ends_and_hashed_parameters_chain() {
    let f = Fixture::load("pytorch_style");
    let vis = VisibilityConfig {
        inputs: Visibility::Hashed,
        outputs: Visibility::Private,
        params: zkml_circuits::ParamVisibility::Hashed,
    };
    let chain = prove_chain(&f, vis, 2, 11);
    let verified = verify_chain(&chain.keys, &listed(&chain.keys, &chain.proofs)).unwrap();
    assert_eq!(verified.inputs.len(), 1, "one input hash");
    assert!(verified.outputs.is_empty(), "private outputs");
    assert!(verified.parameter_hashes.iter().all(Option::is_some));
    let native = zkml_circuits::poseidon::hash_values(
        &f.inputs[0]
            .data()
            .iter()
            .map(|&v| (i128::from(v), f.program.value_bits))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(
        verified.inputs[0].1,
        vec![to_ark(&native)],
        "the input hash"
    );
}

#[test]
fn tampered_chains_are_rejected_naming_the_segment() {
    let f = Fixture::load("mlp_small");
    let chain = prove_chain(&f, VisibilityConfig::default(), 3, 3);
    let keys = &chain.keys;
    let good = listed(keys, &chain.proofs);
    verify_chain(keys, &good).unwrap();

    let err = |proofs: &[SegmentProof<'_>]| verify_chain(keys, proofs).unwrap_err();
    assert_eq!(
        err(&good[..2]),
        ChainError::Missing {
            expected: 3,
            got: 2
        }
    );
    let extra = [good.clone(), vec![good[2]]].concat();
    assert_eq!(
        err(&extra),
        ChainError::Extra {
            expected: 3,
            got: 4
        }
    );
    assert_eq!(
        err(&[good[1], good[0], good[2]]),
        ChainError::Misplaced {
            segment: 0,
            belongs: 1
        }
    );
    assert_eq!(
        err(&[good[0], good[1], good[1]]),
        ChainError::Misplaced {
            segment: 2,
            belongs: 1
        }
    );
    // A proof of another chain (the same model cut in two) at segment 1.
    let other = prove_chain(&f, VisibilityConfig::default(), 2, 5);
    let foreign = listed(&other.keys, &other.proofs);
    assert_eq!(
        err(&[good[0], foreign[1], good[2]]),
        ChainError::Foreign { segment: 1 }
    );
    // A proof claiming the right key but made under another is refused by the verifier.
    let forged = SegmentProof {
        key_digest: good[1].key_digest,
        ..foreign[1]
    };
    assert!(matches!(
        err(&[good[0], forged, good[2]]),
        ChainError::Proof { segment: 1, .. }
    ));
    // A flipped byte, and a changed commitment, in segment 2's proof.
    let mut flipped = chain.proofs[2].0.clone();
    flipped[40] ^= 1;
    let bad = SegmentProof {
        proof: &flipped,
        ..good[2]
    };
    assert!(matches!(
        err(&[good[0], good[1], bad]),
        ChainError::Proof { segment: 2, .. }
    ));
    let mut moved = chain.proofs[1].1.clone();
    moved[0] += Fr::from(1u64);
    let bad = SegmentProof {
        instances: &moved,
        ..good[1]
    };
    assert!(matches!(
        err(&[good[0], bad, good[2]]),
        ChainError::Proof { segment: 1, .. }
    ));

    // Segment 1 proven honestly, but on other values than segment 0 passed on.
    let w = &chain.witness[1];
    let mut shifted = w.inputs.clone();
    let first = shifted[0].data()[0];
    let data: Vec<i64> = shifted[0]
        .data()
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            if k == 0 {
                if first > 0 {
                    v - 1
                } else {
                    v + 1
                }
            } else {
                v
            }
        })
        .collect();
    shifted[0] = Tensor::new(shifted[0].shape().to_vec(), data).unwrap();
    let (pk, srs) = &chain.pks[1];
    let other_values = prove_one(&chain.cut, 1, &shifted, w.blinding, pk, srs);
    let proofs = [
        chain.proofs[0].clone(),
        other_values,
        chain.proofs[2].clone(),
    ];
    assert_eq!(
        verify_chain(keys, &listed(keys, &proofs)).unwrap_err(),
        ChainError::BrokenLink { segment: 1 }
    );
    // And on the same values with another blinding value.
    let reblinded = Blinding {
        inputs: w.blinding.inputs + HaloFr::ONE,
        outputs: w.blinding.outputs,
    };
    let other_blinding = prove_one(&chain.cut, 1, &w.inputs, reblinded, pk, srs);
    let proofs = [
        chain.proofs[0].clone(),
        other_blinding,
        chain.proofs[2].clone(),
    ];
    assert_eq!(
        verify_chain(keys, &listed(keys, &proofs)).unwrap_err(),
        ChainError::BrokenLink { segment: 1 }
    );

    // Keys out of order do not form a chain.
    let shuffled = [keys[1].clone(), keys[0].clone(), keys[2].clone()];
    assert!(matches!(
        verify_chain(&shuffled, &listed(&shuffled, &chain.proofs)),
        Err(ChainError::NotAChain { segment: 0, .. })
    ));
    assert_eq!(verify_chain(&[], &[]).unwrap_err(), ChainError::Empty);
}

fn words(instances: &[Fr]) -> Vec<[u8; 32]> {
    instances
        .iter()
        .map(zkml_verifier::encoding::fr_to_be)
        .collect()
}

fn halo2_keys(keys: &[Key]) -> Vec<zkml_verifier::VerifyingKey> {
    keys.iter()
        .map(|k| match k {
            Key::Halo2(vk) => vk.clone(),
            Key::Groth16(_) => unreachable!("segments are halo2"),
        })
        .collect()
}

/// Calls `verifyChain` with the chain's proofs; the verdict and the gas.
fn call_chain(
    evm: &mut zkml_contracts::evm::Evm,
    at: zkml_contracts::evm::Address,
    proofs: &[(Vec<u8>, Vec<Fr>)],
) -> (bool, u64) {
    let bytes: Vec<Vec<u8>> = proofs.iter().map(|(p, _)| p.clone()).collect();
    let inst: Vec<Vec<[u8; 32]>> = proofs.iter().map(|(_, i)| words(i)).collect();
    let out = evm
        .call(at, zkml_contracts::chain::chain_calldata(&bytes, &inst))
        .unwrap();
    let accepted = out.success && out.output.len() == 32 && out.output[31] == 1;
    (accepted, out.gas_used)
}

#[test]
fn the_chain_contract_verifies_chains_and_rejects_tampering() {
    let f = Fixture::load("mlp_small");
    let chain = prove_chain(&f, VisibilityConfig::default(), 3, 21);
    let built = zkml_contracts::chain::build_chain(&halo2_keys(&chain.keys)).unwrap();
    let mut evm = zkml_contracts::evm::Evm::new();
    let at = evm.deploy_chain(&built).unwrap();
    let (ok, gas) = call_chain(&mut evm, at, &chain.proofs);
    assert!(ok, "the chain contract rejects a valid chain");
    assert!(gas > 21_000);
    let p = &chain.proofs;
    // Reordered, missing, a flipped byte, a changed commitment, a foreign proof.
    assert!(!call_chain(&mut evm, at, &[p[1].clone(), p[0].clone(), p[2].clone()]).0);
    assert!(!call_chain(&mut evm, at, &p[..2]).0);
    let mut flipped = p.clone();
    flipped[1].0[100] ^= 1;
    assert!(!call_chain(&mut evm, at, &flipped).0);
    let mut moved = p.clone();
    moved[1].1[0] += Fr::from(1u64);
    assert!(!call_chain(&mut evm, at, &moved).0);
    let other = prove_chain(&f, VisibilityConfig::default(), 3, 22);
    let mut foreign = p.clone();
    foreign[2] = other.proofs[2].clone();
    // The last segment's proof from another chain of the same program (other keys).
    assert!(!call_chain(&mut evm, at, &foreign).0);
    // Segment 1 proven on other values: a valid proof whose link breaks.
    let w = &chain.witness[1];
    let (pk, srs) = &chain.pks[1];
    let mut shifted = w.inputs.clone();
    let data: Vec<i64> = shifted[0]
        .data()
        .iter()
        .enumerate()
        .map(|(k, &v)| match (k, v > 0) {
            (0, true) => v - 1,
            (0, false) => v + 1,
            _ => v,
        })
        .collect();
    shifted[0] = Tensor::new(shifted[0].shape().to_vec(), data).unwrap();
    let relinked = prove_one(&chain.cut, 1, &shifted, w.blinding, pk, srs);
    assert!(!call_chain(&mut evm, at, &[p[0].clone(), relinked, p[2].clone()]).0);
    // A segment verifier deployed for another key is refused by the chain's constructor.
    let mut wrong = built.clone();
    wrong.segments.swap(0, 1);
    assert!(evm.deploy_chain(&wrong).is_err());

    // The chain's data in data contracts (as for chains whose data does not fit in the
    // contract): the same verdicts, and a wrong data contract is refused.
    let apart = zkml_contracts::chain::build_chain_with(
        &halo2_keys(&chain.keys),
        zkml_contracts::chain::ChainData::InContracts,
    )
    .unwrap();
    assert!(!apart.data_parts.is_empty());
    let at = evm.deploy_chain(&apart).unwrap();
    let (ok, apart_gas) = call_chain(&mut evm, at, &chain.proofs);
    assert!(
        ok,
        "the chain contract with data contracts rejects a valid chain"
    );
    assert!(
        apart_gas > gas,
        "loading the data costs gas ({apart_gas} <= {gas})"
    );
    assert!(!call_chain(&mut evm, at, &flipped).0);
    assert!(!call_chain(&mut evm, at, &[p[1].clone(), p[0].clone(), p[2].clone()]).0);
    let mut wrong = apart.clone();
    let part = &mut wrong.data_parts[0];
    let last = part.runtime.len() - 1;
    part.runtime[last] ^= 1;
    let data: Vec<u8> = part.runtime[1..].to_vec();
    part.creation = zkml_contracts::key_contract_creation(&data);
    assert!(evm.deploy_chain(&wrong).is_err());
}

/// Twelve dense layers of width 16: a program that cuts into 12 segments.
fn deep_program() -> zkml_ir::Program {
    use zkml_ir::{Op, ProgramBuilder};
    let mut b = ProgramBuilder::new(16).unwrap();
    let mut x = b.input("x", vec![1, 16], 8).unwrap();
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % 255) as i64 - 127
    };
    for layer in 0..12 {
        let w: Vec<i64> = (0..16 * 16).map(|_| next()).collect();
        let w = b
            .parameter(&format!("w{layer}"), vec![16, 16], 8, w)
            .unwrap();
        let mm = b.push(&format!("mm{layer}"), Op::MatMul, &[x, w]).unwrap();
        let r = b
            .push(&format!("rescale{layer}"), Op::Rescale { shift: 10 }, &[mm])
            .unwrap();
        x = b.push(&format!("relu{layer}"), Op::Relu, &[r]).unwrap();
    }
    b.output(x, "y");
    b.finish().unwrap()
}

#[test]
fn a_twelve_segment_chain_verifies_on_chain_in_one_call() {
    let program = deep_program();
    let inputs = vec![Tensor::new(vec![1, 16], (0..16).map(|i| (i - 8) * 20).collect()).unwrap()];
    let trace = zkml_ir::evaluate(&program, &inputs).unwrap();
    let f = Fixture {
        name: "deep".into(),
        program,
        input: Vec::new(),
        inputs,
        trace,
    };
    // The default (proving-speed) shapes make verifiers three times as costly and slow this
    // test down; BENCHMARKS.md measures them too, with ZKML_CHAIN_GAS_ALL_SHAPES=1.
    let objectives: &[Objective] = if std::env::var_os("ZKML_CHAIN_GAS_ALL_SHAPES").is_some() {
        &[Objective::EvmGas, Objective::Proving]
    } else {
        &[Objective::EvmGas]
    };
    for &objective in objectives {
        let chain = prove_chain_for(&f, VisibilityConfig::default(), 12, 31, objective);
        verify_chain(&chain.keys, &listed(&chain.keys, &chain.proofs)).unwrap();
        let built = zkml_contracts::chain::build_chain(&halo2_keys(&chain.keys)).unwrap();
        let mut evm = zkml_contracts::evm::Evm::new();
        let at = evm.deploy_chain(&built).unwrap();
        let (ok, gas) = call_chain(&mut evm, at, &chain.proofs);
        assert!(
            ok,
            "{objective:?}: the chain contract rejects a valid 12-segment chain"
        );
        let alone: Vec<u64> = built
            .segments
            .iter()
            .zip(&chain.proofs)
            .map(|(a, (p, i))| {
                let v = evm.deploy_verifier(a).unwrap();
                let out = evm
                    .call(v, zkml_contracts::abi::calldata(p, &words(i)))
                    .unwrap();
                assert!(out.success && out.output[31] == 1);
                out.gas_used
            })
            .collect();
        println!(
            "{objective:?}: 12-segment chain {gas} gas in one call; each segment alone {alone:?} (sum {})",
            alone.iter().sum::<u64>()
        );
        if objective == Objective::EvmGas {
            // The on-chain budget for a 12-segment chain (gas depends on the proofs' bytes only
            // through calldata: under 2,000 gas between the cheapest and dearest proofs).
            assert!(gas <= 2_500_000, "a 12-segment chain costs {gas} gas");
        }
        let mut broken = chain.proofs.clone();
        broken[7].1[0] += Fr::from(1u64);
        assert!(!call_chain(&mut evm, at, &broken).0);
    }
}

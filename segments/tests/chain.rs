//! Proving fixtures as chains of segments and verifying the chains with the standalone
//! verifier: outputs equal the evaluator's, and every tampering with the chain (missing,
//! extra, reordered, duplicated or foreign proofs, changed public values or bytes, a segment
//! proven on other values or with another blinding, keys out of order) is rejected with the
//! error that names the segment.

use halo2_proofs::halo2curves::bn256::Fr as HaloFr;
use halo2_proofs::halo2curves::ff::Field;
use zkml_circuits::cost::Objective;
use zkml_circuits::{Blinding, Visibility, VisibilityConfig};
use zkml_ir::Tensor;
use zkml_test_support::{deep_program, Fixture};
use zkml_verifier::chain::{verify_chain, ChainError, SegmentProof};
use zkml_verifier::Fr;

mod common;

use common::{
    call_chain, halo2_keys, listed, prove_chain, prove_chain_for, prove_one, to_ark, words,
};

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

#[test]
fn a_twelve_segment_chain_verifies_on_chain_in_one_call() {
    let program = deep_program(16, 12);
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

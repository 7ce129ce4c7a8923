//! Proving fixtures as chains of segments and verifying the chains with the standalone
//! verifier: outputs equal the evaluator's, and every tampering with the chain (missing,
//! extra, reordered, duplicated or foreign proofs, changed public values or bytes, a segment
//! proven on other values or with another blinding, keys out of order) is rejected with the
//! error that names the segment.

use halo2_proofs::halo2curves::bn256::Fr as HaloFr;
use halo2_proofs::halo2curves::ff::Field;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::cost::Phases;
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
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, n).unwrap(),
    )
    .unwrap();
    let circuits = size_segments(&cut, Phases::Any).unwrap();
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
    for (i, params) in circuits.into_iter().enumerate() {
        let srs = zkml_prover::srs::generate(params.k, seed + i as u64);
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

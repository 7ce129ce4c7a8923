//! Real proofs: made by halo2, verified by halo2 and by the standalone verifier.

use std::path::Path;

use halo2_proofs::halo2curves::bn256::Fr;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::{CircuitParams, VisibilityConfig};
use zkml_ir::input::{parse_input_json, quantize_inputs};
use zkml_prover::prove::fr_to_word;
use zkml_prover::{generate_keys, prove, srs, verify_with_halo2};

fn verify(vk: &[u8], proof: &[u8], instances: &[Fr]) -> Result<(), zkml_verifier::VerifyError> {
    let words: Vec<[u8; 32]> = instances.iter().map(fr_to_word).collect();
    zkml_verifier::verify_words(vk, proof, &words)
}

#[test]
fn mlp_small_proof_verifies_in_both_verifiers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mlp_small");
    let model = zkml_onnx::load_model(&dir.join("model.onnx"), &Default::default()).unwrap();
    let input =
        parse_input_json(&std::fs::read_to_string(dir.join("input.json")).unwrap()).unwrap();
    let program = zkml_onnx::compile(&model, std::slice::from_ref(&input), &Default::default())
        .unwrap()
        .program;
    let mut params = CircuitParams {
        k: 20,
        lanes: 8,
        results: 4,
        range_streams: 1,
        table_streams: 0,
        range_bits: 6,
        degree: 4,
        poseidon: false,
        fold: 0,
        freivalds: false,
        table_banks: 0,
    };
    let layout = zkml_circuits::build(&program, None, params, VisibilityConfig::default()).unwrap();
    params.k = minimal_k(&layout);
    let srs = srs::generate(params.k, 7);
    let (pk, vk) = generate_keys(&program, params, VisibilityConfig::default(), &srs).unwrap();
    let q = quantize_inputs(&program, &input).unwrap();
    let proof = prove(&program, &q, &pk, &srs).unwrap();
    verify_with_halo2(&pk, &srs, &proof.bytes, &proof.instances).expect("halo2 accepts");
    let vk_bytes = vk.to_bytes();
    verify(&vk_bytes, &proof.bytes, &proof.instances).expect("standalone verifier accepts");
    // A changed public value is rejected by both.
    let mut wrong = proof.instances.clone();
    *wrong.last_mut().unwrap() += Fr::one();
    assert!(verify_with_halo2(&pk, &srs, &proof.bytes, &wrong).is_err());
    assert!(verify(&vk_bytes, &proof.bytes, &wrong).is_err());
}

#[test]
fn every_flipped_proof_byte_is_rejected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mlp_small");
    let model = zkml_onnx::load_model(&dir.join("model.onnx"), &Default::default()).unwrap();
    let input =
        parse_input_json(&std::fs::read_to_string(dir.join("input.json")).unwrap()).unwrap();
    let program = zkml_onnx::compile(&model, std::slice::from_ref(&input), &Default::default())
        .unwrap()
        .program;
    let mut params = CircuitParams {
        k: 20,
        lanes: 8,
        results: 4,
        range_streams: 1,
        table_streams: 0,
        range_bits: 6,
        degree: 4,
        poseidon: false,
        fold: 0,
        freivalds: false,
        table_banks: 0,
    };
    let layout = zkml_circuits::build(&program, None, params, VisibilityConfig::default()).unwrap();
    params.k = minimal_k(&layout);
    let srs = srs::generate(params.k, 9);
    let (pk, vk) = generate_keys(&program, params, VisibilityConfig::default(), &srs).unwrap();
    let proof = prove(
        &program,
        &quantize_inputs(&program, &input).unwrap(),
        &pk,
        &srs,
    )
    .unwrap();
    let vk_bytes = vk.to_bytes();
    for i in 0..proof.bytes.len() {
        let mut bad = proof.bytes.clone();
        bad[i] ^= 1 << (i % 8);
        let err = verify(&vk_bytes, &bad, &proof.instances).expect_err("flipped byte accepted");
        let _ = err.to_string();
    }
    for cut in [0, 1, 64, proof.bytes.len() / 2, proof.bytes.len() - 1] {
        assert!(matches!(
            verify(&vk_bytes, &proof.bytes[..cut], &proof.instances),
            Err(zkml_verifier::VerifyError::ProofTooShort { .. })
        ));
    }
    let mut longer = proof.bytes.clone();
    longer.push(0);
    assert!(matches!(
        verify(&vk_bytes, &longer, &proof.instances),
        Err(zkml_verifier::VerifyError::TrailingBytes { .. })
    ));
}

#[test]
fn hashed_and_private_visibility_prove_and_verify() {
    use zkml_circuits::visibility::{public_parts, PublicPart};
    use zkml_circuits::{ParamVisibility, Visibility};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/mlp_small");
    let model = zkml_onnx::load_model(&dir.join("model.onnx"), &Default::default()).unwrap();
    let input =
        parse_input_json(&std::fs::read_to_string(dir.join("input.json")).unwrap()).unwrap();
    let program = zkml_onnx::compile(&model, std::slice::from_ref(&input), &Default::default())
        .unwrap()
        .program;
    let q = quantize_inputs(&program, &input).unwrap();
    let trace = zkml_ir::evaluate(&program, &q).unwrap();
    for vis in [
        VisibilityConfig {
            inputs: Visibility::Hashed,
            outputs: Visibility::Hashed,
            params: ParamVisibility::Hashed,
        },
        VisibilityConfig {
            inputs: Visibility::Private,
            outputs: Visibility::Public,
            params: ParamVisibility::Private,
        },
    ] {
        let params = zkml_circuits::cost::choose(&program, vis).unwrap();
        let srs = srs::generate(params.k, 11);
        let (pk, vk) = generate_keys(&program, params, vis, &srs).unwrap();
        let proof = prove(&program, &q, &pk, &srs).unwrap();
        verify_with_halo2(&pk, &srs, &proof.bytes, &proof.instances).expect("halo2 accepts");
        let vk_bytes = vk.to_bytes();
        verify(&vk_bytes, &proof.bytes, &proof.instances).expect("standalone verifier accepts");
        // The instance is what the verifying key describes, recomputed natively.
        let mut expected = Vec::new();
        for part in public_parts(&program, vis).unwrap() {
            match part {
                PublicPart::Values { node, .. } => expected.extend(
                    trace.values[node]
                        .data()
                        .iter()
                        .map(|&v| zkml_circuits::field(i128::from(v))),
                ),
                PublicPart::Hash { tensors, .. } => {
                    let items: Vec<(i128, u32)> = tensors
                        .iter()
                        .flat_map(|t| {
                            trace.values[t.node]
                                .data()
                                .iter()
                                .map(move |&v| (i128::from(v), t.bits))
                        })
                        .collect();
                    expected.push(zkml_circuits::poseidon::hash_values(&items).unwrap());
                }
                PublicPart::Link { .. } => unreachable!("whole programs have no links"),
            }
        }
        assert_eq!(proof.instances, expected, "{vis:?}");
        assert_eq!(
            vk.model
                .public
                .iter()
                .map(|p| p.instance_len())
                .sum::<u64>(),
            expected.len() as u64
        );
        for i in 0..expected.len() {
            let mut wrong = proof.instances.clone();
            wrong[i] += Fr::one();
            assert!(
                verify(&vk_bytes, &proof.bytes, &wrong).is_err(),
                "{vis:?}: {i}"
            );
        }
    }
}

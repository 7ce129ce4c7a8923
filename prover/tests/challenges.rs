//! Real proofs of circuits whose products are checked by Freivalds' test: the challenge is
//! drawn from the transcript after the operands and results are committed, so a wrong
//! product tuned to one challenge (which the mock prover, with its fixed challenge, accepts)
//! gives a proof that both verifiers reject.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::FromUniformBytes;
use zkml_circuits::layout::{CellRef, Val};
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::mock_verify_with_instance;
use zkml_circuits::{CircuitParams, ModelCircuit, VisibilityConfig};
use zkml_ir::{evaluate, Op, ProgramBuilder, Tensor};
use zkml_prover::prove::{fr_to_word, prove_circuit};
use zkml_prover::{generate_keys, prove, srs, verify_with_halo2, Device, ProverError};

/// The challenge of halo2's mock prover (a fixed hash chain).
fn mock_challenge() -> Fr {
    let mut hash: [u8; 64] = blake2b_simd::blake2b(b"Halo2-MockProver")
        .as_bytes()
        .try_into()
        .expect("64 bytes");
    hash = blake2b_simd::blake2b(&hash)
        .as_bytes()
        .try_into()
        .expect("64 bytes");
    Fr::from_uniform_bytes(&hash)
}

fn verify(vk: &[u8], proof: &[u8], instances: &[Fr]) -> Result<(), zkml_verifier::VerifyError> {
    let words: Vec<[u8; 32]> = instances.iter().map(fr_to_word).collect();
    zkml_verifier::verify_words(vk, proof, &words)
}

#[test]
fn a_product_tuned_to_a_known_challenge_is_rejected() {
    // Attention scores: q [16, 8] @ k [8, 16], both runtime.
    let mut b = ProgramBuilder::new(12).unwrap();
    let q = b.input("q", vec![16, 8], 0).unwrap();
    let k = b.input("k", vec![8, 16], 0).unwrap();
    let s = b.push("scores", Op::MatMul, &[q, k]).unwrap();
    b.output(s, "s");
    let program = b.finish().unwrap();
    let inputs = vec![
        Tensor::new(vec![16, 8], (0..128).map(|i| (i * 3) % 13 - 6).collect()).unwrap(),
        Tensor::new(vec![8, 16], (0..128).map(|i| (i * 11) % 15 - 7).collect()).unwrap(),
    ];
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
        freivalds: true,
        table_banks: 0,
    };
    let v = VisibilityConfig::default();
    let layout = zkml_circuits::build(&program, None, params, v).unwrap();
    params.k = minimal_k(&layout);
    let srs = srs::generate(params.k, 11);
    let (pk, vk) = generate_keys(&program, params, v, &srs).unwrap();
    let vk = vk.to_bytes();
    assert_eq!(
        zkml_verifier::vk::VerifyingKey::from_bytes(&vk)
            .unwrap()
            .challenges,
        1
    );

    // The CUDA prover proves single-phase circuits only: this key is refused before any
    // device work, in every build.
    assert!(matches!(
        zkml_prover::prove_on(Device::Gpu, &program, &inputs, &pk, &srs),
        Err(ProverError::GpuUnsupported(_))
    ));
    assert!(matches!(
        zkml_prover::generate_keys_on(Device::Gpu, &program, params, v, &srs),
        Err(ProverError::GpuUnsupported(_))
    ));
    if !zkml_prover::device::GPU_BUILT {
        let direct = CircuitParams {
            freivalds: false,
            ..params
        };
        assert!(matches!(
            zkml_prover::generate_keys_on(Device::Gpu, &program, direct, v, &srs),
            Err(ProverError::NoGpu(_))
        ));
    }

    // The honest proof verifies.
    let proof = prove(&program, &inputs, &pk, &srs).unwrap();
    verify_with_halo2(&pk, &srs, &proof.bytes, &proof.instances).expect("halo2 accepts");
    verify(&vk, &proof.bytes, &proof.instances).expect("standalone verifier accepts");

    // Scores [0][0] and [0][1] (weighted r^0 and r^1 in the first check) changed by (r, -1):
    // the check holds for r, the mock prover's challenge.
    let trace = evaluate(&program, &inputs).unwrap();
    let mut bad = zkml_circuits::build(&program, Some(&trace), params, v).unwrap();
    // The first two outputs are the first two results of the check of row 0 of q.
    let results: Vec<CellRef> = bad
        .instance_copies
        .iter()
        .skip(256)
        .take(2)
        .map(|&(c, _)| c)
        .collect();
    let r = mock_challenge();
    let mut inst: Vec<Fr> = bad.instance.iter().map(|v| v.to_field()).collect();
    for (i, (&c, delta)) in results.iter().zip([r, -Fr::one()]).enumerate() {
        let value = bad.cell_value(c).to_field() + delta;
        bad.set_value(c, Val::Field(value));
        inst[256 + i] += delta;
        bad.instance[256 + i] = Val::Field(inst[256 + i]);
    }
    mock_verify_with_instance(&bad, inst.clone()).expect("the known challenge is fooled");
    let forged = prove_circuit(ModelCircuit::new(bad), &pk, &srs).unwrap();
    assert!(verify_with_halo2(&pk, &srs, &forged, &inst).is_err());
    assert!(verify(&vk, &forged, &inst).is_err());
}

//! Fixtures through the Groth16 backend: outputs equal to the evaluator's, real proofs that
//! verify, and proofs rejected with a changed public value, a changed proof element or
//! another setup's key.

use ark_bn254::Fr;
use ark_ff::One;
use ark_serialize::CanonicalSerialize;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_groth16::{compile, field, prove, setup, verify};
use zkml_test_support::Fixture;

#[test]
fn fixtures_compile_with_outputs_equal_to_the_evaluator() {
    for name in [
        "mlp_small",
        "mlp",
        "lenet",
        "depthwise_separable",
        "pytorch_style",
        "transformer",
        "exported/random_forest",
        "exported/gradient_boosting",
        "exported/lstm",
        "exported/gru",
        "exported/llama_decode",
    ] {
        let f = Fixture::load(name);
        let compiled =
            compile(&f.program, Some(&f.trace)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = compiled.assignment.as_ref().unwrap();
        assert_eq!(compiled.r1cs.first_unsatisfied(a), None, "{name}");
        let outputs: Vec<Fr> = f
            .trace
            .outputs()
            .iter()
            .flat_map(|t| t.data().iter().map(|&v| field(i128::from(v))))
            .collect();
        assert_eq!(&a.instance[f.input_len()..], &outputs[..], "{name}");
        let total: usize = compiled.costs.per_node.iter().sum();
        assert_eq!(
            total,
            compiled.r1cs.constraints.len(),
            "{name}: every constraint counted"
        );
        eprintln!(
            "{name}: {total} constraints, {} witnesses, {} non-zeros",
            compiled.r1cs.num_witness,
            compiled.r1cs.nonzeros()
        );
    }
}

#[test]
fn a_proof_verifies_and_tampering_is_rejected() {
    let f = Fixture::load("mlp_small");
    let compiled = compile(&f.program, Some(&f.trace)).unwrap();
    let a = compiled.assignment.as_ref().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (pk, vk) = setup(&compiled.r1cs, &mut rng).unwrap();
    let proof = prove(&pk, &compiled.r1cs, a, &mut rng).unwrap();
    assert!(verify(&vk, &a.instance, &proof).unwrap());

    let mut bytes = Vec::new();
    proof.serialize_uncompressed(&mut bytes).unwrap();
    assert_eq!(bytes.len(), 256, "three uncompressed points");

    let n = a.instance.len();
    for i in [0, n - 1] {
        let mut public = a.instance.clone();
        public[i] += Fr::one();
        assert!(
            !verify(&vk, &public, &proof).unwrap(),
            "public value {i} changed"
        );
    }
    let mut bad = proof.clone();
    bad.a = (bad.a + bad.a).into();
    assert!(
        !verify(&vk, &a.instance, &bad).unwrap(),
        "proof element changed"
    );
    let (_, other_vk) = setup(&compiled.r1cs, &mut ChaCha20Rng::seed_from_u64(8)).unwrap();
    assert!(
        !verify(&other_vk, &a.instance, &proof).unwrap(),
        "another setup's key"
    );
    assert!(
        verify(&vk, &a.instance[1..], &proof).is_err(),
        "wrong number of public values"
    );

    // An unsatisfied assignment is an error naming the constraint, not a bad proof.
    let mut wrong = a.clone();
    wrong.instance[n - 1] += Fr::one();
    assert!(prove(&pk, &compiled.r1cs, &wrong, &mut rng).is_err());
}

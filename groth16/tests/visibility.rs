//! Private and hashed inputs and outputs in R1CS: the public instance is exactly the halo2
//! circuits' (the same parts in the same order, the same Poseidon hashes of the same packing),
//! every witness of the hash gadget is bound (changing any one alone violates a constraint),
//! and proofs with hashed values verify while a changed hash is rejected.

use ark_bn254::Fr;
use ark_ff::{One, PrimeField};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::visibility::{public_parts, PublicPart};
use zkml_circuits::{ParamVisibility, Visibility, VisibilityConfig};
use zkml_groth16::{compile, compile_with, field, prove, setup, verify};
use zkml_test_support::Fixture;

fn vis(inputs: Visibility, outputs: Visibility) -> VisibilityConfig {
    VisibilityConfig {
        inputs,
        outputs,
        params: ParamVisibility::Fixed,
    }
}

/// The instance the halo2 circuits expose for `f` under `v`, as arkworks field elements.
fn halo2_instance(f: &Fixture, v: VisibilityConfig) -> Vec<Fr> {
    let mut out = Vec::new();
    for part in public_parts(&f.program, v).unwrap() {
        match part {
            PublicPart::Values { node, .. } => out.extend(
                f.trace.values[node]
                    .data()
                    .iter()
                    .map(|&x| field(i128::from(x))),
            ),
            PublicPart::Hash { tensors, .. } => {
                let values: Vec<(i128, u32)> = tensors
                    .iter()
                    .flat_map(|t| {
                        f.trace.values[t.node]
                            .data()
                            .iter()
                            .map(move |&x| (i128::from(x), t.bits))
                    })
                    .collect();
                let h = zkml_circuits::poseidon::hash_values(&values).unwrap();
                let bytes = zkml_prover::prove::fr_to_word(&h);
                out.push(Fr::from_be_bytes_mod_order(&bytes));
            }
            PublicPart::Link { .. } => unreachable!("whole programs have no links"),
        }
    }
    out
}

const ALL: [Visibility; 3] = [Visibility::Public, Visibility::Private, Visibility::Hashed];

#[test]
fn instances_equal_the_halo2_circuits_for_every_input_and_output_visibility() {
    for name in ["mlp_small", "pytorch_style", "exported/random_forest"] {
        let f = Fixture::load(name);
        // Witness parameters turn every multiply-add into a constraint: the two smaller
        // fixtures take every parameter visibility.
        let params: &[ParamVisibility] = if name == "pytorch_style" {
            &[ParamVisibility::Fixed]
        } else {
            &[
                ParamVisibility::Fixed,
                ParamVisibility::Private,
                ParamVisibility::Hashed,
            ]
        };
        for (inputs, outputs, &params) in ALL
            .iter()
            .flat_map(|&i| ALL.iter().map(move |&o| (i, o)))
            .flat_map(|(i, o)| params.iter().map(move |p| (i, o, p)))
        {
            {
                let v = VisibilityConfig {
                    params,
                    ..vis(inputs, outputs)
                };
                let c = compile_with(&f.program, Some(&f.trace), v)
                    .unwrap_or_else(|e| panic!("{name} {v:?}: {e}"));
                let a = c.assignment.as_ref().unwrap();
                assert_eq!(c.r1cs.first_unsatisfied(a), None, "{name} {v:?}");
                assert_eq!(a.instance, halo2_instance(&f, v), "{name} {v:?}");
                assert_eq!(
                    c.costs.per_node.iter().sum::<usize>(),
                    c.r1cs.constraints.len(),
                    "{name} {v:?}: every constraint counted"
                );
            }
        }
    }
    let f = Fixture::load("mlp_small");
    let hidden = compile_with(
        &f.program,
        Some(&f.trace),
        vis(Visibility::Hashed, Visibility::Hashed),
    )
    .unwrap();
    let public = compile(&f.program, Some(&f.trace)).unwrap();
    eprintln!(
        "mlp_small: {} constraints public, {} with hashed inputs and outputs",
        public.r1cs.constraints.len(),
        hidden.r1cs.constraints.len()
    );
}

#[test]
fn every_hash_witness_is_bound_and_the_hash_is_the_only_public_value() {
    let f = Fixture::load("mlp_small");
    let v = vis(Visibility::Public, Visibility::Hashed);
    let c = compile_with(&f.program, Some(&f.trace), v).unwrap();
    let a = c.assignment.as_ref().unwrap();
    // The hash gadget's witnesses come after the program's (the hash is computed last).
    let before = compile(&f.program, Some(&f.trace))
        .unwrap()
        .r1cs
        .num_witness;
    assert!(c.r1cs.num_witness > before + 200, "a permutation's S-boxes");
    for w in before..c.r1cs.num_witness {
        let mut bad = a.clone();
        bad.witness[w] += Fr::one();
        assert!(
            c.r1cs.first_unsatisfied(&bad).is_some(),
            "hash witness {w} is unconstrained"
        );
    }
    // The output values feed the hash: changing one (and nothing else) breaks a constraint.
    let n = a.witness.len();
    for w in [before - 1, before - 2, n / 2] {
        let mut bad = a.clone();
        bad.witness[w] += Fr::one();
        assert!(c.r1cs.first_unsatisfied(&bad).is_some(), "witness {w}");
    }
    let last = a.instance.len() - 1;
    let mut bad = a.clone();
    bad.instance[last] += Fr::one();
    assert!(c.r1cs.first_unsatisfied(&bad).is_some(), "the hash");
}

#[test]
fn proofs_with_hashed_values_verify_and_a_changed_hash_is_rejected() {
    let f = Fixture::load("mlp_small");
    let v = vis(Visibility::Hashed, Visibility::Hashed);
    let c = compile_with(&f.program, Some(&f.trace), v).unwrap();
    let a = c.assignment.as_ref().unwrap();
    assert_eq!(
        a.instance.len(),
        2,
        "one hash for the inputs, one for the outputs"
    );
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (pk, vk) = setup(&c.r1cs, &mut rng).unwrap();
    let proof = prove(&pk, &c.r1cs, a, &mut rng).unwrap();
    assert!(verify(&vk, &a.instance, &proof).unwrap());
    for i in 0..2 {
        let mut public = a.instance.clone();
        public[i] += Fr::one();
        assert!(!verify(&vk, &public, &proof).unwrap(), "hash {i} changed");
    }
    // Hashed parameters: a third public value, and other weights are another statement.
    let v = VisibilityConfig {
        params: ParamVisibility::Hashed,
        ..v
    };
    let c = compile_with(&f.program, Some(&f.trace), v).unwrap();
    let a = c.assignment.as_ref().unwrap();
    assert_eq!(a.instance.len(), 3);
    let (pk, vk) = setup(&c.r1cs, &mut rng).unwrap();
    let proof = prove(&pk, &c.r1cs, a, &mut rng).unwrap();
    assert!(verify(&vk, &a.instance, &proof).unwrap());
    let mut public = a.instance.clone();
    public[2] += Fr::one();
    assert!(
        !verify(&vk, &public, &proof).unwrap(),
        "parameter hash changed"
    );
}

#[test]
fn witness_parameters_are_range_checked_to_their_envelope() {
    let f = Fixture::load("mlp_small");
    let v = VisibilityConfig {
        params: ParamVisibility::Private,
        ..vis(Visibility::Public, Visibility::Public)
    };
    let c = compile_with(&f.program, Some(&f.trace), v).unwrap();
    let fixed = compile(&f.program, Some(&f.trace)).unwrap();
    assert!(
        c.r1cs.constraints.len() > fixed.r1cs.constraints.len(),
        "products with witness weights cost constraints"
    );
    eprintln!(
        "mlp_small: {} constraints with fixed parameters, {} with private ones",
        fixed.r1cs.constraints.len(),
        c.r1cs.constraints.len()
    );
    // Every witness changed alone (sampled) breaks a constraint: weights included.
    let a = c.assignment.as_ref().unwrap();
    for w in (0..a.witness.len()).step_by(97) {
        let mut bad = a.clone();
        bad.witness[w] += Fr::one();
        assert!(c.r1cs.first_unsatisfied(&bad).is_some(), "witness {w}");
    }
}

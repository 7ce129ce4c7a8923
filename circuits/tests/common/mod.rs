//! Shared chip-test helpers: shapes, honest layouts checked against the reference evaluator,
//! tampered outputs, and perturbation of every cell.

#![allow(dead_code)]

use zkml_circuits::layout::Val;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{mock_verify, mock_verify_with_instance, unconstrained_cells};
use zkml_circuits::{build, CircuitParams, Layout, VisibilityConfig};
use zkml_ir::{evaluate, InputDomain, Op, Program, Tensor};

pub fn params() -> CircuitParams {
    CircuitParams {
        k: 10,
        lanes: 8,
        results: 4,
        range_streams: 2,
        table_streams: 1,
        range_bits: 6,
        degree: 4,
        poseidon: false,
        fold: 0,
        freivalds: false,
        table_banks: 0,
    }
}

/// The same shape folded into one advice column (range checks by bits, see `fold`).
pub fn folded_params() -> CircuitParams {
    CircuitParams {
        range_streams: 0,
        degree: 5,
        fold: 1,
        ..params()
    }
}

pub fn tensor(shape: &[usize], data: &[i64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

/// Lays out `program` on `inputs`, checks the mock prover accepts it and that the public
/// outputs equal the reference evaluator's, and returns the layout.
pub fn honest(program: &Program, inputs: &[Tensor]) -> Layout {
    honest_with(program, inputs, params())
}

/// [`honest`] in the shape `params`.
pub fn honest_with(program: &Program, inputs: &[Tensor], params: CircuitParams) -> Layout {
    let trace = evaluate(program, inputs).expect("reference evaluation");
    let mut layout =
        build(program, Some(&trace), params, VisibilityConfig::default()).expect("layout");
    layout.params.k = minimal_k(&layout);
    mock_verify(&layout).expect("honest witness accepted");
    let n_in: usize = inputs.iter().map(Tensor::len).sum();
    let expected: Vec<Val> = trace
        .outputs()
        .iter()
        .flat_map(|t| t.data().iter().map(|&v| Val::Int(i128::from(v))))
        .collect();
    assert_eq!(
        &layout.instance[n_in..],
        &expected[..],
        "circuit outputs equal the reference evaluator"
    );
    layout
}

/// Changing any public output is rejected.
pub fn tampered_outputs_rejected(layout: &Layout, n_outputs: usize) {
    let honest: Vec<_> = layout.instance.iter().map(|v| v.to_field()).collect();
    for k in 0..n_outputs {
        let mut inst = honest.clone();
        let i = inst.len() - 1 - k;
        inst[i] += halo2_proofs::halo2curves::bn256::Fr::one();
        let err = mock_verify_with_instance(layout, inst).expect_err("tampered output accepted");
        assert!(err.contains("failures"), "{err}");
    }
}

/// The full chip check, unfolded and folded: honest, tampered outputs, perturbation of every
/// cell. Returns the unfolded layout.
pub fn check_chip(program: &Program, inputs: &[Tensor]) -> Layout {
    let n_out: usize = program
        .outputs
        .iter()
        .map(|&o| program.nodes[o].shape.iter().product::<usize>())
        .sum();
    let layouts: Vec<Layout> = [params(), folded_params()]
        .into_iter()
        .map(|shape| {
            let layout = honest_with(program, inputs, shape);
            tampered_outputs_rejected(&layout, n_out);
            let loose = unconstrained_cells(&layout);
            assert!(
                loose.is_empty(),
                "unconstrained cells (fold {}): {loose:?}",
                shape.fold
            );
            layout
        })
        .collect();
    layouts.into_iter().next().expect("two shapes")
}

/// The same program with every integer input admitted over the whole value range.
pub fn widen_domains(p: &Program) -> Program {
    let mut wide = p.clone();
    let limit = wide.value_limit();
    for n in &mut wide.nodes {
        if let Op::Input { domain, .. } = &mut n.op {
            if domain.interval().is_some() {
                *domain = InputDomain::Integer {
                    lo: -limit,
                    hi: limit - 1,
                };
                n.bound = limit as u64;
            }
        }
    }
    wide
}

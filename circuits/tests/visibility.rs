//! Hashed and private visibility: the public instance is exactly the Poseidon hash of the
//! values (computed natively), tampered hashes and witnesses are rejected, parameters as
//! witnesses keep the outputs equal to the reference evaluator, and no cell is unconstrained.

use halo2_proofs::halo2curves::bn256::Fr;
use zkml_circuits::layout::Val;
use zkml_circuits::poseidon::hash_values;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{mock_verify, mock_verify_with_instance, unconstrained_cells};
use zkml_circuits::visibility::{public_parts, PublicPart};
use zkml_circuits::{build, CircuitParams, Layout, ParamVisibility, Visibility, VisibilityConfig};
use zkml_ir::{evaluate, Op, Program, ProgramBuilder, Tensor, Trace};

fn params() -> CircuitParams {
    CircuitParams {
        k: 12,
        lanes: 8,
        results: 4,
        range_streams: 2,
        table_streams: 0,
        range_bits: 6,
        degree: 4,
        poseidon: true,
        fold: 0,
        freivalds: false,
        table_banks: 0,
    }
}

fn tensor(shape: &[usize], data: &[i64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

/// A small dense layer: `relu(rescale(x W + b))`, with parameters.
fn dense() -> Program {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![1, 3], 4).unwrap();
    let w = b
        .parameter("w", vec![3, 2], 4, vec![5, -16, 7, 0, -9, 12])
        .unwrap();
    let bias = b.parameter("b", vec![2], 8, vec![-40, 100]).unwrap();
    let mm = b.push("mm", Op::MatMul, &[x, w, bias]).unwrap();
    let r = b.push("rescale", Op::Rescale { shift: 4 }, &[mm]).unwrap();
    let y = b.push("relu", Op::Relu, &[r]).unwrap();
    b.output(y, "y");
    b.finish().unwrap()
}

fn input() -> Vec<Tensor> {
    vec![tensor(&[1, 3], &[17, -128, 127])]
}

fn lay_out(program: &Program, trace: &Trace, vis: VisibilityConfig) -> Layout {
    let mut layout = build(program, Some(trace), params(), vis).expect("layout");
    layout.params.k = minimal_k(&layout);
    layout
}

/// The instance the verifier should expect, computed natively from the values.
fn expected_instance(program: &Program, trace: &Trace, vis: VisibilityConfig) -> Vec<Fr> {
    let mut out = Vec::new();
    for part in public_parts(program, vis).unwrap() {
        match part {
            PublicPart::Values { node, .. } => out.extend(
                trace.values[node]
                    .data()
                    .iter()
                    .map(|&v| Val::Int(i128::from(v)).to_field()),
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
                out.push(hash_values(&items).expect("values inside their envelopes"));
            }
            PublicPart::Link { .. } => unreachable!("whole programs have no links"),
        }
    }
    out
}

fn vis(inputs: Visibility, outputs: Visibility, params: ParamVisibility) -> VisibilityConfig {
    VisibilityConfig {
        inputs,
        outputs,
        params,
    }
}

#[test]
fn every_visibility_combination_is_exact_and_binding() {
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    for inputs in [Visibility::Public, Visibility::Private, Visibility::Hashed] {
        for outputs in [Visibility::Public, Visibility::Private, Visibility::Hashed] {
            for p in [
                ParamVisibility::Fixed,
                ParamVisibility::Private,
                ParamVisibility::Hashed,
            ] {
                let v = vis(inputs, outputs, p);
                let layout = lay_out(&program, &trace, v);
                mock_verify(&layout).unwrap_or_else(|e| panic!("{v:?}: {e}"));
                let expected = expected_instance(&program, &trace, v);
                let inst: Vec<Fr> = layout.instance.iter().map(|x| x.to_field()).collect();
                assert_eq!(inst, expected, "{v:?}: instance");
                for i in 0..inst.len() {
                    let mut bad = inst.clone();
                    bad[i] += Fr::one();
                    assert!(
                        mock_verify_with_instance(&layout, bad).is_err(),
                        "{v:?}: tampered instance {i} accepted"
                    );
                }
            }
        }
    }
}

#[test]
fn hashing_leaves_no_cell_unconstrained() {
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    let v = vis(
        Visibility::Hashed,
        Visibility::Hashed,
        ParamVisibility::Hashed,
    );
    let layout = lay_out(&program, &trace, v);
    let loose = unconstrained_cells(&layout);
    assert!(loose.is_empty(), "unconstrained cells: {loose:?}");
}

#[test]
fn private_parameters_leave_no_cell_unconstrained() {
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    let v = vis(
        Visibility::Public,
        Visibility::Public,
        ParamVisibility::Private,
    );
    let layout = lay_out(&program, &trace, v);
    let loose = unconstrained_cells(&layout);
    assert!(loose.is_empty(), "unconstrained cells: {loose:?}");
}

#[test]
fn other_parameters_change_the_parameter_hash() {
    // The same circuit (same layout) proven with different weights: the parameter hash moves,
    // so a verifier holding the committed hash rejects it.
    let program = dense();
    let mut other = program.clone();
    for node in &mut other.nodes {
        if let Op::Const {
            values,
            param: true,
        } = &mut node.op
        {
            values[0] -= 1;
        }
    }
    let v = vis(
        Visibility::Public,
        Visibility::Public,
        ParamVisibility::Hashed,
    );
    let t1 = evaluate(&program, &input()).unwrap();
    let t2 = evaluate(&other, &input()).unwrap();
    let a = expected_instance(&program, &t1, v);
    let b = expected_instance(&other, &t2, v);
    assert_ne!(a.last(), b.last());
    // The other weights' witness does not satisfy the committed hash.
    let layout = lay_out(&other, &t2, v);
    let mut inst = b.clone();
    *inst.last_mut().unwrap() = *a.last().unwrap();
    // Outputs may coincide; the hash alone must reject.
    let n = inst.len();
    inst[..n - 1].copy_from_slice(&b[..n - 1]);
    assert!(mock_verify_with_instance(&layout, inst).is_err());
}

#[test]
fn hashing_needs_the_poseidon_gates() {
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    let v = vis(
        Visibility::Hashed,
        Visibility::Public,
        ParamVisibility::Fixed,
    );
    let p = CircuitParams {
        poseidon: false,
        ..params()
    };
    let err = build(&program, Some(&trace), p, v).unwrap_err();
    assert!(err.to_string().contains("Poseidon"), "{err}");
    let narrow = CircuitParams {
        lanes: 4,
        results: 2,
        ..params()
    };
    assert!(build(&program, Some(&trace), narrow, v).is_err());
}

#[test]
fn hashes_of_many_values_span_several_permutations() {
    // 40 inputs of 8 bits: 31 per element, 2 elements, one permutation; 300 inputs: 10
    // elements, 5 permutations.
    for n in [1usize, 40, 300] {
        let mut b = ProgramBuilder::new(8).unwrap();
        let x = b.input("x", vec![n], 0).unwrap();
        let y = b.push("neg", Op::Neg, &[x]).unwrap();
        b.output(y, "y");
        let program = b.finish().unwrap();
        let data: Vec<i64> = (0..n as i64).map(|i| (i * 37) % 256 - 128).collect();
        let trace = evaluate(&program, &[tensor(&[n], &data)]).unwrap();
        let v = vis(
            Visibility::Hashed,
            Visibility::Hashed,
            ParamVisibility::Fixed,
        );
        let layout = lay_out(&program, &trace, v);
        mock_verify(&layout).unwrap();
        let inst: Vec<Fr> = layout.instance.iter().map(|x| x.to_field()).collect();
        assert_eq!(inst, expected_instance(&program, &trace, v), "n = {n}");
    }
}

#[test]
fn every_lane_width_schedules_the_rounds_soundly() {
    // The permutation's row schedule depends on the lane count: 8 lanes take one full
    // round per row, 32 lanes several full rounds and many partial rounds per row.
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    let v = vis(
        Visibility::Hashed,
        Visibility::Hashed,
        ParamVisibility::Hashed,
    );
    for lanes in [8usize, 10, 12, 16, 24, 32] {
        let p = CircuitParams { lanes, ..params() };
        let mut layout = build(&program, Some(&trace), p, v).expect("layout");
        layout.params.k = minimal_k(&layout);
        mock_verify(&layout).unwrap_or_else(|e| panic!("{lanes} lanes: {e}"));
        let inst: Vec<Fr> = layout.instance.iter().map(|x| x.to_field()).collect();
        assert_eq!(
            inst,
            expected_instance(&program, &trace, v),
            "{lanes} lanes"
        );
        let loose = unconstrained_cells(&layout);
        assert!(loose.is_empty(), "{lanes} lanes: unconstrained {loose:?}");
        let mut bad = inst.clone();
        let last = bad.len() - 1;
        bad[last] += Fr::one();
        assert!(
            mock_verify_with_instance(&layout, bad).is_err(),
            "{lanes} lanes"
        );
    }
}

/// The Poseidon rounds and parameter envelopes in a folded circuit (the shape
/// `--optimize evm-gas` uses): exact hashes, tampered hashes rejected, no cell unconstrained.
#[test]
fn folded_hashing_is_exact_and_fully_constrained() {
    let program = dense();
    let trace = evaluate(&program, &input()).unwrap();
    for v in [
        vis(
            Visibility::Hashed,
            Visibility::Hashed,
            ParamVisibility::Hashed,
        ),
        vis(
            Visibility::Public,
            Visibility::Public,
            ParamVisibility::Private,
        ),
    ] {
        let folded = CircuitParams {
            range_streams: 0,
            degree: 5,
            fold: 3,
            ..params()
        };
        let mut layout = build(&program, Some(&trace), folded, v).expect("layout");
        layout.params.k = minimal_k(&layout);
        mock_verify(&layout).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        let inst: Vec<Fr> = layout.instance.iter().map(|x| x.to_field()).collect();
        assert_eq!(inst, expected_instance(&program, &trace, v), "{v:?}");
        for i in 0..inst.len() {
            let mut bad = inst.clone();
            bad[i] += Fr::one();
            assert!(
                mock_verify_with_instance(&layout, bad).is_err(),
                "{v:?}: {i}"
            );
        }
        let loose = unconstrained_cells(&layout);
        assert!(loose.is_empty(), "{v:?}: unconstrained cells: {loose:?}");
    }
}

//! Integer and boolean inputs, exact comparisons, `Where` and `Take`: honest witnesses equal to
//! the reference evaluator, tampered outputs rejected, every cell constrained, and witnesses for
//! results the evaluator rejects (an index outside its axis, a value outside an input's domain,
//! a non-boolean condition) rejected by the constraint system.

mod common;

use common::{check_chip, params, tensor, widen_domains};
use zkml_circuits::layout::{Layout, Val};
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{mock_verify, mock_verify_with_instance};
use zkml_circuits::{build, ParamVisibility, Visibility, VisibilityConfig};
use zkml_ir::{evaluate, CompareOp, InputDomain, Op, Program, ProgramBuilder, Tensor};

fn layout_of(program: &Program, inputs: &[Tensor], visibility: VisibilityConfig) -> Layout {
    let trace = evaluate(program, inputs).expect("reference evaluation");
    let mut layout = build(program, Some(&trace), params(), visibility).expect("layout");
    layout.params.k = minimal_k(&layout);
    mock_verify(&layout).expect("honest witness accepted");
    layout
}

#[test]
fn integer_and_boolean_inputs_are_range_checked_to_their_domain() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let ids = b
        .input_in("ids", vec![5], 0, InputDomain::Integer { lo: -3, hi: 9 })
        .unwrap();
    let mask = b.input_in("mask", vec![5], 0, InputDomain::Bool).unwrap();
    let s = b.push("s", Op::Add, &[ids, mask]).unwrap();
    b.output(s, "s");
    let p = b.finish().unwrap();
    let ids_in = tensor(&[5], &[-3, 9, 0, 4, 7]);
    let mask_in = tensor(&[5], &[1, 0, 1, 1, 0]);
    check_chip(&p, &[ids_in.clone(), mask_in.clone()]);

    // The evaluator rejects values outside the domains ...
    assert!(evaluate(&p, &[tensor(&[5], &[-4, 0, 0, 0, 0]), mask_in.clone()]).is_err());
    assert!(evaluate(&p, &[ids_in.clone(), tensor(&[5], &[2, 0, 0, 0, 0])]).is_err());
    // ... and no accepted witness claims such a value: lay the program out on the trace of a
    // wrong evaluator that admits them, and either the constraints fail or the public input is
    // not the claimed value.
    let wide = widen_domains(&p);
    for (input, value) in [(0usize, 10i64), (0, -4), (1, 2), (1, -1)] {
        let mut inputs = [ids_in.clone(), mask_in.clone()];
        let mut data = inputs[input].data().to_vec();
        data[0] = value;
        inputs[input] = tensor(&[5], &data);
        let trace = evaluate(&wide, &inputs).unwrap();
        let mut layout =
            build(&p, Some(&trace), params(), VisibilityConfig::default()).expect("layout");
        layout.params.k = minimal_k(&layout);
        let claimed = layout.instance[input * 5] == Val::Int(i128::from(value));
        assert!(
            mock_verify(&layout).is_err() || !claimed,
            "input {input} = {value} outside its domain was accepted"
        );
    }
}

#[test]
fn comparisons_are_exact_booleans() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![3], 3).unwrap();
    let y = b.input("y", vec![3], 3).unwrap();
    let c = b.constant("c", vec![], 3, vec![5]).unwrap();
    for cmp in [
        CompareOp::Eq,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ] {
        let xy = b.push("xy", Op::Compare(cmp), &[x, y]).unwrap();
        let xc = b.push("xc", Op::Compare(cmp), &[c, x]).unwrap();
        b.output(xy, "xy");
        b.output(xc, "xc");
    }
    let p = b.finish().unwrap();
    // Edges of the value range, a tie, neighbours (also against the constant 5).
    let xs = tensor(&[3], &[-512, 5, 511]);
    let ys = tensor(&[3], &[-512, 6, 510]);
    check_chip(&p, &[xs.clone(), ys.clone()]);
    let trace = evaluate(&p, &[xs, ys]).unwrap();
    for t in trace.outputs() {
        assert!(t.data().iter().all(|&v| v == 0 || v == 1));
    }
}

#[test]
fn a_flipped_comparison_is_rejected() {
    // The decision bit of x > y is the output; flipping it (with the output) is caught.
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![3], 0).unwrap();
    let y = b.input("y", vec![3], 0).unwrap();
    let gt = b.push("gt", Op::Compare(CompareOp::Gt), &[x, y]).unwrap();
    b.output(gt, "gt");
    let p = b.finish().unwrap();
    let layout = layout_of(
        &p,
        &[tensor(&[3], &[3, 4, 5]), tensor(&[3], &[4, 4, 4])],
        VisibilityConfig::default(),
    );
    // Outputs are [0, 0, 1]; claim [1, 0, 1], [0, 1, 1] and [0, 0, 0].
    let honest: Vec<_> = layout.instance.iter().map(|v| v.to_field()).collect();
    for k in 0..3 {
        let mut inst = honest.clone();
        let i = inst.len() - 3 + k;
        inst[i] = halo2_proofs::halo2curves::bn256::Fr::one() - inst[i];
        assert!(mock_verify_with_instance(&layout, inst).is_err());
    }
}

#[test]
fn where_selects_by_a_boolean_condition() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let c = b.input_in("c", vec![2, 3], 0, InputDomain::Bool).unwrap();
    let x = b.input("x", vec![2, 3], 2).unwrap();
    let y = b.input("y", vec![3], 2).unwrap();
    let k = b.constant("k", vec![], 2, vec![-7]).unwrap();
    let w1 = b.push("w1", Op::Where, &[c, x, y]).unwrap();
    let w2 = b.push("w2", Op::Where, &[c, k, x]).unwrap();
    let cc = b.constant("cc", vec![3], 0, vec![1, 0, 1]).unwrap();
    let w3 = b.push("w3", Op::Where, &[cc, x, y]).unwrap();
    b.output(w1, "w1");
    b.output(w2, "w2");
    b.output(w3, "w3");
    let p = b.finish().unwrap();
    check_chip(
        &p,
        &[
            tensor(&[2, 3], &[1, 0, 0, 1, 1, 0]),
            tensor(&[2, 3], &[-512, 511, 3, 4, -5, 6]),
            tensor(&[3], &[100, -100, 0]),
        ],
    );
}

#[test]
fn where_rejects_a_non_boolean_condition() {
    // cond = 2 would give 2a - b; the evaluator refuses it, and the condition cell cannot hold
    // it either (its selection bit is boolean).
    let mut b = ProgramBuilder::new(10).unwrap();
    let c = b
        .input_in("c", vec![2], 0, InputDomain::Integer { lo: 0, hi: 3 })
        .unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let y = b.input("y", vec![2], 0).unwrap();
    let w = b.push("w", Op::Where, &[c, x, y]).unwrap();
    b.output(w, "w");
    let p = b.finish().unwrap();
    let good = [
        tensor(&[2], &[1, 0]),
        tensor(&[2], &[10, 20]),
        tensor(&[2], &[30, 40]),
    ];
    assert!(evaluate(
        &p,
        &[tensor(&[2], &[2, 0]), good[1].clone(), good[2].clone()]
    )
    .is_err());
    // A wrong evaluator's trace: condition 2, output 2*10 - 30 = -10.
    let mut trace = evaluate(&p, &good).unwrap();
    trace.values[c] = tensor(&[2], &[2, 0]);
    trace.values[w] = tensor(&[2], &[-10, 40]);
    let mut layout = build(&p, Some(&trace), params(), VisibilityConfig::default()).unwrap();
    layout.params.k = minimal_k(&layout);
    assert!(mock_verify(&layout).is_err());
}

fn take_program(data_is_input: bool, axis: usize) -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let shape = vec![3, 5, 2];
    let values: Vec<i64> = (0..30).map(|v| v * 7 - 100).collect();
    let dim = shape[axis] as i64;
    let idx = b
        .input_in(
            "idx",
            vec![2, 2],
            0,
            InputDomain::Integer { lo: 0, hi: dim - 1 },
        )
        .unwrap();
    let data = if data_is_input {
        b.input("data", shape.clone(), 0).unwrap()
    } else {
        b.parameter("table", shape.clone(), 0, values.clone())
            .unwrap()
    };
    let t = b.push("take", Op::Take { axis }, &[data, idx]).unwrap();
    b.output(t, "t");
    let p = b.finish().unwrap();
    let mut inputs = vec![tensor(&[2, 2], &[0, dim - 1, 1, 0])];
    if data_is_input {
        inputs.push(tensor(&shape, &values));
    }
    (p, inputs)
}

#[test]
fn take_from_constant_data_is_a_lookup() {
    for axis in 0..3 {
        let (p, inputs) = take_program(false, axis);
        let layout = check_chip(&p, &inputs);
        assert_eq!(layout.tables.len(), 1, "the data is one function table");
        assert_eq!(layout.tables[0].values.len(), 30);
    }
}

#[test]
fn take_from_runtime_data_uses_one_hot_selection() {
    for axis in 0..3 {
        let (p, inputs) = take_program(true, axis);
        let layout = check_chip(&p, &inputs);
        assert!(layout.tables.is_empty());
    }
}

#[test]
fn take_from_private_parameters_uses_one_hot_selection() {
    let (p, inputs) = take_program(false, 1);
    let vis = VisibilityConfig {
        inputs: Visibility::Public,
        outputs: Visibility::Public,
        params: ParamVisibility::Private,
    };
    let layout = layout_of(&p, &inputs, vis);
    assert!(layout.tables.is_empty());
    let loose = zkml_circuits::soundness::unconstrained_cells(&layout);
    assert!(loose.is_empty(), "{loose:?}");
}

#[test]
fn an_index_outside_its_axis_is_rejected() {
    // Axis 1 has length 5; in the flattened data, index 5 of block 0 is block 1's first row, a
    // value a wrong evaluator that skips the bounds check would read. Its witness must fail:
    // the last block's key leaves the table (lookup path), or the index matches no one-hot
    // position.
    for data_is_input in [false, true] {
        let (p, inputs) = take_program(data_is_input, 1);
        let wide = widen_domains(&p);
        let mut bad = inputs.clone();
        bad[0] = tensor(&[2, 2], &[5, 4, 1, 0]);
        assert!(
            evaluate(&wide, &bad).is_err(),
            "Take itself rejects index 5"
        );
        let mut trace = evaluate(&wide, &inputs).unwrap();
        let idx = wide.inputs[0];
        let take = wide.outputs[0];
        trace.values[idx] = bad[0].clone();
        let data: Vec<i64> = (0..30).map(|v| v * 7 - 100).collect();
        let mut out = trace.values[take].data().to_vec();
        // Output [p, i, j, q] = data[p*10 + idx[i,j]*2 + q]; rewrite i = j = 0 for the blocks
        // whose wrong read stays inside the data.
        let shape = trace.values[take].shape().to_vec();
        for pp in 0..2 {
            for q in 0..2 {
                let o = ((pp * 2) * 2) * 2 + q;
                out[o] = data[pp * 10 + 5 * 2 + q];
            }
        }
        trace.values[take] = tensor(&shape, &out);
        let mut layout =
            build(&wide, Some(&trace), params(), VisibilityConfig::default()).expect("layout");
        layout.params.k = minimal_k(&layout);
        assert!(
            mock_verify(&layout).is_err(),
            "index 5 accepted (data is input: {data_is_input})"
        );
    }
}

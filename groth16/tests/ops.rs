//! Every op compiled to R1CS: the honest assignment satisfies the system with public outputs
//! equal to the reference evaluator's, and changing any single private value (by one, or to
//! its negation) or any public output violates it.

use ark_bn254::Fr;
use ark_ff::One;
use zkml_groth16::{compile, field, Compiled};
use zkml_ir::op::{ConvSpec, PoolSpec, ReduceSpec};
use zkml_ir::{
    evaluate, CompareOp, InputDomain, LookupTable, Op, PadMode, PadSpec, Program, ProgramBuilder,
    TableFunction, Tensor,
};

fn tensor(shape: &[usize], data: &[i64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

/// Compiles on the evaluator's trace; checks satisfaction, exact public values, and that
/// every single-value change is rejected. Returns the compiled system.
fn check(program: &Program, inputs: &[Tensor]) -> Compiled {
    let trace = evaluate(program, inputs).expect("reference evaluation");
    let compiled = compile(program, Some(&trace)).expect("compiles");
    let a = compiled.assignment.clone().expect("with a trace");
    assert_eq!(
        compiled.r1cs.first_unsatisfied(&a),
        None,
        "honest assignment"
    );
    let expected: Vec<Fr> = inputs
        .iter()
        .chain(trace.outputs())
        .flat_map(|t| t.data().iter().map(|&v| field(i128::from(v))))
        .collect();
    assert_eq!(
        a.instance, expected,
        "public values are the inputs and the evaluator's outputs"
    );
    for i in 0..a.witness.len() {
        for changed in [a.witness[i] + Fr::one(), -a.witness[i]] {
            if changed == a.witness[i] {
                continue;
            }
            let mut bad = a.clone();
            bad.witness[i] = changed;
            assert!(
                compiled.r1cs.first_unsatisfied(&bad).is_some(),
                "witness {i} changed and still satisfied"
            );
        }
    }
    let n_in: usize = inputs.iter().map(Tensor::len).sum();
    for i in n_in..a.instance.len() {
        let mut bad = a.clone();
        bad.instance[i] += Fr::one();
        assert!(
            compiled.r1cs.first_unsatisfied(&bad).is_some(),
            "output {i} changed"
        );
    }
    // The keys' system does not depend on the witness.
    let shape = compile(program, None).expect("compiles without a trace");
    assert_eq!(
        shape.r1cs.constraints.len(),
        compiled.r1cs.constraints.len()
    );
    assert_eq!(shape.r1cs.num_witness, compiled.r1cs.num_witness);
    assert!(shape.assignment.is_none());
    compiled
}

#[test]
fn linear_ops_cost_nothing_and_products_one_constraint() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let y = b.input("y", vec![2, 3], 0).unwrap();
    let c = b.constant("c", vec![3], 0, vec![5, -7, 0]).unwrap();
    let add = b.push("add", Op::Add, &[x, c]).unwrap();
    let sub = b.push("sub", Op::Sub, &[add, y]).unwrap();
    let neg = b.push("neg", Op::Neg, &[sub]).unwrap();
    let m = b.constant("m", vec![], 0, vec![3]).unwrap();
    let scaled = b.push("scaled", Op::Mul, &[neg, m]).unwrap();
    let prod = b.push("prod", Op::Mul, &[x, y]).unwrap();
    let spec = ReduceSpec {
        axes: vec![1],
        keepdims: false,
    };
    let sum = b.push("sum", Op::ReduceSum(spec), &[scaled]).unwrap();
    b.output(sum, "sum");
    b.output(prod, "prod");
    let p = b.finish().unwrap();
    let compiled = check(
        &p,
        &[
            tensor(&[2, 3], &[1, -2, 3, -4, 5, -6]),
            tensor(&[2, 3], &[7, 0, -3, 2, 2, -9]),
        ],
    );
    let cost = &compiled.costs.per_node;
    for node in [add, sub, neg, scaled] {
        assert_eq!(cost[node], 0, "linear ops are free");
    }
    assert_eq!(
        cost[prod],
        6 + 6,
        "one product and one public binding per element"
    );
    assert_eq!(
        cost[x],
        6 * 11,
        "each input: 10 bits and their recomposition"
    );
}

#[test]
fn convolutions_pooling_and_matrix_products() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![1, 2, 3, 3], 0).unwrap();
    let w = b
        .constant(
            "w",
            vec![2, 2, 2, 2],
            0,
            (0..16).map(|i| (i % 5) - 2).collect(),
        )
        .unwrap();
    let conv = ConvSpec {
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![1, 0],
        pads_end: vec![0, 1],
        group: 1,
    };
    let c = b.push("conv", Op::Conv(conv), &[x, w]).unwrap();
    let pool = PoolSpec {
        kernel: vec![2, 2],
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![2, 2],
    };
    let sp = b.push("sumpool", Op::SumPool(pool.clone()), &[x]).unwrap();
    let mp = b.push("maxpool", Op::MaxPool(pool), &[c]).unwrap();
    let a = b.input("a", vec![2, 4], 0).unwrap();
    let wm = b
        .constant(
            "wm",
            vec![4, 3],
            0,
            (0..12).map(|i| (i * 7 % 11) - 5).collect(),
        )
        .unwrap();
    let bias = b.constant("bias", vec![3], 0, vec![1, -2, 3]).unwrap();
    let mm = b.push("dense", Op::MatMul, &[a, wm, bias]).unwrap();
    let at = b.input("at", vec![4, 2], 0).unwrap();
    let rmm = b.push("scores", Op::MatMul, &[a, at]).unwrap();
    for n in [c, sp, mp, mm, rmm] {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    let compiled = check(
        &p,
        &[
            tensor(
                &[1, 2, 3, 3],
                &(0..18).map(|i| (i * 5 % 13) - 6).collect::<Vec<_>>(),
            ),
            tensor(&[2, 4], &[3, -1, 4, 1, -5, 9, -2, 6]),
            tensor(&[4, 2], &[2, 7, -1, 8, 2, -8, 1, 8]),
        ],
    );
    let cost = &compiled.costs.per_node;
    assert_eq!(
        cost[mm], 6,
        "fixed weights are free: only the public binding"
    );
    assert_eq!(
        cost[rmm],
        2 * 2 * 4 + 4,
        "one constraint per runtime multiply"
    );
}

#[test]
fn rescales_round_half_up_at_ties() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![6], 0).unwrap();
    let y = b.input("y", vec![6], 0).unwrap();
    let xy = b.push("xy", Op::Mul, &[x, y]).unwrap();
    let r = b.push("rescale", Op::Rescale { shift: 8 }, &[xy]).unwrap();
    let h = b.push("halve", Op::Rescale { shift: 1 }, &[x]).unwrap();
    let z = b.push("check", Op::Rescale { shift: 0 }, &[x]).unwrap();
    for n in [r, h, z] {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    check(
        &p,
        &[
            tensor(&[6], &[16, -16, 127, -128, 3, -5]),
            tensor(&[6], &[8, 8, 127, -128, 127, -77]),
        ],
    );
}

#[test]
fn division_and_square_root() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let a = b.input("a", vec![4], 0).unwrap();
    let d = b
        .input_in("d", vec![4], 0, InputDomain::Integer { lo: 1, hi: 300 })
        .unwrap();
    let q = b.push("div", Op::Div { shift: 2 }, &[a, d]).unwrap();
    let s = b.push("sqrt", Op::Sqrt { shift: 2 }, &[d]).unwrap();
    let c = b.constant("c", vec![], 0, vec![7]).unwrap();
    let qc = b.push("div_const", Op::Div { shift: 0 }, &[a, c]).unwrap();
    for n in [q, s, qc] {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    check(
        &p,
        &[
            tensor(&[4], &[6, 3, -50, 0]),
            tensor(&[4], &[16, 8, 3, 300]),
        ],
    );
}

#[test]
fn selections_comparisons_and_argmax() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 4], 0).unwrap();
    let y = b.input("y", vec![2, 4], 0).unwrap();
    let cond = b
        .input_in("cond", vec![2, 4], 0, InputDomain::Bool)
        .unwrap();
    let mut outs = vec![
        b.push("relu", Op::Relu, &[x]).unwrap(),
        b.push("abs", Op::Abs, &[x]).unwrap(),
        b.push("max", Op::Max, &[x, y]).unwrap(),
        b.push("min", Op::Min, &[x, y]).unwrap(),
        b.push("where", Op::Where, &[cond, x, y]).unwrap(),
    ];
    for (min, max) in [(Some(-3), Some(4)), (Some(0), None), (None, Some(2))] {
        outs.push(b.push("clip", Op::Clip { min, max }, &[x]).unwrap());
    }
    for cmp in [
        CompareOp::Eq,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ] {
        outs.push(b.push("cmp", Op::Compare(cmp), &[x, y]).unwrap());
    }
    let spec = ReduceSpec {
        axes: vec![1],
        keepdims: false,
    };
    outs.push(b.push("reducemax", Op::ReduceMax(spec), &[x]).unwrap());
    for last in [false, true] {
        let op = Op::ArgMax {
            axis: 1,
            keepdims: false,
            select_last_index: last,
        };
        outs.push(b.push("argmax", op, &[x]).unwrap());
    }
    for n in outs {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    check(
        &p,
        &[
            tensor(&[2, 4], &[3, 9, 0, 9, -5, -5, -7, 4]),
            tensor(&[2, 4], &[3, -1, 0, 10, -5, 2, -7, -128]),
            tensor(&[2, 4], &[1, 0, 0, 1, 1, 1, 0, 0]),
        ],
    );
}

#[test]
fn lookups_cost_the_table_size() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![5], 4).unwrap();
    let t = b.table(LookupTable::build(TableFunction::Sigmoid, 4, 8, -40, 40).unwrap());
    let clip = Op::Clip {
        min: Some(-40),
        max: Some(40),
    };
    let clipped = b.push("clip", clip, &[x]).unwrap();
    let y = b
        .push("sigmoid", Op::Lookup { table: t }, &[clipped])
        .unwrap();
    b.output(y, "y");
    let p = b.finish().unwrap();
    let compiled = check(&p, &[tensor(&[5], &[-100, -40, 0, 17, 40])]);
    let size = p.tables[t].values.len();
    assert_eq!(size, 81);
    // 9 rows of 9: 18 selectors, 2 sums, the recomposition, a 7-bit headroom check, 9
    // products; then the public output.
    assert_eq!(compiled.costs.per_node[y], 5 * (18 + 2 + 1 + 8 + 9) + 5);
}

#[test]
fn small_and_large_tables_at_their_ends() {
    for (lo, hi) in [(-20, 20), (-3, 3), (-150, 149), (0, 1000)] {
        let mut b = ProgramBuilder::new(12).unwrap();
        let x = b.input("x", vec![4], 4).unwrap();
        let table = LookupTable::build(TableFunction::Tanh, 4, 8, lo, hi).unwrap();
        let t = b.table(table);
        let clip = Op::Clip {
            min: Some(lo),
            max: Some(hi),
        };
        let clipped = b.push("clip", clip, &[x]).unwrap();
        let y = b.push("tanh", Op::Lookup { table: t }, &[clipped]).unwrap();
        b.output(y, "y");
        let p = b.finish().unwrap();
        let mid = (lo + hi) / 2;
        check(&p, &[tensor(&[4], &[lo, hi, mid, hi - 1])]);
    }
}

#[test]
fn gathers_and_data_movement() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let idx = b
        .input_in("idx", vec![3], 0, InputDomain::Integer { lo: 0, hi: 3 })
        .unwrap();
    let table = b
        .constant(
            "emb",
            vec![4, 2],
            0,
            vec![10, -11, 12, -13, 14, -15, 16, -17],
        )
        .unwrap();
    let data = b.input("data", vec![4, 2], 0).unwrap();
    let e = b
        .push("take_const", Op::Take { axis: 0 }, &[table, idx])
        .unwrap();
    let d = b
        .push("take_runtime", Op::Take { axis: 0 }, &[data, idx])
        .unwrap();
    let t = b
        .push("t", Op::Transpose { perm: vec![1, 0] }, &[d])
        .unwrap();
    let pad = PadSpec {
        begin: vec![1, 0],
        end: vec![0, 1],
        mode: PadMode::Constant(9),
    };
    let padded = b.push("pad", Op::Pad(pad), &[t]).unwrap();
    let cat = b.push("cat", Op::Concat { axis: 1 }, &[e, e]).unwrap();
    for n in [e, padded, cat] {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    check(
        &p,
        &[
            tensor(&[3], &[0, 3, 1]),
            tensor(&[4, 2], &[1, -2, 3, -4, 5, -6, 7, -8]),
        ],
    );
}

#[test]
fn inputs_outside_their_domain_are_unsatisfiable() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let r = b.push("relu", Op::Relu, &[x]).unwrap();
    b.output(r, "r");
    let p = b.finish().unwrap();
    let trace = evaluate(&p, &[tensor(&[2], &[5, -3])]).unwrap();
    let compiled = compile(&p, Some(&trace)).unwrap();
    let mut bad = compiled.assignment.clone().unwrap();
    // 128 is outside 8 signed bits; no choice of bits recomposes it.
    bad.instance[0] = field(128);
    assert!(compiled.r1cs.first_unsatisfied(&bad).is_some());
}

/// A rescale, division or square root whose folded constant result (here `x * 0 + big`) lies
/// outside the value range, or is undefined, has no valid run: no constraint system is made
/// for it, where one would prove a fixed output the evaluator says does not exist.
#[test]
fn folded_constants_outside_the_value_range_are_refused() {
    for (bits, big, op) in [
        (16, 1 << 20, Op::Rescale { shift: 0 }),
        (16, 1 << 20, Op::Rescale { shift: 2 }),
        (16, 1 << 20, Op::Div { shift: 0 }),
        (8, 1 << 20, Op::Sqrt { shift: 0 }),
        (8, -4, Op::Sqrt { shift: 0 }),
    ] {
        let mut b = ProgramBuilder::new(bits).unwrap();
        let x = b.input("x", vec![2], 0).unwrap();
        let zero = b.constant("zero", vec![], 0, vec![0]).unwrap();
        let z = b.push("z", Op::Mul, &[x, zero]).unwrap();
        let c = b.constant("big", vec![], 0, vec![big]).unwrap();
        let w = b.push("w", Op::Add, &[z, c]).unwrap();
        let y = match op {
            Op::Div { .. } => {
                let one = b.constant("one", vec![], 0, vec![1]).unwrap();
                b.push("y", op.clone(), &[w, one]).unwrap()
            }
            _ => b.push("y", op.clone(), &[w]).unwrap(),
        };
        b.output(y, "y");
        let p = b.finish().unwrap();
        assert!(evaluate(&p, &[tensor(&[2], &[1, 2])]).is_err(), "{op:?}");
        let err = compile(&p, None).expect_err("no system for a program without a valid run");
        assert!(err.to_string().contains("constant"), "{op:?}: {err}");
    }
}

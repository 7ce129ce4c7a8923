//! The reference evaluator on hand-computed cases, and its errors.

use zkml_ir::op::{ConvSpec, PadMode, PadSpec, PoolSpec, ReduceSpec, SliceRange};
use zkml_ir::{
    evaluate, EvalError, IrError, LookupTable, Op, Program, ProgramBuilder, TableFunction, Tensor,
};

fn run(b: ProgramBuilder, inputs: Vec<Tensor>) -> Result<Vec<Vec<i64>>, EvalError> {
    let p = b.finish().unwrap();
    evaluate(&p, &inputs).map(|t| t.outputs().into_iter().map(|t| t.data().to_vec()).collect())
}

fn t(shape: &[usize], data: &[i64]) -> Tensor {
    Tensor::new(shape.to_vec(), data.to_vec()).unwrap()
}

#[test]
fn arithmetic_and_rounding() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![4], 2).unwrap();
    let c = b.constant("c", vec![1], 2, vec![3]).unwrap();
    let add = b.push("add", Op::Add, &[x, c]).unwrap();
    let mul = b.push("mul", Op::Mul, &[x, c]).unwrap();
    assert_eq!(b.node(mul).scale, 4);
    let r = b.push("rescale", Op::Rescale { shift: 2 }, &[mul]).unwrap();
    let neg = b.push("neg", Op::Neg, &[x]).unwrap();
    let abs = b.push("abs", Op::Abs, &[neg]).unwrap();
    for n in [add, mul, r, abs] {
        b.output(n, "o");
    }
    let out = run(b, vec![t(&[4], &[-5, -2, 1, 6])]).unwrap();
    assert_eq!(out[0], vec![-2, 1, 4, 9]);
    assert_eq!(out[1], vec![-15, -6, 3, 18]);
    // -15/4 = -3.75 -> -4, -6/4 = -1.5 -> -1 (half up), 3/4 -> 1, 18/4 = 4.5 -> 5
    assert_eq!(out[2], vec![-4, -1, 1, 5]);
    assert_eq!(out[3], vec![5, 2, 1, 6]);
}

#[test]
fn division_and_square_root() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let a = b.input("a", vec![3], 0).unwrap();
    let d = b.input("d", vec![3], 0).unwrap();
    let q = b.push("div", Op::Div { shift: 1 }, &[a, d]).unwrap();
    assert_eq!(b.node(q).scale, 1);
    let s = b.push("sqrt", Op::Sqrt { shift: 2 }, &[a]).unwrap();
    assert_eq!(b.node(s).scale, 1);
    b.output(q, "q");
    b.output(s, "s");
    let p = b.finish().unwrap();
    // The square root of -7 fails the whole run.
    assert!(matches!(
        evaluate(&p, &[t(&[3], &[7, -7, 10]), t(&[3], &[2, 2, 3])]).unwrap_err(),
        EvalError::NegativeSqrt { value: -7, .. }
    ));
    let out = evaluate(&p, &[t(&[3], &[7, 0, 10]), t(&[3], &[2, 2, 3])]).unwrap();
    // 7*2/2 = 7, 0, 10*2/3 = 6.67 -> 7
    assert_eq!(out.outputs()[0].data(), &[7, 0, 7]);
    assert!(matches!(
        evaluate(&p, &[t(&[3], &[7, 1, 10]), t(&[3], &[2, 0, 3])]).unwrap_err(),
        EvalError::NonPositiveDivisor { value: 0, .. }
    ));
    // floor(sqrt(7*4)) = 5, floor(sqrt(0)) = 0, floor(sqrt(40)) = 6
    assert_eq!(out.outputs()[1].data(), &[5, 0, 6]);
    // -7*2/2 rounds exactly; -7*2/4 = -3.5 rounds half up to -3.
    let neg = evaluate(&p, &[t(&[3], &[-7, 0, -7]), t(&[3], &[2, 1, 4])]);
    assert!(neg.is_err(), "sqrt of -7");
}

#[test]
fn negative_square_root_is_an_error() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let s = b.push("sqrt", Op::Sqrt { shift: 0 }, &[x]).unwrap();
    b.output(s, "s");
    assert!(matches!(
        run(b, vec![t(&[2], &[4, -1])]).unwrap_err(),
        EvalError::NegativeSqrt { value: -1, .. }
    ));
}

#[test]
fn values_leaving_the_range_are_errors() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let y = b.push("double", Op::Add, &[x, x]).unwrap();
    let r = b.push("check", Op::Rescale { shift: 0 }, &[y]).unwrap();
    b.output(r, "r");
    let p = b.finish().unwrap();
    assert_eq!(
        evaluate(&p, &[t(&[2], &[63, -64])]).unwrap().outputs()[0].data(),
        &[126, -128]
    );
    let e = evaluate(&p, &[t(&[2], &[64, 0])]).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::OutOfRange {
                value: 128,
                bits: 8,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("'check'"));
    // Inputs are range-checked too.
    assert!(matches!(
        evaluate(&p, &[t(&[2], &[128, 0])]).unwrap_err(),
        EvalError::OutOfRange { value: 128, .. }
    ));
    assert!(matches!(
        evaluate(&p, &[t(&[3], &[1, 2, 3])]).unwrap_err(),
        EvalError::WrongInputShape { .. }
    ));
    assert!(matches!(
        evaluate(&p, &[]).unwrap_err(),
        EvalError::WrongInputCount {
            expected: 1,
            got: 0
        }
    ));
}

#[test]
fn lookup_tables_and_their_domains() {
    let mut b = ProgramBuilder::new(16).unwrap();
    let x = b.input("x", vec![3], 4).unwrap();
    let table = b.table(LookupTable::build(TableFunction::Sigmoid, 4, 8, -64, 64).unwrap());
    let c = b
        .push(
            "clip",
            Op::Clip {
                min: Some(-64),
                max: Some(64),
            },
            &[x],
        )
        .unwrap();
    let y = b.push("sigmoid", Op::Lookup { table }, &[c]).unwrap();
    let raw = b.push("unclipped", Op::Lookup { table }, &[x]).unwrap();
    b.output(y, "y");
    b.output(raw, "raw");
    let p = b.finish().unwrap();
    let out = evaluate(&p, &[t(&[3], &[0, 16, -16])]).unwrap();
    assert_eq!(out.outputs()[0].data(), &[128, 187, 69]); // sigmoid(0, 1, -1) * 256
    let e = evaluate(&p, &[t(&[3], &[0, 100, 0])]).unwrap_err();
    assert!(
        matches!(
            e,
            EvalError::OutsideTableDomain {
                value: 100,
                lo: -64,
                hi: 64,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn products_convolution_and_pooling() {
    let mut b = ProgramBuilder::new(16).unwrap();
    let x = b.input("x", vec![1, 1, 3, 3], 0).unwrap();
    let w = b
        .constant("w", vec![1, 1, 2, 2], 0, vec![1, 2, 3, 4])
        .unwrap();
    let bias = b.constant("b", vec![1], 0, vec![10]).unwrap();
    let spec = ConvSpec {
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        pads_end: vec![1, 1],
        group: 1,
    };
    let conv = b.push("conv", Op::Conv(spec), &[x, w, bias]).unwrap();
    let pool = PoolSpec {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![2, 2],
    };
    let mp = b.push("maxpool", Op::MaxPool(pool.clone()), &[x]).unwrap();
    let sp = b.push("sumpool", Op::SumPool(pool), &[x]).unwrap();
    let m = b
        .constant("m", vec![3, 2], 0, vec![1, 0, 0, 1, 1, 1])
        .unwrap();
    let flat = b
        .push("flat", Op::Reshape { shape: vec![3, 3] }, &[x])
        .unwrap();
    let mm = b.push("matmul", Op::MatMul, &[flat, m]).unwrap();
    for n in [conv, mp, sp, mm] {
        b.output(n, "o");
    }
    let out = run(b, vec![t(&[1, 1, 3, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9])]).unwrap();
    // Top-left window [1 2; 4 5] . [1 2; 3 4] = 1 + 4 + 12 + 20 = 37, plus bias 10.
    assert_eq!(
        out[0],
        vec![
            47,
            57,
            10 + 3 + 18,
            77,
            87,
            10 + 6 + 27,
            10 + 7 + 16,
            10 + 8 + 18,
            10 + 9
        ]
    );
    assert_eq!(out[1], vec![5, 6, 8, 9]);
    assert_eq!(out[2], vec![12, 9, 15, 9]);
    assert_eq!(out[3], vec![1 + 3, 2 + 3, 4 + 6, 5 + 6, 7 + 9, 8 + 9]);
}

#[test]
fn comparisons_and_reductions() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let y = b.input("y", vec![3], 0).unwrap();
    let relu = b.push("relu", Op::Relu, &[x]).unwrap();
    let max = b.push("max", Op::Max, &[x, y]).unwrap();
    let min = b.push("min", Op::Min, &[x, y]).unwrap();
    let clip = b
        .push(
            "clip",
            Op::Clip {
                min: Some(-1),
                max: Some(2),
            },
            &[x],
        )
        .unwrap();
    let rmax = b
        .push(
            "rmax",
            Op::ReduceMax(ReduceSpec {
                axes: vec![1],
                keepdims: false,
            }),
            &[x],
        )
        .unwrap();
    let rsum = b
        .push(
            "rsum",
            Op::ReduceSum(ReduceSpec {
                axes: vec![0],
                keepdims: true,
            }),
            &[x],
        )
        .unwrap();
    let first = b
        .push(
            "argmax",
            Op::ArgMax {
                axis: 1,
                keepdims: false,
                select_last_index: false,
            },
            &[x],
        )
        .unwrap();
    let last = b
        .push(
            "argmax_last",
            Op::ArgMax {
                axis: 1,
                keepdims: true,
                select_last_index: true,
            },
            &[x],
        )
        .unwrap();
    assert_eq!(b.node(last).shape, vec![2, 1]);
    for n in [relu, max, min, clip, rmax, rsum, first, last] {
        b.output(n, "o");
    }
    let out = run(
        b,
        vec![t(&[2, 3], &[-3, 5, 5, 2, -1, 0]), t(&[3], &[0, 4, 1])],
    )
    .unwrap();
    assert_eq!(out[0], vec![0, 5, 5, 2, 0, 0]);
    assert_eq!(out[1], vec![0, 5, 5, 2, 4, 1]);
    assert_eq!(out[2], vec![-3, 4, 1, 0, -1, 0]);
    assert_eq!(out[3], vec![-1, 2, 2, 2, -1, 0]);
    assert_eq!(out[4], vec![5, 2]);
    assert_eq!(out[5], vec![-1, 4, 5]);
    assert_eq!(out[6], vec![1, 0]);
    assert_eq!(out[7], vec![2, 0]);
}

#[test]
fn data_movement() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let tr = b
        .push("t", Op::Transpose { perm: vec![1, 0] }, &[x])
        .unwrap();
    let sl = b
        .push(
            "s",
            Op::Slice {
                ranges: vec![
                    SliceRange {
                        start: 1,
                        end: 2,
                        step: 1,
                    },
                    SliceRange {
                        start: 2,
                        end: -1,
                        step: -2,
                    },
                ],
            },
            &[x],
        )
        .unwrap();
    let cat = b.push("c", Op::Concat { axis: 0 }, &[x, x]).unwrap();
    let g = b
        .push(
            "g",
            Op::Gather {
                axis: 1,
                indices: vec![2, 0],
                indices_shape: vec![2],
            },
            &[x],
        )
        .unwrap();
    let pad = b
        .push(
            "p",
            Op::Pad(PadSpec {
                begin: vec![0, 1],
                end: vec![0, 0],
                mode: PadMode::Constant(9),
            }),
            &[x],
        )
        .unwrap();
    let tile = b
        .push(
            "tile",
            Op::Tile {
                repeats: vec![1, 2],
            },
            &[x],
        )
        .unwrap();
    let ex = b
        .push(
            "e",
            Op::Expand {
                shape: vec![2, 2, 3],
            },
            &[x],
        )
        .unwrap();
    for n in [tr, sl, cat, g, pad, tile, ex] {
        b.output(n, "o");
    }
    let out = run(b, vec![t(&[2, 3], &[1, 2, 3, 4, 5, 6])]).unwrap();
    assert_eq!(out[0], vec![1, 4, 2, 5, 3, 6]);
    assert_eq!(out[1], vec![6, 4]);
    assert_eq!(out[2], vec![1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    assert_eq!(out[3], vec![3, 1, 6, 4]);
    assert_eq!(out[4], vec![9, 1, 2, 3, 9, 4, 5, 6]);
    assert_eq!(out[5], vec![1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    assert_eq!(out[6], vec![1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn malformed_nodes_are_rejected_at_build_time() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let y = b.input("y", vec![4], 1).unwrap();
    let err = |r: Result<usize, IrError>| match r {
        Ok(n) => panic!("node {n} was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err(b.push("bad", Op::Add, &[x, y])).contains("do not broadcast"));
    let z = b.input("z", vec![3], 1).unwrap();
    assert!(err(b.push("bad", Op::Add, &[x, z])).contains("equal input scales"));
    assert!(err(b.push("bad", Op::Reshape { shape: vec![5] }, &[x])).contains("cannot reshape"));
    assert!(
        err(b.push("bad", Op::Transpose { perm: vec![0, 0] }, &[x])).contains("not a permutation")
    );
    assert!(err(b.push("bad", Op::Lookup { table: 3 }, &[x])).contains("missing lookup table"));
    assert!(err(b.push("bad", Op::Relu, &[x, x])).contains("takes 1 inputs"));
    assert!(err(b.push("bad", Op::Relu, &[99])).contains("does not exist"));
    assert!(err(b.push("bad", Op::Rescale { shift: 99 }, &[x])).contains("shift 99"));
    // Unbounded growth is caught statically.
    let mut acc = x;
    for _ in 0..8 {
        match b.push("square", Op::Mul, &[acc, acc]) {
            Ok(n) => acc = n,
            Err(e) => {
                assert!(e.to_string().contains("insert a Rescale"));
                return;
            }
        }
    }
    panic!("repeated squaring must exceed the 2^62 bound");
}

#[test]
fn validation_catches_inconsistent_programs() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let y = b.push("y", Op::Relu, &[x]).unwrap();
    b.output(y, "y");
    let good = b.finish().unwrap();
    let mutate = |f: &dyn Fn(&mut Program)| {
        let mut p = good.clone();
        f(&mut p);
        p.validate()
    };
    assert!(mutate(&|p| p.nodes[1].shape = vec![3]).is_err());
    assert!(mutate(&|p| p.nodes[1].scale = 1).is_err());
    assert!(mutate(&|p| p.nodes[1].inputs = vec![1]).is_err());
    assert!(mutate(&|p| p.outputs = vec![7]).is_err());
    assert!(mutate(&|p| p.value_bits = 99).is_err());
    assert!(mutate(&|p| p.inputs.clear()).is_err());
    assert!(mutate(&|p| p.output_names.push("extra".into())).is_err());
    assert!(mutate(&|_| {}).is_ok());
}

#[test]
fn nodes_that_read_only_constants_must_be_defined() {
    // A division by a zero constant, the square root of a negative constant and a constant
    // Rescale leaving the value range are undefined on every input: the program is rejected
    // when it is built (and when it is loaded), not proven with some fixed output.
    let build = |op: Op, a: i64, b: Option<i64>| {
        let mut pb = ProgramBuilder::new(8).unwrap();
        let x = pb.input("x", vec![1], 0).unwrap();
        let ca = pb.constant("a", vec![1], 0, vec![a]).unwrap();
        let mut ins = vec![ca];
        if let Some(b) = b {
            ins.push(pb.constant("b", vec![1], 0, vec![b]).unwrap());
        }
        let c = pb.push("c", op, &ins).unwrap();
        let y = pb.push("y", Op::Add, &[x, c]).unwrap();
        pb.output(y, "y");
        pb.finish()
    };
    let err = build(Op::Div { shift: 0 }, 6, Some(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("divisor") && err.contains("undefined on every input"),
        "{err}"
    );
    let err = build(Op::Sqrt { shift: 0 }, -4, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("square root") || err.contains("sqrt"), "{err}");
    let err = build(Op::Rescale { shift: 0 }, 1000, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("undefined on every input"), "{err}");
    // Defined constant nodes are fine, and evaluate as always.
    let p = build(Op::Div { shift: 0 }, 6, Some(3)).unwrap();
    let out = evaluate(&p, &[t(&[1], &[5])]).unwrap();
    assert_eq!(out.outputs()[0].data(), &[7]);
}

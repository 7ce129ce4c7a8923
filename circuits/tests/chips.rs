//! Every chip: honest witnesses accepted with outputs equal to the reference evaluator,
//! tampered outputs rejected, and no assigned cell left unconstrained.

mod common;

use common::{check_chip, folded_params, honest, honest_with, params, tensor};
use zkml_circuits::layout::{AdviceCol, CellRef, Val};
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{mock_verify, unconstrained_cells};
use zkml_circuits::{build, CircuitParams, VisibilityConfig};
use zkml_ir::op::{ConvSpec, PoolSpec, ReduceSpec};
use zkml_ir::{evaluate, LookupTable, Op, Program, ProgramBuilder, TableFunction};

fn unary(op: Op, shape: &[usize], scale: i32, bits: u32) -> Program {
    let mut b = ProgramBuilder::new(bits).unwrap();
    let x = b.input("x", shape.to_vec(), scale).unwrap();
    let y = b.push("y", op, &[x]).unwrap();
    b.output(y, "y");
    b.finish().unwrap()
}

#[test]
fn rescale_at_edges() {
    // B = 8: values in [-128, 128); x*x reaches 2^14 and is rescaled by 2^8.
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![8], 0).unwrap();
    let sq = b.push("sq", Op::Mul, &[x, x]).unwrap();
    let y = b.push("rescale", Op::Rescale { shift: 8 }, &[sq]).unwrap();
    let z = b.push("check", Op::Rescale { shift: 0 }, &[x]).unwrap();
    b.output(y, "y");
    b.output(z, "z");
    let p = b.finish().unwrap();
    check_chip(&p, &[tensor(&[8], &[-128, 127, -127, 63, 64, -64, 0, -1])]);
}

#[test]
fn linear_ops_and_constants() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![2, 3], 2).unwrap();
    let c = b.constant("c", vec![3], 2, vec![5, -7, 0]).unwrap();
    let add = b.push("add", Op::Add, &[x, c]).unwrap();
    let sub = b.push("sub", Op::Sub, &[add, x]).unwrap();
    let neg = b.push("neg", Op::Neg, &[add]).unwrap();
    let m = b.constant("m", vec![], 0, vec![3]).unwrap();
    let scaled = b.push("scaled", Op::Mul, &[neg, m]).unwrap();
    let sum = b
        .push(
            "sum",
            Op::ReduceSum(ReduceSpec {
                axes: vec![1],
                keepdims: false,
            }),
            &[scaled],
        )
        .unwrap();
    b.output(sub, "sub");
    b.output(sum, "sum");
    let p = b.finish().unwrap();
    check_chip(&p, &[tensor(&[2, 3], &[1, -2, 3, -4, 5, -6])]);
}

#[test]
fn runtime_products() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let y = b.input("y", vec![3, 2], 0).unwrap();
    let mm = b.push("mm", Op::MatMul, &[x, y]).unwrap();
    let z = b.input("z", vec![2, 2], 0).unwrap();
    let prod = b.push("prod", Op::Mul, &[mm, z]).unwrap();
    b.output(prod, "p");
    let p = b.finish().unwrap();
    check_chip(
        &p,
        &[
            tensor(&[2, 3], &[1, -2, 3, 4, 5, -6]),
            tensor(&[3, 2], &[7, 8, -9, 10, 11, 12]),
            tensor(&[2, 2], &[-1, 2, 3, -4]),
        ],
    );
}

#[test]
fn fixed_weight_products_share_operands() {
    // 2x12 by 12x5: rows of 8 lanes chain over two rows; four outputs share each row.
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![2, 12], 0).unwrap();
    let w: Vec<i64> = (0..60).map(|i| (i * 7 % 11) - 5).collect();
    let wc = b.constant("w", vec![12, 5], 0, w).unwrap();
    let bias = b.constant("b", vec![5], 0, vec![1, 2, 3, 4, 5]).unwrap();
    let mm = b.push("mm", Op::MatMul, &[x, wc, bias]).unwrap();
    b.output(mm, "y");
    let p = b.finish().unwrap();
    let layout = check_chip(
        &p,
        &[tensor(
            &[2, 12],
            &(0..24).map(|i| (i % 9) - 4).collect::<Vec<_>>(),
        )],
    );
    // Each of the 2 input rows: 2 batches of outputs (4 + 1) x 2 chained rows.
    assert!(layout.main_rows >= 8);
}

#[test]
fn convolution_and_pooling() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![1, 2, 4, 4], 0).unwrap();
    let w = b
        .constant(
            "w",
            vec![3, 2, 2, 2],
            0,
            (0..24).map(|i| (i % 5) - 2).collect(),
        )
        .unwrap();
    let spec = ConvSpec {
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![1, 0],
        pads_end: vec![0, 1],
        group: 1,
    };
    let conv = b.push("conv", Op::Conv(spec), &[x, w]).unwrap();
    let pool = PoolSpec {
        kernel: vec![2, 2],
        strides: vec![2, 2],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![2, 2],
    };
    let mp = b
        .push("maxpool", Op::MaxPool(pool.clone()), &[conv])
        .unwrap();
    let sp = b.push("sumpool", Op::SumPool(pool), &[x]).unwrap();
    b.output(mp, "mp");
    b.output(sp, "sp");
    let p = b.finish().unwrap();
    check_chip(
        &p,
        &[tensor(
            &[1, 2, 4, 4],
            &(0..32).map(|i| (i * 5 % 13) - 6).collect::<Vec<_>>(),
        )],
    );
}

#[test]
fn comparisons() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![6], 0).unwrap();
    let y = b.input("y", vec![6], 0).unwrap();
    let relu = b.push("relu", Op::Relu, &[x]).unwrap();
    let abs = b.push("abs", Op::Abs, &[x]).unwrap();
    let max = b.push("max", Op::Max, &[x, y]).unwrap();
    let min = b.push("min", Op::Min, &[x, y]).unwrap();
    let clip = b
        .push(
            "clip",
            Op::Clip {
                min: Some(-3),
                max: Some(4),
            },
            &[x],
        )
        .unwrap();
    for n in [relu, abs, max, min, clip] {
        b.output(n, "o");
    }
    let p = b.finish().unwrap();
    check_chip(
        &p,
        &[
            tensor(&[6], &[-128, 127, 0, -5, 5, 4]),
            tensor(&[6], &[127, -128, 0, -5, 7, 4]),
        ],
    );
}

#[test]
fn argmax_first_and_last_and_reduce_max() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 5], 0).unwrap();
    let first = b
        .push(
            "first",
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
            "last",
            Op::ArgMax {
                axis: 1,
                keepdims: false,
                select_last_index: true,
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
    b.output(first, "first");
    b.output(last, "last");
    b.output(rmax, "rmax");
    let p = b.finish().unwrap();
    let layout = check_chip(
        &p,
        &[tensor(&[2, 5], &[3, 9, 1, 9, -2, -5, -5, -7, -6, -5])],
    );
    let outs = &layout.instance[10..];
    assert_eq!(outs, &[1, 0, 3, 4, 9, -5].map(Val::Int));
}

#[test]
fn division_and_square_root() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let a = b.input("a", vec![5], 0).unwrap();
    let d = b.input("d", vec![5], 0).unwrap();
    let q = b.push("div", Op::Div { shift: 3 }, &[a, d]).unwrap();
    let s = b.push("sqrt", Op::Sqrt { shift: 2 }, &[d]).unwrap();
    let c = b.constant("c", vec![], 0, vec![7]).unwrap();
    let qc = b.push("div_const", Op::Div { shift: 0 }, &[a, c]).unwrap();
    b.output(q, "q");
    b.output(s, "s");
    b.output(qc, "qc");
    let p = b.finish().unwrap();
    check_chip(
        &p,
        &[
            tensor(&[5], &[-50, 17, 0, 63, -1]),
            tensor(&[5], &[3, 1, 511, 8, 2]),
        ],
    );
}

#[test]
fn lookup_tables() {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![6], 4).unwrap();
    let t = b.table(LookupTable::build(TableFunction::Sigmoid, 4, 8, -40, 40).unwrap());
    let clip = b
        .push(
            "clip",
            Op::Clip {
                min: Some(-40),
                max: Some(40),
            },
            &[x],
        )
        .unwrap();
    let y = b.push("sigmoid", Op::Lookup { table: t }, &[clip]).unwrap();
    let t2 = b.table(LookupTable::build(TableFunction::Tanh, 4, 8, -20, 20).unwrap());
    let c2 = b
        .push(
            "clip2",
            Op::Clip {
                min: Some(-20),
                max: Some(20),
            },
            &[x],
        )
        .unwrap();
    let y2 = b.push("tanh", Op::Lookup { table: t2 }, &[c2]).unwrap();
    b.output(y, "y");
    b.output(y2, "y2");
    let p = b.finish().unwrap();
    check_chip(&p, &[tensor(&[6], &[-100, -40, -1, 0, 39, 100])]);
}

#[test]
fn data_movement_is_free_and_exact() {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let t = b
        .push("t", Op::Transpose { perm: vec![1, 0] }, &[x])
        .unwrap();
    let pad = b
        .push(
            "pad",
            Op::Pad(zkml_ir::PadSpec {
                begin: vec![1, 0],
                end: vec![0, 1],
                mode: zkml_ir::PadMode::Constant(9),
            }),
            &[t],
        )
        .unwrap();
    let r = b.push("relu", Op::Relu, &[pad]).unwrap();
    b.output(r, "r");
    let p = b.finish().unwrap();
    check_chip(&p, &[tensor(&[2, 3], &[1, -2, 3, -4, 5, -6])]);
}

#[test]
fn private_outputs_are_not_exposed() {
    let p = unary(Op::Relu, &[4], 0, 8);
    let trace = evaluate(&p, &[tensor(&[4], &[1, -1, 2, -2])]).unwrap();
    let vis = VisibilityConfig {
        inputs: zkml_circuits::Visibility::Public,
        outputs: zkml_circuits::Visibility::Private,
        ..VisibilityConfig::default()
    };
    let mut layout = build(&p, Some(&trace), params(), vis).unwrap();
    layout.params.k = minimal_k(&layout);
    assert_eq!(layout.instance.len(), 4);
    mock_verify(&layout).unwrap();
}

#[test]
fn a_wrong_limb_breaks_the_range_check() {
    let p = unary(Op::Rescale { shift: 4 }, &[1], 0, 8);
    let layout = honest(&p, &[tensor(&[1], &[100])]);
    // Find a range-stream cell and set it beyond its range: the lookup must fail.
    let cell = layout
        .assigned_cells()
        .into_iter()
        .find(|c| matches!(c.col, AdviceCol::Range(_)))
        .unwrap();
    let mut bad = layout.clone();
    bad.set_value(cell, Val::Int(1 << 20));
    let err = mock_verify(&bad).unwrap_err();
    assert!(err.contains("failures"), "{err}");
}

/// A folded circuit's range check is a bit decomposition: non-boolean "bits" that still sum
/// to the value are rejected by the booleanity constraint, and a value beyond the checked
/// width cannot be decomposed at all.
#[test]
fn folded_range_checks_need_boolean_bits() {
    let p = unary(Op::Rescale { shift: 4 }, &[1], 0, 8);
    let layout = honest_with(&p, &[tensor(&[1], &[100])], folded_params());
    assert!(layout
        .assigned_cells()
        .iter()
        .all(|c| !matches!(c.col, AdviceCol::Range(_))));
    let bits_row = layout
        .gates
        .iter()
        .position(|g| *g == Some(zkml_circuits::layout::Gate::BitsFirst))
        .expect("a bits row");
    let cell = |i: usize| zkml_circuits::layout::CellRef {
        col: AdviceCol::X(i),
        row: bits_row,
    };
    // x0 + 2 x1 unchanged: x0 += 2, x1 -= 1.
    let mut bad = layout.clone();
    let (b0, b1) = (layout.cell_value(cell(0)), layout.cell_value(cell(1)));
    let (Val::Int(v0), Val::Int(v1)) = (b0, b1) else {
        panic!("bits are integers")
    };
    bad.set_value(cell(0), Val::Int(v0 + 2));
    bad.set_value(cell(1), Val::Int(v1 - 1));
    let err = mock_verify(&bad).unwrap_err();
    assert!(err.contains("bits"), "{err}");
    // Flipping a bit changes the recomposed value: the copy to the checked cell fails.
    let mut flipped = layout.clone();
    flipped.set_value(cell(0), Val::Int(1 - v0));
    assert!(mock_verify(&flipped).is_err());
}

/// Folded over two coefficient columns (a shorter stride): exact and fully constrained too.
#[test]
fn two_fold_columns() {
    let p = unary(Op::Relu, &[6], 0, 10);
    let shape = CircuitParams {
        fold: 2,
        ..folded_params()
    };
    let layout = honest_with(&p, &[tensor(&[6], &[-512, -3, 0, 1, 77, 511])], shape);
    assert!(unconstrained_cells(&layout).is_empty());
}

/// Sets `cell` and every cell copy-constrained to it (and the public values it is copied to),
/// so that only gates and lookups can reject the forgery.
fn set_with_copies(layout: &mut zkml_circuits::layout::Layout, cell: CellRef, value: Val) {
    let mut group = vec![cell];
    let mut i = 0;
    while i < group.len() {
        let c = group[i];
        for &(a, b) in &layout.copies {
            for (from, to) in [(a, b), (b, a)] {
                if from == c && !group.contains(&to) {
                    group.push(to);
                }
            }
        }
        i += 1;
    }
    for &c in &group {
        layout.set_value(c, value);
        for &(src, k) in &layout.instance_copies.clone() {
            if src == c {
                layout.instance[k] = value;
            }
        }
    }
}

/// ReLU rows: a claimed sign opposite to the value's is rejected even when the output, its
/// public copy, and the limbs are forged to satisfy the sign equation in the field: the limbs
/// then leave their ranges. Plain single-cell changes of the sign bit are rejected too.
#[test]
fn relu_rows_reject_a_forged_sign() {
    use halo2_proofs::halo2curves::bn256::Fr;
    use zkml_circuits::layout::Gate;

    let xs = [-5i64, 7, -300, 511, -512, 1];
    let p = unary(Op::Relu, &[xs.len()], 0, 10);
    let layout = check_chip(&p, &[tensor(&[xs.len()], &xs)]);
    let r = layout.params.range_bits;
    let rows: Vec<usize> = (0..layout.gates.len())
        .filter(|&i| layout.gates[i] == Some(Gate::Relu))
        .collect();
    assert!(!rows.is_empty(), "ReLU uses its own rows");
    let mut checked = 0;
    for &row in &rows {
        for g in 0..layout.params.quad_groups() {
            let at = |k: usize| CellRef {
                col: AdviceCol::X(4 * g + k),
                row,
            };
            let Val::Int(v) = layout.cell_value(at(0)) else {
                panic!("integer")
            };
            if v == 0 {
                continue;
            }
            // The opposite sign: out = v when v < 0, out = 0 when v > 0.
            let b = i128::from(v < 0);
            let out = CellRef {
                col: AdviceCol::Z(g),
                row,
            };
            // lo + 2^R hi = (2b - 1) v in the field, with lo = 0: hi = (2b - 1) v / 2^R, and
            // (2b - 1) v = -|v| is a field element near the modulus.
            let t = -Fr::from(v.unsigned_abs() as u64);
            let hi = t * Fr::from(1u64 << r).invert().unwrap();
            let mut forged = layout.clone();
            set_with_copies(&mut forged, at(1), Val::Int(b));
            set_with_copies(&mut forged, at(2), Val::Int(0));
            set_with_copies(&mut forged, at(3), Val::Field(hi));
            set_with_copies(&mut forged, out, Val::Int(b * v));
            let err = mock_verify(&forged).expect_err("a forged ReLU sign was accepted");
            assert!(err.contains("range") || err.contains("lookup"), "{err}");
            // Only the sign bit changed: the sign equation fails.
            let mut flipped = layout.clone();
            flipped.set_value(at(1), Val::Int(b));
            assert!(mock_verify(&flipped).is_err());
            checked += 1;
        }
    }
    assert_eq!(checked, xs.len());
}

/// A rescale whose result a ReLU (or a clip from 0) reads: the ReLU rows and the clip's upper
/// side are exact at the edges of the value range, with and without the high limbs of the
/// magnitude (`B - 1` bits against `R`) and of the remainder (the shift against `R`).
fn rescale_relu_program() -> (Program, Vec<zkml_ir::Tensor>) {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![7], 0).unwrap();
    let y = b.input("y", vec![7], 0).unwrap();
    let two = b.constant("two", vec![1], 0, vec![2]).unwrap();
    let xy = b.push("xy", Op::Mul, &[x, y]).unwrap();
    let q8 = b.push("q8", Op::Rescale { shift: 8 }, &[xy]).unwrap();
    let relu = b.push("relu", Op::Relu, &[q8]).unwrap();
    let x2 = b.push("x2", Op::Mul, &[x, two]).unwrap();
    let q1 = b.push("q1", Op::Rescale { shift: 1 }, &[x2]).unwrap();
    let relu6 = b
        .push(
            "relu6",
            Op::Clip {
                min: Some(0),
                max: Some(100),
            },
            &[q1],
        )
        .unwrap();
    for n in [relu, q1, relu6] {
        b.output(n, "o");
    }
    // Seven elements: rows of two groups (sixteen lanes) end half empty.
    let inputs = vec![
        tensor(&[7], &[-128, 127, -1, 0, 1, 64, -64]),
        tensor(&[7], &[127, 127, 1, -128, -128, 2, 3]),
    ];
    (b.finish().unwrap(), inputs)
}

#[test]
fn rescale_and_relu_share_a_group() {
    use zkml_circuits::layout::Gate;

    let (p, inputs) = rescale_relu_program();
    let layout = check_chip(&p, &inputs);
    let fused = |l: &zkml_circuits::layout::Layout| {
        l.gates
            .iter()
            .filter(|g| **g == Some(Gate::RescaleRelu))
            .count()
    };
    assert!(fused(&layout) > 0, "the rescales take their ReLU's rows");
    // A range table wide enough for the magnitude (its high limb is not used), and two groups
    // per row (the last row's second group unused).
    for shape in [
        CircuitParams {
            range_bits: 8,
            ..params()
        },
        CircuitParams {
            lanes: 16,
            ..params()
        },
    ] {
        let layout = honest_with(&p, &inputs, shape);
        assert!(fused(&layout) > 0);
        let loose = unconstrained_cells(&layout);
        assert!(loose.is_empty(), "unconstrained cells: {loose:?}");
    }
}

/// The fused rows: a quotient's sign claimed opposite to its value is rejected even when the
/// magnitude's limbs and the ReLU are forged to satisfy the sign equation in the field (the
/// limbs leave their ranges), and so is a flipped sign bit alone.
#[test]
fn rescale_relu_rows_reject_a_forged_sign() {
    use halo2_proofs::halo2curves::bn256::Fr;
    use zkml_circuits::layout::Gate;

    // The ReLU is an output only: forging it breaks no other gate.
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![8], 0).unwrap();
    let y = b.input("y", vec![8], 0).unwrap();
    let xy = b.push("xy", Op::Mul, &[x, y]).unwrap();
    let q = b.push("q", Op::Rescale { shift: 8 }, &[xy]).unwrap();
    let relu = b.push("relu", Op::Relu, &[q]).unwrap();
    b.output(relu, "relu");
    let p = b.finish().unwrap();
    let inputs = [
        tensor(&[8], &[-128, 127, -1, 0, 1, 64, -64, 100]),
        tensor(&[8], &[127, 127, 1, -128, -128, 2, 3, -2]),
    ];
    let layout = honest(&p, &inputs);
    let r = layout.params.range_bits;
    let mut checked = 0;
    for row in (0..layout.gates.len()).filter(|&i| layout.gates[i] == Some(Gate::RescaleRelu)) {
        for g in 0..layout.params.septet_groups() {
            let at = |k: usize| CellRef {
                col: AdviceCol::X(7 * g + k),
                row,
            };
            let Some(Val::Int(q)) = layout.advice[at(1).col.index(&layout.params)].get(row) else {
                continue;
            };
            // The other sign: q = t when n = 0, q = -t - 1 when n = 1, so t is negative.
            let n = i128::from(q >= 0);
            let t = if n == 1 { -q - 1 } else { q };
            let t = -Fr::from(t.unsigned_abs() as u64);
            let hi = t * Fr::from(1u64 << r).invert().unwrap();
            let out = CellRef {
                col: AdviceCol::Z(g),
                row,
            };
            let mut forged = layout.clone();
            set_with_copies(&mut forged, at(2), Val::Int(n));
            set_with_copies(&mut forged, at(3), Val::Int(0));
            set_with_copies(&mut forged, at(4), Val::Field(hi));
            set_with_copies(&mut forged, out, Val::Field(Fr::from((1 - n) as u64) * t));
            let err = mock_verify(&forged).expect_err("a forged quotient sign was accepted");
            assert!(err.contains("range") || err.contains("lookup"), "{err}");
            let mut flipped = layout.clone();
            flipped.set_value(at(2), Val::Int(n));
            assert!(mock_verify(&flipped).is_err());
            checked += 1;
        }
    }
    assert_eq!(checked, 8, "every rescaled element was forged");
}

/// Linear rows: in unfolded circuits the weight columns hold every weight plus
/// [`WEIGHT_BIAS`], and a lane the row does not use is written as the bias alone. A value in
/// such a lane then adds nothing, and a result forged by what that lane would add at weight
/// `-WEIGHT_BIAS` (an unused weight cell left at 0) is rejected; folded circuits hold weights
/// unshifted and reject it too.
#[test]
fn unused_lanes_of_a_linear_row_add_nothing() {
    use halo2_proofs::halo2curves::bn256::Fr;
    use zkml_circuits::config::WEIGHT_BIAS;
    use zkml_circuits::layout::{Gate, Layout};

    // A 1x3 by 3x2 product: 3 of the 8 lanes and 2 of the 4 results of one row.
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![1, 3], 0).unwrap();
    let w = b
        .constant("w", vec![3, 2], 0, vec![-3, 2, 5, -1, 0, 4])
        .unwrap();
    let mm = b.push("mm", Op::MatMul, &[x, w]).unwrap();
    b.output(mm, "y");
    let p = b.finish().unwrap();
    let inputs = [tensor(&[1, 3], &[7, -2, 5])];
    for layout in [
        honest(&p, &inputs),
        honest_with(&p, &inputs, folded_params()),
    ] {
        let row = (0..layout.gates.len())
            .find(|&r| layout.gates[r] == Some(Gate::LinFirst))
            .expect("a linear row");
        let lane = (0..layout.params.lanes)
            .find(|&i| {
                let col = &layout.advice[layout.column_index(AdviceCol::X(i))];
                col.get(row).is_none()
            })
            .expect("an unused lane");
        let with_lane = |v: i128| -> Layout {
            let mut l = layout.clone();
            let idx = l.column_index(AdviceCol::X(lane));
            l.advice[idx].set(row, Val::Int(v));
            l
        };
        mock_verify(&with_lane(9)).expect("an unused lane holds weight 0");
        let result = CellRef {
            col: AdviceCol::Z(0),
            row,
        };
        let Val::Int(z) = layout.cell_value(result) else {
            panic!("an integer result")
        };
        for v in [1i128, -1, 9] {
            let mut forged = with_lane(v);
            let shifted = zkml_circuits::field(z) - Fr::from(WEIGHT_BIAS) * zkml_circuits::field(v);
            set_with_copies(&mut forged, result, Val::Field(shifted));
            assert!(
                mock_verify(&forged).is_err(),
                "a result shifted through an unused lane was accepted"
            );
        }
    }
}

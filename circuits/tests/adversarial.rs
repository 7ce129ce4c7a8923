//! Adversarial witnesses: for every op, complete witnesses for wrong results, built the way a
//! prover running a plausible wrong evaluator would build them, are rejected.
//!
//! An [`Adversary`] replaces one value the witness generator chooses (see
//! `zkml_circuits::layout::adversary`): a quotient off by one (the other rounding, the other
//! tie-break), a decision bit for the other branch, a wrapped negative, a value just outside
//! its range, another entry of a table, another one-hot position, a result off by one or
//! negated. Everything that depends on the replaced value (remainders, limbs, differences,
//! selected operands, every later node and the public outputs) is derived from it as the honest
//! generator derives it from the right value, so one departure changes many cells at once, and
//! values a wrong evaluator makes negative wrap to `p - x` in the field. Every such witness must
//! fail the mock prover, unless it changes no tensor value at all (either decision on a tie).

mod common;

use std::collections::BTreeMap;

use common::{folded_params, params, tensor};
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{adversarial_layout, mock_verify, Adversary, Choice, Site};
use zkml_circuits::{build, CircuitParams, ParamVisibility, VisibilityConfig};
use zkml_ir::op::{ConvSpec, ConvTransposeSpec, PoolSpec, ReduceSpec, SliceRange};
use zkml_ir::{
    evaluate, CompareOp, InputDomain, LookupTable, Op, PadMode, PadSpec, Program, ProgramBuilder,
    TableFunction, Tensor, Trace,
};

/// How a batch of attacks on one program went.
#[derive(Debug, Default)]
struct Outcome {
    /// Wrong witnesses rejected.
    rejected: usize,
    /// Departures that changed no tensor value, accepted (ties).
    benign: usize,
    /// Ops (by name) with at least one rejected wrong witness.
    ops: Vec<&'static str>,
}

/// Values a wrong evaluator might produce at `site`, whose honest value is `honest`.
fn wrong_values(program: &Program, site: Site, honest: i128) -> Vec<i128> {
    let node = &program.nodes[site.node];
    let limit = 1i128 << (program.value_bits - 1);
    let mut out = match site.choice {
        // An input is the prover's to choose: only values outside its domain are wrong.
        Choice::Value => match &node.op {
            Op::Input { domain, .. } => match domain.interval() {
                Some((lo, hi)) => vec![i128::from(lo) - 1, i128::from(hi) + 1],
                None => vec![-limit - 1, limit, limit + (1 << 40)],
            },
            _ => vec![1 << 40, -(1 << 40)],
        },
        Choice::Quotient => vec![
            honest + 1,
            honest - 1,
            honest + 2 * limit,
            honest - 2 * limit,
        ],
        Choice::Decision => vec![1 - honest, 2, -1],
        Choice::Result => vec![honest + 1, honest - 1, -honest, honest + (1 << 40)],
        Choice::TableOutput => {
            let entries = table_entries(program, site.node);
            let other = |it: &mut dyn Iterator<Item = &i64>| {
                it.map(|&v| i128::from(v)).find(|&v| v != honest)
            };
            let mut v = vec![honest + 1];
            v.extend(other(&mut entries.iter()));
            v.extend(other(&mut entries.iter().rev()));
            v
        }
        Choice::Position => vec![honest + 1, honest - 1, -1],
    };
    out.retain(|&v| v != honest);
    out.sort_unstable();
    out.dedup();
    out
}

/// The entries of the table a lookup or a constant-data `Take` reads.
fn table_entries(program: &Program, node: usize) -> Vec<i64> {
    let n = &program.nodes[node];
    match &n.op {
        Op::Lookup { table } => program.tables[*table].values.clone(),
        Op::Take { .. } => match &program.nodes[n.inputs[0]].op {
            Op::Const { values, .. } => values.clone(),
            other => panic!("gathered data is not constant: {other:?}"),
        },
        other => panic!("{other:?} makes no table choice"),
    }
}

/// Attacks every choice of `program` (its first, middle and last occurrence per node and
/// role) with every wrong value, in the shape `shape`.
fn attack(
    program: &Program,
    inputs: &[Tensor],
    shape: CircuitParams,
    visibility: VisibilityConfig,
) -> Outcome {
    let trace = evaluate(program, inputs).expect("reference evaluation");
    let honest = build(program, Some(&trace), shape, visibility).expect("layout");
    let k = minimal_k(&honest);

    // The honest generator through the hook: accepted, with the evaluator's values.
    let probe = lay_out(program, &trace, shape, visibility, Adversary::honest(), k);
    mock_verify(&probe).expect("the honest witness is accepted");
    let report = probe.adversary_report().expect("built with an adversary");
    assert!(report.departures.is_empty());
    assert_eq!(
        report.values,
        trace_values(&trace),
        "the hook sees the evaluator's values"
    );
    assert_eq!(probe.main_rows, honest.main_rows);

    let mut groups: BTreeMap<(usize, Choice), Vec<(Site, i128)>> = BTreeMap::new();
    for &(site, value) in &report.sites {
        groups
            .entry((site.node, site.choice))
            .or_default()
            .push((site, value));
    }
    let mut outcome = Outcome::default();
    for ((node, choice), sites) in groups {
        let picks = [0, sites.len() / 2, sites.len() - 1];
        let mut rejected_here = 0;
        for &i in picks.iter().collect::<std::collections::BTreeSet<_>>() {
            let (site, honest_value) = sites[i];
            for wrong in wrong_values(program, site, honest_value) {
                let adversary = Adversary::at(site, move |_| wrong);
                let layout = lay_out(program, &trace, shape, visibility, adversary, k);
                let report = layout.adversary_report().expect("built with an adversary");
                assert_eq!(report.departures, [site], "one departure");
                assert_eq!(
                    layout.main_rows, honest.main_rows,
                    "witnesses never move cells"
                );
                match mock_verify(&layout) {
                    Err(_) => rejected_here += 1,
                    Ok(()) => {
                        // Accepted: only a witness whose every tensor value is right may be.
                        let values = trace_values(&trace);
                        if let Some(n) = (0..values.len()).find(|&n| report.values[n] != values[n])
                        {
                            panic!(
                                "a wrong witness was accepted (fold {}): {site:?} (node {:?}, \
                                 {}) set to {wrong} instead of {honest_value}; node {n} ({}) \
                                 became {:?} instead of {:?}",
                                shape.fold,
                                program.nodes[node].name,
                                program.nodes[node].op.name(),
                                program.nodes[n].name,
                                report.values[n],
                                values[n]
                            );
                        }
                        outcome.benign += 1;
                    }
                }
            }
        }
        assert!(
            rejected_here > 0 || choice == Choice::Value && !is_input(program, node),
            "no wrong witness at node {node} ({}) {choice:?} was rejected",
            program.nodes[node].name
        );
        if rejected_here > 0 {
            let name = program.nodes[node].op.name();
            if !outcome.ops.contains(&name) {
                outcome.ops.push(name);
            }
        }
        outcome.rejected += rejected_here;
    }
    outcome
}

fn is_input(program: &Program, node: usize) -> bool {
    matches!(program.nodes[node].op, Op::Input { .. })
}

fn lay_out(
    program: &Program,
    trace: &Trace,
    shape: CircuitParams,
    visibility: VisibilityConfig,
    adversary: Adversary,
    k: u32,
) -> zkml_circuits::Layout {
    let mut layout =
        adversarial_layout(program, trace, shape, visibility, adversary).expect("layout");
    layout.params.k = k;
    layout
}

fn trace_values(trace: &Trace) -> Vec<Vec<i128>> {
    trace
        .values
        .iter()
        .map(|t| t.data().iter().map(|&v| i128::from(v)).collect())
        .collect()
}

/// Attacks in the unfolded and the folded shape; returns the ops covered.
fn attack_both(program: &Program, inputs: &[Tensor]) -> Vec<&'static str> {
    let mut ops = Vec::new();
    for shape in [params(), folded_params()] {
        let outcome = attack(program, inputs, shape, VisibilityConfig::default());
        assert!(outcome.rejected > 0);
        ops.extend(outcome.ops);
    }
    ops
}

fn linear_program() -> (Program, Vec<Tensor>) {
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
    b.output(sum, "sum");
    b.output(prod, "prod");
    let inputs = vec![
        tensor(&[2, 3], &[1, -2, 3, -4, 5, -6]),
        tensor(&[2, 3], &[7, 0, -3, 2, 2, -9]),
    ];
    (b.finish().unwrap(), inputs)
}

fn product_program() -> (Program, Vec<Tensor>) {
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
    let wt = b
        .constant("wt", vec![2, 1, 2, 2], 0, vec![1, -2, 3, 0, -1, 2, 2, 1])
        .unwrap();
    let tspec = ConvTransposeSpec {
        strides: vec![2, 2],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![6, 6],
        group: 1,
    };
    let ct = b.push("convT", Op::ConvTranspose(tspec), &[x, wt]).unwrap();
    let pool = PoolSpec {
        kernel: vec![2, 2],
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![2, 2],
    };
    let sp = b.push("sumpool", Op::SumPool(pool), &[x]).unwrap();
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
    for n in [c, ct, sp, mm, rmm] {
        b.output(n, "o");
    }
    let inputs = vec![
        tensor(
            &[1, 2, 3, 3],
            &(0..18).map(|i| (i * 5 % 13) - 6).collect::<Vec<_>>(),
        ),
        tensor(&[2, 4], &[3, -1, 4, 1, -5, 9, -2, 6]),
        tensor(&[4, 2], &[2, 7, -1, 8, 2, -8, 1, 8]),
    ];
    (b.finish().unwrap(), inputs)
}

/// Rescales that round at ties (`x y + 2^(s-1)` a multiple of `2^s`), and a zero shift.
fn rescale_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![6], 0).unwrap();
    let y = b.input("y", vec![6], 0).unwrap();
    let xy = b.push("xy", Op::Mul, &[x, y]).unwrap();
    let r = b.push("rescale", Op::Rescale { shift: 8 }, &[xy]).unwrap();
    let h = b.push("halve", Op::Rescale { shift: 1 }, &[x]).unwrap();
    let z = b.push("check", Op::Rescale { shift: 0 }, &[x]).unwrap();
    // Rescales that a ReLU reads take one group with it: the quotient's sign is attacked too.
    let r4 = b.push("rescale4", Op::Rescale { shift: 4 }, &[x]).unwrap();
    let relu = b.push("relu", Op::Relu, &[r4]).unwrap();
    let relu6 = b
        .push(
            "relu6",
            Op::Clip {
                min: Some(0),
                max: Some(40),
            },
            &[r],
        )
        .unwrap();
    for n in [r, h, z, relu, relu6] {
        b.output(n, "o");
    }
    // 128 / 256 and -128 / 256 are ties; so are 3 / 2 and -5 / 2.
    let inputs = vec![
        tensor(&[6], &[16, -16, 127, -128, 3, -5]),
        tensor(&[6], &[8, 8, 127, -128, 128 - 1, -77]),
    ];
    (b.finish().unwrap(), inputs)
}

fn division_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(10).unwrap();
    let a = b.input("a", vec![4], 0).unwrap();
    let d = b
        .input_in("d", vec![4], 0, InputDomain::Integer { lo: 1, hi: 300 })
        .unwrap();
    let q = b.push("div", Op::Div { shift: 2 }, &[a, d]).unwrap();
    let s = b.push("sqrt", Op::Sqrt { shift: 2 }, &[d]).unwrap();
    b.output(q, "q");
    b.output(s, "s");
    // 6 * 4 / 16 = 1.5: a tie; 3 * 4 / 8 = 1.5 too.
    let inputs = vec![
        tensor(&[4], &[6, 3, -50, 0]),
        tensor(&[4], &[16, 8, 3, 300]),
    ];
    (b.finish().unwrap(), inputs)
}

fn selection_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 4], 0).unwrap();
    let y = b.input("y", vec![2, 4], 0).unwrap();
    let relu = b.push("relu", Op::Relu, &[x]).unwrap();
    let abs = b.push("abs", Op::Abs, &[x]).unwrap();
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
    let max = b.push("max", Op::Max, &[x, y]).unwrap();
    let min = b.push("min", Op::Min, &[x, y]).unwrap();
    let rmax = b
        .push(
            "reducemax",
            Op::ReduceMax(ReduceSpec {
                axes: vec![1],
                keepdims: false,
            }),
            &[x],
        )
        .unwrap();
    let x4 = b
        .push(
            "x4",
            Op::Reshape {
                shape: vec![1, 1, 2, 4],
            },
            &[x],
        )
        .unwrap();
    let pool = PoolSpec {
        kernel: vec![2, 2],
        strides: vec![1, 2],
        dilations: vec![1, 1],
        pads_begin: vec![0, 0],
        output_spatial: vec![1, 2],
    };
    let mp = b.push("maxpool", Op::MaxPool(pool), &[x4]).unwrap();
    let argmax = |last| Op::ArgMax {
        axis: 1,
        keepdims: false,
        select_last_index: last,
    };
    let first = b.push("argmax_first", argmax(false), &[x]).unwrap();
    let last = b.push("argmax_last", argmax(true), &[x]).unwrap();
    for n in [relu, abs, clip, max, min, rmax, mp, first, last] {
        b.output(n, "o");
    }
    // Ties everywhere: equal operands, repeated maxima, zero.
    let inputs = vec![
        tensor(&[2, 4], &[3, 9, 0, 9, -5, -5, -7, 4]),
        tensor(&[2, 4], &[3, -1, 0, 10, -5, 2, -7, -128]),
    ];
    (b.finish().unwrap(), inputs)
}

fn lookup_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![5], 4).unwrap();
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
    b.output(y, "y");
    let inputs = vec![tensor(&[5], &[-100, -40, 0, 17, 40])];
    (b.finish().unwrap(), inputs)
}

fn compare_where_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![4], 0).unwrap();
    let y = b.input("y", vec![4], 0).unwrap();
    let cond = b.input_in("cond", vec![4], 0, InputDomain::Bool).unwrap();
    let mut outs = Vec::new();
    for (name, cmp) in [
        ("eq", CompareOp::Eq),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
    ] {
        outs.push(b.push(name, Op::Compare(cmp), &[x, y]).unwrap());
    }
    let gt = outs[3];
    outs.push(b.push("where", Op::Where, &[cond, x, y]).unwrap());
    outs.push(b.push("where_cmp", Op::Where, &[gt, y, x]).unwrap());
    for n in outs {
        b.output(n, "o");
    }
    let inputs = vec![
        tensor(&[4], &[3, -2, 7, 0]),
        tensor(&[4], &[3, 5, -1, 0]),
        tensor(&[4], &[1, 0, 0, 1]),
    ];
    (b.finish().unwrap(), inputs)
}

/// `Take` from constant data (a table) and from runtime data (one-hot vectors).
fn take_program() -> (Program, Vec<Tensor>) {
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
    b.output(e, "e");
    b.output(d, "d");
    let inputs = vec![
        tensor(&[3], &[0, 3, 1]),
        tensor(&[4, 2], &[1, -2, 3, -4, 5, -6, 7, -8]),
    ];
    (b.finish().unwrap(), inputs)
}

/// Data movement makes no choices: its outputs are its inputs' cells. A wrong value can only
/// come from the op that made it, which is attacked in its own program; here the ReLU after
/// each movement is attacked on the moved cells.
fn movement_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![2, 3], 0).unwrap();
    let r = b
        .push("reshape", Op::Reshape { shape: vec![3, 2] }, &[x])
        .unwrap();
    let t = b
        .push("transpose", Op::Transpose { perm: vec![1, 0] }, &[r])
        .unwrap();
    let range = |start, end| SliceRange {
        start,
        end,
        step: 1,
    };
    let s = b
        .push(
            "slice",
            Op::Slice {
                ranges: vec![range(0, 2), range(1, 3)],
            },
            &[t],
        )
        .unwrap();
    let c = b.push("concat", Op::Concat { axis: 1 }, &[s, t]).unwrap();
    let g = b
        .push(
            "gather",
            Op::Gather {
                axis: 1,
                indices: vec![4, 0],
                indices_shape: vec![2],
            },
            &[c],
        )
        .unwrap();
    let p = b
        .push(
            "pad",
            Op::Pad(PadSpec {
                begin: vec![1, 0],
                end: vec![0, 1],
                mode: PadMode::Constant(9),
            }),
            &[g],
        )
        .unwrap();
    let tl = b
        .push(
            "tile",
            Op::Tile {
                repeats: vec![1, 2],
            },
            &[p],
        )
        .unwrap();
    let e = b
        .push(
            "expand",
            Op::Expand {
                shape: vec![2, 3, 6],
            },
            &[tl],
        )
        .unwrap();
    let relu = b.push("relu", Op::Relu, &[e]).unwrap();
    b.output(relu, "r");
    let inputs = vec![tensor(&[2, 3], &[1, -2, 3, -4, 5, -6])];
    (b.finish().unwrap(), inputs)
}

#[test]
fn wrong_linear_results_are_rejected() {
    let (p, inputs) = linear_program();
    let ops = attack_both(&p, &inputs);
    for op in ["Add", "Sub", "Neg", "Mul", "ReduceSum"] {
        assert!(ops.contains(&op), "{op} attacked: {ops:?}");
    }
}

#[test]
fn wrong_products_are_rejected() {
    let (p, inputs) = product_program();
    let ops = attack_both(&p, &inputs);
    for op in ["Conv", "ConvTranspose", "SumPool", "MatMul"] {
        assert!(ops.contains(&op), "{op} attacked: {ops:?}");
    }
}

/// Products large enough for Freivalds' test: fixed weights, and two runtime operands.
fn freivalds_program() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![4, 24], 0).unwrap();
    let w: Vec<i64> = (0..24 * 16).map(|i| (i * 7 % 23) - 11).collect();
    let wc = b.constant("w", vec![24, 16], 0, w).unwrap();
    let mm = b.push("dense", Op::MatMul, &[x, wc]).unwrap();
    let q = b.input("q", vec![16, 8], 0).unwrap();
    let k = b.input("k", vec![8, 16], 0).unwrap();
    let scores = b.push("scores", Op::MatMul, &[q, k]).unwrap();
    b.output(mm, "y");
    b.output(scores, "s");
    let data = |n: usize, a: usize, m: usize| -> Vec<i64> {
        (0..n)
            .map(|i| ((i * a) % m) as i64 - (m / 2) as i64)
            .collect()
    };
    let inputs = vec![
        tensor(&[4, 24], &data(96, 5, 17)),
        tensor(&[16, 8], &data(128, 3, 13)),
        tensor(&[8, 16], &data(128, 11, 15)),
    ];
    (b.finish().unwrap(), inputs)
}

#[test]
fn wrong_products_checked_by_freivalds_are_rejected() {
    let (p, inputs) = freivalds_program();
    let shape = CircuitParams {
        freivalds: true,
        ..params()
    };
    let trace = evaluate(&p, &inputs).unwrap();
    let layout = build(&p, Some(&trace), shape, VisibilityConfig::default()).unwrap();
    assert!(
        layout.uses_freivalds(),
        "the products are checked by Freivalds' test"
    );
    let outcome = attack(&p, &inputs, shape, VisibilityConfig::default());
    assert!(outcome.ops.contains(&"MatMul"), "{outcome:?}");
}

#[test]
fn wrong_roundings_are_rejected() {
    let (p, inputs) = rescale_program();
    let ops = attack_both(&p, &inputs);
    assert!(ops.contains(&"Rescale"));
}

#[test]
fn wrong_quotients_and_roots_are_rejected() {
    let (p, inputs) = division_program();
    let ops = attack_both(&p, &inputs);
    for op in ["Div", "Sqrt"] {
        assert!(ops.contains(&op), "{op} attacked: {ops:?}");
    }
}

#[test]
fn wrong_selections_are_rejected_and_ties_change_nothing() {
    let (p, inputs) = selection_program();
    let mut benign = 0;
    for shape in [params(), folded_params()] {
        let outcome = attack(&p, &inputs, shape, VisibilityConfig::default());
        for op in [
            "Relu",
            "Abs",
            "Clip",
            "Max",
            "Min",
            "ReduceMax",
            "MaxPool",
            "ArgMax",
        ] {
            assert!(outcome.ops.contains(&op), "{op} attacked: {outcome:?}");
        }
        benign += outcome.benign;
    }
    // Max, min and ReLU may decide a tie either way, with the same result.
    assert!(benign > 0, "the ties in the input were attacked");
}

#[test]
fn wrong_table_entries_are_rejected() {
    let (p, inputs) = lookup_program();
    let ops = attack_both(&p, &inputs);
    assert!(ops.contains(&"Lookup"));
}

#[test]
fn wrong_comparisons_and_branches_are_rejected() {
    let (p, inputs) = compare_where_program();
    let ops = attack_both(&p, &inputs);
    for op in [
        "Equal",
        "Less",
        "LessOrEqual",
        "Greater",
        "GreaterOrEqual",
        "Where",
        "Input",
    ] {
        assert!(ops.contains(&op), "{op} attacked: {ops:?}");
    }
}

#[test]
fn wrong_gathers_are_rejected() {
    let (p, inputs) = take_program();
    let ops = attack_both(&p, &inputs);
    assert!(ops.contains(&"Take"));
}

#[test]
fn data_movement_makes_no_choices() {
    let (p, inputs) = movement_program();
    let trace = evaluate(&p, &inputs).unwrap();
    let probe = adversarial_layout(
        &p,
        &trace,
        params(),
        VisibilityConfig::default(),
        Adversary::honest(),
    )
    .unwrap();
    let report = probe.adversary_report().unwrap();
    let choosing: Vec<&str> = report
        .sites
        .iter()
        .map(|(s, _)| p.nodes[s.node].op.name())
        .collect();
    assert!(
        choosing.iter().all(|&op| op == "Input" || op == "Relu"),
        "{choosing:?}"
    );
    let ops = attack_both(&p, &inputs);
    assert!(ops.contains(&"Relu"));
}

#[test]
fn private_parameters_outside_their_envelope_are_rejected() {
    let mut b = ProgramBuilder::new(10).unwrap();
    let x = b.input("x", vec![1, 3], 0).unwrap();
    let w = b
        .parameter("w", vec![3, 2], 0, vec![3, -1, 2, 5, -4, 1])
        .unwrap();
    let y = b.push("dense", Op::MatMul, &[x, w]).unwrap();
    b.output(y, "y");
    let p = b.finish().unwrap();
    let vis = VisibilityConfig {
        params: ParamVisibility::Private,
        ..VisibilityConfig::default()
    };
    let outcome = attack(&p, &[tensor(&[1, 3], &[2, -3, 1])], params(), vis);
    assert!(outcome.ops.contains(&"Const"), "{outcome:?}");
    assert!(outcome.ops.contains(&"MatMul"), "{outcome:?}");
}

/// Mistakes in the circuit's fixed part (a weight, a row constant, a table entry) are not
/// hidden by the witness: with any one of them changed, the honest witness fails. (Weights
/// multiplying a zero operand are skipped: on this witness they change nothing.)
#[test]
fn mistakes_in_fixed_columns_and_tables_are_visible() {
    use zkml_circuits::layout::{AdviceCol, Gate, Val};
    let (p, inputs) = linear_program();
    let trace = evaluate(&p, &inputs).unwrap();
    let mut honest = build(&p, Some(&trace), params(), VisibilityConfig::default()).unwrap();
    honest.params.k = minimal_k(&honest);
    mock_verify(&honest).unwrap();
    let lanes = honest.params.lanes;
    let mut changed = 0;
    for (idx, column) in honest.weights.iter().enumerate() {
        let lane = idx % lanes;
        for (row, w) in column.values().enumerate() {
            let linear = matches!(honest.gates[row], Some(Gate::LinFirst | Gate::LinNext));
            let operand = honest.advice[honest.column_index(AdviceCol::X(lane))].get(row);
            if !linear || w == Val::Int(0) || matches!(operand, None | Some(Val::Int(0))) {
                continue;
            }
            let mut bad = honest.clone();
            bad.weights[idx].set(
                row,
                Val::Int(match w {
                    Val::Int(v) => v + 1,
                    Val::Field(_) => 1,
                }),
            );
            assert!(mock_verify(&bad).is_err(), "weight {idx} row {row} changed");
            changed += 1;
        }
    }
    for (j, column) in honest.constants.iter().enumerate() {
        for (row, c) in column.values().enumerate() {
            if !matches!(honest.gates[row], Some(Gate::LinFirst | Gate::MulFirst)) {
                continue;
            }
            let mut bad = honest.clone();
            bad.constants[j].set(
                row,
                Val::Int(match c {
                    Val::Int(v) => v - 1,
                    Val::Field(_) => 1,
                }),
            );
            assert!(mock_verify(&bad).is_err(), "constant {j} row {row} changed");
            changed += 1;
        }
    }
    assert!(changed > 10, "{changed} fixed values changed");

    let (p, inputs) = lookup_program();
    let trace = evaluate(&p, &inputs).unwrap();
    let mut honest = build(&p, Some(&trace), params(), VisibilityConfig::default()).unwrap();
    honest.params.k = minimal_k(&honest);
    mock_verify(&honest).unwrap();
    let looked_up: Vec<i64> = trace.values[1].data().to_vec();
    for x in looked_up {
        let mut bad = honest.clone();
        let table = &mut bad.tables[0];
        let i = usize::try_from(x - table.lo).unwrap();
        table.values[i] += 1;
        assert!(mock_verify(&bad).is_err(), "table entry for {x} changed");
    }
}

/// `op(x * 0 + big)`: a constant the layout folds (a product with zero) that the program's
/// check of constant nodes does not see as one.
fn folded_constant_program(bits: u32, big: i64, op: Op) -> Program {
    let mut b = ProgramBuilder::new(bits).unwrap();
    let x = b.input("x", vec![2], 0).unwrap();
    let zero = b.constant("zero", vec![], 0, vec![0]).unwrap();
    let z = b.push("z", Op::Mul, &[x, zero]).unwrap();
    let c = b.constant("big", vec![], 0, vec![big]).unwrap();
    let w = b.push("w", Op::Add, &[z, c]).unwrap();
    let y = match op {
        Op::Div { .. } => {
            let one = b.constant("one", vec![], 0, vec![1]).unwrap();
            b.push("y", op, &[w, one]).unwrap()
        }
        _ => b.push("y", op, &[w]).unwrap(),
    };
    b.output(y, "y");
    b.finish().unwrap()
}

/// A rescale, division or square root whose folded constant result lies outside the value
/// range has no valid run: the evaluator rejects every input, and no circuit is laid out for
/// it (a circuit would otherwise prove a fixed output the reference says does not exist).
#[test]
fn folded_constants_outside_the_value_range_are_refused() {
    for (bits, big, op) in [
        (16, 1 << 20, Op::Rescale { shift: 0 }),
        (16, 1 << 20, Op::Rescale { shift: 2 }),
        (16, 1 << 20, Op::Div { shift: 0 }),
        (8, 1 << 20, Op::Sqrt { shift: 0 }),
        (8, -4, Op::Sqrt { shift: 0 }),
    ] {
        let p = folded_constant_program(bits, big, op.clone());
        assert!(evaluate(&p, &[tensor(&[2], &[1, 2])]).is_err(), "{op:?}");
        for shape in [params(), folded_params()] {
            let err = build(&p, None, shape, VisibilityConfig::default())
                .expect_err("no circuit for a program without a valid run");
            assert!(err.to_string().contains("constant"), "{op:?}: {err}");
        }
    }
}

//! Function-table banks: constant data larger than one bank is split into parts that spread
//! over the banks, so a large embedding fits a circuit shorter than its table. Honest witnesses
//! equal the reference evaluator, every cell is constrained, a wrong looked-up value and an
//! index outside its axis are rejected (the split keys must not let an index reach the next
//! slice), and the sizing predicts exactly how the layout fills the banks.

mod common;

use common::{honest_with, params, tampered_outputs_rejected, tensor, widen_domains};
use zkml_circuits::cost::{bank_load, candidates, choose, Objective};
use zkml_circuits::layout::TABLE_PART;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{
    adversarial_layout, mock_verify, unconstrained_cells, Adversary, Choice, Site,
};
use zkml_circuits::{build, CircuitParams, Layout, VisibilityConfig};
use zkml_ir::{evaluate, InputDomain, Op, Program, ProgramBuilder, Tensor};

/// Four banks, two function streams each.
fn banked() -> CircuitParams {
    CircuitParams {
        table_streams: 8,
        table_banks: 4,
        ..params()
    }
}

fn data_value(i: usize) -> i64 {
    (i as i64 * 7919) % 509 - 254
}

/// `Take` along `axis` of constant data shaped `shape` (more than [`TABLE_PART`] entries) by
/// three indices, then a ReLU whose table shares the banks.
fn take_program(shape: &[usize], axis: usize) -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let dim = shape[axis] as i64;
    let numel: usize = shape.iter().product();
    assert!(numel > TABLE_PART);
    let idx = b
        .input_in(
            "idx",
            vec![3],
            0,
            InputDomain::Integer { lo: 0, hi: dim - 1 },
        )
        .unwrap();
    let data = b
        .parameter(
            "table",
            shape.to_vec(),
            0,
            (0..numel).map(data_value).collect(),
        )
        .unwrap();
    let t = b.push("take", Op::Take { axis }, &[data, idx]).unwrap();
    let r = b.push("relu", Op::Relu, &[t]).unwrap();
    b.output(r, "r");
    let p = b.finish().unwrap();
    (p, vec![tensor(&[3], &[0, dim - 1, dim / 2])])
}

const SHAPES: [(&[usize], usize); 3] = [(&[1100, 16], 0), (&[1100, 16], 1), (&[40, 30, 15], 1)];

fn layout_in(program: &Program, inputs: &[Tensor], p: CircuitParams) -> Layout {
    let trace = evaluate(program, inputs).expect("reference evaluation");
    let mut layout = build(program, Some(&trace), p, VisibilityConfig::default()).expect("layout");
    layout.params.k = minimal_k(&layout);
    layout
}

#[test]
fn large_constant_data_spreads_over_the_banks() {
    for (shape, axis) in SHAPES {
        let (p, inputs) = take_program(shape, axis);
        let one = honest_with(&p, &inputs, params());
        let layout = honest_with(&p, &inputs, banked());
        tampered_outputs_rejected(&layout, 12);
        if axis == 0 {
            // Every cell perturbed (one mock proof each: the smallest of the three).
            let loose = unconstrained_cells(&layout);
            assert!(loose.is_empty(), "unconstrained cells: {loose:?}");
        }
        let entries: usize = shape.iter().product();
        assert_eq!(one.tables.len(), 1, "one bank: the data is one table");
        assert!(layout.tables.len() >= 2, "{shape:?}: the data is split");
        assert!(
            layout
                .tables
                .iter()
                .all(|t| t.values.len() <= TABLE_PART.max(shape[axis])),
            "parts hold at most TABLE_PART entries"
        );
        // Every entry is placed once (the ReLU's table besides).
        let placed: usize = layout.bank_rows().iter().sum();
        let relu: usize = one.tables[1..].iter().map(|t| t.values.len()).sum();
        assert_eq!(placed, entries + relu);
        assert!(
            layout.bank_rows().iter().filter(|&&r| r > 0).count() >= 2,
            "the parts spread over the banks: {:?}",
            layout.bank_rows()
        );
        assert!(
            layout.params.k < one.params.k,
            "{shape:?}: banks shorten the circuit ({} against {})",
            layout.params.k,
            one.params.k
        );
        // The sizing's prediction of the banks equals the layout's.
        let stats: Vec<(usize, usize)> = layout
            .tables
            .iter()
            .map(|t| {
                let uses = layout
                    .table_tags
                    .iter()
                    .flatten()
                    .filter(|&&g| g == t.tag)
                    .count();
                (t.values.len(), uses)
            })
            .collect();
        let (fullest, _) = bank_load(&stats, 4);
        assert_eq!(
            fullest,
            1 + layout.bank_rows().into_iter().max().unwrap(),
            "predicted fullest bank"
        );
    }
}

#[test]
fn a_wrong_value_from_a_banked_table_is_rejected() {
    // The witness generator's table outputs replaced: by one more (a single cell, and several
    // cells at once), by a wrapped negative, and by a value the data holds at another key
    // (another element's, in another part).
    let (p, inputs) = take_program(&[1100, 16], 0);
    let trace = evaluate(&p, &inputs).unwrap();
    let take = p.nodes.iter().position(|n| n.name == "take").unwrap();
    let other = trace.values[take].data()[47];
    let site = |index| Site {
        node: take,
        choice: Choice::TableOutput,
        index,
    };
    let attacks: Vec<(&str, Adversary)> = vec![
        ("one more", Adversary::at(site(0), |v| v + 1)),
        (
            "several",
            Adversary::new(move |s, v| {
                if s.node == take && s.choice == Choice::TableOutput && s.index % 5 == 0 {
                    v + 3
                } else {
                    v
                }
            }),
        ),
        ("wrapped", Adversary::at(site(17), |v| v - (1 << 40))),
        (
            "another key's value",
            Adversary::at(site(1), move |_| i128::from(other)),
        ),
    ];
    for (what, adversary) in attacks {
        let mut layout =
            adversarial_layout(&p, &trace, banked(), VisibilityConfig::default(), adversary)
                .expect("layout");
        layout.params.k = minimal_k(&layout);
        let report = layout.adversary_report().unwrap();
        assert!(
            !report.departures.is_empty(),
            "{what}: the adversary departed"
        );
        assert!(mock_verify(&layout).is_err(), "{what}: accepted");
    }
}

#[test]
fn an_index_outside_its_axis_cannot_read_the_next_slice() {
    // Index `dim` would read, in a part keyed `dim * slice + index`, the first entry of the
    // next slice. A wrong evaluator's trace that does so for every slice with a next one in
    // its part must fail: the last part's last slice has no entry for it.
    for (shape, axis) in SHAPES {
        let (p, inputs) = take_program(shape, axis);
        let wide = widen_domains(&p);
        let dim = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let outer: usize = shape[..axis].iter().product();
        let data: Vec<i64> = (0..shape.iter().product()).map(data_value).collect();
        let mut trace = evaluate(&wide, &inputs).unwrap();
        let idx = wide.inputs[0];
        let take = wide.nodes.iter().position(|n| n.name == "take").unwrap();
        trace.values[idx] = tensor(&[3], &[dim as i64, 0, 1]);
        let mut out = trace.values[take].data().to_vec();
        // Output [o, position, q] reads slice o * inner + q; index dim reads the next slice's
        // first entry.
        for o in 0..outer {
            for q in 0..inner {
                let next = o * inner + q + 1;
                let at = (o * 3) * inner + q;
                out[at] = if next < outer * inner {
                    data[(next / inner) * dim * inner + next % inner]
                } else {
                    0
                };
            }
        }
        trace.values[take] = tensor(trace.values[take].shape(), &out);
        let relu = wide.outputs[0];
        trace.values[relu] = tensor(
            trace.values[relu].shape(),
            &out.iter().map(|&v| v.max(0)).collect::<Vec<_>>(),
        );
        let mut layout =
            build(&wide, Some(&trace), banked(), VisibilityConfig::default()).expect("layout");
        layout.params.k = minimal_k(&layout);
        assert!(
            mock_verify(&layout).is_err(),
            "{shape:?} axis {axis}: index {dim} accepted"
        );
    }
}

#[test]
fn the_sizing_takes_banks_where_the_tables_set_k() {
    let (p, inputs) = take_program(&[2048, 32], 0);
    let vis = VisibilityConfig::default();
    let chosen = choose(&p, vis).unwrap();
    let one_bank = candidates(&p, vis, Objective::Proving)
        .unwrap()
        .into_iter()
        .filter(|c| c.params.banks() == 1)
        .map(|c| c.params.k)
        .min()
        .unwrap();
    assert!(chosen.banks() > 1, "{chosen:?}");
    assert!(chosen.k < one_bank, "{} against {one_bank}", chosen.k);
    chosen.validate().unwrap();
    let layout = layout_in(&p, &inputs, chosen);
    assert!(
        layout.params.k <= chosen.k,
        "the sizing's k holds the layout"
    );
    mock_verify(&layout).expect("honest witness accepted");
}

#[test]
fn banks_need_streams_for_each_and_an_unfolded_circuit() {
    let p = banked();
    p.validate().unwrap();
    for bad in [
        CircuitParams {
            table_streams: 6,
            ..p
        },
        CircuitParams {
            table_streams: 0,
            ..p
        },
        CircuitParams {
            range_streams: 0,
            degree: 5,
            fold: 1,
            ..p
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    // One bank serializes as before banks existed.
    let json = serde_json::to_string(&params()).unwrap();
    assert!(!json.contains("bank"), "{json}");
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<CircuitParams>(&json).unwrap(), p);
}

//! Link commitments between the segments of a cut program: the public value is exactly the
//! blinded Poseidon commitment computed natively, the two sides of a cut commit alike, no cell
//! is unconstrained, a changed commitment or blinding value is rejected or differs, and a
//! consumer that changes several of the values it takes while keeping their packed commitment
//! (a carry between neighbouring values) is rejected by the bounds it checks them against.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use zkml_circuits::poseidon::commit_values;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::{
    adversarial_segment_layout, mock_verify, mock_verify_with_instance, unconstrained_cells,
    Adversary, Choice,
};
use zkml_circuits::visibility::{public_parts, PublicPart};
use zkml_circuits::{
    build_segment, Blinding, CircuitParams, Layout, ParamVisibility, Visibility, VisibilityConfig,
};
use zkml_ir::segment::{split, Segment};
use zkml_ir::{evaluate, InputDomain, Op, ParamBounds, Program, ProgramBuilder, Tensor, Trace};

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

/// Two dense layers; the first rescales by `shift` (6 keeps its values well inside the 8-bit
/// range, 4 lets them fill it).
fn two_layers(shift: u32) -> Program {
    let mut b = ProgramBuilder::new(8).unwrap();
    let x = b.input("x", vec![1, 3], 4).unwrap();
    let w = b
        .parameter(
            "w",
            vec![3, 4],
            4,
            vec![5, -16, 7, 0, -9, 12, 3, 3, 1, 2, -8, 4],
        )
        .unwrap();
    let bias = b.parameter("b", vec![4], 8, vec![-40, 100, 0, 7]).unwrap();
    let mm = b.push("mm", Op::MatMul, &[x, w, bias]).unwrap();
    let r = b.push("rescale", Op::Rescale { shift }, &[mm]).unwrap();
    let h = b.push("relu", Op::Relu, &[r]).unwrap();
    let w2 = b
        .parameter("w2", vec![4, 2], 4, vec![3, -2, 1, 5, -7, 2, 4, 4])
        .unwrap();
    let mm2 = b.push("mm2", Op::MatMul, &[h, w2]).unwrap();
    let y = b
        .push("rescale2", Op::Rescale { shift: 4 }, &[mm2])
        .unwrap();
    b.output(y, "y");
    b.finish().unwrap()
}

fn input() -> Vec<Tensor> {
    vec![Tensor::new(vec![1, 3], vec![17, -128, 127]).unwrap()]
}

/// The program cut after the ReLU, and the whole trace.
fn cut(shift: u32) -> (Vec<Segment>, Trace) {
    let p = two_layers(shift);
    let at = p.nodes.iter().position(|n| n.name == "w2").unwrap();
    let bounds = p.bounds_with(ParamBounds::Exact).unwrap();
    let segments = split(&p, &[at], &bounds).unwrap();
    let trace = evaluate(&p, &input()).unwrap();
    (segments, trace)
}

fn vis(i: usize) -> VisibilityConfig {
    VisibilityConfig {
        inputs: if i == 0 {
            Visibility::Public
        } else {
            Visibility::Linked
        },
        outputs: if i == 0 {
            Visibility::Linked
        } else {
            Visibility::Public
        },
        params: ParamVisibility::Fixed,
    }
}

fn lay_out(s: &Segment, i: usize, inputs: &[Tensor], blinding: Blinding) -> (Layout, Trace) {
    let trace = evaluate(&s.program, inputs).unwrap();
    let mut layout = build_segment(&s.program, Some(&trace), params(), vis(i), blinding).unwrap();
    layout.params.k = minimal_k(&layout);
    (layout, trace)
}

fn instance(layout: &Layout) -> Vec<Fr> {
    layout.instance.iter().map(|v| v.to_field()).collect()
}

/// The linked values of a segment's `part` with their envelope bits.
fn linked(program: &Program, trace: &Trace, i: usize) -> Vec<(i128, u32)> {
    public_parts(program, vis(i))
        .unwrap()
        .into_iter()
        .find_map(|p| match p {
            PublicPart::Link { tensors, .. } => Some(
                tensors
                    .iter()
                    .flat_map(|t| {
                        trace.values[t.node]
                            .data()
                            .iter()
                            .map(move |&v| (i128::from(v), t.bits))
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap()
}

#[test]
fn both_sides_of_a_cut_commit_alike_and_bind() {
    for shift in [4, 6] {
        let (segments, whole) = cut(shift);
        let key = Fr::from(0x5eed_u64) * Fr::from(u64::MAX);
        let given = |i: usize| -> Vec<Tensor> {
            segments[i]
                .inputs
                .iter()
                .map(|&j| whole.values[j].clone())
                .collect()
        };
        let (first, t0) = lay_out(
            &segments[0],
            0,
            &given(0),
            Blinding {
                inputs: Fr::ZERO,
                outputs: key,
            },
        );
        let (second, t1) = lay_out(
            &segments[1],
            1,
            &given(1),
            Blinding {
                inputs: key,
                outputs: Fr::ZERO,
            },
        );
        mock_verify(&first).unwrap();
        mock_verify(&second).unwrap();
        let passed = *instance(&first).last().unwrap();
        let taken = instance(&second)[0];
        assert_eq!(passed, taken, "shift {shift}: the link");
        let native = commit_values(key, &linked(&segments[1].program, &t1, 1)).unwrap();
        assert_eq!(taken, native, "shift {shift}: the native commitment");
        assert_eq!(
            commit_values(key, &linked(&segments[0].program, &t0, 0)).unwrap(),
            native
        );
        // The blinding value changes the commitment; the circuit accepts no other public value.
        let (other, _) = lay_out(
            &segments[1],
            1,
            &given(1),
            Blinding {
                inputs: key + Fr::ONE,
                outputs: Fr::ZERO,
            },
        );
        assert_ne!(
            instance(&other)[0],
            taken,
            "shift {shift}: blinding ignored"
        );
        for layout in [&first, &second] {
            let honest = instance(layout);
            for k in 0..honest.len() {
                let mut bad = honest.clone();
                bad[k] += Fr::ONE;
                assert!(
                    mock_verify_with_instance(layout, bad).is_err(),
                    "shift {shift}: instance {k}"
                );
            }
            let loose = unconstrained_cells(layout);
            assert!(
                loose.is_empty(),
                "shift {shift}: unconstrained cells {loose:?}"
            );
        }
    }
}

#[test]
fn bounded_inputs_keep_their_producers_bound() {
    let (segments, _) = cut(6);
    let taken = &segments[1].program.nodes[segments[1].program.inputs[0]];
    let InputDomain::Bounded { bound } = (match taken.op {
        Op::Input { domain, .. } => domain,
        _ => unreachable!(),
    }) else {
        panic!("a computed tensor is handed over as a bounded input");
    };
    assert!(
        bound < 128,
        "the bound {bound} is narrower than the value range"
    );
    let mut wrong = vec![0i64; 4];
    wrong[1] = bound as i64 + 1;
    let e = evaluate(
        &segments[1].program,
        &[Tensor::new(vec![1, 4], wrong).unwrap()],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("domain"), "{e}");
}

#[test]
fn a_carry_between_linked_values_is_rejected() {
    for shift in [4, 6] {
        let (segments, whole) = cut(shift);
        let s = &segments[1];
        let given: Vec<Tensor> = s.inputs.iter().map(|&j| whole.values[j].clone()).collect();
        let trace = evaluate(&s.program, &given).unwrap();
        let bits = linked(&s.program, &trace, 1)[0].1;
        let key = Fr::from(77u64);
        let blinding = Blinding {
            inputs: key,
            outputs: Fr::ZERO,
        };
        let (honest, _) = lay_out(s, 1, &given, blinding);
        let input_node = s.program.inputs[0];
        // Value 0 gains 2^bits and value 1 loses one: the packed element, hence the
        // commitment, is unchanged.
        let attack = Adversary::new(move |site, h| {
            if site.node != input_node || site.choice != Choice::Value {
                return h;
            }
            match site.index {
                0 => h + (1i128 << bits),
                1 => h - 1,
                _ => h,
            }
        });
        let mut layout =
            adversarial_segment_layout(&s.program, &trace, params(), vis(1), blinding, attack)
                .unwrap();
        layout.params.k = honest.params.k.max(minimal_k(&layout));
        assert_eq!(
            instance(&layout)[0],
            instance(&honest)[0],
            "shift {shift}: the carry keeps the commitment"
        );
        assert!(
            mock_verify(&layout).is_err(),
            "shift {shift}: a carry between linked values was accepted"
        );
    }
}

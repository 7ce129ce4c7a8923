//! Products checked by Freivalds' test: honest witnesses accepted with the evaluator's
//! outputs, every cell pinned, and wrong products rejected for every challenge but a
//! negligible few, including coordinated changes that one known challenge would miss.

mod common;

use common::{honest_with, params, tampered_outputs_rejected, tensor};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::{Field, FromUniformBytes};
use zkml_circuits::layout::freivalds::second_phase;
use zkml_circuits::layout::{AdviceCol, CellRef, Gate, Layout, Val};
use zkml_circuits::soundness::{mock_verify, mock_verify_with_instance, unconstrained_cells};
use zkml_circuits::CircuitParams;
use zkml_ir::op::ConvSpec;
use zkml_ir::{Program, ProgramBuilder, Tensor};

fn shape() -> CircuitParams {
    CircuitParams {
        freivalds: true,
        ..params()
    }
}

/// A field element from a counter (independent, uniform challenges for the tests).
fn challenge(seed: u64) -> Fr {
    let hash = blake2b_simd::blake2b(&seed.to_le_bytes());
    let bytes: [u8; 64] = hash.as_bytes().try_into().expect("64 bytes");
    Fr::from_uniform_bytes(&bytes)
}

/// The challenge the mock prover uses (a fixed hash chain), which a test can cheat against.
fn mock_challenge() -> Fr {
    let mut hash: [u8; 64] = blake2b_simd::blake2b(b"Halo2-MockProver")
        .as_bytes()
        .try_into()
        .expect("64 bytes");
    hash = blake2b_simd::blake2b(&hash)
        .as_bytes()
        .try_into()
        .expect("64 bytes");
    Fr::from_uniform_bytes(&hash)
}

/// The accumulators closing the checks under challenge `r` (all zero for a right witness).
fn closing_values(layout: &Layout, r: Fr) -> Vec<Fr> {
    let values = second_phase(layout, Some(r));
    layout
        .phase2_checks
        .iter()
        .map(|c| {
            values
                .iter()
                .find(|(cell, _)| cell == c)
                .and_then(|(_, v)| *v)
                .expect("closing cell has a value")
        })
        .collect()
}

fn uses_checks(layout: &Layout) -> bool {
    layout.gates.contains(&Some(Gate::FdotFirst)) && !layout.phase2_checks.is_empty()
}

/// `x [rows, 24] @ w [24, 16] + b`.
fn weighted_matmul(rows: usize) -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let x = b.input("x", vec![rows, 24], 0).unwrap();
    let w: Vec<i64> = (0..24 * 16).map(|i| (i * 7 % 23) - 11).collect();
    let wc = b.constant("w", vec![24, 16], 0, w).unwrap();
    let bias: Vec<i64> = (0..16).map(|i| i * 3 - 20).collect();
    let bc = b.constant("b", vec![16], 0, bias).unwrap();
    let mm = b.push("mm", zkml_ir::Op::MatMul, &[x, wc, bc]).unwrap();
    b.output(mm, "y");
    let p = b.finish().unwrap();
    let data: Vec<i64> = (0..rows * 24).map(|i| ((i * 5) % 17) as i64 - 8).collect();
    (p, vec![tensor(&[rows, 24], &data)])
}

/// `q [16, 8] @ k [8, 16]`, both runtime (attention scores).
fn runtime_matmul() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(12).unwrap();
    let q = b.input("q", vec![16, 8], 0).unwrap();
    let k = b.input("k", vec![8, 16], 0).unwrap();
    let mm = b.push("scores", zkml_ir::Op::MatMul, &[q, k]).unwrap();
    b.output(mm, "s");
    let p = b.finish().unwrap();
    let qd: Vec<i64> = (0..128).map(|i| ((i * 3) % 13) as i64 - 6).collect();
    let kd: Vec<i64> = (0..128).map(|i| ((i * 11) % 15) as i64 - 7).collect();
    (p, vec![tensor(&[16, 8], &qd), tensor(&[8, 16], &kd)])
}

/// A padded 3x3 convolution, 8 to 16 channels on 6x6.
fn convolution() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new(14).unwrap();
    let x = b.input("x", vec![1, 8, 6, 6], 0).unwrap();
    let w: Vec<i64> = (0..16 * 8 * 9).map(|i| (i * 13 % 9) - 4).collect();
    let wc = b.constant("w", vec![16, 8, 3, 3], 0, w).unwrap();
    let spec = ConvSpec {
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads_begin: vec![1, 1],
        pads_end: vec![1, 1],
        group: 1,
    };
    let conv = b.push("conv", zkml_ir::Op::Conv(spec), &[x, wc]).unwrap();
    b.output(conv, "y");
    let p = b.finish().unwrap();
    let data: Vec<i64> = (0..8 * 36).map(|i| ((i * 7) % 19) as i64 - 9).collect();
    (p, vec![tensor(&[1, 8, 6, 6], &data)])
}

fn outputs(p: &Program) -> usize {
    p.outputs
        .iter()
        .map(|&o| p.nodes[o].shape.iter().product::<usize>())
        .sum()
}

/// The first-phase result cells of the checks (fresh operands of the dot-product rows that
/// are not copies of other cells).
fn result_cells(layout: &Layout) -> Vec<CellRef> {
    let copied: std::collections::HashSet<CellRef> =
        layout.copies.iter().flat_map(|&(a, b)| [a, b]).collect();
    let mut out = Vec::new();
    for (row, g) in layout.gates.iter().enumerate() {
        if matches!(g, Some(Gate::FdotFirst | Gate::FdotNext)) {
            for i in 0..layout.params.lanes {
                let c = CellRef {
                    col: AdviceCol::X(i),
                    row,
                };
                if layout.advice[layout.column_index(c.col)].get(row).is_some()
                    && !copied.contains(&c)
                {
                    out.push(c);
                }
            }
        }
    }
    out
}

#[test]
fn weighted_products_are_checked_and_exact() {
    let (p, inputs) = weighted_matmul(40);
    let layout = honest_with(&p, &inputs, shape());
    assert!(uses_checks(&layout), "a 40-row product is checked");
    tampered_outputs_rejected(&layout, 6);
    for seed in 0..8 {
        assert!(closing_values(&layout, challenge(seed))
            .iter()
            .all(|v| bool::from(v.is_zero())));
    }
    // Fewer rows than the direct layout.
    let direct = honest_with(&p, &inputs, params());
    assert!(
        layout.main_rows < direct.main_rows,
        "{} rows checked, {} direct",
        layout.main_rows,
        direct.main_rows
    );
}

#[test]
fn a_single_row_product_stays_direct() {
    let (p, inputs) = weighted_matmul(1);
    let layout = honest_with(&p, &inputs, shape());
    assert!(!uses_checks(&layout));
    assert!(!layout.uses_freivalds());
}

#[test]
fn runtime_products_are_checked_and_exact() {
    let (p, inputs) = runtime_matmul();
    let layout = honest_with(&p, &inputs, shape());
    assert!(uses_checks(&layout));
    tampered_outputs_rejected(&layout, 8);
}

#[test]
fn convolutions_are_checked_and_exact() {
    let (p, inputs) = convolution();
    let layout = honest_with(&p, &inputs, shape());
    assert!(uses_checks(&layout));
    tampered_outputs_rejected(&layout, outputs(&p).min(6));
}

#[test]
fn every_cell_of_a_checked_product_is_pinned() {
    for (p, inputs) in [weighted_matmul(12), runtime_matmul()] {
        // Small enough to perturb every cell; two result lanes make the checks the cheaper.
        let shape = CircuitParams {
            results: 2,
            ..shape()
        };
        let layout = honest_with(&p, &inputs, shape);
        assert!(uses_checks(&layout));
        let loose = unconstrained_cells(&layout);
        assert!(loose.is_empty(), "unconstrained: {loose:?}");
    }
}

/// A wrong result, with the public output changed to match it, fails the check for every
/// one of many independent challenges, and in the mock prover.
#[test]
fn wrong_products_fail_under_random_challenges() {
    let (p, inputs) = runtime_matmul();
    let layout = honest_with(&p, &inputs, shape());
    let results = result_cells(&layout);
    assert!(results.len() >= 256, "every result is a check operand");
    let tampers: Vec<Vec<(usize, Val)>> = vec![
        vec![(0, Val::Int(1))],
        vec![(3, Val::Int(-1)), (4, Val::Int(1))],
        vec![(17, Val::Field(-Fr::one()))],
        vec![(5, Val::Int(2)), (6, Val::Int(-1)), (7, Val::Int(7))],
    ];
    for tamper in tampers {
        let mut bad = layout.clone();
        for &(i, delta) in &tamper {
            let c = results[i];
            let v = bad.cell_value(c).to_field() + delta.to_field();
            bad.set_value(c, Val::Field(v));
        }
        for seed in 0..64 {
            let closing = closing_values(&bad, challenge(1000 + seed));
            assert!(
                closing.iter().any(|v| !bool::from(v.is_zero())),
                "tamper {tamper:?} passed challenge {seed}"
            );
        }
        assert!(mock_verify(&bad).is_err(), "tamper {tamper:?}");
    }
}

/// Changes to two results of one check that cancel for one particular challenge pass a check
/// with that challenge (the mock prover's fixed one), and fail for every other: the challenge
/// has to be unpredictable, which the real prover's transcript makes it.
#[test]
fn a_change_cancelling_for_one_challenge_fails_for_others() {
    let (p, inputs) = runtime_matmul();
    let layout = honest_with(&p, &inputs, shape());
    let results = result_cells(&layout);
    let r = mock_challenge();
    // Results 0 and 1 of the first check are weighted by r^0 and r^1.
    let mut bad = layout.clone();
    let (a, b) = (results[0], results[1]);
    let va = bad.cell_value(a).to_field();
    let vb = bad.cell_value(b).to_field();
    bad.set_value(a, Val::Field(va + r));
    bad.set_value(b, Val::Field(vb - Fr::one()));
    let mut inst: Vec<Fr> = bad.instance.iter().map(|v| v.to_field()).collect();
    // The first outputs are the two changed results.
    let n_in = 256;
    inst[n_in] += r;
    inst[n_in + 1] -= Fr::one();
    assert!(
        mock_verify_with_instance(&bad, inst).is_ok(),
        "with a known challenge the change goes through"
    );
    for seed in 0..64 {
        let closing = closing_values(&bad, challenge(2000 + seed));
        assert!(closing.iter().any(|v| !bool::from(v.is_zero())));
    }
}

#[test]
fn single_phase_sizing_checks_products_directly() {
    use zkml_circuits::cost::{choose_for, choose_within, Objective, Phases};
    use zkml_circuits::VisibilityConfig;
    // A 48 x 32 x 48 activation product: Freivalds' test is far cheaper than 73,728 lanes.
    let mut b = ProgramBuilder::new(12).unwrap();
    let q = b.input("q", vec![48, 32], 0).unwrap();
    let k = b.input("k", vec![32, 48], 0).unwrap();
    let mm = b.push("scores", zkml_ir::Op::MatMul, &[q, k]).unwrap();
    b.output(mm, "s");
    let p = b.finish().unwrap();
    let qd: Vec<i64> = (0..48 * 32).map(|i| ((i * 3) % 13) as i64 - 6).collect();
    let kd: Vec<i64> = (0..32 * 48).map(|i| ((i * 11) % 15) as i64 - 7).collect();
    let inputs = vec![tensor(&[48, 32], &qd), tensor(&[32, 48], &kd)];
    let v = VisibilityConfig::default();

    let any = choose_for(&p, v, Objective::Proving).unwrap();
    assert!(
        any.freivalds,
        "the CPU sizing checks this product by Freivalds' test"
    );
    assert!(uses_checks(&honest_with(&p, &inputs, any)));

    let one = choose_within(&p, v, Objective::Proving, Phases::One).unwrap();
    assert!(!one.freivalds);
    let layout = honest_with(&p, &inputs, one);
    assert!(!layout.uses_freivalds() && layout.phase2_checks.is_empty());
    tampered_outputs_rejected(&layout, 6);
}

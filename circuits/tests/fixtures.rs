//! Every fixture model: the circuit's public outputs equal the reference evaluator's, and the
//! mock prover accepts the honest witness.

use zkml_circuits::layout::Val;
use zkml_circuits::sizing::minimal_k;
use zkml_circuits::soundness::mock_verify;
use zkml_circuits::{build, CircuitParams, Layout, VisibilityConfig};
use zkml_ir::{Program, Tensor, Trace};
use zkml_test_support::Fixture;

/// A fixture compiled (calibrated on its input), its quantized input and reference trace.
fn fixture(name: &str) -> (Program, Vec<Tensor>, Trace) {
    let f = Fixture::load(name);
    (f.program, f.inputs, f.trace)
}

/// The public instance ends with the reference evaluator's outputs, value for value.
fn assert_outputs_exposed(layout: &Layout, inputs: &[Tensor], trace: &Trace, name: &str) {
    let n_in: usize = inputs.iter().map(|t| t.len()).sum();
    let expected: Vec<Val> = trace
        .outputs()
        .iter()
        .flat_map(|t| t.data().iter().map(|&v| Val::Int(i128::from(v))))
        .collect();
    assert_eq!(&layout.instance[n_in..], &expected[..], "{name}: outputs");
}

#[test]
fn fixtures_satisfy_the_circuit_with_reference_outputs() {
    for name in [
        "mlp_small",
        "mlp",
        "lenet",
        "depthwise_separable",
        "transformer",
        "pytorch_style",
        "exported/random_forest",
        "exported/gradient_boosting",
        "exported/lstm",
        "exported/gru",
    ] {
        let (program, q, trace) = fixture(name);
        let params = CircuitParams {
            k: 20,
            lanes: 16,
            results: 8,
            range_streams: 4,
            table_streams: 2,
            range_bits: 10,
            degree: 4,
            poseidon: false,
            fold: 0,
            freivalds: false,
            table_banks: 0,
        };
        let mut layout =
            build(&program, Some(&trace), params, VisibilityConfig::default()).unwrap();
        layout.params.k = minimal_k(&layout);
        mock_verify(&layout).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_outputs_exposed(&layout, &q, &trace, name);
        eprintln!(
            "{name}: k = {}, main rows {}, rows used {}",
            layout.params.k,
            layout.main_rows,
            layout.rows_used()
        );
    }
}

/// The perturbation helper on a whole fixture: every assigned cell of the small MLP (dense
/// layers, rescales, ReLU) is pinned by some constraint.
#[test]
fn no_cell_of_a_fixture_is_unconstrained() {
    let (program, _, trace) = fixture("mlp_small");
    let vis = VisibilityConfig::default();
    let params = zkml_circuits::cost::choose(&program, vis).unwrap();
    let layout = build(&program, Some(&trace), params, vis).unwrap();
    mock_verify(&layout).unwrap();
    let loose = zkml_circuits::soundness::unconstrained_cells(&layout);
    assert!(loose.is_empty(), "unconstrained cells: {loose:?}");
}

/// The shapes `--optimize evm-gas` picks for these fixtures are folded; the folded circuit's
/// public outputs equal the reference evaluator's and the mock prover accepts it.
#[test]
fn folded_fixtures_satisfy_the_circuit_with_reference_outputs() {
    for name in ["mlp_small", "pytorch_style"] {
        let (program, q, trace) = fixture(name);
        let vis = VisibilityConfig::default();
        let params =
            zkml_circuits::cost::choose_for(&program, vis, zkml_circuits::cost::Objective::EvmGas)
                .unwrap();
        assert!(params.fold > 0, "{name}: {params:?}");
        let layout = build(&program, Some(&trace), params, vis).unwrap();
        assert_eq!(minimal_k(&layout), params.k, "{name}");
        mock_verify(&layout).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_outputs_exposed(&layout, &q, &trace, name);
    }
}

/// A measuring layout (what sizing and planning use) counts exactly what the full layout lays
/// out: rows, streams, tables, public values and each node's usage, for every fixture and
/// shape, with and without Freivalds' test and folding.
#[test]
fn measured_layouts_count_what_full_layouts_lay_out() {
    let shapes = [
        (16, 8, 4, 2, 10, 0, false, 0),
        (8, 4, 1, 1, 16, 0, true, 0),
        (8, 4, 0, 1, 8, 2, false, 0),
        (8, 4, 2, 4, 8, 0, true, 2),
    ];
    let exported = ["exported/random_forest", "exported/lstm"];
    for &name in zkml_test_support::MODEL_FIXTURES.iter().chain(&exported) {
        let (program, _, _) = fixture(name);
        for &(lanes, results, range_streams, table_streams, range_bits, fold, freivalds, banks) in
            &shapes
        {
            let params = CircuitParams {
                k: 24,
                lanes,
                results,
                range_streams,
                table_streams,
                range_bits,
                degree: if fold > 0 { 5 } else { 4 },
                poseidon: false,
                fold,
                freivalds,
                table_banks: banks,
            };
            let vis = VisibilityConfig::default();
            let full = build(&program, None, params, vis).unwrap();
            let counted = zkml_circuits::measure(&program, params, vis).unwrap();
            let what = format!("{name} {params:?}");
            assert!(counted.counting && !full.counting);
            assert_eq!(counted.main_rows, full.main_rows, "{what}: rows");
            assert_eq!(counted.rows_used(), full.rows_used(), "{what}: rows used");
            assert_eq!(counted.range_tags, full.range_tags, "{what}: range streams");
            assert_eq!(counted.table_tags, full.table_tags, "{what}: table streams");
            assert_eq!(counted.gates, full.gates, "{what}: gates");
            assert_eq!(
                counted.instance.len(),
                full.instance.len(),
                "{what}: public"
            );
            assert_eq!(counted.node_usage, full.node_usage, "{what}: node usage");
            assert_eq!(counted.uses_freivalds(), full.uses_freivalds(), "{what}");
            assert_eq!(
                counted.freivalds_saved_rows, full.freivalds_saved_rows,
                "{what}: saved rows"
            );
            assert_eq!(minimal_k(&counted), minimal_k(&full), "{what}: k");
            assert!(counted.copies.is_empty() && counted.weights.iter().all(|c| c.is_empty()));
        }
    }
}

//! Soundness testing: every assigned advice cell must be pinned by some constraint, and a
//! complete witness for a wrong result (built by an [`Adversary`]) must be rejected.

use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;

use zkml_ir::{Program, Trace};

use crate::circuit::ModelCircuit;
pub use crate::layout::adversary::{Adversary, Choice, Report, Site};
use crate::layout::{CellRef, Layout};
use crate::{CircuitParams, LayoutError, VisibilityConfig};

/// Runs the mock prover on a layout; `Ok` when every constraint holds.
pub fn mock_verify(layout: &Layout) -> Result<(), String> {
    let circuit = ModelCircuit::new(layout.clone());
    let instance = circuit.instance();
    let prover = MockProver::run(layout.params.k, &circuit, vec![instance])
        .map_err(|e| format!("synthesis failed: {e:?}"))?;
    prover
        .verify()
        .map_err(|failures| format!("{} failures, first: {}", failures.len(), failures[0]))
}

/// Perturbs each assigned advice cell in turn (adding 1 to its value) and returns the cells
/// whose perturbation the mock prover still accepts: each one is an under-constrained witness.
/// The public instance is kept from the honest layout.
pub fn unconstrained_cells(layout: &Layout) -> Vec<CellRef> {
    let honest = ModelCircuit::new(layout.clone()).instance();
    let mut loose = Vec::new();
    for cell in layout.assigned_cells() {
        let mut tampered = layout.clone();
        let v = tampered.cell_value(cell);
        tampered.set_value(cell, v.plus_one());
        let circuit = ModelCircuit::new(tampered);
        let prover =
            MockProver::run(layout.params.k, &circuit, vec![honest.clone()]).expect("synthesis");
        if prover.verify().is_ok() {
            loose.push(cell);
        }
    }
    loose
}

/// The mock prover on a layout whose public instance is replaced.
pub fn mock_verify_with_instance(layout: &Layout, instance: Vec<Fr>) -> Result<(), String> {
    let circuit = ModelCircuit::new(layout.clone());
    let prover = MockProver::run(layout.params.k, &circuit, vec![instance])
        .map_err(|e| format!("synthesis failed: {e:?}"))?;
    prover
        .verify()
        .map_err(|failures| format!("{} failures, first: {}", failures.len(), failures[0]))
}

/// Lays out `program` on `trace` with `adversary` choosing witness values in place of the
/// honest generator; [`Layout::adversary_report`] then says where it departed and what every
/// tensor's values became. The public instance is the one this witness claims.
pub fn adversarial_layout(
    program: &Program,
    trace: &Trace,
    params: CircuitParams,
    visibility: VisibilityConfig,
    adversary: Adversary,
) -> Result<Layout, LayoutError> {
    crate::layout::program::build_with(program, Some(trace), params, visibility, Some(adversary))
}

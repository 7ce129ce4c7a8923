//! Soundness testing: every assigned advice cell must be pinned by some constraint, and a
//! complete witness for a wrong result (built by an [`Adversary`]) must be rejected.

use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Advice, Circuit, Column, ConstraintSystem, Expression};

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
/// The public instance is kept from the honest layout, which must satisfy the circuit.
///
/// Each perturbed witness is checked where it can fail: the gates and lookup inputs at every
/// row whose queries (at any rotation) reach a changed cell, every lookup input when a changed
/// column is part of a lookup table, and every copy constraint. The constraints elsewhere read
/// only honest cells, which the honest witness satisfies, so this is the full check at a
/// fraction of its cost.
pub fn unconstrained_cells(layout: &Layout) -> Vec<CellRef> {
    perturbed(layout, true)
}

/// The cells whose perturbation is accepted, each checked where it can fail (`restricted`) or
/// everywhere.
fn perturbed(layout: &Layout, restricted: bool) -> Vec<CellRef> {
    let circuit = ModelCircuit::new(layout.clone());
    let instance = circuit.instance();
    let k = layout.params.k;
    let honest = MockProver::run(k, &circuit, vec![instance.clone()]).expect("synthesis");
    if let Err(failures) = honest.verify() {
        panic!(
            "the honest layout must satisfy the circuit before its cells are perturbed: {}",
            failures[0]
        );
    }
    let reach = Reach::of(layout.params, k);
    let mut loose = Vec::new();
    for cell in layout.assigned_cells() {
        let mut tampered = layout.clone();
        let v = tampered.cell_value(cell);
        tampered.set_value(cell, v.plus_one());
        let circuit = ModelCircuit::new(tampered);
        let prover = MockProver::run(k, &circuit, vec![instance.clone()]).expect("synthesis");
        let accepted = if restricted {
            let (gate_rows, lookup_rows) = reach.rows(&honest, &prover);
            prover
                .verify_at_rows(gate_rows.into_iter(), lookup_rows.into_iter())
                .is_ok()
        } else {
            prover.verify().is_ok()
        };
        if accepted {
            loose.push(cell);
        }
    }
    loose
}

/// Which rows' constraints can read a given advice cell.
struct Reach {
    /// Every advice column that a gate, a lookup or a copy constraint reads.
    columns: Vec<Column<Advice>>,
    /// Per advice column index: the rotations at which it is queried.
    rotations: Vec<Vec<i32>>,
    /// Per advice column index: whether a lookup table reads it.
    in_table: Vec<bool>,
    usable: usize,
}

impl Reach {
    fn of(params: CircuitParams, k: u32) -> Self {
        let mut cs = ConstraintSystem::<Fr>::default();
        let _ = ModelCircuit::configure_with_params(&mut cs, params);
        let n_cols = cs.num_advice_columns();
        let mut rotations = vec![Vec::new(); n_cols];
        let mut columns: Vec<Column<Advice>> = Vec::new();
        for (col, rot) in cs.advice_queries() {
            rotations[col.index()].push(rot.0);
            columns.push(*col);
        }
        for col in cs.permutation().get_columns() {
            if let Ok(advice) = Column::<Advice>::try_from(col) {
                columns.push(advice);
            }
        }
        columns.sort_by_key(Column::index);
        columns.dedup_by_key(|c| c.index());
        let mut in_table = vec![false; n_cols];
        for lookup in cs.lookups() {
            for e in lookup.table_expressions() {
                for c in advice_columns_of(e) {
                    in_table[c] = true;
                }
            }
        }
        Reach {
            columns,
            rotations,
            in_table,
            usable: (1usize << k) - (cs.blinding_factors() + 1),
        }
    }

    /// The gate rows and lookup-input rows that read a cell where `tampered` differs from
    /// `honest`.
    fn rows(&self, honest: &MockProver<Fr>, tampered: &MockProver<Fr>) -> (Vec<usize>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut all_lookups = false;
        for &col in &self.columns {
            let (h, t) = (honest.advice_values(col), tampered.advice_values(col));
            for (row, _) in h.iter().zip(t).enumerate().filter(|(_, (a, b))| a != b) {
                for &rot in &self.rotations[col.index()] {
                    let at = row as i64 - i64::from(rot);
                    if (0..self.usable as i64).contains(&at) {
                        rows.push(at as usize);
                    }
                }
                all_lookups |= self.in_table[col.index()];
            }
        }
        rows.sort_unstable();
        rows.dedup();
        let lookup_rows = if all_lookups {
            (0..self.usable).collect()
        } else {
            rows.clone()
        };
        (rows, lookup_rows)
    }
}

/// The advice columns an expression reads.
fn advice_columns_of(e: &Expression<Fr>) -> Vec<usize> {
    e.evaluate(
        &|_| vec![],
        &|_| vec![],
        &|_| vec![],
        &|q| vec![q.column_index()],
        &|_| vec![],
        &|_| vec![],
        &|a| a,
        &|mut a, mut b| {
            a.append(&mut b);
            a
        },
        &|mut a, mut b| {
            a.append(&mut b);
            a
        },
        &|a, _| a,
    )
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

/// [`adversarial_layout`] for a segment whose links are blinded with `blinding`.
pub fn adversarial_segment_layout(
    program: &Program,
    trace: &Trace,
    params: CircuitParams,
    visibility: VisibilityConfig,
    blinding: crate::Blinding,
    adversary: Adversary,
) -> Result<Layout, LayoutError> {
    crate::layout::program::build_with(
        program,
        Some(trace),
        params,
        visibility,
        blinding,
        Some(adversary),
    )
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
    adversarial_segment_layout(
        program,
        trace,
        params,
        visibility,
        crate::Blinding::default(),
        adversary,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{AdviceCol, Val};
    use crate::sizing::minimal_k;
    use zkml_ir::{evaluate, LookupTable, Op, ProgramBuilder, TableFunction, Tensor};

    /// A product with constant weights, a ReLU, a rescale and a table lookup.
    fn program() -> Program {
        let mut b = ProgramBuilder::new(8).unwrap();
        let x = b.input("x", vec![1, 3], 2).unwrap();
        let w = b
            .constant("w", vec![3, 2], 2, vec![3, -1, 2, 5, -4, 1])
            .unwrap();
        let mm = b.push("mm", Op::MatMul, &[x, w]).unwrap();
        let r = b.push("rescale", Op::Rescale { shift: 2 }, &[mm]).unwrap();
        let relu = b.push("relu", Op::Relu, &[r]).unwrap();
        let clip = b
            .push(
                "clip",
                Op::Clip {
                    min: Some(-20),
                    max: Some(20),
                },
                &[relu],
            )
            .unwrap();
        let t = b.table(LookupTable::build(TableFunction::Sigmoid, 2, 6, -20, 20).unwrap());
        let y = b.push("sigmoid", Op::Lookup { table: t }, &[clip]).unwrap();
        b.output(y, "y");
        b.output(relu, "relu");
        b.finish().unwrap()
    }

    fn shapes() -> [CircuitParams; 2] {
        let plain = CircuitParams {
            k: 10,
            lanes: 4,
            results: 2,
            range_streams: 1,
            table_streams: 1,
            range_bits: 5,
            degree: 4,
            poseidon: false,
            fold: 0,
            freivalds: false,
            table_banks: 0,
        };
        let folded = CircuitParams {
            range_streams: 0,
            degree: 5,
            fold: 1,
            ..plain
        };
        [plain, folded]
    }

    #[test]
    fn the_restricted_check_finds_exactly_what_the_full_check_finds() {
        let program = program();
        let input = Tensor::new(vec![1, 3], vec![7, -3, 12]).unwrap();
        let trace = evaluate(&program, &[input]).unwrap();
        for params in shapes() {
            let mut layout =
                crate::build(&program, Some(&trace), params, VisibilityConfig::default()).unwrap();
            // A cell that no constraint reads: both checks must report it, and only it.
            let idx = layout.column_index(AdviceCol::X(0));
            layout.advice[idx].push(Val::Int(5));
            let planted = CellRef {
                col: AdviceCol::X(0),
                row: layout.advice[idx].len() - 1,
            };
            layout.params.k = minimal_k(&layout);
            let restricted = perturbed(&layout, true);
            assert_eq!(
                restricted,
                perturbed(&layout, false),
                "fold {}",
                params.fold
            );
            assert_eq!(restricted, vec![planted], "fold {}", params.fold);
        }
    }
}

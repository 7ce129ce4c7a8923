//! Choosing the circuit shape: the smallest, fastest layout that fits.
//!
//! Proving time is dominated by work proportional to `n = 2^k` for every committed polynomial:
//!
//! ```text
//! cost(k, shape) ~ 2^k * (  A          advice columns (commit + FFT each)
//!                         + 3 L        lookup arguments (permuted input, permuted table, product)
//!                         + P          permutation products, ceil(equality columns / (degree - 2))
//!                         + (d - 1)    quotient pieces
//!                         + g F )      gate evaluation over the extended domain, F = fixed columns
//! ```
//!
//! with `g` small (fixed columns are not committed while proving, only read by the quotient).
//! The number of rows needed follows from a layout of the program: main-region rows depend on
//! the lane counts, stream rows are the number of checks divided by the number of streams, and
//! the range table needs `2^(R+1)` rows. Candidate shapes are laid out and the cheapest one that
//! fits is chosen; `measured` in BENCHMARKS.md compares the model with real proving times.
//!
//! With [`Objective::EvmGas`] the shape is chosen instead for the cheapest on-chain
//! verification ([`evm_gas`]): the verifier pays one elliptic-curve multiplication (6,000 gas)
//! per committed polynomial, fixed columns included, and 16 gas per proof byte, so narrow
//! shapes (few lanes, two result lanes) win there even though they take more rows to
//! prove.

use zkml_ir::Program;

use crate::layout::program::build;
use crate::layout::LayoutError;
use crate::params::CircuitParams;
use crate::sizing::{minimal_k, reserved_rows};
use crate::visibility::VisibilityConfig;

/// Weight of a fixed column relative to an advice column in the cost model.
pub const FIXED_WEIGHT: f64 = 0.08;

/// Estimated relative proving cost of a shape at size `k`.
pub fn estimate(p: &CircuitParams, k: u32) -> f64 {
    let advice = p.advice_columns() as f64;
    let lookups = (p.range_streams + p.table_streams) as f64;
    let equality = (p.lanes + p.results + p.range_streams + 2 * p.table_streams + 1) as f64;
    let perm = (equality / (p.degree as f64 - 2.0)).ceil();
    let quotient = p.degree as f64 - 1.0;
    let fixed = (p.fixed_columns() + 7) as f64;
    2f64.powi(k as i32) * (advice + 3.0 * lookups + perm + quotient + FIXED_WEIGHT * fixed)
}

/// What the chosen shape minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Proving time (the default).
    #[default]
    Proving,
    /// The gas of verifying a proof on chain; proving time breaks ties.
    EvmGas,
}

/// Selector columns after halo2's selector compression, roughly.
const SELECTOR_COLUMNS: usize = 3;

/// Estimated gas of verifying one proof of shape `p` with the generated Solidity verifier:
/// one `ecMul` + `ecAdd` per commitment opened, the pairing, the transaction base and the
/// calldata of the proof (`instances` public values add the same for every shape).
pub fn evm_gas(p: &CircuitParams, instances: usize) -> f64 {
    let lookups = p.range_streams + p.table_streams;
    let advice = p.advice_columns();
    let table_columns = 2 + if p.table_streams > 0 { 3 } else { 0 };
    let fixed = p.fixed_columns() + SELECTOR_COLUMNS + table_columns;
    let equality = p.lanes + p.results + p.range_streams + 2 * p.table_streams + 1;
    let perm = equality.div_ceil(p.degree - 2);
    let quotient = p.degree - 1;
    let commitments = advice + fixed + equality + perm + 3 * lookups + quotient + 1 + 3;
    let proof_points = advice + 3 * lookups + perm + 1 + quotient + 2;
    let proof_scalars = advice + p.results + fixed + 1 + equality + 3 * perm + 5 * lookups;
    let calldata = 64 * proof_points + 32 * (proof_scalars + instances);
    21_000.0 + 113_000.0 + 6_150.0 * commitments as f64 + 16.0 * calldata as f64
}

/// The shape with the lowest estimated proving cost among the candidates, with its `k`.
pub fn choose(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<CircuitParams, LayoutError> {
    choose_for(program, visibility, Objective::Proving)
}

/// The shape that minimises `objective` among the candidates, with its `k`.
pub fn choose_for(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
) -> Result<CircuitParams, LayoutError> {
    let has_tables = !program.tables.is_empty();
    let mut best: Option<((f64, f64), CircuitParams)> = None;
    let hashes = visibility.hashes();
    let shapes: &[(usize, usize)] = match objective {
        Objective::Proving => &[(4, 2), (8, 4), (16, 8), (32, 16)],
        Objective::EvmGas => &[(4, 2), (8, 2), (8, 4)],
    };
    for &(lanes, results) in shapes {
        if hashes && lanes < 8 {
            continue;
        }
        for range_bits in [6u32, 8, 10, 12, 14] {
            // One layout per (lanes, range bits); stream counts scale analytically.
            let base = CircuitParams {
                k: 26,
                lanes,
                results,
                range_streams: 1,
                table_streams: usize::from(has_tables),
                range_bits,
                degree: 4,
                poseidon: hashes,
            };
            let layout = build(program, None, base, visibility)?;
            let checks = layout
                .range_tags
                .iter()
                .map(|t| t.iter().filter(|&&v| v != 0).count())
                .sum::<usize>();
            let table_checks = layout
                .table_tags
                .iter()
                .map(|t| t.iter().filter(|&&v| v != 0).count())
                .sum::<usize>();
            let fixed_rows = layout
                .main_rows
                .max(crate::circuit::function_table_rows(&layout));
            for range_streams in [1usize, 2, 3, 4, 6, 8] {
                for table_streams in if has_tables {
                    vec![1usize, 2, 4]
                } else {
                    vec![0]
                } {
                    let mut p = CircuitParams {
                        range_streams,
                        table_streams,
                        ..base
                    };
                    let rows = fixed_rows
                        .max(checks.div_ceil(range_streams))
                        .max(if table_streams > 0 {
                            table_checks.div_ceil(table_streams)
                        } else {
                            0
                        })
                        .max(crate::circuit::range_table_rows(range_bits));
                    let need = rows + reserved_rows(p);
                    p.k = (need.max(2) - 1).ilog2() + 1;
                    if p.k > 26 {
                        continue;
                    }
                    let prove = estimate(&p, p.k);
                    let cost = match objective {
                        Objective::Proving => (prove, 0.0),
                        Objective::EvmGas => (evm_gas(&p, 0), prove),
                    };
                    if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                        best = Some((cost, p));
                    }
                }
            }
        }
    }
    let (_, mut p) = best.expect("candidates exist");
    // Confirm with the real layout (stream balancing is exact, so this only guards the model).
    let layout = build(program, None, p, visibility)?;
    p.k = minimal_k(&layout).max(p.k);
    Ok(p)
}

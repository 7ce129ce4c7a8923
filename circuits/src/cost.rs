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

/// The shape with the lowest estimated cost among the candidates, with its `k`.
pub fn choose(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<CircuitParams, LayoutError> {
    let has_tables = !program.tables.is_empty();
    let mut best: Option<(f64, CircuitParams)> = None;
    let hashes = visibility.hashes();
    for lanes in [4usize, 8, 16, 32] {
        if hashes && lanes < 8 {
            continue;
        }
        for range_bits in [6u32, 8, 10, 12, 14] {
            // One layout per (lanes, range bits); stream counts scale analytically.
            let base = CircuitParams {
                k: 26,
                lanes,
                results: lanes / 2,
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
                    let cost = estimate(&p, p.k);
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

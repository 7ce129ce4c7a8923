//! How many rows a layout needs, and the smallest `k` that holds them.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::ConstraintSystem;

use crate::circuit::{function_table_rows, range_table_rows};
use crate::config::ModelConfig;
use crate::error::LayoutError;
use crate::layout::Layout;
use crate::params::CircuitParams;

/// Rows at the bottom of every column reserved for blinding (plus the last-row marker).
pub fn reserved_rows(params: CircuitParams) -> usize {
    let mut cs = ConstraintSystem::<Fr>::default();
    ModelConfig::configure(&mut cs, params);
    cs.blinding_factors() + 1
}

/// Usable rows a layout needs: its gates and streams (a folded circuit's logical rows take
/// `stride` rows each), the lookup tables, and the public values (one instance column).
pub fn rows_needed(layout: &Layout) -> usize {
    let p = layout.params;
    let range_table = if p.range_lookups() {
        range_table_rows(p.range_bits)
    } else {
        0
    };
    (layout.rows_used() * p.stride())
        .max(range_table)
        .max(function_table_rows(layout))
        .max(layout.instance.len())
}

/// The smallest `k` whose usable rows hold the layout.
pub fn minimal_k(layout: &Layout) -> u32 {
    let need = rows_needed(layout) + reserved_rows(layout.params);
    (need.max(2) - 1).ilog2() + 1
}

/// Refuses a layout whose shape has fewer rows than it needs. A shape given from outside (a
/// plan file, a cached plan, a key's header) may be too small for what it lays out; this is
/// checked before halo2 is asked to assign rows the circuit does not have.
pub fn check_rows(layout: &Layout) -> Result<(), LayoutError> {
    let needed = minimal_k(layout);
    if needed > layout.params.k {
        return Err(LayoutError::TooFewRows {
            k: layout.params.k,
            needed,
        });
    }
    Ok(())
}

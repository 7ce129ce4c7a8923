//! Range checks by bit decomposition, for folded circuits (which have no range table).
//!
//! `0 <= v < 2^b` is proven by `ceil(b / W)` rows holding the bits of `v`, `W` per row, low
//! bits first. Every lane of such a row is boolean, and the first result lane accumulates the
//! bits at their place values, so the last row's `z[0]` equals `v`:
//!
//! ```text
//! BitsFirst   x[i] (x[i] - 1) = 0,  z[0] = sum_i w[0][i] x[i]                 w[0][i] = 2^i
//! BitsNext    x[i] (x[i] - 1) = 0,  z[0] = z[0](prev) + sum_i w[0][i] x[i]    w[0][i] = 2^(kW+i)
//! ```
//!
//! Lanes past the last bit stay unassigned (zero) with weight 0.

use super::{AdviceCol, CellRef, Gate, Layout};

/// A new cell holding `value`, constrained to `0 <= value < 2^bits`.
pub(crate) fn decompose(layout: &mut Layout, bits: u32, value: i128) -> CellRef {
    let w = layout.params.lanes;
    let bits = bits.max(1) as usize;
    let mut acc = 0i128;
    let mut out = None;
    for (k, chunk) in (0..bits).step_by(w).enumerate() {
        let row = layout.row(if k == 0 {
            Gate::BitsFirst
        } else {
            Gate::BitsNext
        });
        for i in 0..w.min(bits - chunk) {
            let pos = chunk + i;
            // The top bit takes the rest, so the bits always recompose the value: one outside
            // `[0, 2^bits)` (only an adversarial witness has one) leaves a non-boolean top bit.
            let bit = if pos + 1 == bits {
                value >> pos
            } else {
                (value >> pos) & 1
            };
            layout.assign(AdviceCol::X(i), row, bit);
            layout.set_weight(row, 0, i, 1i128 << pos);
            acc += bit << pos;
        }
        out = Some(layout.assign(AdviceCol::Z(0), row, acc));
    }
    out.expect("at least one bit")
}

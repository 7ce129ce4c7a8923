//! Range checks and rescaling.
//!
//! A value of at most `R` bits is copied into a range stream row tagged with its bit count and
//! looked up in the range table (rows `(t, v)` for `t <= R`, `v < 2^t`). A wider value is split
//! into `R`-bit limbs (the top limb narrower) in a linear row whose result recomposes the value
//! and is copy-constrained to it; each limb goes to a range stream.
//!
//! `Rescale{s}` proves `x + 2^(s-1) = q * 2^s + r` with `0 <= r < 2^s` and
//! `-2^(B-1) <= q < 2^(B-1)`: one linear row holds the limbs of `q + 2^(B-1)` and of `r`; its
//! first result is `q` and its second recomposes `x`, copy-constrained to the input cell.
//!
//! A rescale whose result a ReLU reads is laid out with it ([`rescale_relu`], unfolded circuits
//! with at least seven lanes): `q` is written in sign and magnitude, which is its range check
//! and its ReLU at once.
//!
//! ```text
//! RescaleRelu  group g: x[7g..7g+7] = (x, q, n, lo, hi, rlo, rhi), z[g] = out
//!              fixed: c[g] = 2^s, w[g][0] = weight of rhi, w[g][1] = weight of hi
//!              t = lo + w[g][1] hi,  n (n - 1) = 0,  q = t - n (2t + 1),
//!              x + c[g] / 2 = q c[g] + rlo + w[g][0] rhi,  out = (1 - n) t
//! ```
//!
//! With `lo`, `hi` range-checked so that `0 <= t < 2^(B-1)`, `n = 0` makes `q = t` and `n = 1`
//! makes `q = -t - 1`: together exactly `[-2^(B-1), 2^(B-1))`, with `n = [q < 0]` determined by
//! `q`, and `out = max(q, 0)`. `rlo`, `rhi` hold the remainder's limbs as in a plain rescale. A
//! high limb that is not needed (`B - 1 <= R`, `s <= R`) has weight 0 and stays unassigned. An
//! unused group (all zero) satisfies the gate, so a row may be partly filled.

use super::adversary::Choice;
use super::linear::{place_block, LinBlock, LinInput, LinTerm};
use super::{cells_of, AdviceCol, CellRef, Gate, Layout, Wire};

/// Number of bits needed for values up to `max` (at least 1).
pub(crate) fn bits_for(max: u128) -> u32 {
    (128 - max.leading_zeros()).max(1)
}

/// Limb widths of an unsigned `bits`-bit value: `R, R, ..., rest`.
fn limb_widths(bits: u32, r: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut left = bits;
    while left > 0 {
        let w = left.min(r);
        out.push(w);
        left -= w;
    }
    out
}

/// Splits an unsigned value into limbs of the given widths (low limb first). The limbs always
/// recompose `value`: a value outside `[0, 2^bits)` (only an adversarial witness has one) leaves
/// the rest in the top limb, negative or too wide, for its range check to reject.
fn limbs(value: i128, widths: &[u32]) -> Vec<i128> {
    let mut v = value;
    widths
        .iter()
        .enumerate()
        .map(|(k, &w)| {
            if k + 1 == widths.len() {
                return v;
            }
            let l = v.rem_euclid(1 << w);
            v = v.div_euclid(1 << w);
            l
        })
        .collect()
}

/// A new cell equal to `constant + sum coeff * input`, over any number of operands: when they
/// exceed one row's lanes, partial sums chain across blocks. Returns the operand cells (in
/// order) and the result.
pub(crate) fn combine(
    layout: &mut Layout,
    inputs: &[(LinInput, i128)],
    constant: i128,
) -> (Vec<CellRef>, CellRef) {
    let w = layout.params.lanes;
    let mut cells = Vec::with_capacity(inputs.len());
    let mut carry: Option<CellRef> = None;
    let mut rest = inputs;
    loop {
        let room = if carry.is_some() { w - 1 } else { w };
        let (now, later) = rest.split_at(rest.len().min(room));
        let mut block = LinBlock::default();
        let mut term = LinTerm {
            coeffs: Vec::new(),
            constant: if carry.is_none() { constant } else { 0 },
        };
        if let Some(c) = carry {
            block.inputs.push(LinInput::Cell(c));
            term.coeffs.push((0, 1));
        }
        for &(input, coeff) in now {
            term.coeffs.push((block.inputs.len(), coeff));
            block.inputs.push(input);
        }
        block.outputs.push(term);
        let placed = place_block(layout, &block);
        let skip = usize::from(carry.is_some());
        cells.extend_from_slice(&placed.inputs[skip..]);
        carry = Some(placed.outputs[0]);
        rest = later;
        if rest.is_empty() {
            return (cells, placed.outputs[0]);
        }
    }
}

/// Fresh limb operands with their place values.
fn limb_inputs(values: &[i128], widths: &[u32], shift: u32) -> Vec<(LinInput, i128)> {
    let mut pos = shift;
    values
        .iter()
        .zip(widths)
        .map(|(&v, &w)| {
            let t = (LinInput::Fresh(v), 1i128 << pos);
            pos += w;
            t
        })
        .collect()
}

/// Sends fresh limb cells to range streams.
fn check_limbs(layout: &mut Layout, cells: &[CellRef], widths: &[u32]) {
    for (&cell, &w) in cells.iter().zip(widths) {
        let v = layout.value(Wire::Cell(cell));
        let slot = layout.range_slot(w, v);
        layout.copy(slot, cell);
    }
}

/// Constrains `0 <= cell < 2^bits`.
pub(crate) fn check_unsigned(layout: &mut Layout, cell: CellRef, bits: u32) {
    let r = layout.params.range_bits;
    let bits = bits.max(1);
    let v = layout.value(Wire::Cell(cell));
    if bits <= r {
        let slot = layout.range_slot(bits, v);
        layout.copy(slot, cell);
        return;
    }
    let widths = limb_widths(bits, r);
    let ls = limbs(v, &widths);
    let (cells, out) = combine(layout, &limb_inputs(&ls, &widths, 0), 0);
    layout.copy(out, cell);
    check_limbs(layout, &cells, &widths);
}

/// A new cell holding `value`, constrained to `-2^(bits-1) <= value < 2^(bits-1)`.
pub(crate) fn signed_value(layout: &mut Layout, value: i128, bits: u32) -> CellRef {
    let r = layout.params.range_bits;
    let widths = limb_widths(bits, r);
    let offset = 1i128 << (bits - 1);
    let ls = limbs(value + offset, &widths);
    let (cells, out) = combine(layout, &limb_inputs(&ls, &widths, 0), -offset);
    check_limbs(layout, &cells, &widths);
    out
}

/// A new cell holding `value`, constrained to `lo <= value <= hi`: the limbs of `value - lo`
/// (one range check when the interval spans a power of two, and `hi - value` checked too
/// otherwise).
pub(crate) fn bounded_value(layout: &mut Layout, value: i128, lo: i64, hi: i64) -> CellRef {
    let span = (i128::from(hi) - i128::from(lo)) as u128;
    let bits = bits_for(span);
    let widths = limb_widths(bits, layout.params.range_bits);
    let ls = limbs(value - i128::from(lo), &widths);
    let (cells, out) = combine(layout, &limb_inputs(&ls, &widths, 0), i128::from(lo));
    check_limbs(layout, &cells, &widths);
    if span + 1 != 1u128 << bits {
        let (_, top) = combine(layout, &[(LinInput::Cell(out), -1)], i128::from(hi));
        check_unsigned(layout, top, bits);
    }
    out
}

/// Constrains `-2^(bits-1) <= cell < 2^(bits-1)`.
pub(crate) fn check_signed(layout: &mut Layout, cell: CellRef, bits: u32) {
    let v = layout.value(Wire::Cell(cell));
    let checked = signed_value(layout, v, bits);
    layout.copy(checked, cell);
}

/// A constant result, which the evaluator requires in the `value_bits` range like any other:
/// an error (the program has no valid run) when it is not. Constants folded while laying out
/// (a product with zero, a constant branch) reach nodes the program's own check of constant
/// nodes sees as data-dependent.
pub(crate) fn constant_in_range(v: i128, value_bits: u32, what: &str) -> Result<Wire, String> {
    let limit = 1i128 << (value_bits - 1);
    if v < -limit || v >= limit {
        return Err(format!(
            "{what} is the constant {v}, outside the {value_bits}-bit value range"
        ));
    }
    Ok(Wire::Const(v))
}

/// `Rescale{shift}` of one element with `B = value_bits`.
pub(crate) fn rescale(
    layout: &mut Layout,
    x: Wire,
    shift: u32,
    value_bits: u32,
) -> Result<Wire, String> {
    if let Wire::Const(v) = x {
        let q = i128::from(zkml_ir::rounding::rescale(v as i64, shift));
        return constant_in_range(q, value_bits, "the rescaled value");
    }
    let cell = layout.cell(x);
    if shift == 0 {
        check_signed(layout, cell, value_bits);
        return Ok(Wire::Cell(cell));
    }
    let r = layout.params.range_bits;
    let v = layout.value(x);
    let q = i128::from(zkml_ir::rounding::rescale(v as i64, shift));
    let q = layout.choose(Choice::Quotient, q);
    // x + 2^(s-1) = q 2^s + r
    let rem = v + (1i128 << (shift - 1)) - (q << shift);
    let (qw, rw) = (limb_widths(value_bits, r), limb_widths(shift, r));
    let offset = 1i128 << (value_bits - 1);
    let (ql, rl) = (limbs(q + offset, &qw), limbs(rem, &rw));
    if qw.len() + rw.len() > layout.params.lanes {
        // Too many limbs for one row: q first, then x from q and the remainder limbs.
        let (q_cells, q_cell) = combine(layout, &limb_inputs(&ql, &qw, 0), -offset);
        let mut x_inputs = vec![(LinInput::Cell(q_cell), 1i128 << shift)];
        x_inputs.extend(limb_inputs(&rl, &rw, 0));
        let (x_cells, x_cell) = combine(layout, &x_inputs, -(1i128 << (shift - 1)));
        layout.copy(x_cell, cell);
        check_limbs(layout, &q_cells, &qw);
        check_limbs(layout, &x_cells[1..], &rw);
        return Ok(Wire::Cell(q_cell));
    }
    let mut inputs: Vec<LinInput> = ql.iter().map(|&l| LinInput::Fresh(l)).collect();
    inputs.extend(rl.iter().map(|&l| LinInput::Fresh(l)));
    // q = sum ql * 2^(iR) - 2^(B-1)
    let mut q_term = LinTerm {
        coeffs: Vec::new(),
        constant: -offset,
    };
    // x = q * 2^s + r - 2^(s-1) = 2^s * sum ql * 2^(iR) + sum rl * 2^(iR) - 2^(B-1+s) - 2^(s-1)
    let mut x_term = LinTerm {
        coeffs: Vec::new(),
        constant: -(offset << shift) - (1i128 << (shift - 1)),
    };
    let mut pos = 0;
    for (i, w) in qw.iter().enumerate() {
        q_term.coeffs.push((i, 1i128 << pos));
        x_term.coeffs.push((i, 1i128 << (pos + shift)));
        pos += w;
    }
    pos = 0;
    for (i, w) in rw.iter().enumerate() {
        x_term.coeffs.push((qw.len() + i, 1i128 << pos));
        pos += w;
    }
    let block = LinBlock {
        inputs,
        outputs: vec![q_term, x_term],
    };
    let placed = place_block(layout, &block);
    layout.copy(placed.outputs[1], cell);
    let widths: Vec<u32> = qw.iter().chain(&rw).copied().collect();
    check_limbs(layout, &placed.inputs, &widths);
    Ok(Wire::Cell(placed.outputs[0]))
}

/// `Rescale{shift}` of each element followed by ReLU, `B = value_bits`: returns the rescaled
/// values (cells a later node may read as usual) and their ReLU. Needs
/// [`CircuitParams::septet_groups`] of at least 1 and `shift > 0`.
pub(crate) fn rescale_relu(
    layout: &mut Layout,
    xs: &[Wire],
    shift: u32,
    value_bits: u32,
) -> Result<(Vec<Wire>, Vec<Wire>), String> {
    let groups = layout.params.septet_groups();
    let r = layout.params.range_bits;
    debug_assert!(groups > 0 && shift > 0 && layout.params.fold == 0);
    let (t_bits, r_bits) = (value_bits - 1, shift);
    let (lo_bits, hi_bits) = (t_bits.min(r), t_bits.saturating_sub(r));
    let (rlo_bits, rhi_bits) = (r_bits.min(r), r_bits.saturating_sub(r));
    let mut qs = Vec::with_capacity(xs.len());
    let mut outs = Vec::with_capacity(xs.len());
    let cells = cells_of(xs);
    let mut placed = Vec::with_capacity(cells.len());
    for chunk in cells.chunks(groups) {
        let row = layout.row(Gate::RescaleRelu);
        for (g, &x) in chunk.iter().enumerate() {
            let lane = |k: usize| AdviceCol::X(7 * g + k);
            let v = layout.value(Wire::Cell(x));
            let q = i128::from(zkml_ir::rounding::rescale(v as i64, shift));
            let q = layout.choose(Choice::Quotient, q);
            let rem = v + (1i128 << (shift - 1)) - (q << shift);
            let neg = layout.choose(Choice::Decision, i128::from(q < 0));
            // q = t - n (2t + 1); a wrong sign leaves t negative, for its check to reject.
            let t = if neg == 1 { -q - 1 } else { q };
            let split = |value: i128, hi: u32| {
                if hi == 0 {
                    (value, 0)
                } else {
                    let l = limbs(value, &[r, hi]);
                    (l[0], l[1])
                }
            };
            let (lo, hi) = split(t, hi_bits);
            let (rlo, rhi) = split(rem, rhi_bits);
            let cx = layout.assign(lane(0), row, v);
            layout.copy(cx, x);
            let cq = layout.assign(lane(1), row, q);
            layout.assign(lane(2), row, neg);
            let clo = layout.assign(lane(3), row, lo);
            let crlo = layout.assign(lane(5), row, rlo);
            // A high limb of weight 0 stays unassigned (0).
            let out = layout.choose(Choice::Result, (1 - neg) * t);
            let cout = layout.assign(AdviceCol::Z(g), row, out);
            layout.set_constant(row, g, 1i128 << shift);
            if rhi_bits > 0 {
                layout.set_weight(row, g, 0, 1i128 << r);
            }
            if hi_bits > 0 {
                layout.set_weight(row, g, 1, 1i128 << r);
            }
            check_unsigned(layout, clo, lo_bits);
            check_unsigned(layout, crlo, rlo_bits);
            if hi_bits > 0 {
                let chi = layout.assign(lane(4), row, hi);
                check_unsigned(layout, chi, hi_bits);
            }
            if rhi_bits > 0 {
                let crhi = layout.assign(lane(6), row, rhi);
                check_unsigned(layout, crhi, rhi_bits);
            }
            placed.push((cq, cout));
        }
    }
    let mut placed = placed.into_iter();
    for &x in xs {
        match x {
            Wire::Const(v) => {
                let q = i128::from(zkml_ir::rounding::rescale(v as i64, shift));
                qs.push(constant_in_range(q, value_bits, "the rescaled value")?);
                outs.push(Wire::Const(q.max(0)));
            }
            Wire::Cell(_) => {
                let (q, out) = placed.next().expect("one per cell");
                qs.push(Wire::Cell(q));
                outs.push(Wire::Cell(out));
            }
        }
    }
    Ok((qs, outs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limb_splitting() {
        assert_eq!(limb_widths(16, 10), vec![10, 6]);
        assert_eq!(limb_widths(10, 10), vec![10]);
        assert_eq!(limbs(0b11_0000000001, &[10, 6]), vec![1, 3]);
        assert_eq!(bits_for(0), 1);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }
}

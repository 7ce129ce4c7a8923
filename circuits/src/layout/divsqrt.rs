//! Rounded division and floor square root.
//!
//! ```text
//! Div   group g: x[4g] = a, x[4g+1] = b, x[4g+2] = y, x[4g+3] = r, z[g] = 2b - 1 - r
//!       c[g] * a + b - 2 b y - r = 0        (c[g] = 2^(s+1); groups with c[g] = 0 are idle)
//!       c[g] * (z[g] - 2b + 1 + r) = 0
//! Sqrt  group g: x[3g] = v, x[3g+1] = y, x[3g+2] = t1, z[g] = t2
//!       c[g] * v - y^2 - t1 = 0
//!       y^2 + 2y - c[g] * v - t2 = 0       (c[g] = 2^s)
//! ```
//!
//! Range checks finish the proofs: for division `0 <= r` and `0 <= 2b - 1 - r` (so `b >= 1` and
//! `r < 2b`, making `y` the rounded quotient) and `y` in the value range; for the square root
//! `t1, t2 >= 0` (so `y^2 <= v 2^s < (y+1)^2`) and `0 <= y < 2^(B-1)`.

use super::adversary::Choice;
use super::range::{bits_for, check_signed, check_unsigned, constant_in_range};
use super::{AdviceCol, Gate, Layout, Wire};

/// One division `a * 2^shift / b`, rounded half up; `b_bound` bounds `|b|`.
pub(crate) struct DivItem {
    pub a: Wire,
    pub b: Wire,
    pub shift: u32,
    pub b_bound: u64,
}

/// Lays out divisions, `G4` per row; returns the quotients.
pub(crate) fn divide(
    layout: &mut Layout,
    items: &[DivItem],
    value_bits: u32,
) -> Result<Vec<Wire>, String> {
    let groups = layout.params.quad_groups();
    let mut out = Vec::with_capacity(items.len());
    let mut pending = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let (Wire::Const(a), Wire::Const(b)) = (item.a, item.b) {
            let y = zkml_ir::rounding::div_round(a as i64, b as i64, item.shift)
                .ok_or_else(|| format!("the constant division {a} / {b} is undefined"))?;
            out.push(Some(constant_in_range(
                i128::from(y),
                value_bits,
                "the quotient",
            )?));
        } else {
            out.push(None);
            pending.push(i);
        }
    }
    for chunk in pending.chunks(groups) {
        let row = layout.row(Gate::Div);
        for (g, &i) in chunk.iter().enumerate() {
            let item = &items[i];
            let (a, b) = (layout.cell(item.a), layout.cell(item.b));
            let (va, vb) = (layout.value(item.a), layout.value(item.b));
            let c = 1i128 << (item.shift + 1);
            let num = va * c + vb;
            let y = if vb > 0 { num.div_euclid(2 * vb) } else { 0 };
            let y = layout.choose(Choice::Quotient, y);
            // c a + b = 2 b y + r
            let r = if vb > 0 { num - 2 * vb * y } else { 0 };
            let ca = layout.assign(AdviceCol::X(4 * g), row, va);
            let cb = layout.assign(AdviceCol::X(4 * g + 1), row, vb);
            layout.copy(ca, a);
            layout.copy(cb, b);
            let cy = layout.assign(AdviceCol::X(4 * g + 2), row, y);
            let cr = layout.assign(AdviceCol::X(4 * g + 3), row, r);
            let cz = layout.assign(AdviceCol::Z(g), row, 2 * vb - 1 - r);
            layout.set_constant(row, g, c);
            let rbits = bits_for(2 * u128::from(item.b_bound));
            check_signed(layout, cy, value_bits);
            check_unsigned(layout, cr, rbits);
            check_unsigned(layout, cz, rbits);
            out[i] = Some(Wire::Cell(cy));
        }
    }
    Ok(out
        .into_iter()
        .map(|w| w.expect("every item placed"))
        .collect())
}

/// Lays out `floor(sqrt(v * 2^shift))` for each `v`, `G3` per row.
pub(crate) fn sqrt(
    layout: &mut Layout,
    items: &[Wire],
    shift: u32,
    value_bits: u32,
) -> Result<Vec<Wire>, String> {
    let groups = layout.params.triple_groups();
    let c = 1i128 << shift;
    let mut out: Vec<Option<Wire>> = Vec::with_capacity(items.len());
    for w in items {
        out.push(match w {
            Wire::Const(v) => {
                let y = zkml_ir::rounding::isqrt(v * c)
                    .ok_or_else(|| format!("the square root of the constant {v} is undefined"))?;
                Some(constant_in_range(
                    i128::from(y),
                    value_bits,
                    "the square root",
                )?)
            }
            Wire::Cell(_) => None,
        });
    }
    let pending: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_none()).collect();
    for chunk in pending.chunks(groups) {
        let row = layout.row(Gate::Sqrt);
        for (g, &i) in chunk.iter().enumerate() {
            let v = layout.value(items[i]);
            let cell = layout.cell(items[i]);
            let y = i128::from(zkml_ir::rounding::isqrt(v * c).unwrap_or(0));
            let y = layout.choose(Choice::Quotient, y);
            let (t1, t2) = (c * v - y * y, y * y + 2 * y - c * v);
            let cv = layout.assign(AdviceCol::X(3 * g), row, v);
            layout.copy(cv, cell);
            let cy = layout.assign(AdviceCol::X(3 * g + 1), row, y);
            let ct1 = layout.assign(AdviceCol::X(3 * g + 2), row, t1);
            let ct2 = layout.assign(AdviceCol::Z(g), row, t2);
            layout.set_constant(row, g, c);
            check_unsigned(layout, cy, value_bits - 1);
            // t1, t2 <= 2y < 2^B.
            check_unsigned(layout, ct1, value_bits);
            check_unsigned(layout, ct2, value_bits);
            out[i] = Some(Wire::Cell(cy));
        }
    }
    Ok(out
        .into_iter()
        .map(|w| w.expect("every item placed"))
        .collect())
}

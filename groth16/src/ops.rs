//! Lowerings of the ops that need more than linear combinations and the builder's gadgets:
//! rounding, division and square root by witnessed quotients, arg-max, gathers and table
//! lookups. Their costs are in the table of the module `compile`.

use zkml_ir::structure::for_each_take;

use crate::builder::{bits_for, Builder, Sig};
use crate::r1cs::Var;

/// A constant result, which the evaluator requires in the value range like any other: an
/// error (the program has no valid run) when it is not. Constants folded here (a product with
/// zero, a constant branch) reach nodes the program's own check of constant nodes sees as
/// data-dependent.
pub(crate) fn constant_in_range(v: i128, bits: u32, what: &str) -> Result<Sig, String> {
    let limit = 1i128 << (bits - 1);
    if v < -limit || v >= limit {
        return Err(format!(
            "{what} is the constant {v}, outside the {bits}-bit value range"
        ));
    }
    Ok(Sig::constant(v))
}

/// `Rescale{s}`: `x + 2^(s-1) = q 2^s + r`, `0 <= r < 2^s`, `q` in the value range.
pub(crate) fn rescale(b: &mut Builder, x: &Sig, shift: u32) -> Result<Sig, String> {
    let bits = b.bits;
    if let Some(c) = x.as_const() {
        let q = i128::from(zkml_ir::rounding::rescale(c as i64, shift));
        return constant_in_range(q, bits, "the rescaled value");
    }
    if shift == 0 {
        b.signed(x, bits);
        return Ok(x.clone());
    }
    let q = b.witness(i128::from(zkml_ir::rounding::rescale(x.val as i64, shift)));
    let r = b.lin(&[(x, 1), (&q, -(1i128 << shift))], 1i128 << (shift - 1));
    b.unsigned(&r, shift);
    b.signed(&q, bits);
    Ok(q)
}

/// `Div{shift}`: `c a + b = 2 b y + r` with `c = 2^(shift+1)`, `0 <= r`, `0 <= 2b - 1 - r`
/// (so `b >= 1` and `r < 2b`) and `y` in the value range.
pub(crate) fn divide(
    b: &mut Builder,
    x: &Sig,
    d: &Sig,
    shift: u32,
    d_bound: u64,
) -> Result<Sig, String> {
    if let (Some(a), Some(c)) = (x.as_const(), d.as_const()) {
        let y = zkml_ir::rounding::div_round(a as i64, c as i64, shift)
            .ok_or_else(|| format!("the constant division {a} / {c} is undefined"))?;
        return constant_in_range(i128::from(y), b.bits, "the quotient");
    }
    let c = 1i128 << (shift + 1);
    let y_val = if d.val > 0 {
        (x.val * c + d.val).div_euclid(2 * d.val)
    } else {
        0
    };
    let y = b.witness(y_val);
    let dy = b.mul(d, &y);
    let r = b.lin(&[(x, c), (d, 1), (&dy, -2)], 0);
    let z = b.lin(&[(d, 2), (&r, -1)], -1);
    let rbits = bits_for(2 * u128::from(d_bound));
    b.unsigned(&r, rbits);
    b.unsigned(&z, rbits);
    let bits = b.bits;
    b.signed(&y, bits);
    Ok(y)
}

/// `Sqrt{shift}`: `y^2 <= v 2^s < (y + 1)^2`, `0 <= y < 2^(B-1)`.
pub(crate) fn sqrt(b: &mut Builder, v: &Sig, shift: u32) -> Result<Sig, String> {
    let c = 1i128 << shift;
    if let Some(k) = v.as_const() {
        let y = zkml_ir::rounding::isqrt(k * c)
            .ok_or_else(|| format!("the square root of the constant {k} is undefined"))?;
        return constant_in_range(i128::from(y), b.bits, "the square root");
    }
    let y = b.witness(i128::from(zkml_ir::rounding::isqrt(v.val * c).unwrap_or(0)));
    let y2 = b.mul(&y, &y);
    let t1 = b.lin(&[(v, c), (&y2, -1)], 0);
    let t2 = b.lin(&[(&y2, 1), (&y, 2), (v, -c)], 0);
    let bits = b.bits;
    b.unsigned(&y, bits - 1);
    b.unsigned(&t1, bits);
    b.unsigned(&t2, bits);
    Ok(y)
}

/// First (or last) index of the maximum, scanning left to right.
pub(crate) fn argmax(b: &mut Builder, w: &[Sig], last: bool, diff: u64) -> Sig {
    let mut best = w[0].clone();
    let mut index = Sig::constant(0);
    for (i, x) in w.iter().enumerate().skip(1) {
        let take = if last {
            x.val >= best.val
        } else {
            x.val > best.val
        };
        let (e1, e0) = if last { (0, 1) } else { (1, 0) };
        if let (Some(p), Some(q)) = (x.as_const(), best.as_const()) {
            if if last { p >= q } else { p > q } {
                best = x.clone();
                index = Sig::constant(i as i128);
            }
            continue;
        }
        let (bit, m) = b.decide(x, &best, i128::from(take), e1, e0, diff);
        best = b.lin(&[(&best, 1), (&m, 1)], 0);
        let step = b.lin(&[(&index, -1)], i as i128);
        let moved = b.mul(&bit, &step);
        index = b.lin(&[(&index, 1), (&moved, 1)], 0);
    }
    index
}

/// `Take`: one-hot selectors per distinct index signal, then the selected data (free for
/// constant data, one product per selector for runtime data).
pub(crate) fn take(
    b: &mut Builder,
    axis: usize,
    data_shape: &[usize],
    index_shape: &[usize],
    data: &[Sig],
    indices: &[Sig],
) -> Result<Vec<Sig>, String> {
    let dim = data_shape[axis];
    let mut hot: Vec<Option<Vec<Sig>>> = vec![None; indices.len()];
    let mut out = Vec::new();
    let mut elements = Vec::new();
    for_each_take(axis, data_shape, index_shape, |position, base, stride| {
        elements.push((position, base, stride))
    });
    for (position, base, stride) in elements {
        let idx = &indices[position];
        if let Some(i) = idx.as_const() {
            if i < 0 || i >= dim as i128 {
                return Err(format!(
                    "constant index {i} is outside the axis of length {dim}"
                ));
            }
            out.push(data[base + stride * i as usize].clone());
            continue;
        }
        if hot[position].is_none() {
            hot[position] = Some(b.one_hot(idx, 0, dim));
        }
        let sel = hot[position].clone().expect("made above");
        let mut terms = Vec::with_capacity(dim);
        for (t, s) in sel.iter().enumerate() {
            let d = &data[base + stride * t];
            terms.push(b.mul(s, d));
        }
        let refs: Vec<(&Sig, i128)> = terms.iter().map(|s| (s, 1)).collect();
        let y = b.lin(&refs, 0);
        out.push(b.compact(y));
    }
    Ok(out)
}

/// Tables of at most this many entries are looked up through one one-hot vector.
pub(crate) const FLAT_TABLE: usize = 64;

/// `table[x - lo]`. A small table: one selector per entry (`T + 2` constraints). A larger one
/// is split into `H` rows of `L ~ sqrt(T)` entries: one-hot selectors for the row `a` and the
/// column `s` (`H + L` booleans, two sums, one recomposition `x - lo = a L + s`), the index
/// kept below `T` by a range check, and the output `sum_a h_a (sum_s table[a L + s] l_s)`: one
/// product per row, the inner sums free. About `3 sqrt(T) + log T` constraints.
pub(crate) fn lookup(b: &mut Builder, x: &Sig, lo: i64, values: &[i64]) -> Sig {
    let size = values.len();
    let lo = i128::from(lo);
    if size <= FLAT_TABLE {
        let hot = b.one_hot(x, lo, size);
        let terms: Vec<(&Sig, i128)> = hot
            .iter()
            .zip(values)
            .map(|(s, &y)| (s, i128::from(y)))
            .collect();
        let y = b.lin(&terms, 0);
        return b.compact(y);
    }
    let cols = (size as f64).sqrt().ceil() as usize;
    let rows = size.div_ceil(cols);
    let index = b.lin(&[(x, 1)], -lo);
    let (row, col) = if (0..size as i128).contains(&index.val) {
        (index.val / cols as i128, index.val % cols as i128)
    } else {
        (-1, -1)
    };
    let h = b.one_hot_free(row, rows);
    let l = b.one_hot_free(col, cols);
    // x - lo = a L + s
    let mut recomposed: Vec<(Var, i128)> = Vec::with_capacity(rows + cols);
    recomposed.extend(
        h.iter()
            .enumerate()
            .map(|(a, s)| (s.terms[0].0, (a * cols) as i128)),
    );
    recomposed.extend(l.iter().enumerate().map(|(c, s)| (s.terms[0].0, c as i128)));
    b.enforce(&recomposed, &[(Var::One, 1)], &index.terms);
    // x - lo <= T - 1
    let headroom = b.lin(&[(&index, -1)], size as i128 - 1);
    b.unsigned(&headroom, bits_for(size as u128));
    let mut products = Vec::with_capacity(rows);
    for (a, ha) in h.iter().enumerate() {
        let terms: Vec<(&Sig, i128)> = l
            .iter()
            .enumerate()
            .filter_map(|(c, lc)| values.get(a * cols + c).map(|&v| (lc, i128::from(v))))
            .collect();
        let inner = b.lin(&terms, 0).merged();
        products.push(b.mul(ha, &inner));
    }
    let refs: Vec<(&Sig, i128)> = products.iter().map(|p| (p, 1)).collect();
    let y = b.lin(&refs, 0);
    b.compact(y)
}

//! Product rows: each result lane accumulates the product of its own pair of operand lanes.
//!
//! ```text
//! MulFirst   z[j] = c[j] + x[2j] * x[2j+1]                  for every j < M
//! MulNext    z[j] = z[j](prev row) + c[j] + x[2j] * x[2j+1]
//! ```
//!
//! Elementwise products of two runtime tensors fill `M` lanes per row; dot products of runtime
//! vectors (attention's `Q K^T` and `P V`) run `M` side by side, one term per row.

use super::adversary::Choice;
use super::{AdviceCol, CellRef, Gate, Layout, Wire};

/// Dot products of equal length `K`, up to `M` at a time: result `j` is
/// `constants[j] + sum_t a[j][t] * b[j][t]`. With `K = 1` these are elementwise products.
pub(crate) fn pair_dots(
    layout: &mut Layout,
    pairs: &[Vec<(CellRef, CellRef)>],
    constants: &[i128],
) -> Vec<CellRef> {
    let m = layout.params.results;
    assert!(pairs.len() <= m && pairs.len() == constants.len());
    let k = pairs.first().map_or(0, Vec::len);
    assert!(
        k > 0 && pairs.iter().all(|p| p.len() == k),
        "dot products of one batch share their length"
    );
    let mut acc: Vec<i128> = constants.to_vec();
    let mut out = Vec::new();
    for t in 0..k {
        let row = layout.row(if t == 0 {
            Gate::MulFirst
        } else {
            Gate::MulNext
        });
        out.clear();
        for (j, p) in pairs.iter().enumerate() {
            let (a, b) = p[t];
            let (va, vb) = (layout.value(Wire::Cell(a)), layout.value(Wire::Cell(b)));
            let ca = layout.assign(AdviceCol::X(2 * j), row, va);
            let cb = layout.assign(AdviceCol::X(2 * j + 1), row, vb);
            layout.copy(ca, a);
            layout.copy(cb, b);
            if t == 0 {
                layout.set_constant(row, j, constants[j]);
            }
            acc[j] = layout.choose(Choice::Result, acc[j] + va * vb);
            out.push(layout.assign(AdviceCol::Z(j), row, acc[j]));
        }
    }
    out
}

/// Elementwise products `a[i] * b[i]`, `M` per row.
pub(crate) fn products(layout: &mut Layout, pairs: &[(CellRef, CellRef)]) -> Vec<CellRef> {
    let m = layout.params.results;
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(m) {
        let batch: Vec<Vec<(CellRef, CellRef)>> = chunk.iter().map(|&p| vec![p]).collect();
        out.extend(pair_dots(layout, &batch, &vec![0; chunk.len()]));
    }
    out
}

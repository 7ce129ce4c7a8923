//! Comparison and selection: ReLU, max, min, clip, abs, max pooling, arg-max, exact
//! comparisons and `Where`.
//!
//! ```text
//! Select  group g: x[4g] = p, x[4g+1] = q, x[4g+2] = b, x[4g+3] = t, z[g] = out
//!         fixed: e1 = w[g][0], e0 = w[g][1], min = w[g][2], check = w[g][3]
//!         b (b - 1) = 0
//!         check * (t - (2b - 1)(p - q) + b e1 + (1 - b) e0) = 0
//!         out = b (p + min (q - p)) + (1 - b)(q + min (p - q))
//! ```
//!
//! ReLU and the two sides of a clip have their own rows (unfolded circuits): the threshold is
//! the row constant instead of an operand, and the difference is split into two range-checked
//! limbs instead of being recomposed in a linear row:
//!
//! ```text
//! Relu    group g: x[4g] = v, x[4g+1] = b, x[4g+2] = lo, x[4g+3] = hi, z[g] = out
//!         fixed: threshold c = c[g], min = w[g][0]
//!         b (b - 1) = 0,  (2b - 1)(v - c) = lo + 2^R hi,
//!         out = c + (b + min - 2 b min)(v - c)
//! ```
//!
//! `b = 1` forces `v >= c` and `b = 0` forces `v <= c` (the limbs are small and non-negative),
//! so `out` is `max(v, c)` with `min = 0` and `min(v, c)` with `min = 1`; ReLU is `c = 0`,
//! `min = 0`.
//!
//! With `t` range-checked, `b = 1` forces `p - q >= e1` and `b = 0` forces `q - p >= e0`:
//! `e1 = e0 = 0` compares `p >= q` (either choice is right on ties), `e1 = 1` makes `b` mean
//! `p > q` and `e0 = 1` makes it mean `p >= q` strictly decided. `out` is the larger operand
//! (`min = 0`) or the smaller (`min = 1`). With `check = 0` a group only selects, reusing a `b`
//! proved elsewhere (the index half of arg-max); then `t` is unused.

use zkml_ir::CompareOp;

use super::adversary::Choice;
use super::program::{linear, LinItem};
use super::range::{bits_for, check_unsigned};
use super::{cells_of, AdviceCol, CellRef, Gate, Layout, Wire};

/// How `b` is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decide {
    /// `b = [p >= q]`; ties may go either way (max, min, ReLU, abs).
    Ge,
    /// `b = [p > q]` exactly (first-index arg-max).
    Gt,
    /// `b = [p >= q]` exactly (last-index arg-max).
    GeStrict,
    /// `b` is a copy of a bit decided by another group.
    Given(CellRef),
}

/// One selection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SelectItem {
    pub p: Wire,
    pub q: Wire,
    pub decide: Decide,
    /// Output the smaller operand.
    pub min: bool,
    /// Bound on `|p - q|`.
    pub diff_bound: u64,
}

/// Cells of a placed selection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Selected {
    pub out: CellRef,
    pub b: CellRef,
    /// `|p - q|` adjusted by the strictness constants (the range-checked witness).
    pub t: Option<CellRef>,
}

/// Lays out selections, `G4` per row.
pub(crate) fn select(layout: &mut Layout, items: &[SelectItem]) -> Vec<Selected> {
    let groups = layout.params.quad_groups();
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(groups) {
        let row = layout.row(Gate::Select);
        for (g, item) in chunk.iter().enumerate() {
            let (p, q) = (layout.cell(item.p), layout.cell(item.q));
            let (vp, vq) = (layout.value(item.p), layout.value(item.q));
            let (e1, e0, check) = match item.decide {
                Decide::Ge => (0, 0, true),
                Decide::Gt => (1, 0, true),
                Decide::GeStrict => (0, 1, true),
                Decide::Given(_) => (0, 0, false),
            };
            let b = match item.decide {
                Decide::Ge | Decide::GeStrict => {
                    layout.choose(Choice::Decision, i128::from(vp >= vq))
                }
                Decide::Gt => layout.choose(Choice::Decision, i128::from(vp > vq)),
                Decide::Given(c) => layout.value(Wire::Cell(c)),
            };
            let t = (2 * b - 1) * (vp - vq) - b * e1 - (1 - b) * e0;
            // The gate's equation, so that it also holds for a non-boolean (adversarial) b.
            let chosen = if item.min {
                b * vq + (1 - b) * vp
            } else {
                b * vp + (1 - b) * vq
            };
            let chosen = layout.choose(Choice::Result, chosen);
            let cp = layout.assign(AdviceCol::X(4 * g), row, vp);
            let cq = layout.assign(AdviceCol::X(4 * g + 1), row, vq);
            layout.copy(cp, p);
            layout.copy(cq, q);
            let cb = layout.assign(AdviceCol::X(4 * g + 2), row, b);
            if let Decide::Given(c) = item.decide {
                layout.copy(cb, c);
            }
            let ct = check.then(|| layout.assign(AdviceCol::X(4 * g + 3), row, t));
            let cout = layout.assign(AdviceCol::Z(g), row, chosen);
            layout.set_weight(row, g, 0, e1);
            layout.set_weight(row, g, 1, e0);
            layout.set_weight(row, g, 2, i128::from(item.min));
            layout.set_weight(row, g, 3, i128::from(check));
            if let Some(ct) = ct {
                check_unsigned(layout, ct, bits_for(u128::from(item.diff_bound) + 1));
            }
            out.push(Selected {
                out: cout,
                b: cb,
                t: ct,
            });
        }
    }
    out
}

/// `max(x, 0)` for each element (`|x| <= bound`): ReLU rows in unfolded circuits, selections
/// against 0 in folded ones.
pub(crate) fn relu(layout: &mut Layout, xs: &[Wire], bound: u64) -> Vec<Wire> {
    if layout.params.fold > 0 {
        return map_select(layout, xs, bound, |v| v.max(0), |s| s.out);
    }
    threshold_rows(layout, xs, 0, false, bound)
}

/// `min(max(x, lo), hi)` for each element (`|x| <= bound`), one side after the other. A side
/// whose difference `|x - c|` is wider than one range check takes threshold rows (unfolded
/// circuits): no linear row recomposes its limbs. Otherwise (and in folded circuits) it is a
/// selection against the constant.
pub(crate) fn clip(
    layout: &mut Layout,
    xs: &[Wire],
    lo: Option<i64>,
    hi: Option<i64>,
    bound: u64,
) -> Vec<Wire> {
    let mut xs = xs.to_vec();
    let mut bound = bound;
    for (c, min) in [(lo, false), (hi, true)] {
        let Some(c) = c else { continue };
        let diff = bound.saturating_add(c.unsigned_abs());
        let wide = bits_for(u128::from(diff) + 1) > layout.params.range_bits;
        xs = if layout.params.fold == 0 && wide {
            threshold_rows(layout, &xs, c, min, diff)
        } else {
            let pairs: Vec<(Wire, Wire)> = xs
                .iter()
                .map(|&x| (x, Wire::Const(i128::from(c))))
                .collect();
            max_pairs(layout, &pairs, min, diff)
        };
        bound = bound.max(c.unsigned_abs());
    }
    xs
}

/// `max(x, c)` (or `min(x, c)`) of each element in threshold rows, `|x - c| <= diff`;
/// constants are mapped directly.
fn threshold_rows(layout: &mut Layout, xs: &[Wire], c: i64, min: bool, diff: u64) -> Vec<Wire> {
    let c = i128::from(c);
    let side = |v: i128| if min { v.min(c) } else { v.max(c) };
    let cells = cells_of(xs);
    let mut outs = place_threshold_rows(layout, &cells, c, min, diff).into_iter();
    xs.iter()
        .map(|&x| match x {
            Wire::Const(v) => Wire::Const(side(v)),
            Wire::Cell(_) => Wire::Cell(outs.next().expect("one per cell")),
        })
        .collect()
}

/// Threshold rows, `G4` groups per row: lanes `(v, b, lo, hi)` with `b = [v >= c]` and
/// `|v - c| = lo + 2^R hi`, `lo` an `R`-bit and `hi` a `(bits(diff) - R)`-bit range check (at
/// least one bit), the threshold in the row constant, the side in the weight, and the result
/// in the group's result lane.
fn place_threshold_rows(
    layout: &mut Layout,
    xs: &[CellRef],
    c: i128,
    min: bool,
    diff: u64,
) -> Vec<CellRef> {
    let groups = layout.params.quad_groups();
    let r = layout.params.range_bits;
    let hi_bits = bits_for(u128::from(diff)).saturating_sub(r).max(1);
    let mut out = Vec::with_capacity(xs.len());
    for chunk in xs.chunks(groups) {
        let row = layout.row(Gate::Relu);
        for (g, &x) in chunk.iter().enumerate() {
            let v = layout.value(Wire::Cell(x));
            let b = layout.choose(Choice::Decision, i128::from(v >= c));
            // (2b - 1)(v - c) = lo + 2^R hi; a negative t (from a wrong b) leaves hi negative.
            let t = (2 * b - 1) * (v - c);
            let cv = layout.assign(AdviceCol::X(4 * g), row, v);
            layout.copy(cv, x);
            layout.assign(AdviceCol::X(4 * g + 1), row, b);
            let lo = layout.assign(AdviceCol::X(4 * g + 2), row, t & ((1 << r) - 1));
            let hi = layout.assign(AdviceCol::X(4 * g + 3), row, t >> r);
            // The gate's equation, so that it also holds for a non-boolean (adversarial) b.
            let m = i128::from(min);
            let chosen = c + (b + m - 2 * b * m) * (v - c);
            let chosen = layout.choose(Choice::Result, chosen);
            out.push(layout.assign(AdviceCol::Z(g), row, chosen));
            layout.set_constant(row, g, c);
            if min {
                layout.set_weight(row, g, 0, 1);
            }
            check_unsigned(layout, lo, r);
            check_unsigned(layout, hi, hi_bits);
        }
    }
    out
}

/// `|x|` for each element: the range-checked difference of `x` and 0.
pub(crate) fn abs(layout: &mut Layout, xs: &[Wire], bound: u64) -> Vec<Wire> {
    map_select(layout, xs, bound, i128::abs, |s| s.t.expect("checked"))
}

/// Selects `x` against 0 for every non-constant element and keeps the cell `pick` names;
/// constants are mapped by `on_const`.
fn map_select(
    layout: &mut Layout,
    xs: &[Wire],
    bound: u64,
    on_const: impl Fn(i128) -> i128,
    pick: impl Fn(&Selected) -> CellRef,
) -> Vec<Wire> {
    let items: Vec<SelectItem> = xs
        .iter()
        .filter(|w| matches!(w, Wire::Cell(_)))
        .map(|&x| SelectItem {
            p: x,
            q: Wire::Const(0),
            decide: Decide::Ge,
            min: false,
            diff_bound: bound,
        })
        .collect();
    let placed = select(layout, &items);
    let mut it = placed.iter();
    xs.iter()
        .map(|&x| match x {
            Wire::Const(v) => Wire::Const(on_const(v)),
            Wire::Cell(_) => Wire::Cell(pick(it.next().expect("one per cell"))),
        })
        .collect()
}

/// Elementwise maximum (or minimum) of pairs.
pub(crate) fn max_pairs(
    layout: &mut Layout,
    pairs: &[(Wire, Wire)],
    min: bool,
    diff_bound: u64,
) -> Vec<Wire> {
    let mut out: Vec<Option<Wire>> = pairs
        .iter()
        .map(|&(a, b)| match (a, b) {
            (Wire::Const(x), Wire::Const(y)) => {
                Some(Wire::Const(if min { x.min(y) } else { x.max(y) }))
            }
            _ if a == b => Some(a),
            _ => None,
        })
        .collect();
    let idx: Vec<usize> = (0..pairs.len()).filter(|&i| out[i].is_none()).collect();
    let items: Vec<SelectItem> = idx
        .iter()
        .map(|&i| SelectItem {
            p: pairs[i].0,
            q: pairs[i].1,
            decide: Decide::Ge,
            min,
            diff_bound,
        })
        .collect();
    for (&i, s) in idx.iter().zip(select(layout, &items)) {
        out[i] = Some(Wire::Cell(s.out));
    }
    out.into_iter().map(|w| w.expect("filled")).collect()
}

/// The maximum of each window, by a balanced tree of pairwise maxima (all windows advance
/// level by level so selections pack densely).
pub(crate) fn reduce_max(
    layout: &mut Layout,
    windows: Vec<Vec<Wire>>,
    diff_bound: u64,
) -> Vec<Wire> {
    let mut levels = windows;
    loop {
        let mut pairs = Vec::new();
        let mut next: Vec<Vec<Option<usize>>> = Vec::with_capacity(levels.len());
        let mut carried: Vec<Vec<Wire>> = Vec::with_capacity(levels.len());
        for w in &levels {
            let mut slots = Vec::new();
            let mut carry = Vec::new();
            for pair in w.chunks(2) {
                if pair.len() == 2 {
                    slots.push(Some(pairs.len()));
                    pairs.push((pair[0], pair[1]));
                    carry.push(Wire::Const(0));
                } else {
                    slots.push(None);
                    carry.push(pair[0]);
                }
            }
            next.push(slots);
            carried.push(carry);
        }
        if pairs.is_empty() {
            return levels.into_iter().map(|w| w[0]).collect();
        }
        let maxima = max_pairs(layout, &pairs, false, diff_bound);
        levels = next
            .into_iter()
            .zip(carried)
            .map(|(slots, carry)| {
                slots
                    .into_iter()
                    .zip(carry)
                    .map(|(s, c)| s.map_or(c, |i| maxima[i]))
                    .collect()
            })
            .collect();
    }
}

/// First (or last) index of the maximum of each window, scanning left to right.
pub(crate) fn argmax(
    layout: &mut Layout,
    windows: &[Vec<Wire>],
    last: bool,
    diff_bound: u64,
) -> Vec<Wire> {
    let len = windows.first().map_or(0, Vec::len);
    let mut best: Vec<Wire> = windows.iter().map(|w| w[0]).collect();
    let mut index: Vec<Wire> = vec![Wire::Const(0); windows.len()];
    for i in 1..len {
        let decide = if last { Decide::GeStrict } else { Decide::Gt };
        let items: Vec<SelectItem> = windows
            .iter()
            .zip(&best)
            .map(|(w, &b)| SelectItem {
                p: w[i],
                q: b,
                decide,
                min: false,
                diff_bound,
            })
            .collect();
        let placed = select(layout, &items);
        let idx_items: Vec<SelectItem> = placed
            .iter()
            .zip(&index)
            .map(|(s, &idx)| SelectItem {
                p: Wire::Const(i as i128),
                q: idx,
                decide: Decide::Given(s.b),
                min: false,
                diff_bound: 0,
            })
            .collect();
        let chosen = select(layout, &idx_items);
        best = placed.iter().map(|s| Wire::Cell(s.out)).collect();
        index = chosen.iter().map(|s| Wire::Cell(s.out)).collect();
    }
    index
}

/// Exact comparisons `a cmp b` of pairs: the decision bit of a selection (`Gt` decides
/// `p > q`, `GeStrict` decides `p >= q`), so every result is a cell constrained boolean.
/// Equality is `[a >= b] - [a > b]`.
pub(crate) fn compare(
    layout: &mut Layout,
    pairs: &[(Wire, Wire)],
    cmp: CompareOp,
    diff_bound: u64,
) -> Vec<Wire> {
    let mut out: Vec<Option<Wire>> = pairs
        .iter()
        .map(|&(a, b)| match (a, b) {
            (Wire::Const(x), Wire::Const(y)) => Some(Wire::Const(i128::from(holds(cmp, x, y)))),
            _ if a == b => Some(Wire::Const(i128::from(holds(cmp, 0, 0)))),
            _ => None,
        })
        .collect();
    let open: Vec<usize> = (0..pairs.len()).filter(|&i| out[i].is_none()).collect();
    let item = |p: Wire, q: Wire, decide: Decide| SelectItem {
        p,
        q,
        decide,
        min: false,
        diff_bound,
    };
    let decided = |layout: &mut Layout, flip: bool, decide: Decide| -> Vec<CellRef> {
        let items: Vec<SelectItem> = open
            .iter()
            .map(|&i| {
                let (a, b) = pairs[i];
                if flip {
                    item(b, a, decide)
                } else {
                    item(a, b, decide)
                }
            })
            .collect();
        select(layout, &items).into_iter().map(|s| s.b).collect()
    };
    let bits = match cmp {
        CompareOp::Gt => decided(layout, false, Decide::Gt),
        CompareOp::Ge => decided(layout, false, Decide::GeStrict),
        CompareOp::Lt => decided(layout, true, Decide::Gt),
        CompareOp::Le => decided(layout, true, Decide::GeStrict),
        CompareOp::Eq => {
            let ge = decided(layout, false, Decide::GeStrict);
            let gt = decided(layout, false, Decide::Gt);
            let items = ge
                .iter()
                .zip(&gt)
                .map(|(&a, &b)| LinItem {
                    terms: vec![(Wire::Cell(a), 1), (Wire::Cell(b), -1)],
                    constant: 0,
                })
                .collect();
            for (&i, w) in open.iter().zip(linear(layout, items)) {
                out[i] = Some(w);
            }
            Vec::new()
        }
    };
    for (&i, b) in open.iter().zip(bits) {
        out[i] = Some(Wire::Cell(b));
    }
    out.into_iter().map(|w| w.expect("filled")).collect()
}

fn holds(cmp: CompareOp, a: i128, b: i128) -> bool {
    match cmp {
        CompareOp::Eq => a == b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    }
}

/// `cond ? a : b` for each triple: a selection whose decision bit is copied from the
/// condition cell (and so constrained boolean by the gate). A constant condition picks its
/// branch; it must be 0 or 1.
pub(crate) fn where_select(
    layout: &mut Layout,
    triples: &[(Wire, Wire, Wire)],
) -> Result<Vec<Wire>, String> {
    let mut out: Vec<Option<Wire>> = Vec::with_capacity(triples.len());
    let mut items = Vec::new();
    let mut open = Vec::new();
    for (i, &(c, a, b)) in triples.iter().enumerate() {
        out.push(match c {
            Wire::Const(1) => Some(a),
            Wire::Const(0) => Some(b),
            Wire::Const(v) => return Err(format!("constant condition {v} is not 0 or 1")),
            Wire::Cell(_) if a == b => Some(a),
            Wire::Cell(cell) => {
                open.push(i);
                items.push(SelectItem {
                    p: a,
                    q: b,
                    decide: Decide::Given(cell),
                    min: false,
                    diff_bound: 0,
                });
                None
            }
        });
    }
    for (&i, s) in open.iter().zip(select(layout, &items)) {
        out[i] = Some(Wire::Cell(s.out));
    }
    Ok(out.into_iter().map(|w| w.expect("filled")).collect())
}

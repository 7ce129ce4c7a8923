//! Products checked at the cost of their data: Freivalds' test with a challenge drawn after
//! the operands and the results are committed.
//!
//! A product `Y = A B` (`A`: `P x K`, `B`: `K x N`, plus a constant row `c`) laid out directly
//! pays a weighted lane for each of its `P K N` multiply-adds. Here the results `Y` are
//! first-phase witnesses like any other cell, and once every first-phase column is committed
//! the transcript yields a challenge `r`. With `rho_n = r^n`, every row `p` of the product is
//! checked by
//!
//! ```text
//! sum_k A[p][k] u_k + sum_n Y[p][n] rho_n = 0,     u_k = -sum_n B[k][n] rho_n
//! ```
//!
//! which costs `K + N` lanes per row of `A`, and `K N` lanes once for `u` (a Horner chain in
//! `r` over fixed weights, or a challenge-weighted dot product over runtime `B`). `Y` is still
//! the exact product: it is what later nodes rescale and consume.
//!
//! Second-phase columns (`v[0..W)`, `h`) hold everything that depends on `r`:
//!
//! ```text
//! HornerFirst  v[i] = w[0][i]                          rho: w = (1, -1, 0, ...), then 0
//! HornerNext   v[i] = r v[i](prev) + w[0][i]           u_k: w[0][i] = -B[k][N-1-t] at step t
//! FdotFirst    h = sum_i x[i] v[i]
//! FdotNext     h = h(prev) + sum_i x[i] v[i]           x: first-phase cells, v: copies of
//!                                                      second-phase cells (rho, u)
//! ```
//!
//! The accumulator closing a check is copied to the constant 0.
//!
//! **Soundness.** The challenge depends on the verifying key (fixed weights), the public
//! values and every first-phase commitment (`A`, runtime `B`, `Y`). If row `p` of `Y` differs
//! from `A B + c`, its check is a nonzero polynomial in `r` of degree at most `N - 1`, so it
//! holds for at most `N - 1` values of `r`; over all checks of a circuit a wrong product passes
//! with probability at most `(sum of N over all checks) / |F| < 2^-220` for any circuit that
//! fits in `2^26` rows (`|F| ~ 2^254`). A prover that grinds the transcript gains at most a
//! factor of its number of attempts.

use rustc_hash::FxHashMap as HashMap;

use halo2_proofs::halo2curves::bn256::Fr;

use super::adversary::Choice;
use super::{AdviceCol, CellRef, Gate, Layout, Wire};

/// Second-phase cells already laid out, shared by every check of a circuit.
#[derive(Clone, Debug, Default)]
pub(crate) struct Caches {
    /// `(rho_t, -rho_t)` for `t < n`, by chain length `n`.
    powers: HashMap<usize, (Vec<CellRef>, Vec<CellRef>)>,
    /// `-sum_n col[n] r^n`, by constant column.
    weights: HashMap<Vec<i128>, CellRef>,
    /// `-sum_n col[n] r^n`, by column of runtime cells.
    data: HashMap<Vec<CellRef>, CellRef>,
}

/// A first-phase operand of a challenge-weighted dot product.
#[derive(Clone, Copy, Debug)]
enum Operand {
    /// An existing cell, copied into the lane.
    Copy(CellRef),
    /// A new witness (a product's result), assigned in the lane.
    Fresh(i128),
}

fn cell(col: AdviceCol, row: usize) -> CellRef {
    CellRef { col, row }
}

/// `(rho_t, -rho_t)` for `t < n`.
fn powers(layout: &mut Layout, n: usize) -> (Vec<CellRef>, Vec<CellRef>) {
    if let Some((pos, neg)) = layout
        .freivalds
        .powers
        .iter()
        .filter(|(&m, _)| m >= n)
        .min_by_key(|(&m, _)| m)
        .map(|(_, v)| v)
    {
        return (pos[..n].to_vec(), neg[..n].to_vec());
    }
    let (mut pos, mut neg) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for t in 0..n {
        let row = layout.row(if t == 0 {
            Gate::HornerFirst
        } else {
            Gate::HornerNext
        });
        if t == 0 {
            layout.set_weight(row, 0, 0, 1);
            layout.set_weight(row, 0, 1, -1);
        }
        pos.push(cell(AdviceCol::V(0), row));
        neg.push(cell(AdviceCol::V(1), row));
    }
    layout
        .freivalds
        .powers
        .insert(n, (pos.clone(), neg.clone()));
    (pos, neg)
}

/// `u = -sum_n col[n] r^n` for each constant column, by Horner chains `W` side by side.
fn weight_columns(layout: &mut Layout, cols: &[Vec<i128>]) -> Vec<CellRef> {
    let w = layout.params.lanes;
    let mut todo: Vec<&Vec<i128>> = Vec::new();
    let mut seen: rustc_hash::FxHashSet<&Vec<i128>> = rustc_hash::FxHashSet::default();
    for c in cols {
        if !layout.freivalds.weights.contains_key(c) && seen.insert(c) {
            todo.push(c);
        }
    }
    todo.sort_by_key(|c| c.len());
    let mut start = 0;
    while start < todo.len() {
        let n = todo[start].len();
        let end = (start..todo.len())
            .find(|&i| todo[i].len() != n || i - start == w)
            .unwrap_or(todo.len());
        let chunk = &todo[start..end];
        let mut last = 0;
        for t in 0..n {
            let row = layout.row(if t == 0 {
                Gate::HornerFirst
            } else {
                Gate::HornerNext
            });
            for (i, col) in chunk.iter().enumerate() {
                let coeff = col[n - 1 - t];
                if coeff != 0 {
                    layout.set_weight(row, 0, i, -coeff);
                }
            }
            last = row;
        }
        for (i, col) in chunk.iter().enumerate() {
            layout
                .freivalds
                .weights
                .insert((*col).clone(), cell(AdviceCol::V(i), last));
        }
        start = end;
    }
    cols.iter().map(|c| layout.freivalds.weights[c]).collect()
}

/// `u = -sum_n col[n] r^n` for each column of runtime cells (a dot product with `-rho`).
fn data_columns(layout: &mut Layout, cols: &[Vec<CellRef>]) -> Vec<CellRef> {
    cols.iter()
        .map(|col| {
            if let Some(&u) = layout.freivalds.data.get(col) {
                return u;
            }
            let (_, neg) = powers(layout, col.len());
            let items: Vec<(Operand, CellRef)> = col
                .iter()
                .zip(neg)
                .map(|(&b, rho)| (Operand::Copy(b), rho))
                .collect();
            let (_, u) = chain(layout, &items);
            layout.freivalds.data.insert(col.clone(), u);
            u
        })
        .collect()
}

/// A challenge-weighted dot product `sum x v` over consecutive rows: returns the operand
/// cells and the accumulator's last cell.
fn chain(layout: &mut Layout, items: &[(Operand, CellRef)]) -> (Vec<CellRef>, CellRef) {
    let w = layout.params.lanes;
    let mut xs = Vec::with_capacity(items.len());
    let mut last = None;
    for (index, chunk) in items.chunks(w).enumerate() {
        let row = layout.row(if index == 0 {
            Gate::FdotFirst
        } else {
            Gate::FdotNext
        });
        for (i, &(x, v)) in chunk.iter().enumerate() {
            let lane = AdviceCol::X(i);
            let x = match x {
                Operand::Copy(c) => {
                    let value = layout.value(Wire::Cell(c));
                    let placed = layout.assign(lane, row, value);
                    layout.copy(placed, c);
                    placed
                }
                Operand::Fresh(value) => layout.assign(lane, row, value),
            };
            xs.push(x);
            let slot = cell(AdviceCol::V(i), row);
            layout.phase2_sources.push((slot, v));
            layout.copy(slot, v);
        }
        last = Some(cell(AdviceCol::H, row));
    }
    (xs, last.expect("a check has operands"))
}

/// Lays out the results `y` of one row of a product and checks them against its operands:
/// `sum_k a[k] u[k] + sum_n y[n] r^n = 0`, where `u[k] = -sum_n B[k][n] r^n`. Returns the
/// result cells.
fn check(layout: &mut Layout, a: &[CellRef], u: &[CellRef], y: &[i128]) -> Vec<CellRef> {
    let y: Vec<i128> = y
        .iter()
        .map(|&v| layout.choose(Choice::Result, v))
        .collect();
    let zero = layout.cell(Wire::Const(0));
    let (rho, _) = powers(layout, y.len());
    let items: Vec<(Operand, CellRef)> = a
        .iter()
        .zip(u)
        .map(|(&a, &u)| (Operand::Copy(a), u))
        .chain(y.iter().zip(rho).map(|(&y, r)| (Operand::Fresh(y), r)))
        .collect();
    let (xs, h) = chain(layout, &items);
    layout.phase2_checks.push(h);
    layout.copy(h, zero);
    xs[a.len()..].to_vec()
}

/// Rows a direct layout of `groups` would take, and a Freivalds layout.
struct Estimate {
    direct: usize,
    freivalds: usize,
}

impl Estimate {
    /// Freivalds rows copy twice as many cells as direct ones: take them when clearly fewer.
    fn prefer_freivalds(&self) -> bool {
        self.freivalds * 5 < self.direct * 4
    }
}

/// Results sharing one operand list: `(output index, weight per operand, constant)`.
type Group = (Vec<CellRef>, Vec<(usize, Vec<i128>, i128)>);

/// Products with constant weights (`MatMul` and convolutions by parameters): outputs that
/// share their operand list (one row of `A`) are checked together, each distinct weight
/// column is folded into `u` once. Returns `None` when the direct layout is cheaper.
pub(crate) fn constant_products(
    layout: &mut Layout,
    items: &[super::program::LinItem],
) -> Option<Vec<Wire>> {
    if !layout.params.freivalds {
        return None;
    }
    let (w, m) = (layout.params.lanes, layout.params.results);
    let mut out: Vec<Option<Wire>> = vec![None; items.len()];
    let mut groups: HashMap<Vec<CellRef>, usize> = HashMap::default();
    let mut list: Vec<Group> = Vec::new();
    let mut position = HashMap::default();
    for (o, item) in items.iter().enumerate() {
        let (cells, weights, constant) = super::program::collect_terms(item, &mut position);
        if cells.is_empty() {
            out[o] = Some(Wire::Const(constant));
            continue;
        }
        let g = *groups.entry(cells.clone()).or_insert_with(|| {
            list.push((cells, Vec::new()));
            list.len() - 1
        });
        list[g].1.push((o, weights, constant));
    }
    // Columns of every group: weights of operand k across its results (and the constants).
    let columns: Vec<Vec<Vec<i128>>> = list
        .iter()
        .map(|(cells, members)| {
            let mut cols: Vec<Vec<i128>> = (0..cells.len())
                .map(|k| members.iter().map(|(_, ws, _)| ws[k]).collect())
                .collect();
            cols.push(members.iter().map(|(_, _, c)| *c).collect());
            cols
        })
        .collect();
    let mut distinct: HashMap<&Vec<i128>, ()> = HashMap::default();
    let mut est = Estimate {
        direct: 0,
        freivalds: 0,
    };
    let mut longest = 0;
    for ((cells, members), cols) in list.iter().zip(&columns) {
        let n = members.len();
        est.direct += n.div_ceil(m) * cells.len().div_ceil(w);
        let used = cols.iter().filter(|c| c.iter().any(|&v| v != 0)).count();
        est.freivalds += (used + n).div_ceil(w);
        for c in cols.iter().filter(|c| c.iter().any(|&v| v != 0)) {
            distinct.insert(c, ());
        }
        longest = longest.max(n);
    }
    est.freivalds += distinct.len().div_ceil(w) * longest + longest;
    if !est.prefer_freivalds() {
        return None;
    }
    layout.freivalds_saved_rows += est.direct - est.freivalds;
    let one = layout.cell(Wire::Const(1));
    layout.cell(Wire::Const(0));
    let all: Vec<Vec<i128>> = columns
        .iter()
        .flatten()
        .filter(|c| c.iter().any(|&v| v != 0))
        .cloned()
        .collect();
    weight_columns(layout, &all);
    for ((cells, members), cols) in list.iter().zip(&columns) {
        let mut a = Vec::new();
        let mut u = Vec::new();
        for (k, col) in cols.iter().enumerate() {
            if col.iter().all(|&v| v == 0) {
                continue;
            }
            a.push(if k < cells.len() { cells[k] } else { one });
            u.push(layout.freivalds.weights[col]);
        }
        let y: Vec<i128> = members
            .iter()
            .map(|(_, ws, c)| {
                cells
                    .iter()
                    .zip(ws)
                    .map(|(&x, &wt)| wt * layout.value(Wire::Cell(x)))
                    .sum::<i128>()
                    + c
            })
            .collect();
        let results = if a.is_empty() {
            // Every weight and constant is zero.
            members
                .iter()
                .map(|_| layout.cell(Wire::Const(0)))
                .collect()
        } else {
            check(layout, &a, &u, &y)
        };
        for ((o, _, _), r) in members.iter().zip(results) {
            out[*o] = Some(Wire::Cell(r));
        }
    }
    Some(
        out.into_iter()
            .map(|w| w.expect("every output placed"))
            .collect(),
    )
}

/// Products of two runtime operands (attention scores, attention-weighted values, batched
/// matrix products): output `o` is `sum_t a_t b_t` over `pairs[o]`. Outputs sharing their
/// `a` list are checked together; each distinct column of `b` cells is folded into `u` once.
/// Returns the product cell of every output with pairs (`None` for the others), or `None`
/// when the direct layout is cheaper.
pub(crate) fn runtime_products(
    layout: &mut Layout,
    pairs: &[Vec<(CellRef, CellRef)>],
) -> Option<Vec<Option<CellRef>>> {
    if !layout.params.freivalds {
        return None;
    }
    let (w, m) = (layout.params.lanes, layout.params.results);
    let mut groups: HashMap<Vec<CellRef>, usize> = HashMap::default();
    let mut list: Vec<(Vec<CellRef>, Vec<usize>)> = Vec::new();
    for (o, p) in pairs.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        let a: Vec<CellRef> = p.iter().map(|&(a, _)| a).collect();
        let g = *groups.entry(a.clone()).or_insert_with(|| {
            list.push((a, Vec::new()));
            list.len() - 1
        });
        list[g].1.push(o);
    }
    let columns: Vec<Vec<Vec<CellRef>>> = list
        .iter()
        .map(|(a, members)| {
            (0..a.len())
                .map(|k| members.iter().map(|&o| pairs[o][k].1).collect())
                .collect()
        })
        .collect();
    let mut distinct: HashMap<&Vec<CellRef>, ()> = HashMap::default();
    let mut est = Estimate {
        direct: 0,
        freivalds: 0,
    };
    let mut longest = 0;
    let total: usize = pairs.iter().map(Vec::len).sum();
    est.direct = total.div_ceil(m);
    for ((a, members), cols) in list.iter().zip(&columns) {
        let n = members.len();
        est.freivalds += (a.len() + n).div_ceil(w);
        for c in cols {
            if distinct.insert(c, ()).is_none() {
                est.freivalds += n.div_ceil(w);
            }
        }
        longest = longest.max(n);
    }
    est.freivalds += longest;
    if !est.prefer_freivalds() {
        return None;
    }
    layout.freivalds_saved_rows += est.direct - est.freivalds;
    layout.cell(Wire::Const(0));
    let mut out = vec![None; pairs.len()];
    for ((a, members), cols) in list.iter().zip(&columns) {
        let u = data_columns(layout, cols);
        let y: Vec<i128> = members
            .iter()
            .map(|&o| {
                pairs[o]
                    .iter()
                    .map(|&(x, y)| layout.value(Wire::Cell(x)) * layout.value(Wire::Cell(y)))
                    .sum()
            })
            .collect();
        for (&o, r) in members.iter().zip(check(layout, a, &u, &y)) {
            out[o] = Some(r);
        }
    }
    Some(out)
}

/// The second-phase cells of a layout with their values under the challenge `r` (`None`
/// while the challenge is unknown: key generation, or the first pass of a mock prover).
/// Rows are evaluated in order: every copied value comes from an earlier row.
pub fn second_phase(layout: &Layout, r: Option<Fr>) -> Vec<(CellRef, Option<Fr>)> {
    let p = layout.params;
    if !p.freivalds {
        return Vec::new();
    }
    let w = p.lanes;
    let sources: HashMap<CellRef, CellRef> = layout.phase2_sources.iter().copied().collect();
    let mut values: HashMap<CellRef, Fr> = HashMap::default();
    let mut out = Vec::new();
    let weight = |row: usize, i: usize| -> Fr { layout.weights[i].value(row).to_field() };
    let advice = |c: CellRef| -> Fr {
        layout.advice[layout.column_index(c.col)]
            .value(c.row)
            .to_field()
    };
    for (row, gate) in layout.gates.iter().enumerate() {
        match gate {
            Some(g @ (Gate::HornerFirst | Gate::HornerNext)) => {
                for i in 0..w {
                    let c = cell(AdviceCol::V(i), row);
                    let v = r.map(|r| {
                        let prev = if *g == Gate::HornerNext {
                            values[&cell(AdviceCol::V(i), row - 1)]
                        } else {
                            Fr::zero()
                        };
                        r * prev + weight(row, i)
                    });
                    if let Some(v) = v {
                        values.insert(c, v);
                    }
                    out.push((c, v));
                }
            }
            Some(g @ (Gate::FdotFirst | Gate::FdotNext)) => {
                let mut sum = Fr::zero();
                for i in 0..w {
                    let c = cell(AdviceCol::V(i), row);
                    let Some(src) = sources.get(&c) else { continue };
                    let v = r.map(|_| values[src]);
                    if let Some(v) = v {
                        values.insert(c, v);
                        sum += advice(cell(AdviceCol::X(i), row)) * v;
                    }
                    out.push((c, v));
                }
                let h = cell(AdviceCol::H, row);
                let v = r.map(|_| {
                    let prev = if *g == Gate::FdotNext {
                        values[&cell(AdviceCol::H, row - 1)]
                    } else {
                        Fr::zero()
                    };
                    prev + sum
                });
                if let Some(v) = v {
                    values.insert(h, v);
                }
                out.push((h, v));
            }
            _ => {}
        }
    }
    out
}

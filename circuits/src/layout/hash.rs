//! Poseidon hashing of cells: packing into field elements, then the sponge, one round per row.
//!
//! ```text
//! packing (per element)   LinFirst/LinNext rows, result lane 0:
//!                         z[0] = sum 2^shift_k x[k] + sum 2^shift_k 2^(b_k - 1)
//!                         ceil(values / W) rows
//! permutation             the rows of poseidon::schedule(W), several rounds each (27 rows
//!                         at W = 8, 13 at W = 16, 6 at W = 32); each row starts from the
//!                         state in x[0..3], and the state after its last round lies in the
//!                         next row's x[0..3] (the next permutation's first row, or a row
//!                         without gate holding the hash in x[0])
//! ```
//!
//! A hash of `L` elements takes `rows(W) * ceil(L / 2) + 1` rows plus the packing rows. The values
//! hashed must already be constrained to their envelopes (range-checked inputs and parameters,
//! outputs bounded by construction).

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;

use super::{AdviceCol, CellRef, Gate, Layout, Wire};
use crate::field::field;
use crate::poseidon::{self, constants, pack_slots};

/// The field value of a cell.
fn fr(layout: &Layout, c: CellRef) -> Fr {
    layout.cell_value(c).to_field()
}

/// `2^e` in the field.
fn pow2(e: u32) -> Fr {
    Fr::from(2).pow_vartime([u64::from(e)])
}

/// Packs `(wire, bits, shift)` members into one element cell.
fn pack_element(layout: &mut Layout, members: &[(Wire, u32, u32)]) -> CellRef {
    let w = layout.params.lanes;
    let mut constant = Fr::ZERO;
    let mut cells: Vec<(CellRef, Fr)> = Vec::new();
    for &(wire, bits, shift) in members {
        let place = pow2(shift);
        constant += place * field(1i128 << (bits - 1));
        match wire {
            Wire::Const(v) => constant += place * field(v),
            Wire::Cell(c) => cells.push((c, place)),
        }
    }
    let mut acc = constant;
    let mut result = None;
    let chunks: Vec<&[(CellRef, Fr)]> = if cells.is_empty() {
        vec![&[]]
    } else {
        cells.chunks(w).collect()
    };
    for (i, chunk) in chunks.into_iter().enumerate() {
        let row = layout.row(if i == 0 {
            Gate::LinFirst
        } else {
            Gate::LinNext
        });
        if i == 0 {
            layout.set_constant_field(row, 0, constant);
        }
        for (lane, &(c, place)) in chunk.iter().enumerate() {
            let v = fr(layout, c);
            let lane_cell = layout.assign_field(AdviceCol::X(lane), row, v);
            layout.copy(lane_cell, c);
            layout.set_weight_field(row, 0, lane, place);
            acc += place * v;
        }
        result = Some(layout.assign_field(AdviceCol::Z(0), row, acc));
    }
    result.expect("at least one row")
}

/// Packs `(wire, envelope bits)` items into element cells.
fn pack_items(layout: &mut Layout, items: &[(Wire, u32)]) -> Vec<CellRef> {
    let bits: Vec<u32> = items.iter().map(|&(_, b)| b).collect();
    let slots = pack_slots(&bits);
    let count = slots.last().map_or(0, |s| s.element + 1);
    let mut members: Vec<Vec<(Wire, u32, u32)>> = vec![Vec::new(); count];
    for (&(wire, b), slot) in items.iter().zip(&slots) {
        members[slot.element].push((wire, b, slot.shift));
    }
    members.iter().map(|m| pack_element(layout, m)).collect()
}

/// Hashes `(wire, envelope bits)` items; returns the cell holding the hash.
pub(crate) fn hash(layout: &mut Layout, items: &[(Wire, u32)]) -> CellRef {
    assert!(
        layout.params.poseidon,
        "hashing needs a circuit configured with the Poseidon gates"
    );
    let elements = pack_items(layout, items);
    sponge(layout, elements)
}

/// Commits to `(wire, envelope bits)` items with `blinding`, a free witness cell placed first
/// in the message ([`poseidon::commit_values`]); returns the cell holding the commitment.
pub(crate) fn commit(layout: &mut Layout, blinding: Fr, items: &[(Wire, u32)]) -> CellRef {
    assert!(
        layout.params.poseidon,
        "committing needs a circuit configured with the Poseidon gates"
    );
    let row = layout.row_with(None);
    let key = layout.assign_field(AdviceCol::X(0), row, blinding);
    let mut elements = vec![key];
    elements.extend(pack_items(layout, items));
    sponge(layout, elements)
}

/// The sponge over message cells; returns the cell holding the hash.
fn sponge(layout: &mut Layout, elements: Vec<CellRef>) -> CellRef {
    let count = elements.len();
    let zero = layout.cell(Wire::Const(0));
    let cap = layout.cell(Wire::Const(i128::from(count as u64) << 64));
    let words: Vec<CellRef> = if elements.is_empty() {
        vec![zero, zero]
    } else {
        elements
    };
    let init = poseidon::initial_state(count);
    let mut state = init;
    let rows = poseidon::schedule(layout.params.lanes);
    let kinds = poseidon::row_kinds(layout.params.lanes);
    let gate = |spec: &poseidon::RowSpec| {
        Gate::Poseidon(kinds.iter().position(|k| k == spec).expect("listed") as u8)
    };
    let mut row = layout.row(gate(&rows[0]));
    for (i, (&src, &v)) in [cap, zero, zero].iter().zip(&init).enumerate() {
        let c = layout.assign_field(AdviceCol::X(i), row, v);
        layout.copy(c, src);
    }
    let pairs: Vec<&[CellRef]> = words.chunks(2).collect();
    for (p, pair) in pairs.iter().enumerate() {
        let message = [pair[0], pair.get(1).copied().unwrap_or(zero)];
        let mut round = 0usize;
        for (k, spec) in rows.iter().enumerate() {
            if spec.full {
                full_rows(layout, row, spec, round, &mut state, &message);
            } else {
                partial_rows(layout, row, spec, round, &mut state);
            }
            round += spec.rounds;
            let next = if k + 1 < rows.len() {
                Some(gate(&rows[k + 1]))
            } else if p + 1 < pairs.len() {
                Some(gate(&rows[0]))
            } else {
                None
            };
            row = layout.row_with(next);
            for (i, &v) in state.iter().enumerate() {
                layout.assign_field(AdviceCol::X(i), row, v);
            }
        }
    }
    CellRef {
        col: AdviceCol::X(0),
        row,
    }
}

/// Sets round `r`'s constants for the row's `i`-th round.
fn set_round_constants(layout: &mut Layout, row: usize, i: usize, r: usize) {
    let w = layout.params.lanes;
    for k in 0..3 {
        let f = 3 * i + k;
        layout.set_weight_field(row, f / w, f % w, constants().round_constants[r][k]);
    }
}

/// A row of full rounds starting at round `first` (state already in `x[0..3]`).
fn full_rows(
    layout: &mut Layout,
    row: usize,
    spec: &poseidon::RowSpec,
    first: usize,
    state: &mut [Fr; 3],
    message: &[CellRef; 2],
) {
    let c = constants();
    for i in 0..spec.rounds {
        let r = first + i;
        set_round_constants(layout, row, i, r);
        if i > 0 {
            for (k, &v) in state.iter().enumerate() {
                layout.assign_field(AdviceCol::X(6 * i + k), row, v);
            }
        }
        let mut t = [Fr::ZERO; 3];
        for k in 0..3 {
            t[k] = state[k] + c.round_constants[r][k];
        }
        if spec.absorb && i == 0 {
            for (k, &m) in message.iter().enumerate() {
                let v = fr(layout, m);
                let cell = layout.assign_field(AdviceCol::X(6 * spec.rounds + k), row, v);
                layout.copy(cell, m);
                t[1 + k] += v;
            }
        }
        let mut u = [Fr::ZERO; 3];
        for k in 0..3 {
            let q = t[k].square();
            layout.assign_field(AdviceCol::X(6 * i + 3 + k), row, q);
            u[k] = q.square() * t[k];
        }
        for (k, s) in state.iter_mut().enumerate() {
            *s = (0..3).map(|j| c.mds[k][j] * u[j]).sum();
        }
    }
}

/// A row of partial rounds starting at round `first` (state already in `x[0..3]`).
fn partial_rows(
    layout: &mut Layout,
    row: usize,
    spec: &poseidon::RowSpec,
    first: usize,
    state: &mut [Fr; 3],
) {
    let c = constants();
    for i in 0..spec.rounds {
        let r = first + i;
        set_round_constants(layout, row, i, r);
        if i > 0 {
            layout.assign_field(AdviceCol::X(2 * i + 2), row, state[0]);
        }
        let mut t = [Fr::ZERO; 3];
        for k in 0..3 {
            t[k] = state[k] + c.round_constants[r][k];
        }
        let q = t[0].square();
        layout.assign_field(AdviceCol::X(2 * i + 3), row, q);
        t[0] *= q.square();
        for (k, s) in state.iter_mut().enumerate() {
            *s = (0..3).map(|j| c.mds[k][j] * t[j]).sum();
        }
    }
}

//! Poseidon hashing of cells: packing into field elements, then the sponge, one round per row.
//!
//! ```text
//! packing (per element)   LinFirst/LinNext rows, result lane 0:
//!                         z[0] = sum 2^shift_k x[k] + sum 2^shift_k 2^(b_k - 1)
//!                         ceil(values / W) rows
//! permutation             65 rows (PoseidonAbsorb, 3 x PoseidonFull, 57 x PoseidonPartial,
//!                         4 x PoseidonFull); row r holds the state before round r in x[0..3],
//!                         the squares in x[3..6], the message words in x[6..8] (first round);
//!                         the state after the last round lies in the following row, which is
//!                         the next permutation's first row or a row without gate
//! ```
//!
//! A hash of `L` elements takes `65 * ceil(L / 2) + 1` rows plus the packing rows. The values
//! hashed must already be constrained to their envelopes (range-checked inputs and parameters,
//! outputs bounded by construction).

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;

use super::{AdviceCol, CellRef, Gate, Layout, Val, Wire};
use crate::circuit::field;
use crate::poseidon::{self, constants, is_full_round, pack_slots, ROUNDS};

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

/// Hashes `(wire, envelope bits)` items; returns the cell holding the hash.
pub(crate) fn hash(layout: &mut Layout, items: &[(Wire, u32)]) -> CellRef {
    assert!(
        layout.params.poseidon,
        "hashing needs a circuit configured with the Poseidon gates"
    );
    let bits: Vec<u32> = items.iter().map(|&(_, b)| b).collect();
    let slots = pack_slots(&bits);
    let count = slots.last().map_or(0, |s| s.element + 1);
    let mut members: Vec<Vec<(Wire, u32, u32)>> = vec![Vec::new(); count];
    for (&(wire, b), slot) in items.iter().zip(&slots) {
        members[slot.element].push((wire, b, slot.shift));
    }
    let elements: Vec<CellRef> = members.iter().map(|m| pack_element(layout, m)).collect();

    let zero = layout.cell(Wire::Const(0));
    let cap = layout.cell(Wire::Const(i128::from(count as u64) << 64));
    let words: Vec<CellRef> = if elements.is_empty() {
        vec![zero, zero]
    } else {
        elements
    };
    let init = poseidon::initial_state(count);
    let mut state = init;
    let mut row = layout.row(Gate::PoseidonAbsorb);
    for (i, (&src, &v)) in [cap, zero, zero].iter().zip(&init).enumerate() {
        let c = layout.assign_field(AdviceCol::X(i), row, v);
        layout.copy(c, src);
    }
    let c = constants();
    let pairs: Vec<&[CellRef]> = words.chunks(2).collect();
    for (p, pair) in pairs.iter().enumerate() {
        let message = [pair[0], pair.get(1).copied().unwrap_or(zero)];
        for r in 0..ROUNDS {
            let mut t = [Fr::ZERO; 3];
            for i in 0..3 {
                t[i] = state[i] + c.round_constants[r][i];
                layout.set_weight_field(row, 0, i, c.round_constants[r][i]);
            }
            if r == 0 {
                for (k, &m) in message.iter().enumerate() {
                    let v = fr(layout, m);
                    let cell = layout.assign_field(AdviceCol::X(6 + k), row, v);
                    layout.copy(cell, m);
                    t[1 + k] += v;
                }
            }
            let sboxed = if is_full_round(r) { 3 } else { 1 };
            let mut u = t;
            for i in 0..sboxed {
                let q = t[i].square();
                layout.assign_field(AdviceCol::X(3 + i), row, q);
                u[i] = q.square() * t[i];
            }
            for (i, s) in state.iter_mut().enumerate() {
                *s = (0..3).map(|j| c.mds[i][j] * u[j]).sum();
            }
            let next_gate = if r + 1 < ROUNDS {
                Some(if is_full_round(r + 1) {
                    Gate::PoseidonFull
                } else {
                    Gate::PoseidonPartial
                })
            } else if p + 1 < pairs.len() {
                Some(Gate::PoseidonAbsorb)
            } else {
                None
            };
            row = layout.row_with(next_gate);
            for (i, &v) in state.iter().enumerate() {
                layout.assign_field(AdviceCol::X(i), row, v);
            }
        }
    }
    debug_assert!(!layout.has_witness || Val::Field(state[0]) == layout.advice[0][row].unwrap());
    CellRef {
        col: AdviceCol::X(0),
        row,
    }
}

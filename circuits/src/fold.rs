//! Folded circuits: every logical row of a layout spread over `S` consecutive rows of one
//! advice column (`S` = [`CircuitParams::stride`]).
//!
//! A halo2 verifier pays for every committed column (on chain, one elliptic-curve
//! multiplication each), but little for one more rotation of a column it already opens. A
//! folded circuit therefore puts the lanes, result lanes and stream slots of logical row `r`
//! into rows `r*S .. r*S+S` of the single advice column `A`, in [`advice_offset`] order, and the
//! row's coefficients (weights `w[j][i]` at `j*W + i`, constants `c[j]` at `M*W + j`, then the
//! gate flags) into the same rows of `f` fixed columns `F`:
//!
//! ```text
//! row       A        F_0          F_1 ...    B     Tf
//! r*S       x[0]     coef 0       coef S     1     0
//! r*S+1     x[1]     coef 1       coef S+1   0     0
//! ...
//! r*S+W     z[0]     ...                     0     0
//! r*S+W+M   ti[0]                            0     table tag
//! r*S+..    to[0]                            0     0
//! ```
//!
//! A row's coefficients end with one flag per gate ([`gates`]): gate `g` is enabled by
//! `B * F(flag_g)`, where the selector `B` marks the first row of every logical row, so one
//! selector column serves every gate. Gates query `A` and `F` at rotations `offset` (this
//! logical row), `offset - S` (the previous one, for chained sums) or `offset + S` (the next
//! one, for Poseidon). Range checks are bit decompositions (`BitsFirst`, `BitsNext` rows), so
//! there is no range table. The streams become one lookup each, applied on
//! every row, whose inputs are scaled by the tag so that untagged rows look up the zero row:
//!
//! ```text
//! function   (Tf, Tf * A, Tf * A(+Lf))       in {(0, 0, 0)} u {(tag, tag x, tag f(x))}
//! ```
//!
//! The tag is nonzero, so `t * a = t * x` forces `a = x`. The two-factor selector and the
//! scaled lookup make folded circuits degree 5 (a permutation product then covers three
//! columns).

use crate::layout::{AdviceCol, Gate};
use crate::params::CircuitParams;

/// The gates of a folded circuit, in the order of their flags among a row's coefficients.
pub fn gates(p: &CircuitParams) -> Vec<Gate> {
    let poseidon = if p.poseidon {
        crate::poseidon::row_kinds(p.lanes).len()
    } else {
        0
    };
    // ReLU rows hard-code the range table's limb split; folded circuits select instead.
    Gate::ALL
        .iter()
        .copied()
        .filter(|&g| g != Gate::Relu && g != Gate::RescaleRelu)
        .chain([Gate::BitsFirst, Gate::BitsNext])
        .chain((0..poseidon).map(|k| Gate::Poseidon(k as u8)))
        .collect()
}

/// Index of `gate`'s flag among a folded row's coefficients (after the weights and constants).
pub fn gate_index(p: &CircuitParams, gate: Gate) -> Option<usize> {
    gates(p)
        .iter()
        .position(|&g| g == gate)
        .map(|i| p.results * p.lanes + p.results + i)
}

/// Position of an advice cell inside its (logical) row: its index among the row's cells
/// ([`AdviceCol::index`]).
pub fn advice_offset(p: &CircuitParams, col: AdviceCol) -> usize {
    col.index(p)
}

/// Index of weight `w[j][i]` among a row's coefficients.
pub fn weight_index(p: &CircuitParams, j: usize, i: usize) -> usize {
    j * p.lanes + i
}

/// Index of constant `c[j]` among a row's coefficients.
pub fn constant_index(p: &CircuitParams, j: usize) -> usize {
    p.results * p.lanes + j
}

/// Where coefficient `q` of a row lives: `(fixed column, offset inside the row)`. Unfolded,
/// every coefficient has its own column; folded, `S` consecutive coefficients share one.
pub fn coefficient_place(p: &CircuitParams, q: usize) -> (usize, usize) {
    if p.fold == 0 {
        (q, 0)
    } else {
        let s = p.stride();
        (q / s, q % s)
    }
}

/// Physical row of cell `offset` of logical row `row`.
pub fn physical_row(p: &CircuitParams, row: usize, offset: usize) -> usize {
    row * p.stride() + offset
}

/// Rotation of a query at logical rotation `rot` of the cell at `offset`.
pub fn rotation(p: &CircuitParams, rot: i32, offset: usize) -> i32 {
    rot * p.stride() as i32 + offset as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(fold: usize) -> CircuitParams {
        CircuitParams {
            lanes: 4,
            results: 2,
            range_streams: usize::from(fold == 0),
            table_streams: 1,
            degree: 5,
            fold,
            ..Default::default()
        }
    }

    #[test]
    fn cells_of_a_row_are_distinct_and_inside_the_stride() {
        let p = folded(1);
        let cols: Vec<AdviceCol> = (0..4)
            .map(AdviceCol::X)
            .chain((0..2).map(AdviceCol::Z))
            .chain([AdviceCol::TableIn(0), AdviceCol::TableOut(0)])
            .collect();
        let mut seen: Vec<usize> = cols.iter().map(|&c| advice_offset(&p, c)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        assert!(seen.iter().all(|&o| o < p.stride()));
    }

    #[test]
    fn coefficients_fill_the_fold_columns_without_overlap() {
        for fold in [1, 2, 3] {
            let p = folded(fold);
            let mut places: Vec<(usize, usize)> = (0..p.coefficients())
                .map(|q| coefficient_place(&p, q))
                .collect();
            assert!(places.iter().all(|&(c, o)| c < fold && o < p.stride()));
            places.sort_unstable();
            places.dedup();
            assert_eq!(places.len(), p.coefficients());
        }
        // 8 weights, 2 constants and 9 gate flags; 8 advice cells.
        assert_eq!(folded(1).coefficients(), 19);
        assert_eq!(folded(1).stride(), 19);
        assert_eq!(folded(2).stride(), 10);
        assert_eq!(folded(3).stride(), 8);
        assert_eq!(folded(0).stride(), 1);
    }

    #[test]
    fn every_gate_has_its_own_flag() {
        let p = CircuitParams {
            lanes: 8,
            poseidon: true,
            ..folded(1)
        };
        let mut flags: Vec<usize> = gates(&p)
            .into_iter()
            .map(|g| gate_index(&p, g).unwrap())
            .collect();
        let n = flags.len();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), n);
        assert!(flags
            .iter()
            .all(|&f| (p.results * p.lanes + p.results..p.coefficients()).contains(&f)));
        assert_eq!(gate_index(&folded(1), Gate::Poseidon(0)), None);
    }

    #[test]
    fn the_folded_gate_count_matches_the_gate_list() {
        for (lanes, poseidon) in [(4, false), (8, true), (16, true), (16, false)] {
            let p = CircuitParams {
                lanes,
                results: 2,
                poseidon,
                fold: 2,
                degree: 5,
                ..CircuitParams::default()
            };
            assert_eq!(
                p.coefficients(),
                p.results * p.lanes + p.results + gates(&p).len(),
                "{p:?}"
            );
        }
    }
}

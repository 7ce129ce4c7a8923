//! The shape of a circuit: how many columns of each kind, and how many rows.
//!
//! ```text
//! advice   x[0..W)      operand lanes: inputs of every gate
//!          z[0..M)      result lanes: accumulators, gate outputs
//!          rs[0..Lr)    range-check streams: one value per row, looked up in the range table
//!          ti[0..Lf)    function-table streams (input) ...
//!          to[0..Lf)    ... and output, looked up as (tag, ti, to) in the function tables
//! fixed    w[j][i]      per-row coefficients: lane i's weight for result j (j < M, i < W)
//!          c[j]         per-row constant of result j
//!          rtag[0..Lr)  range bits checked by each range stream row (0: unused)
//!          ttag[0..Lf)  table used by each function stream row (0: unused)
//! instance inst         public inputs and outputs, in order
//! ```
//!
//! Circuits that hash (see [`crate::visibility`]) also carry the Poseidon gates, which use the
//! first eight operand lanes.
//!
//! Gates read one row (and the previous row's result lanes when they chain); streams are filled
//! independently of the gate rows, and copy constraints connect any cell to any other.

use serde::{Deserialize, Serialize};

/// Column counts and size of a model circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CircuitParams {
    /// log2 of the number of rows.
    pub k: u32,
    /// Operand lanes `W` (at least 4 and at least `2M`).
    pub lanes: usize,
    /// Result lanes `M` (at least 2).
    pub results: usize,
    /// Range-check streams `Lr` (at least 1).
    pub range_streams: usize,
    /// Function-table streams `Lf` (0 when the program has no lookup tables).
    pub table_streams: usize,
    /// Bits of the range table: values in `[0, 2^R)` are checked in one lookup.
    pub range_bits: u32,
    /// Constraint degree the system is padded to (4 or more); higher degrees put more columns
    /// in each permutation product at the cost of more quotient pieces.
    pub degree: usize,
    /// Whether the Poseidon round gates are configured (needs at least 8 lanes).
    #[serde(default)]
    pub poseidon: bool,
    /// Folding: 0 gives every lane, stream and coefficient its own halo2 column; `f > 0` folds
    /// each logical row into [`CircuitParams::stride`] consecutive rows of a single advice
    /// column, its coefficients into `f` fixed columns (see the `fold` module). Folded circuits
    /// have few commitments, which is what on-chain verification pays for. Not serialized
    /// when 0, so unfolded shapes keep the form (and cached keys) they had before folding.
    #[serde(default, skip_serializing_if = "is_unfolded")]
    pub fold: usize,
    /// Whether products may be checked by Freivalds' test (`layout::freivalds`):
    /// adds `W + 1` second-phase advice columns (`v[0..W)`, `h`) and one challenge drawn
    /// after the first-phase commitments. Unfolded circuits only; not serialized when off.
    #[serde(default, skip_serializing_if = "is_off")]
    pub freivalds: bool,
    /// Function-table banks: the function table is spread over this many sets of table
    /// columns, function stream `l` looking up in bank `l % banks` (see
    /// [`CircuitParams::banks`]). A table larger than one bank's rows is split into parts
    /// (`layout::gather`), so tables larger than `2^k` rows fit a circuit of `2^k` rows. 0
    /// and 1 both mean one bank; unfolded circuits only; not serialized below 2, so one-bank
    /// shapes keep the form (and cached keys) they had before banks.
    #[serde(default, skip_serializing_if = "is_one_bank")]
    pub table_banks: usize,
}

impl Default for CircuitParams {
    /// A small general-purpose shape (the sizing code chooses real ones per program).
    fn default() -> Self {
        Self {
            k: 10,
            lanes: 8,
            results: 4,
            range_streams: 1,
            table_streams: 1,
            range_bits: 8,
            degree: 4,
            poseidon: false,
            fold: 0,
            freivalds: false,
            table_banks: 0,
        }
    }
}

/// Gate flags of a folded row besides the Poseidon rounds: every main-region gate but the
/// ReLU rows, and the two bit-decomposition gates (`fold::gates` lists them; a test there
/// keeps the two in step).
pub const FOLDED_BASE_GATES: usize = 9;

fn is_unfolded(fold: &usize) -> bool {
    *fold == 0
}

fn is_off(flag: &bool) -> bool {
    !*flag
}

fn is_one_bank(banks: &usize) -> bool {
    *banks <= 1
}

/// Why a parameter set is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid circuit parameters: {0}")]
pub struct ParamsError(pub String);

impl CircuitParams {
    /// Checks the relations the gates rely on.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let err = |m: String| Err(ParamsError(m));
        if self.results < 2 {
            return err(format!(
                "need at least 2 result lanes, got {}",
                self.results
            ));
        }
        if self.lanes < 4 || self.lanes < 2 * self.results {
            return err(format!(
                "need at least max(4, 2 x results) operand lanes, got {} for {} results",
                self.lanes, self.results
            ));
        }
        if self.poseidon && self.lanes < 8 {
            return err(format!(
                "the Poseidon gates need at least 8 operand lanes, got {}",
                self.lanes
            ));
        }
        if self.range_lookups() && self.range_streams == 0 {
            return err("need at least one range stream".into());
        }
        if !self.range_lookups() && self.range_streams > 0 {
            return err("folded circuits check ranges by bits, without range streams".into());
        }
        if !(2..=24).contains(&self.range_bits) {
            return err(format!(
                "range bits must be 2 to 24, got {}",
                self.range_bits
            ));
        }
        if !(4..=9).contains(&self.degree) {
            return err(format!("degree must be 4 to 9, got {}", self.degree));
        }
        if self.fold > 0 && self.degree < 5 {
            return err(format!(
                "folded circuits need degree 5 or more, got {}",
                self.degree
            ));
        }
        if self.fold > self.coefficients() {
            return err(format!(
                "{} fold columns for {} coefficients per row",
                self.fold,
                self.coefficients()
            ));
        }
        if self.freivalds && self.fold > 0 {
            return err("Freivalds checks need an unfolded circuit".into());
        }
        if self.banks() > 1 {
            if self.fold > 0 {
                return err("function-table banks need an unfolded circuit".into());
            }
            if self.table_streams == 0 || !self.table_streams.is_multiple_of(self.banks()) {
                return err(format!(
                    "{} function streams cannot be shared evenly by {} table banks",
                    self.table_streams,
                    self.banks()
                ));
            }
        }
        if !(4..=26).contains(&self.k) {
            return err(format!("k must be 4 to 26, got {}", self.k));
        }
        Ok(())
    }

    /// Sets of function-table columns (at least 1).
    pub fn banks(&self) -> usize {
        self.table_banks.max(1)
    }

    /// The bank function stream `l` looks up in.
    pub fn bank_of_stream(&self, l: usize) -> usize {
        l % self.banks()
    }

    /// Groups of four operand lanes (division and selection gates) per row.
    pub fn quad_groups(&self) -> usize {
        (self.lanes / 4).min(self.results)
    }

    /// Groups of seven operand lanes (rescale-and-ReLU gate) per row.
    pub fn septet_groups(&self) -> usize {
        (self.lanes / 7).min(self.results)
    }

    /// Groups of three operand lanes (square-root gate) per row.
    pub fn triple_groups(&self) -> usize {
        (self.lanes / 3).min(self.results)
    }

    /// Number of first-phase advice columns.
    pub fn advice_columns(&self) -> usize {
        self.lanes + self.results + self.range_streams + 2 * self.table_streams
    }

    /// Number of second-phase advice columns (Freivalds checks: `v[0..W)` and `h`).
    pub fn challenge_columns(&self) -> usize {
        if self.freivalds {
            self.lanes + 1
        } else {
            0
        }
    }

    /// Number of fixed columns, selectors not included.
    pub fn fixed_columns(&self) -> usize {
        self.results * self.lanes + self.results + self.range_streams + self.table_streams
    }

    /// Whether range checks are lookups in the range table (unfolded circuits) or bit
    /// decompositions (folded circuits: `BitsFirst` and `BitsNext` rows).
    pub fn range_lookups(&self) -> bool {
        self.fold == 0
    }

    /// Coefficients per row: the weights `w[j][i]`, the constants `c[j]`, and in a folded
    /// circuit one gate flag per gate (the list is `fold::gates`).
    pub fn coefficients(&self) -> usize {
        let flags = if self.fold == 0 {
            0
        } else {
            let poseidon = if self.poseidon {
                crate::poseidon::row_kinds(self.lanes).len()
            } else {
                0
            };
            FOLDED_BASE_GATES + poseidon
        };
        self.results * self.lanes + self.results + flags
    }

    /// Physical rows per logical row: 1 unfolded; folded, enough for every advice cell of a
    /// row in the one advice column and every coefficient in the `fold` fixed columns.
    pub fn stride(&self) -> usize {
        if self.fold == 0 {
            1
        } else {
            self.advice_columns()
                .max(self.coefficients().div_ceil(self.fold))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolded_shapes_serialize_as_before_folding() {
        let p = CircuitParams::default();
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("fold"), "{json}");
        let folded = CircuitParams {
            fold: 2,
            range_streams: 0,
            degree: 5,
            ..p
        };
        let json = serde_json::to_string(&folded).unwrap();
        assert_eq!(
            serde_json::from_str::<CircuitParams>(&json).unwrap(),
            folded
        );
        folded.validate().unwrap();
        // A folded shape needs degree 5 and no range streams.
        assert!(CircuitParams {
            degree: 4,
            ..folded
        }
        .validate()
        .is_err());
        assert!(CircuitParams {
            range_streams: 1,
            ..folded
        }
        .validate()
        .is_err());
    }
}

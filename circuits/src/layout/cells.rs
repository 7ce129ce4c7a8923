//! A column's cells, held compactly.
//!
//! A layout holds every cell value, weight and row constant of its circuit until the circuit
//! is synthesized: for a model with millions of parameters, tens of millions of cells. Nearly
//! all of them are small integers (quantized values and weights, limbs, place values), so a
//! column keeps them as `i64`, and the few others (wide integers, field elements: hash
//! states, Poseidon's round constants) beside them, marked in place. That is 8 bytes a cell
//! instead of the 48 of an `Option<Val>`.

use std::collections::BTreeMap;

use super::Val;

/// Marks a cell never written.
const UNSET: i64 = i64::MIN;
/// Marks a cell whose value is held in `wide`.
const WIDE: i64 = i64::MIN + 1;

/// One column's cells by row: each unset, or holding a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    small: Vec<i64>,
    wide: BTreeMap<usize, Val>,
}

impl Cells {
    /// Rows up to the last one written.
    pub fn len(&self) -> usize {
        self.small.len()
    }

    /// Whether no cell was ever written.
    pub fn is_empty(&self) -> bool {
        self.small.is_empty()
    }

    /// The value on `row`; `None` when it was never written.
    pub fn get(&self, row: usize) -> Option<Val> {
        match self.small.get(row).copied() {
            None | Some(UNSET) => None,
            Some(WIDE) => Some(self.wide[&row]),
            Some(v) => Some(Val::Int(i128::from(v))),
        }
    }

    /// The value on `row`, zero when it was never written (fixed columns: an unset
    /// coefficient is zero).
    pub fn value(&self, row: usize) -> Val {
        self.get(row).unwrap_or_default()
    }

    /// Writes `value` on `row`, growing the column as needed.
    pub fn set(&mut self, row: usize, value: Val) {
        if self.small.len() <= row {
            self.small.resize(row + 1, UNSET);
        }
        let small = match value {
            Val::Int(v) => i64::try_from(v).ok().filter(|&v| v > WIDE),
            Val::Field(_) => None,
        };
        match small {
            Some(v) => {
                if self.small[row] == WIDE {
                    self.wide.remove(&row);
                }
                self.small[row] = v;
            }
            None => {
                self.small[row] = WIDE;
                self.wide.insert(row, value);
            }
        }
    }

    /// Writes `value` on the row after the last one written.
    pub fn push(&mut self, value: Val) {
        self.set(self.small.len(), value);
    }

    /// Every row's cell in order, up to the last row written.
    pub fn iter(&self) -> impl Iterator<Item = Option<Val>> + '_ {
        (0..self.small.len()).map(|row| self.get(row))
    }

    /// Every row's value in order, unset cells as zero.
    pub fn values(&self) -> impl Iterator<Item = Val> + '_ {
        self.iter().map(Option::unwrap_or_default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::halo2curves::bn256::Fr;

    #[test]
    fn every_kind_of_value_reads_back() {
        let mut c = Cells::default();
        assert!(c.is_empty() && c.get(0).is_none());
        let values = [
            Val::Int(0),
            Val::Int(-5),
            Val::Int(1 << 40),
            Val::Int(i128::from(i64::MAX)),
            Val::Int(i128::from(i64::MIN)),
            Val::Int(i128::from(i64::MIN) + 1),
            Val::Int(i128::from(i64::MIN) + 2),
            Val::Int(i128::from(i64::MIN) - 1),
            Val::Int(1 << 100),
            Val::Int(-(1 << 100)),
            Val::Field(Fr::from(7) - Fr::from(9)),
        ];
        for (row, &v) in values.iter().enumerate() {
            c.set(2 * row + 1, v);
        }
        assert_eq!(c.len(), 2 * values.len());
        for (row, &v) in values.iter().enumerate() {
            assert_eq!(c.get(2 * row + 1), Some(v), "row {}", 2 * row + 1);
            assert_eq!(c.get(2 * row), None, "unset row {}", 2 * row);
            assert_eq!(c.value(2 * row), Val::Int(0), "unset row {}", 2 * row);
        }
        assert_eq!(c.get(c.len()), None);
        // Two sentinels and four values out of range are held wide.
        assert_eq!(c.wide.len(), 6);
        let all: Vec<Option<Val>> = c.iter().collect();
        assert_eq!(all.len(), c.len());
        assert_eq!(all[17], Some(Val::Int(1 << 100)));
        assert_eq!(c.values().filter(|&v| v == Val::Int(0)).count(), 12);
        // A wide value overwritten by a small one is forgotten, and the other way round.
        c.set(17, Val::Int(3));
        c.set(1, Val::Int(1 << 90));
        assert_eq!(c.get(17), Some(Val::Int(3)));
        assert_eq!(c.get(1), Some(Val::Int(1 << 90)));
        assert_eq!(c.wide.len(), 6);
        c.push(Val::Int(-1));
        assert_eq!(c.get(c.len() - 1), Some(Val::Int(-1)));
    }
}

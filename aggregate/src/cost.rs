//! What an aggregation circuit costs before its key is made: its cells, the columns they take
//! at a number of rows, and the memory that proving it takes.
//!
//! An aggregation circuit's cells do not depend on its rows (only on the proofs it verifies,
//! and on the range table's width, which follows the rows): verifying proofs one by one gives
//! each proof's cells, and a group's circuit takes their sum and what folding their
//! accumulators adds per proof ([`ProofCells`]). The columns follow from
//! the cells and the rows, as snark-verifier's layout chooses them, and the memory from the
//! columns and rows ([`memory_estimate`]). This is what lets `prove --aggregate` choose its
//! groups within a memory budget from the proofs alone, before any aggregation key is made.

use halo2_proofs::halo2curves::bn256::Bn256;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::halo2::aggregation::AggregationConfigParams;
use snark_verifier_sdk::Snark;

use crate::circuit::{layout, Shape, MINIMUM_ROWS};
use crate::AggregateError;

/// The cells an aggregation circuit assigns, whatever its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cells {
    /// Cells of the gate's advice columns.
    pub advice: u64,
    /// Cells copied into the range check's lookup columns.
    pub lookup: u64,
    /// Distinct constants (fixed cells).
    pub constants: u64,
}

impl std::ops::Add for Cells {
    type Output = Cells;

    fn add(self, o: Cells) -> Cells {
        Cells {
            advice: self.advice + o.advice,
            lookup: self.lookup + o.lookup,
            constants: self.constants + o.constants,
        }
    }
}

impl std::iter::Sum for Cells {
    fn sum<I: Iterator<Item = Cells>>(iter: I) -> Cells {
        iter.fold(Cells::default(), |a, b| a + b)
    }
}

impl Cells {
    /// The columns these cells take in 2^`k` rows, as the circuit's layout counts them.
    pub fn config(&self, k: u32) -> AggregationConfigParams {
        let usable = (1u64 << k) - MINIMUM_ROWS as u64;
        AggregationConfigParams {
            degree: k,
            num_advice: self.advice.div_ceil(usable) as usize,
            num_lookup_advice: self.lookup.div_ceil(usable) as usize,
            num_fixed: self.constants.div_ceil(1u64 << k) as usize,
            lookup_bits: k as usize - 1,
        }
    }
}

/// The cells of the aggregation circuit over `snarks` with `shape`, laid out with
/// `srs`'s rows (they decide the range table's width, so cells counted at one size hold at
/// that size only). No key is made: this is the layout's witness generation alone.
pub fn cells(
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
) -> Result<Cells, AggregateError> {
    shape.check().map_err(AggregateError::Mismatch)?;
    shape.check_snarks(&snarks)?;
    let stats = layout(srs, snarks, shape).circuit.builder.statistics();
    Ok(Cells {
        advice: stats.gate.total_advice_per_phase.iter().sum::<usize>() as u64,
        lookup: stats.total_lookup_advice_per_phase.iter().sum::<usize>() as u64,
        constants: stats.gate.total_fixed as u64,
    })
}

/// What a group of proofs takes in cells, from each proof's layout.
///
/// Verifying a proof in-circuit costs the same whatever else the circuit verifies, but a
/// circuit of two or more proofs also folds their accumulators with a random linear
/// combination (two scalar multiplications and the transcript's hashing per proof), which a
/// circuit of one proof does not: that is `fold`, per proof, measured once on the first two
/// proofs laid out together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProofCells {
    /// Each proof verified alone (as a batch of one, its public values exposed).
    pub alone: Vec<Cells>,
    /// What each proof adds to a circuit of two or more for the fold.
    pub fold: Cells,
}

impl ProofCells {
    /// Lays each of `snarks` out alone, and the first two together, at `srs`'s rows (they
    /// decide the range table's width, so cells counted at one size hold at that size only).
    pub fn measure(srs: &ParamsKZG<Bn256>, snarks: &[Snark]) -> Result<Self, AggregateError> {
        let alone = snarks
            .iter()
            .map(|s| cells(srs, vec![s.clone()], &Shape::batch(instance_lens(s))))
            .collect::<Result<Vec<_>, _>>()?;
        let fold = match snarks {
            [a, b, ..] => {
                let lens = [instance_lens(a), instance_lens(b)].concat();
                let pair = cells(srs, vec![a.clone(), b.clone()], &Shape::batch(lens))?;
                let apart = alone[0] + alone[1];
                Cells {
                    advice: pair.advice.saturating_sub(apart.advice).div_ceil(2),
                    lookup: pair.lookup.saturating_sub(apart.lookup).div_ceil(2),
                    constants: pair
                        .constants
                        .saturating_sub(alone[0].constants.max(alone[1].constants)),
                }
            }
            _ => Cells::default(),
        };
        Ok(Self { alone, fold })
    }

    /// The proofs' count.
    pub fn len(&self) -> usize {
        self.alone.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.alone.is_empty()
    }

    /// The cells of one circuit verifying the proofs `range`. Constants are shared (the
    /// verifiers of proofs alike use the same ones): the group takes the most any one takes.
    pub fn group(&self, range: std::ops::Range<usize>) -> Cells {
        let n = range.len() as u64;
        let proofs = &self.alone[range];
        let mut cells = Cells {
            advice: proofs.iter().map(|c| c.advice).sum(),
            lookup: proofs.iter().map(|c| c.lookup).sum(),
            constants: proofs.iter().map(|c| c.constants).max().unwrap_or(0),
        };
        if n >= 2 {
            cells.advice += n * self.fold.advice;
            cells.lookup += n * self.fold.lookup;
            cells.constants += self.fold.constants;
        }
        cells
    }
}

fn instance_lens(s: &Snark) -> Vec<usize> {
    s.instances.iter().map(Vec::len).collect()
}

/// Bytes per row that proving (key generation included) holds for each advice column.
const ADVICE_BYTES_PER_ROW: u64 = 392;
/// Bytes per row for each lookup advice column (its lookup argument included).
const LOOKUP_BYTES_PER_ROW: u64 = 200;
/// Bytes per row for each fixed column.
const FIXED_BYTES_PER_ROW: u64 = 200;
/// Bytes per row whatever the columns: the instance, the range table and its selectors, the
/// permutation's and quotient's polynomials beyond those of the columns, the SRS.
const BASE_BYTES_PER_ROW: u64 = 1_376;

/// The memory that making an aggregation circuit's key and proof takes, in bytes, from its
/// rows and columns.
///
/// A linear model fitted to the peaks measured on this project's aggregates (BENCHMARKS.md,
/// "Aggregation"): about 0.41 GB per advice column and 1.8 GB of base per 2^20 rows, so that
/// the estimate doubles with the rows at a given number of columns. It follows the measured
/// peaks within 10% from 2^20 to 2^22 rows and 2 to 24 advice columns (the unit tests hold it
/// to them).
pub fn memory_estimate(config: &AggregationConfigParams) -> u64 {
    let per_row = ADVICE_BYTES_PER_ROW * config.num_advice as u64
        + LOOKUP_BYTES_PER_ROW * config.num_lookup_advice as u64
        + FIXED_BYTES_PER_ROW * config.num_fixed as u64
        + BASE_BYTES_PER_ROW;
    per_row << config.degree
}

/// An aggregation circuit's shape in words: "2^21 rows, 19 advice, 1 lookup, 1 fixed
/// column(s)".
pub fn describe(config: &AggregationConfigParams) -> String {
    format!(
        "2^{} rows, {} advice, {} lookup, {} fixed column{}",
        config.degree,
        config.num_advice,
        config.num_lookup_advice,
        config.num_fixed,
        if config.num_fixed == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(degree: u32, advice: usize, lookup: usize, fixed: usize) -> AggregationConfigParams {
        AggregationConfigParams {
            degree,
            num_advice: advice,
            num_lookup_advice: lookup,
            num_fixed: fixed,
            lookup_bits: degree as usize - 1,
        }
    }

    /// Peaks of `/usr/bin/time -v` over the stage that made and proved one aggregation
    /// circuit, with its shape, from BENCHMARKS.md ("Aggregation"): (rows, advice, lookup,
    /// fixed, gigabytes).
    const MEASURED: [(u32, usize, usize, usize, f64); 8] = [
        // mlp_small, one segment, one layer (`prove --aggregate --max-memory 5`).
        (20, 2, 1, 1, 2.71),
        // mlp_small, 2 segments, one layer.
        (20, 5, 1, 1, 3.9),
        // LeNet, 3 segments, one layer (two runs).
        (20, 22, 3, 1, 11.3),
        (20, 24, 3, 1, 12.5),
        // Twelve dense layers, one layer.
        (22, 7, 1, 1, 18.96),
        // ResNet-18's roots over two and over four group aggregates, 2^22 rows.
        (22, 5, 1, 1, 15.67),
        (22, 6, 1, 1, 17.32),
        // ResNet-18's root over four group aggregates, 2^21 rows.
        (21, 12, 2, 1, 14.04),
    ];

    #[test]
    fn the_estimate_follows_the_measured_peaks_within_ten_percent() {
        for (k, a, l, f, gb) in MEASURED {
            let estimate = memory_estimate(&config(k, a, l, f)) as f64 / 1e9;
            let error = (estimate - gb).abs() / gb;
            assert!(
                error <= 0.10,
                "2^{k} rows, {a} advice: estimated {estimate:.2} GB, measured {gb} GB"
            );
        }
    }

    #[test]
    fn the_estimate_grows_with_rows_and_columns() {
        let base = memory_estimate(&config(20, 5, 1, 1));
        assert_eq!(memory_estimate(&config(21, 5, 1, 1)), 2 * base);
        assert!(memory_estimate(&config(20, 6, 1, 1)) > base);
        assert!(memory_estimate(&config(20, 5, 2, 1)) > base);
        assert!(memory_estimate(&config(20, 5, 1, 2)) > base);
    }

    #[test]
    fn cells_take_columns_as_the_layout_does() {
        let rows = (1u64 << 20) - MINIMUM_ROWS as u64;
        let c = Cells {
            advice: 5 * rows,
            lookup: rows + 1,
            constants: 10,
        };
        let at20 = c.config(20);
        assert_eq!(
            (at20.num_advice, at20.num_lookup_advice, at20.num_fixed),
            (5, 2, 1)
        );
        assert_eq!(at20.lookup_bits, 19);
        // Twice the rows: about half the columns.
        let at21 = c.config(21);
        assert_eq!((at21.num_advice, at21.num_lookup_advice), (3, 1));
        assert_eq!(Cells::default().config(20).num_advice, 0);
        let sum: Cells = [c, c].into_iter().sum();
        assert_eq!(sum.advice, 2 * c.advice);
        assert_eq!(sum.constants, 20);
    }

    #[test]
    fn a_shape_is_described_in_words() {
        assert_eq!(
            describe(&config(21, 19, 1, 1)),
            "2^21 rows, 19 advice, 1 lookup, 1 fixed column"
        );
        assert_eq!(
            describe(&config(20, 5, 2, 3)),
            "2^20 rows, 5 advice, 2 lookup, 3 fixed columns"
        );
    }
}

//! Lookup tables: nonlinear functions as exact integer functions on a bounded domain.
//!
//! A table maps every integer `x` in `[lo, lo + values.len())` (at scale `in_scale`) to
//! `values[x - lo]` (at scale `out_scale`). The values are computed once, when the program is
//! built, as `floor(f(x / 2^in_scale) * 2^out_scale + 1/2)`, and then stored: from that moment the
//! table *is* the function, so the evaluator and every circuit agree on it exactly, whatever
//! floating-point library later machines have.

use serde::{Deserialize, Serialize};

use crate::rounding::quantize;

/// The real function a table samples. Kept for display and for rebuilding tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TableFunction {
    /// `e^x`.
    Exp,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// The error function.
    Erf,
    /// The standard normal CDF `(1 + erf(x / sqrt 2)) / 2` (the gate of exact GELU).
    NormalCdf,
    /// `(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2` (the gate of tanh-approximated GELU).
    GeluTanhGate,
    /// Natural logarithm (domain must be positive).
    Ln,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `alpha * (e^x - 1)` (the negative half of ELU and SELU).
    ExpMinusOne {
        /// Multiplier.
        alpha: f64,
    },
    /// `x^exponent` (domain chosen where it is real).
    Power {
        /// Exponent.
        exponent: f64,
    },
    /// `sin(x)`.
    Sin,
    /// `cos(x)`.
    Cos,
    /// `tan(x)`.
    Tan,
    /// `asin(x)` on `[-1, 1]`.
    Asin,
    /// `acos(x)` on `[-1, 1]`.
    Acos,
    /// `atan(x)`.
    Atan,
    /// `sinh(x)`.
    Sinh,
    /// `cosh(x)`.
    Cosh,
    /// `asinh(x)`.
    Asinh,
    /// `acosh(x)` on `[1, inf)`.
    Acosh,
    /// `atanh(x)` on `(-1, 1)`.
    Atanh,
    /// `alpha * (e^(x / alpha) - 1)` (the negative half of CELU).
    Celu {
        /// Multiplier and input divisor.
        alpha: f64,
    },
    /// `tanh(softplus(x))` (the gate of Mish).
    MishGate,
}

impl TableFunction {
    /// Evaluates the real function.
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            TableFunction::Exp => x.exp(),
            TableFunction::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            TableFunction::Tanh => x.tanh(),
            TableFunction::Erf => libm::erf(x),
            TableFunction::NormalCdf => 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
            TableFunction::GeluTanhGate => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            TableFunction::Ln => x.ln(),
            TableFunction::Softplus => {
                // Stable form: max(x, 0) + ln(1 + e^-|x|).
                x.max(0.0) + (-x.abs()).exp().ln_1p()
            }
            TableFunction::ExpMinusOne { alpha } => alpha * x.exp_m1(),
            TableFunction::Power { exponent } => x.powf(*exponent),
            TableFunction::Sin => x.sin(),
            TableFunction::Cos => x.cos(),
            TableFunction::Tan => x.tan(),
            TableFunction::Asin => x.asin(),
            TableFunction::Acos => x.acos(),
            TableFunction::Atan => x.atan(),
            TableFunction::Sinh => x.sinh(),
            TableFunction::Cosh => x.cosh(),
            TableFunction::Asinh => x.asinh(),
            TableFunction::Acosh => x.acosh(),
            TableFunction::Atanh => x.atanh(),
            TableFunction::Celu { alpha } => alpha * (x / alpha).exp_m1(),
            TableFunction::MishGate => TableFunction::Softplus.apply(x).tanh(),
        }
    }

    /// A short description such as `exp` or `pow(0.5)`.
    pub fn describe(&self) -> String {
        match self {
            TableFunction::Exp => "exp".into(),
            TableFunction::Sigmoid => "sigmoid".into(),
            TableFunction::Tanh => "tanh".into(),
            TableFunction::Erf => "erf".into(),
            TableFunction::NormalCdf => "normal_cdf".into(),
            TableFunction::GeluTanhGate => "gelu_tanh_gate".into(),
            TableFunction::Ln => "ln".into(),
            TableFunction::Softplus => "softplus".into(),
            TableFunction::ExpMinusOne { alpha } => format!("{alpha}*(exp-1)"),
            TableFunction::Power { exponent } => format!("pow({exponent})"),
            TableFunction::Sin => "sin".into(),
            TableFunction::Cos => "cos".into(),
            TableFunction::Tan => "tan".into(),
            TableFunction::Asin => "asin".into(),
            TableFunction::Acos => "acos".into(),
            TableFunction::Atan => "atan".into(),
            TableFunction::Sinh => "sinh".into(),
            TableFunction::Cosh => "cosh".into(),
            TableFunction::Asinh => "asinh".into(),
            TableFunction::Acosh => "acosh".into(),
            TableFunction::Atanh => "atanh".into(),
            TableFunction::Celu { alpha } => format!("celu_negative({alpha})"),
            TableFunction::MishGate => "mish_gate".into(),
        }
    }
}

/// An integer function given by its values on `[lo, lo + values.len())`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupTable {
    /// What the table samples.
    pub function: TableFunction,
    /// Scale of the inputs.
    pub in_scale: i32,
    /// Scale of the outputs.
    pub out_scale: i32,
    /// Smallest input in the domain.
    pub lo: i64,
    /// `values[i]` is the output for input `lo + i`.
    pub values: Vec<i64>,
}

/// Why a table could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TableBuildError {
    /// The domain is empty or reversed.
    #[error("empty table domain [{lo}, {hi}]")]
    EmptyDomain {
        /// Requested lower end.
        lo: i64,
        /// Requested upper end.
        hi: i64,
    },
    /// The domain has more entries than any circuit could hold.
    #[error("table domain [{lo}, {hi}] has {len} entries, more than the limit of {limit}")]
    TooLarge {
        /// Requested lower end.
        lo: i64,
        /// Requested upper end.
        hi: i64,
        /// Entries requested.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The function is not finite somewhere in the domain.
    #[error("{function} is not finite at {x} (integer {q} at scale {in_scale})")]
    NotFinite {
        /// The function.
        function: String,
        /// Real input.
        x: f64,
        /// Integer input.
        q: i64,
        /// Input scale.
        in_scale: i32,
    },
}

/// The largest table a program may hold (2^24 entries).
pub const MAX_TABLE_LEN: u64 = 1 << 24;

impl LookupTable {
    /// Samples `function` on the integer domain `[lo, hi]`.
    pub fn build(
        function: TableFunction,
        in_scale: i32,
        out_scale: i32,
        lo: i64,
        hi: i64,
    ) -> Result<Self, TableBuildError> {
        if hi < lo {
            return Err(TableBuildError::EmptyDomain { lo, hi });
        }
        let len = (hi as i128 - lo as i128 + 1) as u64;
        if len > MAX_TABLE_LEN {
            return Err(TableBuildError::TooLarge {
                lo,
                hi,
                len,
                limit: MAX_TABLE_LEN,
            });
        }
        let mut values = Vec::with_capacity(len as usize);
        for q in lo..=hi {
            let x = q as f64 * 2f64.powi(-in_scale);
            let y = function.apply(x);
            let v = quantize(y, out_scale).ok_or_else(|| TableBuildError::NotFinite {
                function: function.describe(),
                x,
                q,
                in_scale,
            })?;
            values.push(v);
        }
        Ok(Self {
            function,
            in_scale,
            out_scale,
            lo,
            values,
        })
    }

    /// Largest input in the domain.
    pub fn hi(&self) -> i64 {
        self.lo + self.values.len() as i64 - 1
    }

    /// The output for `x`, or `None` outside the domain.
    pub fn get(&self, x: i64) -> Option<i64> {
        let i = x.checked_sub(self.lo)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.values.get(i).copied())
    }

    /// Largest absolute output value.
    pub fn max_abs_output(&self) -> u64 {
        self.values
            .iter()
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_table_values() {
        let t = LookupTable::build(TableFunction::Sigmoid, 4, 8, -64, 64).unwrap();
        assert_eq!(t.get(0), Some(128)); // 0.5 * 256
        assert_eq!(t.get(-65), None);
        assert_eq!(t.get(65), None);
        assert_eq!(t.hi(), 64);
        // Monotone.
        assert!(t.values.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn ln_of_zero_is_rejected() {
        let e = LookupTable::build(TableFunction::Ln, 4, 8, 0, 10).unwrap_err();
        assert!(matches!(e, TableBuildError::NotFinite { q: 0, .. }));
    }

    #[test]
    fn oversized_and_empty_domains_are_rejected() {
        assert!(matches!(
            LookupTable::build(TableFunction::Exp, 0, 0, 5, 4),
            Err(TableBuildError::EmptyDomain { .. })
        ));
        assert!(matches!(
            LookupTable::build(TableFunction::Exp, 0, 0, 0, 1 << 30),
            Err(TableBuildError::TooLarge { .. })
        ));
    }
}

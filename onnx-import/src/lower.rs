//! Lowering the float graph to an integer program, and the scale policy.
//!
//! # Scale policy
//!
//! With `B` value bits and `H` headroom bits, a value whose calibrated magnitude is at most `m`
//! gets the largest scale `s` (at most `max_scale`) with `m * 2^s <= 2^(B-1-H)`: it uses all
//! but `H` of the available bits, leaving a factor `2^H` of room for inputs larger than those
//! seen in calibration. Constants (weights) get the largest scale with
//! `max|w| * 2^s < 2^(weight_bits-1)`. Products are exact; a `Rescale` then brings each result to
//! the scale its calibrated magnitude calls for.
//!
//! Lookup tables get at most `2^table_bits` entries. For a function that is constant beyond some
//! point (sigmoid, tanh, erf, the tail of exp), the domain ends exactly where the quantized
//! function stops changing and a `Clip` in front makes every input valid; otherwise the domain is
//! the calibrated input range widened by `2^H`.

use zkml_ir::op::Op;
use zkml_ir::rounding::quantize;
use zkml_ir::{LookupTable, ProgramBuilder, TableFunction};

use crate::data::{DType, Data};
use crate::error::NodeError;

/// Knobs of quantization.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConfig {
    /// Range-checked values lie in `[-2^(value_bits-1), 2^(value_bits-1))`.
    pub value_bits: u32,
    /// Constants use at most this many bits (sign included).
    pub weight_bits: u32,
    /// Calibrated magnitudes use at most `value_bits - 1 - headroom_bits` bits.
    pub headroom_bits: u32,
    /// A lookup table has at most `2^table_bits` entries.
    pub table_bits: u32,
    /// No activation gets a scale above this (small values, such as the mean square inside an
    /// RMSNorm, use the bits the value range leaves them).
    pub max_scale: i32,
}

impl Default for QuantConfig {
    fn default() -> Self {
        Self {
            value_bits: 20,
            weight_bits: 16,
            headroom_bits: 1,
            table_bits: 13,
            max_scale: 24,
        }
    }
}

impl QuantConfig {
    /// Checks the knobs against each other.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(8..=32).contains(&self.value_bits) {
            return Err(format!(
                "value bits must be 8 to 32, got {}",
                self.value_bits
            ));
        }
        if !(2..=24).contains(&self.weight_bits) {
            return Err(format!(
                "weight bits must be 2 to 24, got {}",
                self.weight_bits
            ));
        }
        if self.headroom_bits + 3 > self.value_bits {
            return Err(format!(
                "headroom of {} bits leaves too few value bits",
                self.headroom_bits
            ));
        }
        if !(4..=20).contains(&self.table_bits) {
            return Err(format!(
                "table bits must be 4 to 20, got {}",
                self.table_bits
            ));
        }
        Ok(())
    }

    /// The scale for values of calibrated magnitude `max_abs`.
    pub fn activation_scale(&self, max_abs: f64) -> i32 {
        let target = 2f64.powi((self.value_bits - 1 - self.headroom_bits) as i32);
        scale_for(max_abs, target, self.max_scale)
    }

    /// The scale for constants of magnitude `max_abs`.
    pub fn weight_scale(&self, max_abs: f64) -> i32 {
        let target = 2f64.powi(self.weight_bits as i32 - 1) - 1.0;
        scale_for(max_abs, target, 40)
    }
}

/// Largest `s <= cap` with `max_abs * 2^s <= target`.
fn scale_for(max_abs: f64, target: f64, cap: i32) -> i32 {
    if !(max_abs.is_finite() && max_abs > 0.0) {
        return cap;
    }
    let s = (target / max_abs).log2().floor();
    if s > f64::from(cap) {
        cap
    } else {
        (s as i32).max(-60)
    }
}

/// The range a value took during calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
}

impl Stats {
    /// No observation yet.
    pub const EMPTY: Stats = Stats {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    /// Largest magnitude seen (0 if nothing was seen).
    pub fn max_abs(&self) -> f64 {
        if self.min > self.max {
            0.0
        } else {
            self.min.abs().max(self.max.abs())
        }
    }

    /// Widens the range to cover `v` (non-finite values and mask values, which the program
    /// carries as a separate keep flag, are ignored).
    pub fn observe(&mut self, v: f64) {
        if v.is_finite() && !crate::data::is_mask_value(v) {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }
}

/// How a lookup table's domain is chosen.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Domain {
    /// The function is constant beyond some point on both sides: clip there.
    Saturating,
    /// Inputs are never positive; the function is constant far to the left: clip there.
    NonPositive,
    /// A fixed interval outside which the function is undefined or not wanted: inputs are
    /// clipped to it (asin on `[-1, 1]`).
    Interval {
        /// Smallest input.
        lo: f64,
        /// Largest input.
        hi: f64,
    },
    /// The calibrated input range (widened by the headroom); the left side is clipped where the
    /// function saturates when `clip_left`.
    Calibrated {
        /// Smallest input seen.
        min: f64,
        /// Largest input seen.
        max: f64,
        /// Clip the left side at the saturation point.
        clip_left: bool,
    },
}

/// The lowering context of one node: the program under construction, the node's calibration
/// statistics and the quantization settings.
pub(crate) struct Lowering<'a> {
    pub b: &'a mut ProgramBuilder,
    pub cfg: &'a QuantConfig,
    name: String,
    out_stats: Vec<Stats>,
    in_stats: Vec<Option<Stats>>,
    in_dtypes: Vec<Option<DType>>,
    out_dtypes: Vec<DType>,
    counter: usize,
}

/// The element kinds of a node's inputs (`None` for absent ones) and outputs.
pub(crate) struct NodeTypes {
    pub inputs: Vec<Option<DType>>,
    pub outputs: Vec<DType>,
}

type Result<T> = std::result::Result<T, NodeError>;

impl<'a> Lowering<'a> {
    pub fn new(
        b: &'a mut ProgramBuilder,
        cfg: &'a QuantConfig,
        name: &str,
        in_stats: Vec<Option<Stats>>,
        out_stats: Vec<Stats>,
        types: NodeTypes,
    ) -> Self {
        Self {
            b,
            cfg,
            name: name.to_string(),
            out_stats,
            in_stats,
            in_dtypes: types.inputs,
            out_dtypes: types.outputs,
            counter: 0,
        }
    }

    /// Element kind of input `i` (`None` when absent).
    pub fn in_dtype(&self, i: usize) -> Option<DType> {
        self.in_dtypes.get(i).copied().flatten()
    }

    /// Element kind of output `k`.
    pub fn out_dtype(&self, k: usize) -> DType {
        self.out_dtypes.get(k).copied().unwrap_or(DType::Float)
    }

    /// Whether output `k` holds integers or booleans, carried exactly at scale 0.
    pub fn exact_output(&self, k: usize) -> bool {
        self.out_dtype(k) != DType::Float
    }

    fn next_name(&mut self) -> String {
        self.counter += 1;
        if self.counter == 1 {
            self.name.clone()
        } else {
            format!("{}#{}", self.name, self.counter)
        }
    }

    /// Adds a program node.
    pub fn push(&mut self, op: Op, inputs: &[usize]) -> Result<usize> {
        let name = self.next_name();
        self.b
            .push(&name, op, inputs)
            .map_err(|e| NodeError::Quantization(e.to_string()))
    }

    /// Scale of a program node.
    pub fn scale(&self, n: usize) -> i32 {
        self.b.node(n).scale
    }

    /// Shape of a program node.
    pub fn shape(&self, n: usize) -> Vec<usize> {
        self.b.node(n).shape.clone()
    }

    /// Static bound of a program node.
    pub fn bound(&self, n: usize) -> u64 {
        self.b.node(n).bound
    }

    /// `2^(value_bits - 1)`.
    pub fn limit(&self) -> u64 {
        1u64 << (self.cfg.value_bits - 1)
    }

    /// Calibration statistics of output `k`.
    pub fn out_stats(&self, k: usize) -> Stats {
        self.out_stats.get(k).copied().unwrap_or(Stats::EMPTY)
    }

    /// Calibration statistics of input `i`, when it is a runtime value.
    pub fn in_stats(&self, i: usize) -> Option<Stats> {
        self.in_stats.get(i).copied().flatten()
    }

    /// The scale output `k` should have.
    pub fn out_scale(&self, k: usize) -> i32 {
        self.cfg.activation_scale(self.out_stats(k).max_abs())
    }

    /// A constant tensor quantized at `scale`.
    pub fn constant(&mut self, data: &Data, scale: i32) -> Result<usize> {
        let mut values = Vec::with_capacity(data.values.len());
        for &v in data.values.iter() {
            values.push(quantize(v, scale).ok_or_else(|| {
                NodeError::Quantization(format!(
                    "constant value {v} cannot be represented at scale 2^{scale}"
                ))
            })?);
        }
        let name = self.next_name();
        self.b
            .parameter(&name, data.shape().to_vec(), scale, values)
            .map_err(|e| NodeError::Quantization(e.to_string()))
    }

    /// A constant at the weight scale its magnitude calls for.
    pub fn weight(&mut self, data: &Data) -> Result<usize> {
        let s = self.cfg.weight_scale(data.max_abs());
        self.constant(data, s)
    }

    /// A constant given by its integers at `scale`.
    pub fn raw_constant(
        &mut self,
        shape: Vec<usize>,
        scale: i32,
        values: Vec<i64>,
    ) -> Result<usize> {
        let name = self.next_name();
        self.b
            .constant(&name, shape, scale, values)
            .map_err(|e| NodeError::Quantization(e.to_string()))
    }

    /// The same real value with `k` more fractional bits: the integer times `2^k` (exact).
    pub fn shift_up(&mut self, x: usize, k: u32) -> Result<usize> {
        if k == 0 {
            return Ok(x);
        }
        if k > 40 {
            return Err(NodeError::Quantization(format!(
                "scales differ by {k} bits; the operands' magnitudes are too far apart"
            )));
        }
        // The integer 2^k at scale k stands for the real 1.
        let one = self.raw_constant(vec![], k as i32, vec![1i64 << k])?;
        self.push(Op::Mul, &[x, one])
    }

    /// Rescales (rounding) or range-checks `x` to at most scale `target`; the result lies in the
    /// value range. Values already at or below `target` keep their scale.
    pub fn requantize(&mut self, x: usize, target: i32) -> Result<usize> {
        let s = self.scale(x);
        if s > target {
            let shift = (s - target) as u32;
            return self.push(Op::Rescale { shift }, &[x]);
        }
        if self.bound(x) < self.limit() || self.in_value_range(x) {
            return Ok(x);
        }
        self.push(Op::Rescale { shift: 0 }, &[x])
    }

    /// Whether node `n`'s values provably lie in the value range `[-2^(B-1), 2^(B-1))`: the
    /// results of ops whose range is checked (inputs, `Rescale`, `Div`, `Sqrt`), and clippings
    /// and ReLUs of such values that stay inside it. The static bound (a bound on `|v|`) cannot
    /// say this when it is exactly `2^(B-1)`.
    pub fn in_value_range(&self, n: usize) -> bool {
        let limit = self.limit() as i64;
        let node = self.b.node(n);
        if node.bound < self.limit() {
            return true;
        }
        match &node.op {
            Op::Input { .. } | Op::Rescale { .. } | Op::Div { .. } | Op::Sqrt { .. } => true,
            Op::Relu => self.in_value_range(node.inputs[0]),
            Op::Clip { min, max } => {
                min.is_none_or(|lo| lo >= -limit)
                    && max.is_none_or(|hi| hi < limit)
                    && self.in_value_range(node.inputs[0])
            }
            _ => false,
        }
    }

    /// Requantizes `x` to the scale calibration chose for output `k`. Integer and boolean
    /// outputs stay exact at scale 0 (range-checked when their bound leaves the value range).
    pub fn finish(&mut self, x: usize, k: usize) -> Result<usize> {
        if self.exact_output(k) {
            if self.scale(x) != 0 {
                return Err(NodeError::Quantization(format!(
                    "an integer result has scale {}, not 0",
                    self.scale(x)
                )));
            }
            return self.requantize(x, 0);
        }
        let target = self.out_scale(k);
        self.requantize(x, target)
    }

    /// The integer constant `data` at scale 0 (its values must be integers).
    pub fn int_constant(&mut self, data: &Data) -> Result<usize> {
        let values = data.to_i64s().map_err(NodeError::Invalid)?;
        self.raw_constant(data.shape().to_vec(), 0, values)
    }

    /// A constant operand of an exact (integer) op at scale 0, or of a real op at `scale`.
    pub fn operand_for(
        &mut self,
        op: &crate::ops::Operand<'_>,
        exact: bool,
        scale: i32,
    ) -> Result<usize> {
        match op {
            crate::ops::Operand::Const(d) if exact => self.int_constant(d),
            other => self.operand_at(other, scale),
        }
    }

    /// Brings all values to their common (largest) scale, exactly.
    pub fn align(&mut self, xs: &[usize]) -> Result<Vec<usize>> {
        let top = xs.iter().map(|&x| self.scale(x)).max().unwrap_or(0);
        xs.iter()
            .map(|&x| {
                let k = (top - self.scale(x)) as u32;
                self.shift_up(x, k)
            })
            .collect()
    }

    /// Makes a program node for an elementwise operand: runtime values pass through, constants
    /// are quantized at `scale`.
    pub fn operand_at(&mut self, op: &crate::ops::Operand<'_>, scale: i32) -> Result<usize> {
        match op {
            crate::ops::Operand::Value(v) => Ok(*v),
            crate::ops::Operand::Const(d) => self.constant(d, scale),
            crate::ops::Operand::Absent | crate::ops::Operand::Masked(_) => {
                Err(NodeError::Invalid("an input is missing".into()))
            }
        }
    }

    /// Looks `x` up in a table of `function`, choosing scales and the domain by `domain`.
    pub fn lookup(&mut self, x: usize, function: TableFunction, domain: Domain) -> Result<usize> {
        let plan = TablePlan::choose(self.cfg, &function, domain, self.scale(x))?;
        let sx = self.scale(x);
        let k = (sx - plan.in_scale) as u32;
        // Clip at the input's scale first, so the rescale below can never leave the domain.
        let widen = |v: i64| -> Result<i64> {
            let w = i128::from(v) << k.min(100);
            i64::try_from(w)
                .ok()
                .filter(|w| w.unsigned_abs() < 1 << 62)
                .ok_or_else(|| {
                    NodeError::Quantization(format!(
                        "the input scale 2^{sx} is too far from the {} table's scale 2^{}",
                        function.describe(),
                        plan.in_scale
                    ))
                })
        };
        let clip_lo = plan.clip_lo.map(widen).transpose()?;
        let clip_hi = plan.clip_hi.map(widen).transpose()?;
        let mut v = x;
        if clip_lo.is_some() || clip_hi.is_some() {
            v = self.push(
                Op::Clip {
                    min: clip_lo,
                    max: clip_hi,
                },
                &[v],
            )?;
        }
        if k > 0 || self.bound(v) >= self.limit() {
            v = self.push(Op::Rescale { shift: k }, &[v])?;
        }
        let table = LookupTable::build(function, plan.in_scale, plan.out_scale, plan.lo, plan.hi)
            .map_err(|e| NodeError::Quantization(e.to_string()))?;
        let t = self.b.table(table);
        self.push(Op::Lookup { table: t }, &[v])
    }
}

/// Scales and domain of one lookup table.
#[derive(Debug)]
struct TablePlan {
    in_scale: i32,
    out_scale: i32,
    lo: i64,
    hi: i64,
    clip_lo: Option<i64>,
    clip_hi: Option<i64>,
}

impl TablePlan {
    fn choose(cfg: &QuantConfig, f: &TableFunction, domain: Domain, x_scale: i32) -> Result<Self> {
        let budget = 2f64.powi(cfg.table_bits as i32);
        // Real interval the table must cover before saturation is applied.
        let (real_lo, real_hi) = match domain {
            Domain::Saturating => (-64.0, 64.0),
            Domain::NonPositive => (-64.0, 0.0),
            Domain::Interval { lo, hi } => (lo, hi),
            Domain::Calibrated { min, max, .. } => {
                let h = 2f64.powi(cfg.headroom_bits as i32);
                let lo = if min < 0.0 { min * h } else { min / h };
                let hi = if max > 0.0 { max * h } else { max / h };
                (lo.min(hi), hi.max(lo))
            }
        };
        let (sat_left, sat_right) = match domain {
            Domain::Saturating => (true, true),
            Domain::NonPositive => (true, false),
            Domain::Interval { .. } => (false, false),
            Domain::Calibrated { clip_left, .. } => (clip_left, false),
        };
        let interval = matches!(domain, Domain::Interval { .. });
        // The output magnitude over the covered interval caps the output scale. Lower output
        // scales narrow a saturating domain, which can buy input resolution: pick the pair with
        // the smallest worst-case error, |f'| * (input step / 2) + (output step / 2).
        let max_out = sample_max_abs(f, real_lo, real_hi);
        let top = cfg.activation_scale(max_out);
        let slope = sample_max_slope(f, real_lo, real_hi);
        let mut best: Option<(f64, Self)> = None;
        for out_scale in (top - 8..=top).rev() {
            let mut p = Self::at_out_scale(
                f, out_scale, real_lo, real_hi, sat_left, sat_right, budget, x_scale,
            )?;
            if interval {
                // Clip to the interval, inside it: its ends may be where f is not finite.
                let step = 2f64.powi(-p.in_scale);
                p.lo = (real_lo / step).ceil() as i64;
                p.hi = (real_hi / step).floor() as i64;
                p.clip_lo = Some(p.lo);
                p.clip_hi = Some(p.hi);
            }
            let err = slope * 2f64.powi(-p.in_scale - 1) + 2f64.powi(-out_scale - 1);
            if best.as_ref().is_none_or(|(e, _)| err < *e * 0.999) {
                best = Some((err, p));
            }
        }
        Ok(best.expect("at least one candidate").1)
    }

    #[allow(clippy::too_many_arguments)]
    fn at_out_scale(
        f: &TableFunction,
        out_scale: i32,
        real_lo: f64,
        real_hi: f64,
        sat_left: bool,
        sat_right: bool,
        budget: f64,
        x_scale: i32,
    ) -> Result<Self> {
        // Where the quantized function stops changing.
        let lo_r = if sat_left {
            saturation_point(f, out_scale, real_lo, -1.0)
        } else {
            real_lo
        };
        let hi_r = if sat_right {
            saturation_point(f, out_scale, real_hi, 1.0)
        } else {
            real_hi
        };
        let width = (hi_r - lo_r).max(1e-9);
        let mut in_scale = ((budget - 1.0) / width).log2().floor() as i32;
        in_scale = in_scale.min(x_scale).max(-40);
        let step = 2f64.powi(-in_scale);
        let lo = (lo_r / step).floor() as i64;
        let hi = (hi_r / step).ceil() as i64;
        if (hi - lo + 1) as f64 > budget * 2.0 {
            return Err(NodeError::Quantization(format!(
                "{} needs a lookup table of {} entries, beyond 2^{} ; raise table bits",
                f.describe(),
                hi - lo + 1,
                budget.log2()
            )));
        }
        Ok(Self {
            in_scale,
            out_scale,
            lo,
            hi,
            clip_lo: sat_left.then_some(lo),
            clip_hi: sat_right.then_some(hi),
        })
    }
}

/// Largest |f'| estimated on samples of `[lo, hi]` (clamped to the non-saturated region
/// naturally, since saturated parts are flat).
fn sample_max_slope(f: &TableFunction, lo: f64, hi: f64) -> f64 {
    let n = 1024;
    let h = (hi - lo) / n as f64;
    (0..n)
        .map(|i| {
            let x = lo + h * i as f64;
            ((f.apply(x + h) - f.apply(x)) / h).abs()
        })
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Largest |f| on samples of `[lo, hi]`.
fn sample_max_abs(f: &TableFunction, lo: f64, hi: f64) -> f64 {
    (0..=256)
        .map(|i| f.apply(lo + (hi - lo) * i as f64 / 256.0).abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Searching from `limit` toward zero (direction `dir` = -1 for the left tail, +1 for the
/// right), the point beyond which `f` rounds to the same integer at `out_scale` as at `limit`.
fn saturation_point(f: &TableFunction, out_scale: i32, limit: f64, dir: f64) -> f64 {
    let q = |x: f64| quantize(f.apply(x), out_scale);
    let target = q(limit);
    // Bisection on [0, |limit|] for the innermost x with q(x) == target, assuming monotone tails.
    let (mut inner, mut outer) = (0.0f64, limit.abs());
    if q(0.0) == target {
        return 0.0;
    }
    for _ in 0..60 {
        let mid = 0.5 * (inner + outer);
        if q(dir * mid) == target {
            outer = mid;
        } else {
            inner = mid;
        }
    }
    dir * outer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_scale_uses_the_available_bits() {
        let cfg = QuantConfig {
            value_bits: 16,
            headroom_bits: 1,
            ..QuantConfig::default()
        }; // 2^14 for magnitudes up to 1
        assert_eq!(cfg.activation_scale(1.0), 14);
        assert_eq!(cfg.activation_scale(3.0), 12);
        assert_eq!(cfg.activation_scale(0.0), cfg.max_scale);
        assert_eq!(cfg.activation_scale(1e-9), cfg.max_scale);
        assert_eq!(cfg.activation_scale(1e6), -6);
        assert!(1e6 * 2f64.powi(-6) <= 2f64.powi(14));
    }

    #[test]
    fn sigmoid_plan_saturates_inside_budget() {
        let cfg = QuantConfig::default();
        let p = TablePlan::choose(&cfg, &TableFunction::Sigmoid, Domain::Saturating, 14).unwrap();
        assert!((p.hi - p.lo + 1) as f64 <= 2f64.powi(cfg.table_bits as i32));
        // Beyond the domain the quantized function really is constant.
        let q = |x: i64| {
            quantize(
                TableFunction::Sigmoid.apply(x as f64 * 2f64.powi(-p.in_scale)),
                p.out_scale,
            )
        };
        assert_eq!(q(p.hi), q(p.hi + 1000));
        assert_eq!(q(p.lo), q(p.lo - 1000));
        assert_ne!(q(p.hi - 50), q(p.hi));
    }
}

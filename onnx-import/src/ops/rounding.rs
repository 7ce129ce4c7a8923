//! Floor, Ceil, Round and Mod, exact on the quantized values.
//!
//! For `x` at scale `s > 0` and `h = 2^(s-1)` (the `Rescale` rounding is half up):
//!
//! ```text
//! floor(x / 2^s) = Rescale_s(x - h)
//! ceil(x / 2^s)  = Rescale_s(x + h - 1)
//! round(x / 2^s) = d + (u - d) odd(d)       u = Rescale_s(x) (ties up), d = Rescale_s(x - 1)
//!                                           (ties down), odd(d) = d - 2 floor(d / 2)
//! ```
//!
//! which rounds ties to even as ONNX says. Results are integers at scale 0 (exact reals). At
//! scale 0 or below a value is already an integer and passes through.
//!
//! `Mod` takes a constant divisor `b`: `a mod b = a - b floor(a / b)` (sign of the divisor, the
//! default) or `a - b trunc(a / b)` (`fmod = 1`, sign of the dividend), with
//! `floor(n / m) = Div(2n - m, 2m)` for `m > 0`. The dividend and divisor must be integers at the
//! dividend's scale.

use zkml_ir::op::{CompareOp, Op};

use super::{broadcast_map, impl_any, required, runtime, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// Which rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Floor,
    Ceil,
    Round,
}

/// `Floor`, `Ceil`, `Round`.
#[derive(Debug)]
pub(crate) struct Rounding {
    mode: Mode,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    cx.attrs.finish()?;
    let mode = match cx.node.op_type.as_str() {
        "Floor" => Mode::Floor,
        "Ceil" => Mode::Ceil,
        _ => Mode::Round,
    };
    Ok(Box::new(Rounding { mode }))
}

/// `floor(x / 2^s)` and `ceil(x / 2^s)` of `x` at scale `s > 0`.
pub(crate) fn floor_and_ceil(cx: &mut Lowering<'_>, x: usize) -> Result<(usize, usize)> {
    let s = cx.scale(x);
    let shift = s as u32;
    let h = 1i64 << (shift - 1);
    let down = cx.raw_constant(vec![], s, vec![h])?;
    let up = cx.raw_constant(vec![], s, vec![h - 1])?;
    let xd = cx.push(Op::Sub, &[x, down])?;
    let floor = cx.push(Op::Rescale { shift }, &[xd])?;
    let xu = cx.push(Op::Add, &[x, up])?;
    let ceil = cx.push(Op::Rescale { shift }, &[xu])?;
    Ok((floor, ceil))
}

/// Round half to even of `x / 2^s`, `s > 0`.
fn round_even(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    let s = cx.scale(x);
    let shift = s as u32;
    let up = cx.push(Op::Rescale { shift }, &[x])?;
    let one = cx.raw_constant(vec![], s, vec![1])?;
    let xm = cx.push(Op::Sub, &[x, one])?;
    let down = cx.push(Op::Rescale { shift }, &[xm])?;
    // odd(d) = d - 2 floor(d / 2): floor(d / 2) = Rescale_1(d - 1) at scale -1 stands for the
    // real 2 floor(d / 2).
    let one0 = cx.raw_constant(vec![], 0, vec![1])?;
    let dm = cx.push(Op::Sub, &[down, one0])?;
    let half = cx.push(Op::Rescale { shift: 1 }, &[dm])?;
    let v = cx.align(&[down, half])?;
    let odd = cx.push(Op::Sub, &[v[0], v[1]])?;
    let gap = cx.push(Op::Sub, &[up, down])?;
    let fix = cx.push(Op::Mul, &[gap, odd])?;
    cx.push(Op::Add, &[down, fix])
}

impl OnnxOp for Rounding {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let f = match self.mode {
            Mode::Floor => f64::floor,
            Mode::Ceil => f64::ceil,
            Mode::Round => f64::round_ties_even,
        };
        Ok(vec![Data {
            dtype: x.dtype,
            values: x.values.mapv(f),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        if cx.scale(x) <= 0 {
            return Ok(vec![x]);
        }
        Ok(vec![match self.mode {
            Mode::Floor => floor_and_ceil(cx, x)?.0,
            Mode::Ceil => floor_and_ceil(cx, x)?.1,
            Mode::Round => round_even(cx, x)?,
        }])
    }

    impl_any!();
}

/// `Mod`.
#[derive(Debug)]
pub(crate) struct Modulo {
    fmod: bool,
}

pub(crate) fn parse_mod(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let fmod = cx.attrs.int_or("fmod", 0)? != 0;
    cx.attrs.finish()?;
    Ok(Box::new(Modulo { fmod }))
}

impl OnnxOp for Modulo {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (a, b) = (required(inputs, 0)?, required(inputs, 1)?);
        let fmod = self.fmod;
        let values = broadcast_map(&a.values, &b.values, |x, y| {
            if y == 0.0 {
                return if fmod { f64::NAN } else { 0.0 };
            }
            let r = x % y;
            if fmod || r == 0.0 || (r < 0.0) == (y < 0.0) {
                r
            } else {
                r + y
            }
        })?;
        Ok(vec![Data {
            dtype: super::join_dtype(a.dtype, b.dtype),
            values,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let a = runtime(inputs, 0, "A")?;
        let Operand::Const(b) = inputs[1] else {
            return Err(NodeError::Quantization(
                "Mod needs a constant divisor".into(),
            ));
        };
        let s = cx.scale(a);
        // The divisor as an integer at the dividend's scale.
        let mut divisors = Vec::with_capacity(b.values.len());
        for &v in b.values.iter() {
            let q = v * 2f64.powi(s);
            if v == 0.0 || q.fract() != 0.0 || q.abs() >= 2f64.powi(40) {
                return Err(NodeError::Quantization(format!(
                    "the divisor {v} is zero or not a multiple of the dividend's resolution 2^-{s}"
                )));
            }
            divisors.push(q as i64);
        }
        let shape = b.shape().to_vec();
        // q = floor(a / |b|) (or of |a| for fmod), then the sign rules.
        let base = if self.fmod {
            cx.push(Op::Abs, &[a])?
        } else {
            a
        };
        let two = cx.raw_constant(vec![], 0, vec![2])?;
        let doubled = cx.push(Op::Mul, &[base, two])?;
        let m = cx.raw_constant(shape.clone(), s, divisors.iter().map(|v| v.abs()).collect())?;
        let num = cx.push(Op::Sub, &[doubled, m])?;
        let den = cx.raw_constant(
            shape.clone(),
            s,
            divisors.iter().map(|v| 2 * v.abs()).collect(),
        )?;
        let q = cx.push(Op::Div { shift: 0 }, &[num, den])?;
        let qb = cx.push(Op::Mul, &[q, m])?;
        // r = base - |b| floor(base / |b|) lies in [0, |b|).
        let r = cx.push(Op::Sub, &[base, qb])?;
        let out = if self.fmod {
            // Sign of the dividend: r for a >= 0, -r below.
            let zero = cx.raw_constant(vec![], s, vec![0])?;
            let negative = cx.push(Op::Compare(CompareOp::Lt), &[a, zero])?;
            let minus = cx.push(Op::Neg, &[r])?;
            cx.push(Op::Where, &[negative, minus, r])?
        } else {
            // Sign of the divisor: for b < 0 the result is r - |b| where r > 0.
            if divisors.iter().all(|&v| v > 0) {
                r
            } else {
                let zero = cx.raw_constant(vec![], s, vec![0])?;
                let positive = cx.push(Op::Compare(CompareOp::Gt), &[r, zero])?;
                let neg_b: Vec<i64> = divisors.iter().map(|&v| i64::from(v < 0)).collect();
                let nb = cx.raw_constant(shape.clone(), 0, neg_b)?;
                let shift_down = cx.push(Op::Mul, &[positive, nb])?;
                let amount = cx.push(Op::Mul, &[shift_down, m])?;
                cx.push(Op::Sub, &[r, amount])?
            }
        };
        Ok(vec![cx.requantize(out, s)?])
    }

    impl_any!();
}

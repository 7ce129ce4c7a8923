//! Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, Tanh, Exp, Softplus, Elu, Selu, Erf,
//! Gelu, Celu, HardSigmoid, HardSwish, Mish, Softsign, Log, and the trigonometric and
//! hyperbolic functions (by lookup tables over their calibrated or defined domains).

use std::f64::consts::{FRAC_PI_2, PI};

use ndarray::{ArrayD, IxDyn};
use zkml_ir::op::Op;
use zkml_ir::rounding::quantize;
use zkml_ir::TableFunction;

use super::{broadcast_map, impl_any, required, runtime, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::{Domain, Lowering};

type Result<T> = std::result::Result<T, NodeError>;

/// The activation and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Activation {
    Relu,
    LeakyRelu {
        alpha: f64,
    },
    Sigmoid,
    Tanh,
    Exp,
    Softplus,
    Elu {
        alpha: f64,
    },
    Selu {
        alpha: f64,
        gamma: f64,
    },
    Erf,
    Gelu {
        tanh: bool,
    },
    Celu {
        alpha: f64,
    },
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    HardSwish,
    Mish,
    Softsign,
    Log,
    /// A function computed by its table alone.
    Table(TableFunction),
}

/// A one-input activation.
#[derive(Debug)]
pub(crate) struct Unary {
    pub act: Activation,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let a = &cx.attrs;
    let act = match cx.node.op_type.as_str() {
        "Relu" => Activation::Relu,
        "LeakyRelu" => Activation::LeakyRelu {
            alpha: a.float_or("alpha", 0.01)?,
        },
        "Sigmoid" => Activation::Sigmoid,
        "Tanh" => Activation::Tanh,
        "Exp" => Activation::Exp,
        "Softplus" => Activation::Softplus,
        "Elu" => Activation::Elu {
            alpha: a.float_or("alpha", 1.0)?,
        },
        "Selu" => Activation::Selu {
            alpha: a.float_or("alpha", 1.673_263_192_176_818_8)?,
            gamma: a.float_or("gamma", 1.050_701_022_148_132_3)?,
        },
        "Erf" => Activation::Erf,
        "Celu" => Activation::Celu {
            alpha: a.float_or("alpha", 1.0)?,
        },
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: a.float_or("alpha", 0.2)?,
            beta: a.float_or("beta", 0.5)?,
        },
        "HardSwish" => Activation::HardSwish,
        "Mish" => Activation::Mish,
        "Softsign" => Activation::Softsign,
        "Log" => Activation::Log,
        "Sin" => Activation::Table(TableFunction::Sin),
        "Cos" => Activation::Table(TableFunction::Cos),
        "Tan" => Activation::Table(TableFunction::Tan),
        "Asin" => Activation::Table(TableFunction::Asin),
        "Acos" => Activation::Table(TableFunction::Acos),
        "Atan" => Activation::Table(TableFunction::Atan),
        "Sinh" => Activation::Table(TableFunction::Sinh),
        "Cosh" => Activation::Table(TableFunction::Cosh),
        "Asinh" => Activation::Table(TableFunction::Asinh),
        "Acosh" => Activation::Table(TableFunction::Acosh),
        "Atanh" => Activation::Table(TableFunction::Atanh),
        _ => {
            let approx = a.string_or("approximate", "none")?;
            let tanh = match approx.as_str() {
                "none" => false,
                "tanh" => true,
                other => {
                    return Err(NodeError::UnsupportedAttribute {
                        name: "approximate".into(),
                        value: format!("'{other}'"),
                        supported: "supported values are 'none' and 'tanh'".into(),
                    })
                }
            };
            Activation::Gelu { tanh }
        }
    };
    a.finish()?;
    Ok(Box::new(Unary { act }))
}

fn gelu_tanh(x: f64) -> f64 {
    x * TableFunction::GeluTanhGate.apply(x)
}

impl Activation {
    fn apply(&self, x: f64) -> f64 {
        match *self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            Activation::Sigmoid => TableFunction::Sigmoid.apply(x),
            Activation::Tanh => x.tanh(),
            Activation::Exp => x.exp(),
            Activation::Softplus => TableFunction::Softplus.apply(x),
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Selu { alpha, gamma } => {
                if x > 0.0 {
                    gamma * x
                } else {
                    gamma * alpha * x.exp_m1()
                }
            }
            Activation::Erf => libm::erf(x),
            Activation::Gelu { tanh: false } => x * TableFunction::NormalCdf.apply(x),
            Activation::Gelu { tanh: true } => gelu_tanh(x),
            Activation::Celu { alpha } => x.max(0.0) + (alpha * (x / alpha).exp_m1()).min(0.0),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Mish => x * TableFunction::MishGate.apply(x),
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Log => x.ln(),
            Activation::Table(ref f) => f.apply(x),
        }
    }
}

/// The domain of a function computed by its table: where it is defined, else the calibrated
/// range.
fn table_domain(f: &TableFunction, min: f64, max: f64) -> Domain {
    let calibrated = |min: f64, max: f64| Domain::Calibrated {
        min,
        max,
        clip_left: false,
    };
    match f {
        TableFunction::Asin | TableFunction::Acos => Domain::Interval { lo: -1.0, hi: 1.0 },
        // Inside (-1, 1), as far as the headroom reaches.
        TableFunction::Atanh => Domain::Interval {
            lo: (2.0 * min).clamp(-1.0 + 1e-6, 0.0),
            hi: (2.0 * max).clamp(0.0, 1.0 - 1e-6),
        },
        TableFunction::Acosh => Domain::Interval {
            lo: 1.0,
            hi: 2.0 * max.max(1.0),
        },
        // The principal branch, when calibration stays on it: the poles bound the domain.
        TableFunction::Tan if min > -FRAC_PI_2 && max < FRAC_PI_2 => Domain::Interval {
            lo: (2.0 * min).clamp(-FRAC_PI_2 + 1e-3, 0.0),
            hi: (2.0 * max).clamp(0.0, FRAC_PI_2 - 1e-3),
        },
        _ => calibrated(min, max),
    }
}

impl OnnxOp for Unary {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        Ok(vec![Data::float(x.values.mapv(|v| self.act.apply(v)))])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let y = match self.act {
            Activation::Relu => cx.push(Op::Relu, &[x])?,
            Activation::LeakyRelu { alpha } => {
                let shape = vec![];
                leaky(cx, x, &Data::float(ArrayD::from_elem(IxDyn(&shape), alpha)))?
            }
            Activation::Sigmoid => cx.lookup(x, TableFunction::Sigmoid, Domain::Saturating)?,
            Activation::Tanh => cx.lookup(x, TableFunction::Tanh, Domain::Saturating)?,
            Activation::Erf => cx.lookup(x, TableFunction::Erf, Domain::Saturating)?,
            Activation::Exp => {
                let s = cx.in_stats(0).ok_or_else(stats_missing)?;
                cx.lookup(
                    x,
                    TableFunction::Exp,
                    Domain::Calibrated {
                        min: s.min,
                        max: s.max,
                        clip_left: true,
                    },
                )?
            }
            Activation::Softplus => {
                // softplus(x) = relu(x) + softplus(-|x|), and softplus(-|x|) saturates to 0.
                let r = cx.push(Op::Relu, &[x])?;
                let a = cx.push(Op::Abs, &[x])?;
                let n = cx.push(Op::Neg, &[a])?;
                let t = cx.lookup(n, TableFunction::Softplus, Domain::NonPositive)?;
                add_finish(cx, r, t)?
            }
            Activation::Elu { alpha } => {
                // elu(x) = relu(x) + alpha (e^min(x,0) - 1)
                let r = cx.push(Op::Relu, &[x])?;
                let neg = negative_part(cx, x)?;
                let t = cx.lookup(
                    neg,
                    TableFunction::ExpMinusOne { alpha },
                    Domain::NonPositive,
                )?;
                add_finish(cx, r, t)?
            }
            Activation::Selu { alpha, gamma } => {
                let r = cx.push(Op::Relu, &[x])?;
                let g = cx.weight(&Data::float(ArrayD::from_elem(IxDyn(&[]), gamma)))?;
                let gr = cx.push(Op::Mul, &[r, g])?;
                let neg = negative_part(cx, x)?;
                let t = cx.lookup(
                    neg,
                    TableFunction::ExpMinusOne {
                        alpha: alpha * gamma,
                    },
                    Domain::NonPositive,
                )?;
                add_finish(cx, gr, t)?
            }
            Activation::Gelu { tanh } => {
                let gate = if tanh {
                    TableFunction::GeluTanhGate
                } else {
                    TableFunction::NormalCdf
                };
                let g = cx.lookup(x, gate, Domain::Saturating)?;
                let y = cx.push(Op::Mul, &[x, g])?;
                cx.finish(y, 0)?
            }
            Activation::Mish => {
                let g = cx.lookup(x, TableFunction::MishGate, Domain::Saturating)?;
                let y = cx.push(Op::Mul, &[x, g])?;
                cx.finish(y, 0)?
            }
            Activation::Celu { alpha } => {
                if !(alpha.is_finite() && alpha > 0.0) {
                    return Err(NodeError::UnsupportedAttribute {
                        name: "alpha".into(),
                        value: alpha.to_string(),
                        supported: "alpha must be positive".into(),
                    });
                }
                let r = cx.push(Op::Relu, &[x])?;
                let neg = negative_part(cx, x)?;
                let t = cx.lookup(neg, TableFunction::Celu { alpha }, Domain::NonPositive)?;
                add_finish(cx, r, t)?
            }
            Activation::HardSigmoid { alpha, beta } => hard_sigmoid(cx, x, alpha, beta)?,
            Activation::HardSwish => {
                let g = hard_sigmoid(cx, x, 1.0 / 6.0, 0.5)?;
                let y = cx.push(Op::Mul, &[x, g])?;
                cx.finish(y, 0)?
            }
            Activation::Softsign => {
                // x / (1 + |x|), exactly rounded by the division.
                let a = cx.push(Op::Abs, &[x])?;
                let one = cx.raw_constant(vec![], cx.scale(x), vec![1i64 << cx.scale(x).max(0)])?;
                let one = if cx.scale(x) < 0 {
                    cx.weight(&Data::float(ArrayD::from_elem(IxDyn(&[]), 1.0)))?
                } else {
                    one
                };
                let v = cx.align(&[a, one])?;
                let den = cx.push(Op::Add, &[v[0], v[1]])?;
                let v = cx.align(&[x, den])?;
                let target = cx.out_scale(0).max(0);
                cx.push(
                    Op::Div {
                        shift: target as u32,
                    },
                    &[v[0], v[1]],
                )?
            }
            Activation::Log => {
                let s = cx.in_stats(0).ok_or_else(stats_missing)?;
                if s.min <= 0.0 {
                    return Err(NodeError::Quantization(format!(
                        "Log of values down to {} seen in calibration; only positive inputs have \
                         a logarithm",
                        s.min
                    )));
                }
                cx.lookup(
                    x,
                    TableFunction::Ln,
                    Domain::Calibrated {
                        min: s.min,
                        max: s.max,
                        clip_left: false,
                    },
                )?
            }
            Activation::Table(ref f) => {
                let s = cx.in_stats(0).ok_or_else(stats_missing)?;
                let period = match f {
                    TableFunction::Sin | TableFunction::Cos => Some(2.0 * PI),
                    TableFunction::Tan => Some(PI),
                    _ => None,
                };
                match period {
                    // Calibrated inputs beyond one period: reduce them to it first.
                    Some(p) if 2.0 * s.max_abs() > p / 2.0 => {
                        let r = reduce_period(cx, x, p)?;
                        let half = p / 2.0 + p / 64.0;
                        let domain = if *f == TableFunction::Tan {
                            Domain::Interval {
                                lo: -FRAC_PI_2 + 1e-3,
                                hi: FRAC_PI_2 - 1e-3,
                            }
                        } else {
                            Domain::Interval {
                                lo: -half,
                                hi: half,
                            }
                        };
                        cx.lookup(r, f.clone(), domain)?
                    }
                    _ => {
                        let domain = table_domain(f, s.min, s.max);
                        cx.lookup(x, f.clone(), domain)?
                    }
                }
            }
        };
        Ok(vec![y])
    }

    impl_any!();
}

fn stats_missing() -> NodeError {
    NodeError::Quantization("input statistics are missing".into())
}

/// `x - k p` with `k = round(x / p)`: `x` reduced to about `[-p/2, p/2]` (exactly so up to the
/// rounding of `1 / p`, which the caller's table interval absorbs). `k p` uses `p` at `x`'s
/// scale, so the reduction is exact on the quantized values and does not lose resolution for
/// large `x` (rotary angles reach thousands of radians).
fn reduce_period(cx: &mut Lowering<'_>, x: usize, p: f64) -> Result<usize> {
    let s = cx.scale(x);
    let inv = cx.weight(&Data::float(ArrayD::from_elem(IxDyn(&[]), 1.0 / p)))?;
    let scaled = cx.push(Op::Mul, &[x, inv])?;
    let k = cx.requantize(scaled, 0)?;
    let pq =
        quantize(p, s).ok_or_else(|| NodeError::Quantization("the period at this scale".into()))?;
    let period = cx.raw_constant(vec![], s, vec![pq])?;
    let kp = cx.push(Op::Mul, &[k, period])?;
    cx.push(Op::Sub, &[x, kp])
}

/// `clip(alpha x + beta, 0, 1)` at the output scale.
fn hard_sigmoid(cx: &mut Lowering<'_>, x: usize, alpha: f64, beta: f64) -> Result<usize> {
    let w = cx.weight(&Data::float(ArrayD::from_elem(IxDyn(&[]), alpha)))?;
    let ax = cx.push(Op::Mul, &[x, w])?;
    // At most 16 fractional bits: the result lies in [0, 1].
    let target = cx.cfg.activation_scale(1.0).min(cx.scale(ax));
    let ax = cx.requantize(ax, target)?;
    let s = cx.scale(ax);
    let b = cx.constant(&Data::float(ArrayD::from_elem(IxDyn(&[]), beta)), s)?;
    let y = cx.push(Op::Add, &[ax, b])?;
    let one = quantize(1.0, s).ok_or_else(|| NodeError::Quantization("scale".into()))?;
    cx.push(
        Op::Clip {
            min: Some(0),
            max: Some(one),
        },
        &[y],
    )
}

/// `min(x, 0)`.
fn negative_part(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    cx.push(
        Op::Clip {
            min: None,
            max: Some(0),
        },
        &[x],
    )
}

/// `a + b` after exact alignment, requantized to the output scale.
fn add_finish(cx: &mut Lowering<'_>, a: usize, b: usize) -> Result<usize> {
    let v = cx.align(&[a, b])?;
    let s = cx.push(Op::Add, &[v[0], v[1]])?;
    cx.finish(s, 0)
}

/// `LeakyRelu` / `PRelu` with slopes `alpha` (broadcast to `x`).
fn leaky(cx: &mut Lowering<'_>, x: usize, alpha: &Data) -> Result<usize> {
    if alpha.values.iter().all(|&a| (0.0..=1.0).contains(&a)) {
        // y = max(x, alpha x): one product and a comparison.
        let w = cx.weight(alpha)?;
        let ax = cx.push(Op::Mul, &[x, w])?;
        let sx = cx.scale(x);
        let ax = cx.requantize(ax, sx)?;
        let y = cx.push(Op::Max, &[x, ax])?;
        return cx.finish(y, 0);
    }
    // General slopes: y = alpha x + (1 - alpha) relu(x).
    let r = cx.push(Op::Relu, &[x])?;
    let one_minus = Data::float(alpha.values.mapv(|a| 1.0 - a));
    let m = alpha.max_abs().max(one_minus.max_abs());
    let s = cx.cfg.weight_scale(m);
    let wa = cx.constant(alpha, s)?;
    let wb = cx.constant(&one_minus, s)?;
    let p = cx.push(Op::Mul, &[x, wa])?;
    let q = cx.push(Op::Mul, &[r, wb])?;
    let y = cx.push(Op::Add, &[p, q])?;
    cx.finish(y, 0)
}

/// `PRelu(x, slope)`.
#[derive(Debug)]
pub(crate) struct PRelu {
    /// Before opset 7 a slope of C values applies per channel (axis 1).
    per_channel: bool,
}

pub(crate) fn parse_prelu(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    cx.attrs.finish()?;
    Ok(Box::new(PRelu {
        per_channel: cx.opset < 7,
    }))
}

impl PRelu {
    /// The slope shaped for numpy broadcasting against an input of rank `rank`.
    fn slope_shape(&self, slope: &[usize], rank: usize) -> Vec<usize> {
        let n: usize = slope.iter().product();
        if self.per_channel && rank >= 2 && n > 1 {
            let mut s = vec![1; rank - 1];
            s[0] = n;
            s
        } else {
            slope.to_vec()
        }
    }
}

impl OnnxOp for PRelu {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, s) = (required(inputs, 0)?, required(inputs, 1)?);
        let shape = self.slope_shape(s.shape(), x.shape().len());
        let sv = s
            .values
            .to_shape(IxDyn(&shape))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        let y = broadcast_map(
            &x.values,
            &sv.to_owned(),
            |v, a| if v >= 0.0 { v } else { a * v },
        )?;
        if y.shape() != x.shape() {
            return Err(NodeError::Invalid(format!(
                "slope {:?} must broadcast to the input {:?}",
                s.shape(),
                x.shape()
            )));
        }
        Ok(vec![Data::float(y)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let rank = cx.shape(x).len();
        match inputs[1] {
            Operand::Const(slope) => {
                let shape = self.slope_shape(slope.shape(), rank);
                let slope = Data::float(
                    slope
                        .values
                        .to_shape(IxDyn(&shape))
                        .map_err(|e| NodeError::Invalid(e.to_string()))?
                        .to_owned(),
                );
                Ok(vec![leaky(cx, x, &slope)?])
            }
            Operand::Value(slope) => {
                // y = relu(x) + slope * min(x, 0)
                let shape = self.slope_shape(&cx.shape(slope), rank);
                let slope = if shape != cx.shape(slope) {
                    cx.push(Op::Reshape { shape }, &[slope])?
                } else {
                    slope
                };
                let r = cx.push(Op::Relu, &[x])?;
                let neg = negative_part(cx, x)?;
                let p = cx.push(Op::Mul, &[neg, slope])?;
                let sx = cx.scale(x);
                let p = cx.requantize(p, sx)?;
                Ok(vec![add_finish(cx, r, p)?])
            }
            Operand::Absent | Operand::Masked(_) => {
                Err(NodeError::Invalid("slope is missing".into()))
            }
        }
    }

    impl_any!();
}

/// `Clip(x, min, max)`: bounds as attributes before opset 11, optional inputs since.
#[derive(Debug)]
pub(crate) struct Clip {
    min_attr: Option<f64>,
    max_attr: Option<f64>,
}

pub(crate) fn parse_clip(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let op = if cx.opset < 11 {
        cx.expect_inputs(1, 1)?;
        Clip {
            min_attr: cx.attrs.float("min")?,
            max_attr: cx.attrs.float("max")?,
        }
    } else {
        cx.expect_inputs(1, 3)?;
        Clip {
            min_attr: None,
            max_attr: None,
        }
    };
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

impl Clip {
    fn bounds(&self, inputs: &[Option<&Data>]) -> Result<(Option<f64>, Option<f64>)> {
        let scalar = |i: usize| -> Result<Option<f64>> {
            match inputs.get(i).copied().flatten() {
                None => Ok(None),
                Some(d) if d.values.len() == 1 => Ok(d.values.iter().next().copied()),
                Some(d) => Err(NodeError::Invalid(format!(
                    "clip bound must be a scalar, got shape {:?}",
                    d.shape()
                ))),
            }
        };
        Ok((self.min_attr.or(scalar(1)?), self.max_attr.or(scalar(2)?)))
    }
}

impl OnnxOp for Clip {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let (lo, hi) = self.bounds(inputs)?;
        // numpy.clip semantics: when min > max every value becomes max.
        let y = x.values.mapv(|v| {
            let v = lo.map_or(v, |l| v.max(l));
            hi.map_or(v, |h| v.min(h))
        });
        Ok(vec![Data {
            dtype: x.dtype,
            values: y,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let consts: Vec<Option<&Data>> = inputs.iter().map(|o| o.as_const()).collect();
        let (lo, hi) = self.bounds(&consts)?;
        let s = cx.scale(x);
        let q = |v: f64| -> Result<i64> {
            // Bounds beyond any representable value are no bound at all.
            let limit = 2f64.powi(60);
            let v = v.clamp(-limit, limit) * 2f64.powi(s);
            quantize(v.clamp(-limit, limit), 0)
                .ok_or_else(|| NodeError::Quantization(format!("clip bound {v} is not finite")))
        };
        let mut min = lo.map(q).transpose()?;
        let mut max = hi.map(q).transpose()?;
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                min = Some(b);
            }
        }
        // A bound the input never reaches changes nothing (ReLU6 above an activation's range).
        let reach = i64::try_from(cx.bound(x)).unwrap_or(i64::MAX);
        if max.is_some_and(|hi| hi >= reach) {
            max = None;
        }
        if min.is_some_and(|lo| lo <= -reach) {
            min = None;
        }
        let mut y = x;
        if min.is_some() || max.is_some() {
            y = cx.push(Op::Clip { min, max }, &[y])?;
        }
        // Runtime bounds: max(y, lo), then min(., hi), after exact alignment.
        for (i, op) in [(1, Op::Max), (2, Op::Min)] {
            if let Some(Operand::Value(b)) = inputs.get(i) {
                let v = cx.align(&[y, *b])?;
                y = cx.push(op, &[v[0], v[1]])?;
            }
        }
        Ok(vec![if y == x {
            cx.push(
                Op::Clip {
                    min: None,
                    max: None,
                },
                &[x],
            )?
        } else {
            cx.finish(y, 0)?
        }])
    }

    impl_any!();
}

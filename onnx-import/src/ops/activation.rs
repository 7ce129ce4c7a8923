//! Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, Tanh, Exp, Softplus, Elu, Selu, Erf,
//! Gelu.

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
    LeakyRelu { alpha: f64 },
    Sigmoid,
    Tanh,
    Exp,
    Softplus,
    Elu { alpha: f64 },
    Selu { alpha: f64, gamma: f64 },
    Erf,
    Gelu { tanh: bool },
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
        }
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
        };
        Ok(vec![y])
    }

    impl_any!();
}

fn stats_missing() -> NodeError {
    NodeError::Quantization("input statistics are missing".into())
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
            Operand::Absent => Err(NodeError::Invalid("slope is missing".into())),
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
        let max = hi.map(q).transpose()?;
        if let (Some(a), Some(b)) = (min, max) {
            if a > b {
                min = Some(b);
            }
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

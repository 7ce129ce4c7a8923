//! Elementwise arithmetic: Add, Sub, Mul, Div, Neg, Abs, Sum, Max, Min, Pow, Sqrt, Reciprocal.

use ndarray::ArrayD;
use zkml_ir::op::Op;
use zkml_ir::TableFunction;

use super::{broadcast_map, impl_any, join_dtype, required, OnnxOp, Operand, ParseCx};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::{Domain, Lowering};

type Result<T> = std::result::Result<T, NodeError>;

/// A two-input arithmetic op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
}

/// `Add`, `Sub`, `Mul`, `Div` with numpy broadcasting.
#[derive(Debug)]
pub(crate) struct Binary {
    pub kind: BinaryKind,
    /// Opset < 7 `broadcast = 1` with its optional axis.
    pub legacy: Option<Option<i64>>,
}

pub(crate) fn parse_binary(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let legacy = super::parse_legacy_broadcast(cx)?;
    cx.attrs.finish()?;
    let kind = match cx.node.op_type.as_str() {
        "Add" => BinaryKind::Add,
        "Sub" => BinaryKind::Sub,
        "Mul" => BinaryKind::Mul,
        _ => BinaryKind::Div,
    };
    Ok(Box::new(Binary { kind, legacy }))
}

impl OnnxOp for Binary {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (a, b) = (required(inputs, 0)?, required(inputs, 1)?);
        let aligned;
        let b = match self.legacy {
            Some(axis) => {
                aligned = super::legacy_align_data(b, a.shape().len(), axis)?;
                &aligned
            }
            None => b,
        };
        let dtype = join_dtype(a.dtype, b.dtype);
        let int = dtype != DType::Float;
        let values = match self.kind {
            BinaryKind::Add => broadcast_map(&a.values, &b.values, |x, y| x + y)?,
            BinaryKind::Sub => broadcast_map(&a.values, &b.values, |x, y| x - y)?,
            BinaryKind::Mul => broadcast_map(&a.values, &b.values, |x, y| x * y)?,
            BinaryKind::Div if int => broadcast_map(&a.values, &b.values, |x, y| {
                if y == 0.0 {
                    0.0
                } else {
                    (x / y).trunc()
                }
            })?,
            BinaryKind::Div => broadcast_map(&a.values, &b.values, |x, y| x / y)?,
        };
        Ok(vec![Data { dtype, values }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let a = inputs[0];
        let aligned;
        let b = match (self.legacy, inputs[1]) {
            (None, b) => b,
            (Some(axis), b) => {
                let a_rank = match a {
                    Operand::Value(v) => cx.shape(v).len(),
                    Operand::Const(d) => d.shape().len(),
                    Operand::Absent => 0,
                };
                match b {
                    Operand::Const(d) => {
                        aligned = super::legacy_align_data(d, a_rank, axis)?;
                        Operand::Const(&aligned)
                    }
                    Operand::Value(v) => {
                        let shape = super::legacy_broadcast_shape(&cx.shape(v), a_rank, axis)?;
                        Operand::Value(cx.push(Op::Reshape { shape }, &[v])?)
                    }
                    Operand::Absent => Operand::Absent,
                }
            }
        };
        let out = match (self.kind, a, b) {
            (BinaryKind::Add | BinaryKind::Sub, _, _) => {
                let op = if self.kind == BinaryKind::Add {
                    Op::Add
                } else {
                    Op::Sub
                };
                let (x, y) = match (a, b) {
                    (Operand::Value(x), Operand::Value(y)) => {
                        let v = cx.align(&[x, y])?;
                        (v[0], v[1])
                    }
                    (Operand::Value(x), c) => {
                        let s = cx.scale(x);
                        (x, cx.operand_at(&c, s)?)
                    }
                    (c, Operand::Value(y)) => {
                        let s = cx.scale(y);
                        (cx.operand_at(&c, s)?, y)
                    }
                    _ => return Err(folded()),
                };
                let z = cx.push(op, &[x, y])?;
                cx.finish(z, 0)?
            }
            (BinaryKind::Mul, Operand::Value(x), Operand::Value(y)) => {
                let z = cx.push(Op::Mul, &[x, y])?;
                cx.finish(z, 0)?
            }
            (BinaryKind::Mul, Operand::Value(x), Operand::Const(c))
            | (BinaryKind::Mul, Operand::Const(c), Operand::Value(x)) => {
                let w = cx.weight(c)?;
                let z = cx.push(Op::Mul, &[x, w])?;
                cx.finish(z, 0)?
            }
            (BinaryKind::Div, Operand::Value(x), Operand::Const(c)) => {
                if c.values.iter().any(|&v| v == 0.0) {
                    return Err(NodeError::Quantization(
                        "division by a constant zero".into(),
                    ));
                }
                let recip = Data::float(c.values.mapv(|v| 1.0 / v));
                let w = cx.weight(&recip)?;
                let z = cx.push(Op::Mul, &[x, w])?;
                cx.finish(z, 0)?
            }
            (BinaryKind::Div, num, Operand::Value(d)) => divide(cx, num, d, 1)?,
            _ => return Err(folded()),
        };
        Ok(vec![out])
    }

    impl_any!();
}

fn folded() -> NodeError {
    NodeError::Invalid("all inputs are constant; the node should have been folded".into())
}

/// `num / den` for a runtime divisor that calibration saw only positive; `den_input` is the
/// divisor's input position (for its statistics).
fn divide(cx: &mut Lowering<'_>, num: Operand<'_>, den: usize, den_input: usize) -> Result<usize> {
    match cx.in_stats(den_input) {
        Some(s) if s.min > 0.0 => {}
        Some(s) => {
            return Err(NodeError::Quantization(format!(
                "division by a runtime value that took non-positive values (down to {}) during calibration; only positive divisors are supported",
                s.min
            )))
        }
        None => return Err(NodeError::Quantization("divisor statistics are missing".into())),
    }
    let a = match num {
        Operand::Value(v) => v,
        Operand::Const(c) => cx.weight(c)?,
        Operand::Absent => return Err(NodeError::Invalid("numerator is missing".into())),
    };
    let target = cx.out_scale(0);
    let (sa, sb) = (cx.scale(a), cx.scale(den));
    // Output scale is sa + shift - sb.
    let shift = target - sa + sb;
    let (den, shift) = if shift < 0 {
        (cx.shift_up(den, (-shift) as u32)?, 0)
    } else {
        (den, shift)
    };
    cx.push(
        Op::Div {
            shift: shift as u32,
        },
        &[a, den],
    )
}

/// A one-input arithmetic op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryKind {
    Neg,
    Abs,
    Sqrt,
    Reciprocal,
}

/// `Neg`, `Abs`, `Sqrt`, `Reciprocal`.
#[derive(Debug)]
pub(crate) struct Unary {
    pub kind: UnaryKind,
}

pub(crate) fn parse_unary(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    cx.attrs.finish()?;
    let kind = match cx.node.op_type.as_str() {
        "Neg" => UnaryKind::Neg,
        "Abs" => UnaryKind::Abs,
        "Sqrt" => UnaryKind::Sqrt,
        _ => UnaryKind::Reciprocal,
    };
    Ok(Box::new(Unary { kind }))
}

impl OnnxOp for Unary {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let f = match self.kind {
            UnaryKind::Neg => |v: f64| -v,
            UnaryKind::Abs => f64::abs,
            UnaryKind::Sqrt => f64::sqrt,
            UnaryKind::Reciprocal => |v: f64| 1.0 / v,
        };
        Ok(vec![Data {
            dtype: x.dtype,
            values: x.values.mapv(f),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let y = match self.kind {
            UnaryKind::Neg => cx.push(Op::Neg, &[x])?,
            UnaryKind::Abs => cx.push(Op::Abs, &[x])?,
            UnaryKind::Sqrt => sqrt(cx, x)?,
            UnaryKind::Reciprocal => {
                let one = Data::float(ArrayD::from_elem(ndarray::IxDyn(&[]), 1.0));
                divide(cx, Operand::Const(&one), x, 0)?
            }
        };
        Ok(vec![y])
    }

    impl_any!();
}

/// `sqrt(x)` at the output scale calibration chose.
fn sqrt(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    let target = cx.out_scale(0);
    let sx = cx.scale(x);
    // Output scale is (sx + shift) / 2.
    let shift = 2 * target - sx;
    if shift >= 0 {
        cx.push(
            Op::Sqrt {
                shift: shift as u32,
            },
            &[x],
        )
    } else {
        let x = cx.push(
            Op::Rescale {
                shift: (-shift) as u32,
            },
            &[x],
        )?;
        cx.push(Op::Sqrt { shift: 0 }, &[x])
    }
}

/// A variadic op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VariadicKind {
    Sum,
    Max,
    Min,
}

/// `Sum`, `Max`, `Min` over any number of broadcast inputs.
#[derive(Debug)]
pub(crate) struct Variadic {
    pub kind: VariadicKind,
}

pub(crate) fn parse_variadic(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, usize::MAX)?;
    cx.attrs.finish()?;
    let kind = match cx.node.op_type.as_str() {
        "Sum" => VariadicKind::Sum,
        "Max" => VariadicKind::Max,
        _ => VariadicKind::Min,
    };
    Ok(Box::new(Variadic { kind }))
}

impl OnnxOp for Variadic {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let f = match self.kind {
            VariadicKind::Sum => |a: f64, b: f64| a + b,
            VariadicKind::Max => f64::max,
            VariadicKind::Min => f64::min,
        };
        let mut acc = required(inputs, 0)?.clone();
        for i in 1..inputs.len() {
            let x = required(inputs, i)?;
            acc = Data {
                dtype: join_dtype(acc.dtype, x.dtype),
                values: broadcast_map(&acc.values, &x.values, f)?,
            };
        }
        Ok(vec![acc])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        // Runtime operands set the common scale; constants are quantized at it.
        let runtime: Vec<usize> = inputs
            .iter()
            .filter_map(|o| match o {
                Operand::Value(v) => Some(*v),
                _ => None,
            })
            .collect();
        let aligned = cx.align(&runtime)?;
        let scale = aligned.first().map(|&v| cx.scale(v)).ok_or_else(folded)?;
        let mut nodes = aligned;
        for o in inputs {
            if let Operand::Const(_) = o {
                nodes.push(cx.operand_at(o, scale)?);
            }
        }
        let op = match self.kind {
            VariadicKind::Sum => Op::Add,
            VariadicKind::Max => Op::Max,
            VariadicKind::Min => Op::Min,
        };
        let mut acc = nodes[0];
        for &n in &nodes[1..] {
            acc = cx.push(op.clone(), &[acc, n])?;
        }
        // A single input is passed through unchanged.
        Ok(vec![cx.finish(acc, 0)?])
    }

    impl_any!();
}

/// `Pow(x, p)` with a constant scalar exponent.
#[derive(Debug)]
pub(crate) struct Pow {
    legacy: Option<Option<i64>>,
}

pub(crate) fn parse_pow(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let legacy = super::parse_legacy_broadcast(cx)?;
    cx.attrs.finish()?;
    Ok(Box::new(Pow { legacy }))
}

impl OnnxOp for Pow {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, p) = (required(inputs, 0)?, required(inputs, 1)?);
        let aligned;
        let p = match self.legacy {
            Some(axis) => {
                aligned = super::legacy_align_data(p, x.shape().len(), axis)?;
                &aligned
            }
            None => p,
        };
        Ok(vec![Data {
            dtype: x.dtype,
            values: broadcast_map(&x.values, &p.values, f64::powf)?,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let p = super::constant(inputs, 1, "the exponent Y")?;
        let first = p.values.iter().next().copied().unwrap_or(1.0);
        if p.values.iter().any(|&v| v != first) {
            return Err(NodeError::Quantization(
                "Pow needs one exponent for all elements".into(),
            ));
        }
        let y = match first {
            1.0 => x,
            2.0 => {
                let z = cx.push(Op::Mul, &[x, x])?;
                cx.finish(z, 0)?
            }
            3.0 => {
                let sq = cx.push(Op::Mul, &[x, x])?;
                let sx = cx.scale(x);
                let sq = cx.requantize(sq, sx)?;
                let z = cx.push(Op::Mul, &[sq, x])?;
                cx.finish(z, 0)?
            }
            0.5 => sqrt(cx, x)?,
            -1.0 => {
                let one = Data::float(ArrayD::from_elem(ndarray::IxDyn(&[]), 1.0));
                divide(cx, Operand::Const(&one), x, 0)?
            }
            e => {
                let s = cx.in_stats(0).ok_or_else(|| {
                    NodeError::Quantization("input statistics are missing".into())
                })?;
                cx.lookup(
                    x,
                    TableFunction::Power { exponent: e },
                    Domain::Calibrated {
                        min: s.min,
                        max: s.max,
                        clip_left: false,
                    },
                )?
            }
        };
        Ok(vec![y])
    }

    impl_any!();
}

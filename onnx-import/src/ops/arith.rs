//! Elementwise arithmetic: Add, Sub, Mul, Div, Neg, Abs, Sum, Max, Min, Pow, Sqrt, Reciprocal.

use ndarray::ArrayD;
use zkml_ir::op::Op;
use zkml_ir::TableFunction;

use super::{
    broadcast_map, impl_any, join_dtype, mask, required, Lowered, Masked, OnnxOp, Operand, ParseCx,
};
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
                    Operand::Absent | Operand::Masked(_) => 0,
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
                    other => other,
                }
            }
        };
        let out = if cx.exact_output(0) {
            exact_binary(cx, self.kind, a, b)?
        } else {
            real_binary(cx, self.kind, a, b)?
        };
        Ok(vec![out])
    }

    fn lower_masked(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        if self.legacy.is_some() {
            return Err(NodeError::Quantization(
                "opset < 7 broadcasting of an attention mask".into(),
            ));
        }
        let a = mask::split(&inputs[0])?;
        let b = mask::split(&inputs[1])?;
        let infinite = a.infinite || b.infinite;
        match self.kind {
            BinaryKind::Add => {
                let value =
                    real_binary(cx, BinaryKind::Add, a.finite.operand(), b.finite.operand())?;
                let keep = mask::both(cx, a.keep, b.keep)?;
                let keep = mask::keep_node(cx, keep)?;
                Ok(vec![Lowered::Masked(Masked {
                    value,
                    keep,
                    infinite,
                })])
            }
            BinaryKind::Sub if matches!(b.keep, mask::Keep::All) => {
                let value =
                    real_binary(cx, BinaryKind::Sub, a.finite.operand(), b.finite.operand())?;
                let keep = mask::keep_node(cx, a.keep)?;
                Ok(vec![Lowered::Masked(Masked {
                    value,
                    keep,
                    infinite,
                })])
            }
            BinaryKind::Mul => match (inputs[0], inputs[1]) {
                (Operand::Value(t), Operand::Const(m)) | (Operand::Const(m), Operand::Value(t)) => {
                    Ok(vec![Lowered::Masked(mask::mask_from_product(cx, t, m)?)])
                }
                (Operand::Masked(m), Operand::Const(c))
                | (Operand::Const(c), Operand::Masked(m))
                    if c.values.iter().all(|&v| v > 0.0 && v.is_finite()) =>
                {
                    // Scaling by a positive constant leaves masked positions masked.
                    let value = real_binary(
                        cx,
                        BinaryKind::Mul,
                        Operand::Value(m.value),
                        Operand::Const(c),
                    )?;
                    Ok(vec![Lowered::Masked(Masked { value, ..m })])
                }
                _ => Err(NodeError::Quantization(
                    "this product of attention masks has no finite meaning".into(),
                )),
            },
            _ => Err(NodeError::Quantization(format!(
                "{:?} of an attention mask (values of -inf or finfo.min) has no finite meaning",
                self.kind
            ))),
        }
    }

    impl_any!();
}

fn folded() -> NodeError {
    NodeError::Invalid("all inputs are constant; the node should have been folded".into())
}

/// Integer arithmetic, exact at scale 0; division truncates toward zero as ONNX's integer
/// `Div` does.
fn exact_binary(
    cx: &mut Lowering<'_>,
    kind: BinaryKind,
    a: Operand<'_>,
    b: Operand<'_>,
) -> Result<usize> {
    let x = cx.operand_for(&a, true, 0)?;
    if kind == BinaryKind::Div {
        let Operand::Const(d) = b else {
            return Err(NodeError::Quantization(
                "integer division by a runtime value is not supported".into(),
            ));
        };
        return truncating_division(cx, x, d);
    }
    let y = cx.operand_for(&b, true, 0)?;
    let op = match kind {
        BinaryKind::Add => Op::Add,
        BinaryKind::Sub => Op::Sub,
        _ => Op::Mul,
    };
    let z = cx.push(op, &[x, y])?;
    cx.finish(z, 0)
}

/// `trunc(x / d)` for integers `x` (scale 0) and non-zero constants `d`:
/// `sign(x) sign(d) floor(|x| / |d|)`, where `floor(n / m) = Div(2n - m, 2m)` exactly.
fn truncating_division(cx: &mut Lowering<'_>, x: usize, d: &Data) -> Result<usize> {
    let divisors = d.to_i64s().map_err(NodeError::Invalid)?;
    if divisors.contains(&0) {
        return Err(NodeError::Quantization("integer division by zero".into()));
    }
    let shape = d.shape().to_vec();
    let abs = cx.push(Op::Abs, &[x])?;
    let two = cx.raw_constant(vec![], 0, vec![2])?;
    let doubled = cx.push(Op::Mul, &[abs, two])?;
    let m = cx.raw_constant(shape.clone(), 0, divisors.iter().map(|v| v.abs()).collect())?;
    let num = cx.push(Op::Sub, &[doubled, m])?;
    let den = cx.raw_constant(
        shape.clone(),
        0,
        divisors.iter().map(|v| 2 * v.abs()).collect(),
    )?;
    let q = cx.push(Op::Div { shift: 0 }, &[num, den])?;
    // sign(x): 1 - 2 [x < 0]
    let zero = cx.raw_constant(vec![], 0, vec![0])?;
    let negative = cx.push(Op::Compare(zkml_ir::CompareOp::Lt), &[x, zero])?;
    let twice = cx.push(Op::Mul, &[negative, two])?;
    let one = cx.raw_constant(vec![], 0, vec![1])?;
    let sign = cx.push(Op::Sub, &[one, twice])?;
    let signed = cx.push(Op::Mul, &[q, sign])?;
    let dsign = cx.raw_constant(shape, 0, divisors.iter().map(|v| v.signum()).collect())?;
    cx.push(Op::Mul, &[signed, dsign])
}

/// Arithmetic on quantized reals.
fn real_binary(
    cx: &mut Lowering<'_>,
    kind: BinaryKind,
    a: Operand<'_>,
    b: Operand<'_>,
) -> Result<usize> {
    Ok(match (kind, a, b) {
        (BinaryKind::Add | BinaryKind::Sub, _, _) => {
            let op = if kind == BinaryKind::Add {
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
    })
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
        Operand::Absent | Operand::Masked(_) => {
            return Err(NodeError::Invalid("numerator is missing".into()))
        }
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
pub(crate) fn sqrt(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
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
    Mean,
    Max,
    Min,
}

/// `Sum`, `Mean`, `Max`, `Min` over any number of broadcast inputs.
#[derive(Debug)]
pub(crate) struct Variadic {
    pub kind: VariadicKind,
}

pub(crate) fn parse_variadic(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, usize::MAX)?;
    cx.attrs.finish()?;
    let kind = match cx.node.op_type.as_str() {
        "Sum" => VariadicKind::Sum,
        "Mean" => VariadicKind::Mean,
        "Max" => VariadicKind::Max,
        _ => VariadicKind::Min,
    };
    Ok(Box::new(Variadic { kind }))
}

impl OnnxOp for Variadic {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let f = match self.kind {
            VariadicKind::Sum | VariadicKind::Mean => |a: f64, b: f64| a + b,
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
        if self.kind == VariadicKind::Mean {
            let n = inputs.len() as f64;
            acc.values.mapv_inplace(|v| v / n);
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
            VariadicKind::Sum | VariadicKind::Mean => Op::Add,
            VariadicKind::Max => Op::Max,
            VariadicKind::Min => Op::Min,
        };
        let mut acc = nodes[0];
        for &n in &nodes[1..] {
            acc = cx.push(op.clone(), &[acc, n])?;
        }
        if self.kind == VariadicKind::Mean && nodes.len() > 1 {
            let inv = Data::float(ArrayD::from_elem(
                ndarray::IxDyn(&[]),
                1.0 / nodes.len() as f64,
            ));
            let w = cx.weight(&inv)?;
            acc = cx.push(Op::Mul, &[acc, w])?;
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

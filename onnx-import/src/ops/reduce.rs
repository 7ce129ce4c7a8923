//! Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
//! ReduceSumSquare, ReduceLogSum, ReduceLogSumExp, ArgMax, ArgMin.
//!
//! `ReduceLogSumExp` follows the softmax recipe: `m + ln(sum exp(x - m))` with `m` the maximum,
//! so the sum lies in `[1, n]` and its logarithm's table is small. `ReduceProd` multiplies one
//! slice at a time, each partial product at the scale its calibrated bound allows.

use zkml_ir::op::{Op, ReduceSpec};
use zkml_ir::signature::infer_shape;
use zkml_ir::structure::for_each_window_member;

use super::pool::divide_by_counts;
use super::{
    array, const_ints, impl_any, norm_axes, norm_axis, required, runtime, OnnxOp, Operand, ParseCx,
};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// Which reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    SumSquare,
    LogSum,
    LogSumExp,
}

/// `ReduceSum` / `ReduceMean` / `ReduceMax` / `ReduceMin`.
#[derive(Debug)]
pub(crate) struct Reduce {
    kind: ReduceKind,
    /// Axes from the attribute (older opsets); newer opsets pass them as input 1.
    axes_attr: Option<Vec<i64>>,
    keepdims: bool,
    noop_with_empty_axes: bool,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let kind = match cx.node.op_type.as_str() {
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMean" => ReduceKind::Mean,
        "ReduceMax" => ReduceKind::Max,
        "ReduceProd" => ReduceKind::Prod,
        "ReduceL1" => ReduceKind::L1,
        "ReduceL2" => ReduceKind::L2,
        "ReduceSumSquare" => ReduceKind::SumSquare,
        "ReduceLogSum" => ReduceKind::LogSum,
        "ReduceLogSumExp" => ReduceKind::LogSumExp,
        _ => ReduceKind::Min,
    };
    // ReduceSum moved `axes` to an input at opset 13, the others at opset 18.
    let axes_as_input = cx.opset >= if kind == ReduceKind::Sum { 13 } else { 18 };
    let a = &cx.attrs;
    let (axes_attr, noop) = if axes_as_input {
        cx.expect_inputs(1, 2)?;
        (None, a.int_or("noop_with_empty_axes", 0)? != 0)
    } else {
        cx.expect_inputs(1, 1)?;
        (a.ints("axes")?, false)
    };
    let op = Reduce {
        kind,
        axes_attr,
        keepdims: a.int_or("keepdims", 1)? != 0,
        noop_with_empty_axes: noop,
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl Reduce {
    /// The reduction spec, or `None` when the op is the identity.
    fn spec(&self, rank: usize, axes_input: Option<Vec<i64>>) -> Result<Option<ReduceSpec>> {
        let axes = self.axes_attr.clone().or(axes_input).unwrap_or_default();
        if axes.is_empty() {
            if self.noop_with_empty_axes {
                return Ok(None);
            }
            return Ok(Some(ReduceSpec {
                axes: (0..rank).collect(),
                keepdims: self.keepdims,
            }));
        }
        Ok(Some(ReduceSpec {
            axes: norm_axes(&axes, rank)?,
            keepdims: self.keepdims,
        }))
    }
}

fn reduce_float(
    op: &Op,
    x: &Data,
    out: &[usize],
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> Vec<f64> {
    let xs = x.values.as_standard_layout();
    let xv = xs.as_slice().expect("standard layout");
    let mut acc = vec![init; out.iter().product()];
    for_each_window_member(op, x.shape(), out, |o, i| acc[o] = f(acc[o], xv[i]));
    acc
}

/// The smallest value of an element type.
fn lowest(dtype: DType) -> f64 {
    match dtype {
        DType::Float => f64::NEG_INFINITY,
        DType::Int => i64::MIN as f64,
        DType::Bool => 0.0,
    }
}

/// The largest value of an element type.
fn highest(dtype: DType) -> f64 {
    match dtype {
        DType::Float => f64::INFINITY,
        DType::Int => i64::MAX as f64,
        DType::Bool => 1.0,
    }
}

impl OnnxOp for Reduce {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let Some(spec) = self.spec(x.shape().len(), const_ints(inputs, 1, "axes")?)? else {
            return Ok(vec![x.clone()]);
        };
        let op = Op::ReduceSum(spec.clone());
        let out = infer_shape(&op, &[x.shape()], &[]).map_err(NodeError::Invalid)?;
        let count: usize = spec.axes.iter().map(|&a| x.shape()[a]).product();
        let values = match self.kind {
            ReduceKind::Sum => reduce_float(&op, x, &out, 0.0, |a, b| a + b),
            ReduceKind::Mean => reduce_float(&op, x, &out, 0.0, |a, b| a + b)
                .into_iter()
                .map(|v| v / count as f64)
                .collect(),
            // The maximum of an empty set is the type's smallest value (and vice versa).
            ReduceKind::Max => reduce_float(&op, x, &out, lowest(x.dtype), f64::max),
            ReduceKind::Min => reduce_float(&op, x, &out, highest(x.dtype), f64::min),
            ReduceKind::Prod => reduce_float(&op, x, &out, 1.0, |a, b| a * b),
            ReduceKind::L1 => reduce_float(&op, x, &out, 0.0, |a, b| a + b.abs()),
            ReduceKind::L2 => reduce_float(&op, x, &out, 0.0, |a, b| a + b * b)
                .into_iter()
                .map(f64::sqrt)
                .collect(),
            ReduceKind::SumSquare => reduce_float(&op, x, &out, 0.0, |a, b| a + b * b),
            ReduceKind::LogSum => reduce_float(&op, x, &out, 0.0, |a, b| a + b)
                .into_iter()
                .map(f64::ln)
                .collect(),
            ReduceKind::LogSumExp => {
                let m = reduce_float(&op, x, &out, f64::NEG_INFINITY, f64::max);
                let xs = x.values.as_standard_layout();
                let xv = xs.as_slice().expect("standard layout");
                let mut acc = vec![0.0; m.len()];
                for_each_window_member(&op, x.shape(), &out, |o, i| acc[o] += (xv[i] - m[o]).exp());
                acc.iter().zip(&m).map(|(s, m)| m + s.ln()).collect()
            }
        };
        Ok(vec![Data {
            dtype: x.dtype,
            values: array(&out, values),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "data")?;
        let axes = match inputs.get(1) {
            Some(Operand::Const(d)) => Some(d.to_i64s().map_err(NodeError::Invalid)?),
            Some(Operand::Value(_)) => {
                return Err(NodeError::Quantization("axes must be a constant".into()))
            }
            _ => None,
        };
        let shape = cx.shape(x);
        let Some(spec) = self.spec(shape.len(), axes)? else {
            return Ok(vec![x]);
        };
        let count: usize = spec.axes.iter().map(|&a| shape[a]).product();
        let y = match self.kind {
            ReduceKind::Sum => {
                let s = cx.push(Op::ReduceSum(spec), &[x])?;
                cx.finish(s, 0)?
            }
            ReduceKind::Mean => {
                let s = cx.push(Op::ReduceSum(spec), &[x])?;
                divide_by_counts(cx, s, vec![], vec![count])?
            }
            ReduceKind::Max => cx.push(Op::ReduceMax(spec), &[x])?,
            ReduceKind::Min => {
                let n = cx.push(Op::Neg, &[x])?;
                let m = cx.push(Op::ReduceMax(spec), &[n])?;
                cx.push(Op::Neg, &[m])?
            }
            ReduceKind::L1 => {
                let a = cx.push(Op::Abs, &[x])?;
                let s = cx.push(Op::ReduceSum(spec), &[a])?;
                cx.finish(s, 0)?
            }
            ReduceKind::SumSquare | ReduceKind::L2 => {
                let sq = cx.push(Op::Mul, &[x, x])?;
                let s = cx.push(Op::ReduceSum(spec), &[sq])?;
                if self.kind == ReduceKind::L2 {
                    // The square root's input needs a bounded value: rescale the sum to the
                    // scale its own magnitude calls for first.
                    let m = cx.in_stats(0).map_or(1.0, |st| st.max_abs());
                    let target = cx.cfg.activation_scale(m * m * count as f64);
                    let s = cx.requantize(s, target)?;
                    super::arith::sqrt(cx, s)?
                } else {
                    cx.finish(s, 0)?
                }
            }
            ReduceKind::LogSum => {
                let s = cx.push(Op::ReduceSum(spec), &[x])?;
                let stats = cx.out_stats(0);
                let (lo, hi) = (stats.min.exp(), stats.max.exp());
                let s = cx.requantize(s, cx.cfg.activation_scale(hi))?;
                cx.lookup(
                    s,
                    zkml_ir::TableFunction::Ln,
                    crate::lower::Domain::Calibrated {
                        min: lo,
                        max: hi,
                        clip_left: false,
                    },
                )?
            }
            ReduceKind::LogSumExp => log_sum_exp(cx, x, spec, count)?,
            ReduceKind::Prod => product(cx, x, &spec, &shape)?,
        };
        Ok(vec![y])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1]
    }

    impl_any!();
}

/// `m + ln(sum exp(x - m))` with `m` the maximum over the axes.
fn log_sum_exp(cx: &mut Lowering<'_>, x: usize, spec: ReduceSpec, count: usize) -> Result<usize> {
    let keep = ReduceSpec {
        axes: spec.axes.clone(),
        keepdims: true,
    };
    let m = cx.push(Op::ReduceMax(keep.clone()), &[x])?;
    let d = cx.push(Op::Sub, &[x, m])?;
    let e = cx.lookup(
        d,
        zkml_ir::TableFunction::Exp,
        crate::lower::Domain::NonPositive,
    )?;
    let sum = cx.push(Op::ReduceSum(keep), &[e])?;
    let ln = cx.lookup(
        sum,
        zkml_ir::TableFunction::Ln,
        crate::lower::Domain::Calibrated {
            min: 1.0,
            max: count as f64,
            clip_left: false,
        },
    )?;
    let v = cx.align(&[m, ln])?;
    let mut y = cx.push(Op::Add, &[v[0], v[1]])?;
    if !spec.keepdims {
        let shape =
            infer_shape(&Op::ReduceSum(spec), &[&cx.shape(x)], &[]).map_err(NodeError::Invalid)?;
        y = cx.push(Op::Reshape { shape }, &[y])?;
    }
    cx.finish(y, 0)
}

/// The product over the axes, one slice at a time: the axes move to the front and are
/// flattened, then the product of the first `j` of `n` slices is rescaled to the scale for the
/// magnitude `min(M^j, 4 max(M, P^(j/n)))` (`M` the calibrated input magnitude, `P` the
/// calibrated product's): partial products grow or shrink roughly geometrically toward `P`. A
/// partial product beyond that leaves the value range, an evaluation error naming the node,
/// never a wrong value.
fn product(cx: &mut Lowering<'_>, x: usize, spec: &ReduceSpec, shape: &[usize]) -> Result<usize> {
    let rest: Vec<usize> = (0..shape.len())
        .filter(|a| !spec.axes.contains(a))
        .collect();
    let mut perm = spec.axes.clone();
    perm.extend_from_slice(&rest);
    let count: usize = spec.axes.iter().map(|&a| shape[a]).product();
    let rest_shape: Vec<usize> = rest.iter().map(|&a| shape[a]).collect();
    let t = cx.push(Op::Transpose { perm }, &[x])?;
    let mut flat_shape = vec![count];
    flat_shape.extend_from_slice(&rest_shape);
    let t = cx.push(
        Op::Reshape {
            shape: flat_shape.clone(),
        },
        &[t],
    )?;
    let m = cx.in_stats(0).map_or(1.0, |st| st.max_abs()).max(1e-9);
    let magnitude = cx.out_stats(0).max_abs().max(1e-9);
    let slice = |cx: &mut Lowering<'_>, j: usize| -> Result<usize> {
        let ranges = zkml_ir::op::SliceRange::along(&flat_shape, 0, j, j + 1);
        cx.push(Op::Slice { ranges }, &[t])
    };
    let mut acc = slice(cx, 0)?;
    for j in 1..count {
        let s = slice(cx, j)?;
        let p = cx.push(Op::Mul, &[acc, s])?;
        let factors = j as i32 + 1;
        let geometric = magnitude.powf(f64::from(factors) / count as f64);
        let target = cx
            .cfg
            .activation_scale(m.powi(factors).min(4.0 * m.max(geometric)));
        acc = cx.requantize(p, target)?;
    }
    let out =
        infer_shape(&Op::ReduceSum(spec.clone()), &[shape], &[]).map_err(NodeError::Invalid)?;
    let y = cx.push(Op::Reshape { shape: out }, &[acc])?;
    cx.finish(y, 0)
}

/// `ArgMax`.
#[derive(Debug)]
pub(crate) struct ArgMax {
    axis: i64,
    keepdims: bool,
    select_last_index: bool,
    /// `ArgMin`: the arg-max of the negated input (ties resolve the same way).
    min: bool,
}

pub(crate) fn parse_argmax(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let a = &cx.attrs;
    let op = ArgMax {
        axis: a.int_or("axis", 0)?,
        keepdims: a.int_or("keepdims", 1)? != 0,
        select_last_index: a.int_or("select_last_index", 0)? != 0,
        min: cx.node.op_type == "ArgMin",
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl ArgMax {
    fn op(&self, rank: usize) -> Result<Op> {
        Ok(Op::ArgMax {
            axis: norm_axis(self.axis, rank)?,
            keepdims: self.keepdims,
            select_last_index: self.select_last_index,
        })
    }
}

impl OnnxOp for ArgMax {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let op = self.op(x.shape().len())?;
        let out = infer_shape(&op, &[x.shape()], &[]).map_err(NodeError::Invalid)?;
        let Op::ArgMax { axis, .. } = op else {
            unreachable!()
        };
        let dim = x.shape()[axis];
        let stride: usize = x.shape()[axis + 1..].iter().product();
        let xs = x.values.as_standard_layout();
        let xv = xs.as_slice().expect("standard layout");
        let mut best: Vec<Option<(f64, usize)>> = vec![None; out.iter().product()];
        for_each_window_member(&op, x.shape(), &out, |o, i| {
            let v = if self.min { -xv[i] } else { xv[i] };
            let better = match best[o] {
                None => true,
                Some((m, _)) => v > m || (self.select_last_index && v == m),
            };
            if better {
                best[o] = Some((v, (i / stride) % dim));
            }
        });
        let values = best
            .into_iter()
            .map(|b| b.map_or(0.0, |(_, p)| p as f64))
            .collect();
        Ok(vec![Data {
            dtype: DType::Int,
            values: array(&out, values),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let mut x = runtime(inputs, 0, "data")?;
        let op = self.op(cx.shape(x).len())?;
        if self.min {
            x = cx.push(Op::Neg, &[x])?;
        }
        Ok(vec![cx.push(op, &[x])?])
    }

    impl_any!();
}

//! Softmax and LogSoftmax.
//!
//! Integer recipe along the softmax axis (`x` at scale `s`):
//!
//! ```text
//! m = ReduceMax(x)            d = x - m   (d <= 0)
//! e = exp table(clip(d))      e in [0, 2^se], exactly 2^se where d = 0
//! S = ReduceSum(e)            S >= 2^se > 0
//! softmax     = Div(e, S)     at the output scale
//! log_softmax = d - ln table(S)
//! ```
//!
//! The exp table saturates to 0 on the left, so no input is ever outside its domain, and the
//! sum is never zero, so the division is always defined.
//!
//! A masked input (see [`super::mask`]) with finite part `v` and keep flags `k` moves every
//! masked score far below every kept one, so its weight is exactly zero:
//!
//! ```text
//! C = 2 bound(v) + 64 (in real units): a masked score ends at least 64 below any kept one,
//!                             where exp has long rounded to 0
//! finfo.min masks:  x = k (v + C) - C        every masked score is -C: a row with every
//!                                            position masked is uniform, as in float
//! -inf masks:       x = v + (k - 1) C, e = k * exp(...), S = max(ReduceSum(e), 1)
//!                                            such a row is all zeros (float gives NaN, which
//!                                            exporters replace by 0)
//! ```

use ndarray::{Axis, IxDyn};
use zkml_ir::op::{Op, ReduceSpec};
use zkml_ir::TableFunction;

use super::{
    impl_any, mask, norm_axis, required, runtime, Lowered, Masked, OnnxOp, Operand, ParseCx,
};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::{Domain, Lowering};

type Result<T> = std::result::Result<T, NodeError>;

/// `Softmax` or `LogSoftmax`.
#[derive(Debug)]
pub(crate) struct Softmax {
    axis: i64,
    /// Before opset 13 the input is coerced to 2-D at `axis` and normalized over the second
    /// dimension.
    coerce_2d: bool,
    log: bool,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let coerce_2d = cx.opset < 13;
    let axis = cx.attrs.int_or("axis", if coerce_2d { 1 } else { -1 })?;
    cx.attrs.finish()?;
    Ok(Box::new(Softmax {
        axis,
        coerce_2d,
        log: cx.node.op_type == "LogSoftmax",
    }))
}

impl Softmax {
    /// The shape the op works on and the normalized axis within it.
    fn working_shape(&self, shape: &[usize]) -> Result<(Vec<usize>, usize)> {
        let axis = norm_axis(self.axis, shape.len())?;
        if self.coerce_2d {
            let outer: usize = shape[..axis].iter().product();
            let inner: usize = shape[axis..].iter().product();
            Ok((vec![outer, inner], 1))
        } else {
            Ok((shape.to_vec(), axis))
        }
    }
}

impl Softmax {
    /// The recipe above on runtime `x`; with `keep`, weights where it is 0 are exactly 0.
    fn lower_with_keep(
        &self,
        cx: &mut Lowering<'_>,
        x: usize,
        keep: Option<usize>,
    ) -> Result<usize> {
        let orig = cx.shape(x);
        let (shape, axis) = self.working_shape(&orig)?;
        let reshape = |cx: &mut Lowering<'_>, v: usize| -> Result<usize> {
            if shape != orig {
                cx.push(
                    Op::Reshape {
                        shape: shape.clone(),
                    },
                    &[v],
                )
            } else {
                Ok(v)
            }
        };
        let x = reshape(cx, x)?;
        let keep = keep.map(|k| reshape(cx, k)).transpose()?;
        let spec = ReduceSpec {
            axes: vec![axis],
            keepdims: true,
        };
        let m = cx.push(Op::ReduceMax(spec.clone()), &[x])?;
        let d = cx.push(Op::Sub, &[x, m])?;
        let mut e = cx.lookup(d, TableFunction::Exp, Domain::NonPositive)?;
        if let Some(k) = keep {
            e = cx.push(Op::Mul, &[e, k])?;
        }
        let mut sum = cx.push(Op::ReduceSum(spec), &[e])?;
        if keep.is_some() {
            let one = cx.raw_constant(vec![], cx.scale(sum), vec![1])?;
            sum = cx.push(Op::Max, &[sum, one])?;
        }
        let y = if self.log {
            let n = shape[axis] as f64;
            let ln = cx.lookup(
                sum,
                TableFunction::Ln,
                Domain::Calibrated {
                    min: 1.0,
                    max: n,
                    clip_left: false,
                },
            )?;
            let v = cx.align(&[d, ln])?;
            let y = cx.push(Op::Sub, &[v[0], v[1]])?;
            cx.finish(y, 0)?
        } else {
            let target = cx.out_scale(0).max(0);
            cx.push(
                Op::Div {
                    shift: target as u32,
                },
                &[e, sum],
            )?
        };
        if shape != orig {
            cx.push(Op::Reshape { shape: orig }, &[y])
        } else {
            Ok(y)
        }
    }
}

impl OnnxOp for Softmax {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let (shape, axis) = self.working_shape(x.shape())?;
        let mut v = x
            .values
            .clone()
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        for mut lane in v.lanes_mut(Axis(axis)) {
            let m = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = lane.iter().map(|&t| (t - m).exp()).sum();
            lane.mapv_inplace(|t| {
                if self.log {
                    t - m - sum.ln()
                } else {
                    (t - m).exp() / sum
                }
            });
        }
        let v = v
            .into_shape_with_order(IxDyn(x.shape()))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        Ok(vec![Data::float(v)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        Ok(vec![self.lower_with_keep(cx, x, None)?])
    }

    fn lower_masked(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        let Operand::Masked(Masked {
            value,
            keep,
            infinite,
        }) = inputs[0]
        else {
            return Err(NodeError::Invalid("expected a masked input".into()));
        };
        if self.log {
            return Err(NodeError::Quantization(
                "LogSoftmax of masked scores is -inf at masked positions".into(),
            ));
        }
        let shape = cx.shape(value);
        let keep = mask::keep_for_shape(cx, mask::Keep::Node(keep), &shape)?;
        let s = cx.scale(value);
        let real = |v: f64| (v * 2f64.powi(s)).ceil() as i64;
        let c = (2 * cx.bound(value) as i64).saturating_add(real(64.0).max(1));
        let kc = cx.raw_constant(vec![], s, vec![c])?;
        if infinite {
            // x = v + (k - 1) C; weights times k, so a fully masked row is all zeros.
            let lifted = cx.push(Op::Mul, &[keep, kc])?;
            let shifted = cx.push(Op::Add, &[value, lifted])?;
            let x = cx.push(Op::Sub, &[shifted, kc])?;
            return Ok(vec![Lowered::Value(self.lower_with_keep(
                cx,
                x,
                Some(keep),
            )?)]);
        }
        // x = k (v + C) - C: every masked score is -C, so a fully masked row is uniform.
        let lifted = cx.push(Op::Add, &[value, kc])?;
        let kept = cx.push(Op::Mul, &[keep, lifted])?;
        let x = cx.push(Op::Sub, &[kept, kc])?;
        Ok(vec![Lowered::Value(self.lower_with_keep(cx, x, None)?)])
    }

    impl_any!();
}

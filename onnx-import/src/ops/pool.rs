//! Pooling: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.

use zkml_ir::op::{Op, PoolSpec, ReduceSpec};
use zkml_ir::structure::for_each_window_member;

use super::conv::{parse_auto_pad, AutoPad, Window};
use super::{array, impl_any, required, runtime, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// Which pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Max,
    Average { count_include_pad: bool },
}

/// `MaxPool` / `AveragePool`.
#[derive(Debug)]
pub(crate) struct Pool {
    kind: PoolKind,
    window: Window,
    auto_pad: AutoPad,
    ceil_mode: bool,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let a = &cx.attrs;
    let kind = if cx.node.op_type == "MaxPool" {
        cx.expect_outputs(1, "the Indices output is not supported")?;
        // storage_order only affects the Indices output, which is rejected above.
        a.ignore(&["storage_order"]);
        PoolKind::Max
    } else {
        PoolKind::Average {
            count_include_pad: a.int_or("count_include_pad", 0)? != 0,
        }
    };
    let window = Window::parse(cx)?;
    if window.kernel_shape.is_none() {
        return Err(NodeError::Invalid("kernel_shape is required".into()));
    }
    let op = Pool {
        kind,
        window,
        auto_pad: parse_auto_pad(cx)?,
        ceil_mode: a.int_or("ceil_mode", 0)? != 0,
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl Pool {
    fn spec(&self, x: &[usize]) -> Result<(PoolSpec, Vec<usize>)> {
        if x.len() < 3 {
            return Err(NodeError::Invalid(format!(
                "input {x:?} is not [N, C, ...]"
            )));
        }
        let rank = x.len() - 2;
        let kernel = Window::per_axis(&self.window.kernel_shape, rank, "kernel_shape")?;
        let strides = Window::per_axis(&self.window.strides, rank, "strides")?;
        let dilations = Window::per_axis(&self.window.dilations, rank, "dilations")?;
        let input = &x[2..];
        let (pads_begin, pads_end) =
            self.window
                .forward_pads(self.auto_pad, input, &kernel, &strides, &dilations)?;
        let mut output_spatial = Vec::with_capacity(rank);
        for i in 0..rank {
            let span = (kernel[i] - 1) * dilations[i] + 1;
            let padded = input[i] + pads_begin[i] + pads_end[i];
            let out = match self.auto_pad {
                AutoPad::SameUpper | AutoPad::SameLower => input[i].div_ceil(strides[i]),
                _ => {
                    if padded < span {
                        return Err(NodeError::Invalid(format!(
                            "kernel does not fit the padded input on axis {i}"
                        )));
                    }
                    let room = padded - span;
                    if self.ceil_mode {
                        let mut out = room.div_ceil(strides[i]) + 1;
                        // A window starting inside the end padding is dropped.
                        if (out - 1) * strides[i] >= input[i] + pads_begin[i] {
                            out -= 1;
                        }
                        out
                    } else {
                        room / strides[i] + 1
                    }
                }
            };
            output_spatial.push(out);
        }
        Ok((
            PoolSpec {
                kernel,
                strides,
                dilations,
                pads_begin,
                output_spatial,
            },
            pads_end,
        ))
    }

    fn out_shape(x: &[usize], spec: &PoolSpec) -> Vec<usize> {
        let mut s = x[..2].to_vec();
        s.extend_from_slice(&spec.output_spatial);
        s
    }

    /// Divisor of each output position (spatial positions only, row-major).
    fn counts(&self, x: &[usize], spec: &PoolSpec, pads_end: &[usize]) -> Vec<usize> {
        let include_pad = matches!(
            self.kind,
            PoolKind::Average {
                count_include_pad: true
            }
        );
        let rank = spec.kernel.len();
        let mut counts = Vec::new();
        zkml_ir::structure::for_each_coord(&spec.output_spatial, |oc| {
            let mut n = 1;
            for d in 0..rank {
                let limit = if include_pad {
                    x[d + 2] + spec.pads_begin[d] + pads_end[d]
                } else {
                    x[d + 2] + spec.pads_begin[d]
                };
                let lo = if include_pad { 0 } else { spec.pads_begin[d] };
                n *= (0..spec.kernel[d])
                    .filter(|k| {
                        let p = oc[d] * spec.strides[d] + k * spec.dilations[d];
                        p >= lo && p < limit
                    })
                    .count();
            }
            counts.push(n);
        });
        counts
    }
}

impl OnnxOp for Pool {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let (spec, pads_end) = self.spec(x.shape())?;
        let out = Self::out_shape(x.shape(), &spec);
        super::checked_size(&out)?;
        let xs = x.values.as_standard_layout();
        let xv = xs.as_slice().expect("standard layout");
        let n: usize = out.iter().product();
        let y = match self.kind {
            PoolKind::Max => {
                let mut acc = vec![f64::NEG_INFINITY; n];
                for_each_window_member(&Op::MaxPool(spec.clone()), x.shape(), &out, |o, i| {
                    acc[o] = acc[o].max(xv[i])
                });
                acc
            }
            PoolKind::Average { .. } => {
                let mut acc = vec![0.0; n];
                for_each_window_member(&Op::SumPool(spec.clone()), x.shape(), &out, |o, i| {
                    acc[o] += xv[i]
                });
                let counts = self.counts(x.shape(), &spec, &pads_end);
                for (o, v) in acc.iter_mut().enumerate() {
                    *v /= counts[o % counts.len()] as f64;
                }
                acc
            }
        };
        Ok(vec![Data::float(array(&out, y))])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let shape = cx.shape(x);
        let (spec, pads_end) = self.spec(&shape)?;
        let y = match self.kind {
            PoolKind::Max => cx.push(Op::MaxPool(spec), &[x])?,
            PoolKind::Average { .. } => {
                let counts = self.counts(&shape, &spec, &pads_end);
                let mut count_shape = vec![1, 1];
                count_shape.extend_from_slice(&spec.output_spatial);
                let sum = cx.push(Op::SumPool(spec), &[x])?;
                divide_by_counts(cx, sum, count_shape, counts)?
            }
        };
        Ok(vec![y])
    }

    impl_any!();
}

/// `sum / counts` (counts broadcast over `sum`), at output 0's calibrated scale, exactly
/// rounded by the integer division op.
pub(crate) fn divide_by_counts(
    cx: &mut Lowering<'_>,
    sum: usize,
    count_shape: Vec<usize>,
    counts: Vec<usize>,
) -> Result<usize> {
    let target = cx.out_scale(0);
    let s = cx.scale(sum);
    // Output scale is s + shift - divisor_scale.
    let (shift, div_scale) = if target >= s {
        ((target - s) as u32, 0)
    } else {
        (0, s - target)
    };
    let (shape, values) = if counts.iter().all(|&c| c == counts[0]) {
        (vec![], vec![counts[0] as i64])
    } else {
        (count_shape, counts.iter().map(|&c| c as i64).collect())
    };
    let values = values.into_iter().map(|c| c << div_scale).collect();
    let d = cx.raw_constant(shape, div_scale, values)?;
    cx.push(Op::Div { shift }, &[sum, d])
}

/// `GlobalAveragePool` / `GlobalMaxPool`: reduce all spatial axes, keeping them.
#[derive(Debug)]
pub(crate) struct GlobalPool {
    max: bool,
}

pub(crate) fn parse_global(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    cx.attrs.finish()?;
    Ok(Box::new(GlobalPool {
        max: cx.node.op_type == "GlobalMaxPool",
    }))
}

impl GlobalPool {
    fn spec(x: &[usize]) -> Result<ReduceSpec> {
        if x.len() < 3 {
            return Err(NodeError::Invalid(format!(
                "input {x:?} is not [N, C, ...]"
            )));
        }
        Ok(ReduceSpec {
            axes: (2..x.len()).collect(),
            keepdims: true,
        })
    }
}

impl OnnxOp for GlobalPool {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let spec = Self::spec(x.shape())?;
        let mut out = x.shape()[..2].to_vec();
        out.extend(std::iter::repeat_n(1, x.shape().len() - 2));
        let n_in: usize = x.shape()[2..].iter().product();
        let xs = x.values.as_standard_layout();
        let xv = xs.as_slice().expect("standard layout");
        let n: usize = out.iter().product();
        let y = if self.max {
            let mut acc = vec![f64::NEG_INFINITY; n];
            for_each_window_member(&Op::ReduceMax(spec), x.shape(), &out, |o, i| {
                acc[o] = acc[o].max(xv[i])
            });
            acc
        } else {
            let mut acc = vec![0.0; n];
            for_each_window_member(&Op::ReduceSum(spec), x.shape(), &out, |o, i| {
                acc[o] += xv[i]
            });
            acc.into_iter().map(|v| v / n_in as f64).collect()
        };
        Ok(vec![Data::float(array(&out, y))])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let shape = cx.shape(x);
        let spec = Self::spec(&shape)?;
        if self.max {
            return Ok(vec![cx.push(Op::ReduceMax(spec), &[x])?]);
        }
        let n: usize = shape[2..].iter().product();
        let sum = cx.push(Op::ReduceSum(spec), &[x])?;
        Ok(vec![divide_by_counts(cx, sum, vec![], vec![n])?])
    }

    impl_any!();
}

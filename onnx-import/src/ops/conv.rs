//! Convolutions: Conv and ConvTranspose (1-D, 2-D, 3-D; strides, pads, auto_pad, dilations,
//! groups including depthwise).

use ndarray::ArrayD;
use zkml_ir::op::{ConvSpec, ConvTransposeSpec, Op};
use zkml_ir::signature::infer_shape;

use super::linear::{add_runtime, eval_product, product};
use super::{impl_any, required, usizes, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// ONNX `auto_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

pub(crate) fn parse_auto_pad(cx: &ParseCx<'_>) -> Result<AutoPad> {
    match cx.attrs.string_or("auto_pad", "NOTSET")?.as_str() {
        "NOTSET" | "" => Ok(AutoPad::NotSet),
        "SAME_UPPER" => Ok(AutoPad::SameUpper),
        "SAME_LOWER" => Ok(AutoPad::SameLower),
        "VALID" => Ok(AutoPad::Valid),
        other => Err(NodeError::UnsupportedAttribute {
            name: "auto_pad".into(),
            value: format!("'{other}'"),
            supported: "supported values are NOTSET, SAME_UPPER, SAME_LOWER and VALID".into(),
        }),
    }
}

/// Attributes shared by Conv, ConvTranspose and the pooling ops.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    pub kernel_shape: Option<Vec<usize>>,
    pub strides: Option<Vec<usize>>,
    pub dilations: Option<Vec<usize>>,
    pub pads: Option<Vec<usize>>,
}

impl Window {
    pub fn parse(cx: &ParseCx<'_>) -> Result<Self> {
        let a = &cx.attrs;
        let list = |name: &'static str| -> Result<Option<Vec<usize>>> {
            a.ints(name)?.map(|v| usizes(&v, name)).transpose()
        };
        let w = Window {
            kernel_shape: list("kernel_shape")?,
            strides: list("strides")?,
            dilations: list("dilations")?,
            pads: list("pads")?,
        };
        if w.strides.as_ref().is_some_and(|s| s.contains(&0)) {
            return Err(NodeError::Invalid("strides must be positive".into()));
        }
        if w.dilations.as_ref().is_some_and(|s| s.contains(&0)) {
            return Err(NodeError::Invalid("dilations must be positive".into()));
        }
        Ok(w)
    }

    /// Per-axis attribute or its default (1 for strides and dilations).
    pub fn per_axis(v: &Option<Vec<usize>>, rank: usize, what: &str) -> Result<Vec<usize>> {
        match v {
            None => Ok(vec![1; rank]),
            Some(v) if v.len() == rank => Ok(v.clone()),
            Some(v) => Err(NodeError::Invalid(format!(
                "{what} has {} entries for {rank} spatial axes",
                v.len()
            ))),
        }
    }

    /// Explicit pads split into begin and end (default 0).
    pub fn explicit_pads(&self, rank: usize) -> Result<(Vec<usize>, Vec<usize>)> {
        match &self.pads {
            None => Ok((vec![0; rank], vec![0; rank])),
            Some(p) if p.len() == 2 * rank => Ok((p[..rank].to_vec(), p[rank..].to_vec())),
            Some(p) => Err(NodeError::Invalid(format!(
                "pads has {} entries for {rank} spatial axes",
                p.len()
            ))),
        }
    }

    /// Pads for a forward window (Conv, pooling) given `auto_pad`.
    pub fn forward_pads(
        &self,
        auto_pad: AutoPad,
        input: &[usize],
        kernel: &[usize],
        strides: &[usize],
        dilations: &[usize],
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let rank = input.len();
        match auto_pad {
            AutoPad::NotSet => self.explicit_pads(rank),
            AutoPad::Valid => Ok((vec![0; rank], vec![0; rank])),
            AutoPad::SameUpper | AutoPad::SameLower => {
                let mut begin = Vec::with_capacity(rank);
                let mut end = Vec::with_capacity(rank);
                for i in 0..rank {
                    let out = input[i].div_ceil(strides[i]);
                    let span = (kernel[i].max(1) - 1) * dilations[i] + 1;
                    let total = ((out.max(1) - 1) * strides[i] + span).saturating_sub(input[i]);
                    let small = total / 2;
                    let (b, e) = if auto_pad == AutoPad::SameUpper {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                    begin.push(b);
                    end.push(e);
                }
                Ok((begin, end))
            }
        }
    }
}

/// `Conv`.
#[derive(Debug)]
pub(crate) struct Conv {
    pub window: Window,
    pub auto_pad: AutoPad,
    pub group: usize,
}

pub(crate) fn parse_conv(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 3)?;
    let op = Conv {
        window: Window::parse(cx)?,
        auto_pad: parse_auto_pad(cx)?,
        group: usizes(&[cx.attrs.int_or("group", 1)?], "group")?[0],
    };
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

impl Conv {
    pub(crate) fn spec(&self, x: &[usize], w: &[usize]) -> Result<ConvSpec> {
        if x.len() < 3 || w.len() != x.len() {
            return Err(NodeError::Invalid(format!(
                "input {x:?} and weight {w:?} are not [N, C, ...] and [M, C/group, ...]"
            )));
        }
        let rank = x.len() - 2;
        let kernel = &w[2..];
        if let Some(k) = &self.window.kernel_shape {
            if k.as_slice() != kernel {
                return Err(NodeError::Invalid(format!(
                    "kernel_shape {k:?} differs from the weight's {kernel:?}"
                )));
            }
        }
        let strides = Window::per_axis(&self.window.strides, rank, "strides")?;
        let dilations = Window::per_axis(&self.window.dilations, rank, "dilations")?;
        let (pads_begin, pads_end) =
            self.window
                .forward_pads(self.auto_pad, &x[2..], kernel, &strides, &dilations)?;
        Ok(ConvSpec {
            strides,
            dilations,
            pads_begin,
            pads_end,
            group: self.group,
        })
    }
}

fn operand_shape(cx: &Lowering<'_>, o: &Operand<'_>) -> Vec<usize> {
    match o {
        Operand::Value(v) => cx.shape(*v),
        Operand::Const(d) => d.shape().to_vec(),
        Operand::Absent | Operand::Masked(_) => Vec::new(),
    }
}

/// A convolution with constant or runtime weights and bias, requantized to output 0's scale.
fn lower_conv(cx: &mut Lowering<'_>, op: Op, inputs: &[Operand<'_>]) -> Result<usize> {
    let const_bias = inputs.get(2).and_then(|o| o.as_const());
    let mut acc = product(cx, op, inputs[0], inputs[1], const_bias)?;
    if let Some(Operand::Value(b)) = inputs.get(2) {
        // A runtime bias [M] broadcast over [N, M, ...].
        let rank = cx.shape(acc).len();
        let mut shape = vec![1; rank - 1];
        shape[0] = cx.shape(*b).iter().product();
        let b = cx.push(Op::Reshape { shape }, &[*b])?;
        acc = add_runtime(cx, acc, b)?;
    }
    cx.finish(acc, 0)
}

/// Float evaluation of a convolution op with an optional per-channel bias.
fn eval_conv(op: Op, x: &Data, w: &Data, bias: Option<&Data>) -> Result<Vec<Data>> {
    let out = infer_shape(&op, &[x.shape(), w.shape()], &[]).map_err(NodeError::Invalid)?;
    let mut y = eval_product(&op, &x.values, &w.values, &out)?;
    add_channel_bias(&mut y, bias)?;
    Ok(vec![Data::float(y)])
}

fn add_channel_bias(y: &mut ArrayD<f64>, bias: Option<&Data>) -> Result<()> {
    if let Some(b) = bias {
        let m = y.shape()[1];
        if b.values.len() != m {
            return Err(NodeError::Invalid(format!(
                "bias has {} values for {m} output channels",
                b.values.len()
            )));
        }
        let bv: Vec<f64> = b.values.iter().copied().collect();
        for (idx, v) in y.indexed_iter_mut() {
            *v += bv[idx[1]];
        }
    }
    Ok(())
}

impl OnnxOp for Conv {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, w) = (required(inputs, 0)?, required(inputs, 1)?);
        let op = Op::Conv(self.spec(x.shape(), w.shape())?);
        eval_conv(op, x, w, inputs.get(2).copied().flatten())
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let spec = self.spec(&cx.shape(x), &operand_shape(cx, &inputs[1]))?;
        Ok(vec![lower_conv(cx, Op::Conv(spec), inputs)?])
    }

    impl_any!();
}

/// `ConvTranspose`.
#[derive(Debug)]
pub(crate) struct ConvTranspose {
    window: Window,
    auto_pad: AutoPad,
    group: usize,
    output_padding: Option<Vec<usize>>,
    output_shape: Option<Vec<usize>>,
}

pub(crate) fn parse_conv_transpose(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 3)?;
    let a = &cx.attrs;
    let op = ConvTranspose {
        window: Window::parse(cx)?,
        auto_pad: parse_auto_pad(cx)?,
        group: usizes(&[a.int_or("group", 1)?], "group")?[0],
        output_padding: a
            .ints("output_padding")?
            .map(|v| usizes(&v, "output_padding"))
            .transpose()?,
        output_shape: a
            .ints("output_shape")?
            .map(|v| usizes(&v, "output_shape"))
            .transpose()?,
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl ConvTranspose {
    fn spec(&self, x: &[usize], w: &[usize]) -> Result<ConvTransposeSpec> {
        if x.len() < 3 || w.len() != x.len() {
            return Err(NodeError::Invalid(format!(
                "input {x:?} and weight {w:?} are not [N, C, ...] and [C, M/group, ...]"
            )));
        }
        let rank = x.len() - 2;
        let kernel = &w[2..];
        if let Some(k) = &self.window.kernel_shape {
            if k.as_slice() != kernel {
                return Err(NodeError::Invalid(format!(
                    "kernel_shape {k:?} differs from the weight's {kernel:?}"
                )));
            }
        }
        let strides = Window::per_axis(&self.window.strides, rank, "strides")?;
        let dilations = Window::per_axis(&self.window.dilations, rank, "dilations")?;
        let out_pad = match &self.output_padding {
            None => vec![0; rank],
            Some(p) if p.len() == rank => p.clone(),
            Some(p) => {
                return Err(NodeError::Invalid(format!(
                    "output_padding has {} entries for {rank} axes",
                    p.len()
                )))
            }
        };
        let requested = match &self.output_shape {
            None => None,
            Some(s) if s.len() == rank => Some(s.clone()),
            Some(s) if s.len() == rank + 2 => Some(s[2..].to_vec()),
            Some(s) => {
                return Err(NodeError::Invalid(format!(
                    "output_shape {s:?} does not match {rank} spatial axes"
                )))
            }
        };
        let same = matches!(self.auto_pad, AutoPad::SameUpper | AutoPad::SameLower);
        let (explicit_begin, explicit_end) = if self.auto_pad == AutoPad::Valid {
            (vec![0; rank], vec![0; rank])
        } else {
            self.window.explicit_pads(rank)?
        };
        let mut pads_begin = Vec::with_capacity(rank);
        let mut output_spatial = Vec::with_capacity(rank);
        for i in 0..rank {
            let span = (kernel[i].max(1) - 1) * dilations[i] + 1;
            let full = strides[i] * (x[i + 2].max(1) - 1) + out_pad[i] + span;
            let target = match (&requested, same) {
                (Some(r), _) => Some(r[i]),
                (None, true) => Some(x[i + 2] * strides[i]),
                (None, false) => None,
            };
            match target {
                Some(out) => {
                    // ONNX's rule, with floor division: a negative total pads the output.
                    let total = full as i64 - out as i64;
                    let half = total.div_euclid(2);
                    let begin = if self.auto_pad == AutoPad::SameUpper {
                        half
                    } else {
                        total - half
                    };
                    pads_begin.push(begin);
                    output_spatial.push(out);
                }
                None => {
                    let (b, e) = (explicit_begin[i], explicit_end[i]);
                    let out = full.checked_sub(b + e).filter(|&o| o > 0).ok_or_else(|| {
                        NodeError::Invalid(format!(
                            "pads {b}+{e} remove the whole output on axis {i}"
                        ))
                    })?;
                    pads_begin.push(b as i64);
                    output_spatial.push(out);
                }
            }
        }
        Ok(ConvTransposeSpec {
            strides,
            dilations,
            pads_begin,
            output_spatial,
            group: self.group,
        })
    }
}

impl OnnxOp for ConvTranspose {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, w) = (required(inputs, 0)?, required(inputs, 1)?);
        let op = Op::ConvTranspose(self.spec(x.shape(), w.shape())?);
        eval_conv(op, x, w, inputs.get(2).copied().flatten())
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let spec = self.spec(&cx.shape(x), &operand_shape(cx, &inputs[1]))?;
        Ok(vec![lower_conv(cx, Op::ConvTranspose(spec), inputs)?])
    }

    impl_any!();
}

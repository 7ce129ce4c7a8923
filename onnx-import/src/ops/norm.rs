//! Normalization: BatchNormalization (inference), InstanceNormalization, LayerNormalization,
//! RMSNormalization.
//!
//! Instance and layer normalization use exact integer statistics (`x` at scale `s`, `n`
//! elements per group, `M` the calibrated input magnitude widened by the headroom):
//!
//! ```text
//! mean = Div(ReduceSum(x), n)                     scale s
//! d    = x - mean                                 scale s
//! d'   = Rescale_k(d)                             scale s - k, k bits dropped so sqrt(n) M fits
//! r    = Sqrt(ReduceSum(d' * d') + max(n eps, 1)) scale s - k: r = sqrt(n) std, straight
//!                                                 from the exact sum of squares
//! z    = Div(d, r)                                scale sz, chosen so 2 fits
//! out  = z * (sqrt(n) gamma) + beta               requantized to the calibrated output scale
//! ```
//!
//! The square root of the exact sum of squares keeps the standard deviation's precision in rows
//! whose spread is far below the tensor's largest (a variance at one scale for all rows would
//! lose it: its dynamic range is the square of the deviation's). A normalized value is at most
//! `sqrt(n)` in magnitude, so `z = y / sqrt(n)` is at most 1, and `sqrt(n)` folds into the
//! constant `gamma`; the added epsilon keeps the divisor positive.

use ndarray::{ArrayD, Axis, IxDyn};
use zkml_ir::op::{Op, ReduceSpec};

use super::{
    array, broadcast_map, impl_any, norm_axis, required, runtime, OnnxOp, Operand, ParseCx,
};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// `BatchNormalization` in inference mode.
#[derive(Debug)]
pub(crate) struct BatchNorm {
    epsilon: f64,
}

pub(crate) fn parse_batch_norm(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(5, 5)?;
    cx.expect_outputs(1, "running statistics outputs exist only in training mode")?;
    let a = &cx.attrs;
    if a.int_or("training_mode", 0)? != 0 {
        return Err(NodeError::UnsupportedAttribute {
            name: "training_mode".into(),
            value: "1".into(),
            supported: "only inference (training_mode = 0) is supported".into(),
        });
    }
    if cx.opset < 9 && a.int_or("spatial", 1)? != 1 {
        return Err(NodeError::UnsupportedAttribute {
            name: "spatial".into(),
            value: "0".into(),
            supported: "only spatial = 1 is supported".into(),
        });
    }
    a.ignore(&["momentum", "is_test", "consumed_inputs"]);
    let op = BatchNorm {
        epsilon: a.float_or("epsilon", 1e-5)?,
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl BatchNorm {
    /// Per-channel `(a, b)` with `y = a x + b`.
    pub(crate) fn affine(
        &self,
        scale: &Data,
        bias: &Data,
        mean: &Data,
        var: &Data,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        let c = scale.values.len();
        if [bias, mean, var].iter().any(|d| d.values.len() != c) {
            return Err(NodeError::Invalid(
                "scale, B, mean and var must have one value per channel".into(),
            ));
        }
        let a: Vec<f64> = scale
            .values
            .iter()
            .zip(var.values.iter())
            .map(|(&g, &v)| g / (v + self.epsilon).sqrt())
            .collect();
        let b = bias
            .values
            .iter()
            .zip(mean.values.iter())
            .zip(&a)
            .map(|((&beta, &m), &a)| beta - m * a)
            .collect();
        Ok((a, b))
    }
}

/// `[C]` values reshaped to broadcast over `[N, C, ...]` of the given rank.
fn channel_shape(c: usize, rank: usize) -> Vec<usize> {
    let mut s = vec![1; rank.max(2) - 1];
    s[0] = c;
    s
}

impl OnnxOp for BatchNorm {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let (a, b) = self.affine(
            required(inputs, 1)?,
            required(inputs, 2)?,
            required(inputs, 3)?,
            required(inputs, 4)?,
        )?;
        if x.shape().len() < 2 || x.shape()[1] != a.len() {
            return Err(NodeError::Invalid(format!(
                "input {:?} does not have {} channels on axis 1",
                x.shape(),
                a.len()
            )));
        }
        let mut y = x.values.clone();
        for (idx, v) in y.indexed_iter_mut() {
            *v = *v * a[idx[1]] + b[idx[1]];
        }
        Ok(vec![Data::float(y)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let get = |i: usize, what: &str| super::constant(inputs, i, what);
        let (a, b) = self.affine(
            get(1, "scale")?,
            get(2, "B")?,
            get(3, "mean")?,
            get(4, "var")?,
        )?;
        let cs = channel_shape(a.len(), cx.shape(x).len());
        let a = Data::float(
            ArrayD::from_shape_vec(IxDyn(&cs), a).map_err(|e| NodeError::Invalid(e.to_string()))?,
        );
        let b = Data::float(
            ArrayD::from_shape_vec(IxDyn(&cs), b).map_err(|e| NodeError::Invalid(e.to_string()))?,
        );
        Ok(vec![affine(cx, x, Some(&a), Some(&b))?])
    }

    impl_any!();
}

/// `x * gamma + beta` (either optional), requantized to output 0's scale.
fn affine(
    cx: &mut Lowering<'_>,
    x: usize,
    gamma: Option<&Data>,
    beta: Option<&Data>,
) -> Result<usize> {
    let mut y = x;
    if let Some(g) = gamma {
        let w = cx.weight(g)?;
        y = cx.push(Op::Mul, &[y, w])?;
    }
    if let Some(b) = beta {
        let s = cx.scale(y);
        let c = cx.constant(b, s)?;
        y = cx.push(Op::Add, &[y, c])?;
    }
    cx.finish(y, 0)
}

/// `InstanceNormalization` or `LayerNormalization`.
#[derive(Debug)]
pub(crate) struct Normalize {
    epsilon: f64,
    /// `Some(axis)`: layer norm over `axis..`; `None`: instance norm over the spatial axes.
    layer_axis: Option<i64>,
    /// Layer norm's optional Mean and InvStdDev outputs are requested.
    statistics: bool,
}

pub(crate) fn parse_instance_norm(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(3, 3)?;
    let op = Normalize {
        epsilon: cx.attrs.float_or("epsilon", 1e-5)?,
        layer_axis: None,
        statistics: false,
    };
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

pub(crate) fn parse_layer_norm(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 3)?;
    let a = &cx.attrs;
    // stash_type only selects the precision of the float computation.
    a.ignore(&["stash_type"]);
    let op = Normalize {
        epsilon: a.float_or("epsilon", 1e-5)?,
        layer_axis: Some(a.int_or("axis", -1)?),
        statistics: cx.output_count() > 1,
    };
    a.finish()?;
    Ok(Box::new(op))
}

impl Normalize {
    fn axes(&self, rank: usize) -> Result<Vec<usize>> {
        match self.layer_axis {
            Some(a) => Ok((norm_axis(a, rank)?..rank).collect()),
            None if rank >= 3 => Ok((2..rank).collect()),
            None => Err(NodeError::Invalid(format!(
                "input of rank {rank} has no spatial axes"
            ))),
        }
    }

    /// Scale and bias shaped to broadcast over the input.
    fn params(
        &self,
        gamma: &Data,
        beta: Option<&Data>,
        rank: usize,
    ) -> Result<(Data, Option<Data>)> {
        if self.layer_axis.is_some() {
            return Ok((gamma.clone(), beta.cloned()));
        }
        let cs = channel_shape(gamma.values.len(), rank);
        let reshape = |d: &Data| -> Result<Data> {
            Ok(Data::float(
                d.values
                    .to_shape(IxDyn(&cs))
                    .map_err(|e| NodeError::Invalid(e.to_string()))?
                    .to_owned(),
            ))
        };
        Ok((reshape(gamma)?, beta.map(reshape).transpose()?))
    }
}

impl OnnxOp for Normalize {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let rank = x.shape().len();
        let axes = self.axes(rank)?;
        // Move the normalized axes last, flatten them, normalize each row.
        let keep: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
        let perm: Vec<usize> = keep.iter().chain(&axes).copied().collect();
        let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
        let rows: usize = keep.iter().map(|&a| x.shape()[a]).product();
        let t = x.values.clone().permuted_axes(IxDyn(&perm));
        let mut flat = t
            .as_standard_layout()
            .to_owned()
            .into_shape_with_order(IxDyn(&[rows, n]))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        let (mut means, mut invs) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for mut row in flat.lanes_mut(Axis(1)) {
            let mean = row.sum() / n as f64;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            let inv = 1.0 / (var + self.epsilon).sqrt();
            row.mapv_inplace(|v| (v - mean) * inv);
            means.push(mean);
            invs.push(inv);
        }
        let permuted_shape: Vec<usize> = perm.iter().map(|&a| x.shape()[a]).collect();
        let back = flat
            .into_shape_with_order(IxDyn(&permuted_shape))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        let mut inverse = vec![0; rank];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        let normalized = back
            .permuted_axes(IxDyn(&inverse))
            .as_standard_layout()
            .to_owned();
        let (gamma, beta) =
            self.params(required(inputs, 1)?, inputs.get(2).copied().flatten(), rank)?;
        let mut y = broadcast_map(&normalized, &gamma.values, |v, g| v * g)?;
        if let Some(b) = beta {
            y = broadcast_map(&y, &b.values, |v, b| v + b)?;
        }
        if y.shape() != x.shape() {
            return Err(NodeError::Invalid(format!(
                "scale/bias do not broadcast to the input {:?}",
                x.shape()
            )));
        }
        let mut out = vec![Data::float(y)];
        if self.statistics {
            let stat_shape = statistics_shape(x.shape(), &axes);
            out.push(Data::float(array(&stat_shape, means)));
            out.push(Data::float(array(&stat_shape, invs)));
        }
        Ok(out)
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let shape = cx.shape(x);
        let axes = self.axes(shape.len())?;
        let gamma = super::constant(inputs, 1, "scale")?;
        let beta = match inputs.get(2) {
            Some(Operand::Const(b)) => Some(*b),
            Some(Operand::Value(_)) => {
                return Err(NodeError::Quantization(
                    "a runtime bias is not supported".into(),
                ))
            }
            _ => None,
        };
        let (gamma, beta) = self.params(gamma, beta, shape.len())?;
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let input_max = input_bound(cx)?;
        let norm = normalize(cx, x, axes, n, input_max, self.epsilon, true)?;
        // z = y / sqrt(n): sqrt(n) goes into gamma.
        let root = (n as f64).sqrt();
        let gamma = Data::float(gamma.values.mapv(|g| g * root));
        let mut out = vec![affine(cx, norm.z, Some(&gamma), beta.as_ref())?];
        if self.statistics {
            out.push(cx.finish(norm.mean, 1)?);
            // InvStdDev = sqrt(n) / r: Div output scale is scale(c) + shift - scale(r).
            let target = cx.out_scale(2);
            let sc = cx.cfg.weight_scale(root);
            let c = cx.constant(&Data::float(ArrayD::from_elem(IxDyn(&[]), root)), sc)?;
            let shift = target - sc + cx.scale(norm.r);
            if shift < 0 {
                return Err(NodeError::Quantization(
                    "InvStdDev is too large to represent".into(),
                ));
            }
            out.push(cx.push(
                Op::Div {
                    shift: shift as u32,
                },
                &[c, norm.r],
            )?);
        }
        Ok(out)
    }

    impl_any!();
}

/// Largest scale at which magnitude `m` stays below half the value range.
fn fit_scale(cx: &Lowering<'_>, m: f64) -> i32 {
    let half_range = 2f64.powi(cx.cfg.value_bits as i32 - 2);
    (half_range / m).log2().floor() as i32
}

/// Shape of the per-group statistics: the normalized axes kept with length 1.
fn statistics_shape(x: &[usize], axes: &[usize]) -> Vec<usize> {
    x.iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

/// The statistics of a normalization: `z = (x - mean) / (sqrt(n) std)`, the `mean`, and
/// `r = sqrt(n) std`.
struct Normalized {
    z: usize,
    mean: usize,
    r: usize,
}

/// The largest input magnitude a normalization plans for: the calibrated one with headroom.
fn input_bound(cx: &Lowering<'_>) -> Result<f64> {
    Ok(cx
        .in_stats(0)
        .ok_or_else(|| NodeError::Quantization("input statistics are missing".into()))?
        .max_abs()
        .max(f64::MIN_POSITIVE)
        * 2f64.powi(cx.cfg.headroom_bits as i32))
}

/// The integer normalization recipe of the module docs; without `center` (RMSNorm) the mean is
/// not subtracted (`d = x`, and the returned `mean` is `x` itself).
fn normalize(
    cx: &mut Lowering<'_>,
    x: usize,
    axes: Vec<usize>,
    n: usize,
    input_max: f64,
    eps: f64,
    center: bool,
) -> Result<Normalized> {
    let s = cx.scale(x);
    let spec = ReduceSpec {
        axes,
        keepdims: true,
    };
    let (d, mean) = if center {
        let sum = cx.push(Op::ReduceSum(spec.clone()), &[x])?;
        // mean = sum / n at scale s: Div output scale is scale(sum) + shift - divisor scale.
        let count = cx.raw_constant(vec![], 0, vec![n as i64])?;
        let mean = cx.push(Op::Div { shift: 0 }, &[sum, count])?;
        (cx.push(Op::Sub, &[x, mean])?, mean)
    } else {
        (x, x)
    };
    // Drop the bits that would take sqrt(n) M beyond half the value range.
    let sr = fit_scale(cx, (n as f64).sqrt() * input_max).min(s);
    let k = (s - sr) as u32;
    let dr = if k > 0 {
        cx.push(Op::Rescale { shift: k }, &[d])?
    } else {
        d
    };
    let sq = cx.push(Op::Mul, &[dr, dr])?;
    let ss = cx.push(Op::ReduceSum(spec), &[sq])?;
    let eps_q = zkml_ir::rounding::quantize(n as f64 * eps, 2 * sr)
        .unwrap_or(0)
        .max(1);
    let e = cx.raw_constant(vec![], 2 * sr, vec![eps_q])?;
    let ss = cx.push(Op::Add, &[ss, e])?;
    let r = cx.push(Op::Sqrt { shift: 0 }, &[ss])?;
    // z = d / r at scale sz: Div output scale is s + shift - sr.
    let sz = fit_scale(cx, 2.0);
    let shift = sz - s + sr;
    let (divisor, shift) = if shift < 0 {
        (cx.shift_up(r, (-shift) as u32)?, 0)
    } else {
        (r, shift)
    };
    let z = cx.push(
        Op::Div {
            shift: shift as u32,
        },
        &[d, divisor],
    )?;
    Ok(Normalized { z, mean, r })
}

/// `RMSNormalization` (opset 23): `x / sqrt(mean(x^2) + eps) * scale` over the axes from `axis`
/// on, by the recipe above without centering.
#[derive(Debug)]
pub(crate) struct RmsNorm {
    epsilon: f64,
    axis: i64,
}

pub(crate) fn parse_rms_norm(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    cx.expect_outputs(1, "RMSNormalization has one output")?;
    let op = RmsNorm {
        epsilon: cx.attrs.float_or("epsilon", 1e-5)?,
        axis: cx.attrs.int_or("axis", -1)?,
    };
    // The statistics are exact integers whatever precision is asked for.
    cx.attrs.ignore(&["stash_type"]);
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

impl RmsNorm {
    fn axes(&self, rank: usize) -> Result<Vec<usize>> {
        let a = norm_axis(self.axis, rank)?;
        Ok((a..rank).collect())
    }
}

impl OnnxOp for RmsNorm {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let scale = required(inputs, 1)?;
        let axes = self.axes(x.shape().len())?;
        let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
        let outer: usize = x.values.len() / n.max(1);
        let flat: Vec<f64> = x.values.iter().copied().collect();
        let mut out = Vec::with_capacity(flat.len());
        for r in 0..outer {
            let row = &flat[r * n..(r + 1) * n];
            let ms = row.iter().map(|v| v * v).sum::<f64>() / n as f64;
            let inv = 1.0 / (ms + self.epsilon).sqrt();
            out.extend(row.iter().map(|v| v * inv));
        }
        let y = broadcast_map(&array(x.shape(), out), &scale.values, |v, g| v * g)?;
        Ok(vec![Data::float(y)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let scale = super::constant(inputs, 1, "scale")?;
        let shape = cx.shape(x);
        let axes = self.axes(shape.len())?;
        let n: usize = axes.iter().map(|&a| shape[a]).product();
        let input_max = input_bound(cx)?;
        let norm = normalize(cx, x, axes, n, input_max, self.epsilon, false)?;
        let root = (n as f64).sqrt();
        let gamma = Data::float(scale.values.mapv(|g| g * root));
        Ok(vec![affine(cx, norm.z, Some(&gamma), None)?])
    }

    impl_any!();
}

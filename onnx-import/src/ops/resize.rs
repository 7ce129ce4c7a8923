//! `Resize` and `Upsample` (nearest, linear and cubic, antialiased or not, every coordinate
//! transformation including `tf_crop_and_resize`, with constant scales or sizes).
//!
//! Resizing is separable: every resized axis has a plan giving, for each output position, the
//! input positions it reads and their weights, computed as ONNX's reference does (the
//! coordinate transformation, the kernel's coefficients for the fractional position, the `n`
//! nearest input positions, indices clamped to the axis as edge padding does, `exclude_outside`
//! renormalizing). Nearest resizing is data movement (a `Gather` by constant indices); the other
//! modes gather each tap and add them with constant weights, then rescale.

use ndarray::{Axis, IxDyn};
use zkml_ir::op::Op;

use super::{const_ints, impl_any, norm_axes, required, runtime, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coordinates {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    TfCropAndResize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AspectPolicy {
    Stretch,
    NotLarger,
    NotSmaller,
}

/// `Resize` or `Upsample`.
#[derive(Debug)]
pub(crate) struct Resize {
    mode: Mode,
    coordinates: Coordinates,
    rounding: Rounding,
    exclude_outside: bool,
    antialias: bool,
    cubic_a: f64,
    extrapolation: f64,
    policy: AspectPolicy,
    axes: Option<Vec<i64>>,
    /// Input position of the region of interest (`tf_crop_and_resize`).
    roi_input: Option<usize>,
    /// Input positions of the scales and sizes (`None` where the op has no such input).
    scales_input: Option<usize>,
    sizes_input: Option<usize>,
    /// Opset 7 `Upsample` takes its scales as an attribute.
    scales_attr: Option<Vec<f64>>,
}

fn unsupported(name: &str, value: String, supported: &str) -> NodeError {
    NodeError::UnsupportedAttribute {
        name: name.into(),
        value,
        supported: supported.into(),
    }
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let a = &cx.attrs;
    let upsample = cx.node.op_type == "Upsample";
    let legacy = upsample || cx.opset < 11;
    let mode = match a.string_or("mode", "nearest")?.as_str() {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" => Mode::Linear,
        "cubic" if !legacy => Mode::Cubic,
        other => {
            return Err(unsupported(
                "mode",
                format!("'{other}'"),
                "supported modes are nearest, linear and cubic",
            ))
        }
    };
    let (coordinates, rounding) = if legacy {
        (Coordinates::Asymmetric, Rounding::Floor)
    } else {
        let c = match a
            .string_or("coordinate_transformation_mode", "half_pixel")?
            .as_str()
        {
            "half_pixel" => Coordinates::HalfPixel,
            "half_pixel_symmetric" => Coordinates::HalfPixelSymmetric,
            "pytorch_half_pixel" => Coordinates::PytorchHalfPixel,
            "align_corners" => Coordinates::AlignCorners,
            "asymmetric" => Coordinates::Asymmetric,
            "tf_crop_and_resize" => Coordinates::TfCropAndResize,
            other => {
                return Err(unsupported(
                    "coordinate_transformation_mode",
                    format!("'{other}'"),
                    "supported: half_pixel, half_pixel_symmetric, pytorch_half_pixel, \
                     align_corners, asymmetric, tf_crop_and_resize",
                ))
            }
        };
        let r = match a.string_or("nearest_mode", "round_prefer_floor")?.as_str() {
            "round_prefer_floor" => Rounding::PreferFloor,
            "round_prefer_ceil" => Rounding::PreferCeil,
            "floor" => Rounding::Floor,
            "ceil" => Rounding::Ceil,
            other => {
                return Err(unsupported(
                    "nearest_mode",
                    format!("'{other}'"),
                    "round_prefer_floor, round_prefer_ceil, floor or ceil",
                ))
            }
        };
        (c, r)
    };
    let cubic_a = a.float_or("cubic_coeff_a", -0.75)?;
    let extrapolation = a.float_or("extrapolation_value", 0.0)?;
    let antialias = a.int_or("antialias", 0)? != 0;
    let policy = match a.string_or("keep_aspect_ratio_policy", "stretch")?.as_str() {
        "stretch" => AspectPolicy::Stretch,
        "not_larger" => AspectPolicy::NotLarger,
        "not_smaller" => AspectPolicy::NotSmaller,
        other => {
            return Err(unsupported(
                "keep_aspect_ratio_policy",
                format!("'{other}'"),
                "stretch, not_larger or not_smaller",
            ))
        }
    };
    let exclude_outside = a.int_or("exclude_outside", 0)? != 0;
    let axes = a.ints("axes")?;
    let (scales_input, sizes_input, scales_attr) = if upsample && cx.opset < 9 {
        cx.expect_inputs(1, 1)?;
        (
            None,
            None,
            Some(
                a.floats("scales")?
                    .ok_or_else(|| NodeError::Invalid("scales is required".into()))?,
            ),
        )
    } else if legacy {
        cx.expect_inputs(2, 2)?;
        (Some(1), None, None)
    } else {
        cx.expect_inputs(1, 4)?;
        (Some(2), Some(3), None)
    };
    a.finish()?;
    Ok(Box::new(Resize {
        mode,
        coordinates,
        rounding,
        exclude_outside,
        antialias,
        cubic_a,
        extrapolation,
        policy,
        axes,
        roi_input: (!legacy).then_some(1),
        scales_input,
        sizes_input,
        scales_attr,
    }))
}

/// One output position of a resized axis: the input positions it reads with their weights, or
/// a constant (`tf_crop_and_resize` outside the region).
#[derive(Clone, Debug)]
enum Taps {
    Read(Vec<(usize, f64)>),
    Constant(f64),
}

/// Every output position of one axis.
type AxisPlan = Vec<Taps>;

/// The output shape and the plan of every resized axis.
type Plan = (Vec<usize>, Vec<(usize, AxisPlan)>);

impl Resize {
    /// The output shape and a plan for every axis that changes.
    fn plan(&self, shape: &[usize], params: &[Option<&Data>]) -> Result<Plan> {
        let rank = shape.len();
        // Axes in the order given (scales and sizes follow it).
        let axes: Vec<usize> = match &self.axes {
            Some(a) => {
                // Checked distinct, kept in the given order.
                norm_axes(a, rank)?;
                a.iter()
                    .map(|&x| super::norm_axis(x, rank))
                    .collect::<Result<_>>()?
            }
            None => (0..rank).collect(),
        };
        let given = |i: Option<usize>| {
            params
                .get(i?)
                .copied()
                .flatten()
                .filter(|d| !d.values.is_empty())
        };
        let scales: Option<Vec<f64>> = match (&self.scales_attr, given(self.scales_input)) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(d)) => Some(d.to_vec()),
            _ => None,
        };
        let sizes = match given(self.sizes_input) {
            Some(_) => const_ints(params, self.sizes_input.expect("given"), "sizes")?,
            None => None,
        };
        let n = axes.len();
        let mut out = shape.to_vec();
        let mut f = vec![1.0; rank];
        match (scales, sizes) {
            (_, Some(sz)) if sz.len() == n => {
                let sz = super::usizes(&sz, "sizes")?;
                let ratios: Vec<f64> = axes
                    .iter()
                    .zip(&sz)
                    .map(|(&a, &o)| o as f64 / shape[a] as f64)
                    .collect();
                let common = match self.policy {
                    AspectPolicy::Stretch => None,
                    AspectPolicy::NotLarger => {
                        Some(ratios.iter().copied().fold(f64::INFINITY, f64::min))
                    }
                    AspectPolicy::NotSmaller => Some(ratios.iter().copied().fold(0.0, f64::max)),
                };
                for (k, &a) in axes.iter().enumerate() {
                    match common {
                        None => {
                            out[a] = sz[k];
                            f[a] = ratios[k];
                        }
                        Some(c) => {
                            f[a] = c;
                            out[a] = (c * shape[a] as f64 + 0.5) as usize;
                        }
                    }
                }
            }
            (Some(sc), _) if sc.len() == n => {
                for (k, &a) in axes.iter().enumerate() {
                    if !(sc[k].is_finite() && sc[k] > 0.0) {
                        return Err(NodeError::Invalid(format!(
                            "scale {} must be positive",
                            sc[k]
                        )));
                    }
                    f[a] = sc[k];
                    out[a] = (shape[a] as f64 * sc[k]).floor() as usize;
                }
            }
            _ => {
                return Err(NodeError::Invalid(format!(
                    "scales or sizes must give one value for each of the {n} resized axes"
                )))
            }
        }
        super::checked_size(&out)?;
        let roi = match (self.coordinates, given(self.roi_input)) {
            (Coordinates::TfCropAndResize, Some(r)) if r.values.len() == 2 * n => Some(r.to_vec()),
            (Coordinates::TfCropAndResize, _) => {
                return Err(NodeError::Invalid(format!(
                    "tf_crop_and_resize needs a constant roi of {} values",
                    2 * n
                )))
            }
            _ => None,
        };
        let mut plans = Vec::new();
        for (k, &a) in axes.iter().enumerate() {
            let region = roi.as_ref().map(|r| (r[k], r[k + n]));
            if out[a] == shape[a] && f[a] == 1.0 && region.is_none_or(|(s, e)| s == 0.0 && e == 1.0)
            {
                continue;
            }
            plans.push((a, self.axis_plan(shape[a], out[a], f[a], region)));
        }
        Ok((out, plans))
    }

    /// The kernel's coefficients at fractional position `ratio` (in `(0, 1]`).
    fn coefficients(&self, ratio: f64, scale: f64) -> Vec<f64> {
        match self.mode {
            Mode::Nearest => {
                let second = ratio == 1.0
                    || match self.rounding {
                        Rounding::PreferFloor => ratio > 0.5,
                        Rounding::PreferCeil => ratio >= 0.5,
                        Rounding::Floor => false,
                        Rounding::Ceil => true,
                    };
                if second {
                    vec![0.0, 1.0]
                } else {
                    vec![1.0, 0.0]
                }
            }
            Mode::Linear if self.antialias => {
                let scale = scale.min(1.0);
                let start = (-1.0 / scale).floor() as i64 + 1;
                let footprint = 2 - 2 * start;
                let c: Vec<f64> = (start..start + footprint)
                    .map(|i| (1.0 - ((i as f64 - ratio) * scale).abs()).clamp(0.0, 1.0))
                    .collect();
                let sum: f64 = c.iter().sum();
                c.into_iter().map(|v| v / sum).collect()
            }
            Mode::Linear => vec![1.0 - ratio, ratio],
            Mode::Cubic if self.antialias => {
                let a = self.cubic_a;
                let scale = scale.min(1.0);
                let kernel = |x: f64| {
                    let x = x.abs();
                    let (x2, x3) = (x * x, x * x * x);
                    if x <= 1.0 {
                        (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
                    } else if x < 2.0 {
                        a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
                    } else {
                        0.0
                    }
                };
                let start = (-2.0 / scale).floor() as i64 + 1;
                let c: Vec<f64> = (start..2 - start)
                    .map(|i| kernel(scale * (i as f64 - ratio)))
                    .collect();
                let sum: f64 = c.iter().sum();
                c.into_iter().map(|v| v / sum).collect()
            }
            Mode::Cubic => {
                let a = self.cubic_a;
                let r = ratio;
                let s = 1.0 - ratio;
                vec![
                    ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a,
                    ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0,
                    ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0,
                    ((a * (s + 1.0) - 5.0 * a) * (s + 1.0) + 8.0 * a) * (s + 1.0) - 4.0 * a,
                ]
            }
        }
    }

    fn axis_plan(
        &self,
        len: usize,
        out_len: usize,
        scale: f64,
        roi: Option<(f64, f64)>,
    ) -> AxisPlan {
        let width = scale * len as f64;
        let last = len as i64 - 1;
        (0..out_len)
            .map(|y| {
                let y = y as f64;
                let x_ori = match self.coordinates {
                    Coordinates::AlignCorners if width == 1.0 => 0.0,
                    Coordinates::AlignCorners => y * (len as f64 - 1.0) / (width - 1.0),
                    Coordinates::Asymmetric => y / scale,
                    Coordinates::PytorchHalfPixel if width == 1.0 => -0.5,
                    Coordinates::PytorchHalfPixel | Coordinates::HalfPixel => {
                        (y + 0.5) / scale - 0.5
                    }
                    Coordinates::HalfPixelSymmetric => {
                        let adjustment = out_len as f64 / width;
                        let offset = len as f64 / 2.0 * (1.0 - adjustment);
                        offset + (y + 0.5) / scale - 0.5
                    }
                    Coordinates::TfCropAndResize => {
                        let (s, e) = roi.unwrap_or((0.0, 1.0));
                        let span = (len as f64 - 1.0) * (e - s);
                        let x = if width == 1.0 {
                            span / 2.0
                        } else {
                            y * span / (width - 1.0)
                        };
                        x + s * (len as f64 - 1.0)
                    }
                };
                if self.coordinates == Coordinates::TfCropAndResize
                    && (x_ori < 0.0 || x_ori > len as f64 - 1.0)
                {
                    return Taps::Constant(self.extrapolation);
                }
                let floor = x_ori.floor();
                let integer = x_ori == floor;
                let ratio = if integer { 1.0 } else { x_ori - floor };
                let mut coeffs = self.coefficients(ratio, scale);
                let n = coeffs.len() as i64;
                // The n input positions nearest x_ori, ties to the smaller.
                let p = floor as i64;
                let start = if n % 2 == 0 {
                    if integer {
                        p - n / 2
                    } else {
                        p - n / 2 + 1
                    }
                } else {
                    let base = -(n - 1) / 2;
                    if x_ori - floor <= 0.5 {
                        p + base
                    } else {
                        p + base + 1
                    }
                };
                if self.exclude_outside {
                    for (k, c) in coeffs.iter_mut().enumerate() {
                        let i = start + k as i64;
                        if i < 0 || i > last {
                            *c = 0.0;
                        }
                    }
                    let sum: f64 = coeffs.iter().sum();
                    if sum != 0.0 {
                        coeffs.iter_mut().for_each(|c| *c /= sum);
                    }
                }
                let mut terms: Vec<(usize, f64)> = Vec::new();
                for (k, &c) in coeffs.iter().enumerate() {
                    if c == 0.0 {
                        continue;
                    }
                    let i = (start + k as i64).clamp(0, last) as usize;
                    match terms.iter_mut().find(|(j, _)| *j == i) {
                        Some(t) => t.1 += c,
                        None => terms.push((i, c)),
                    }
                }
                Taps::Read(terms)
            })
            .collect()
    }
}

impl OnnxOp for Resize {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let (_, plans) = self.plan(x.shape(), inputs)?;
        let mut cur = x.values.clone();
        for (axis, plan) in plans {
            let mut shape = cur.shape().to_vec();
            shape[axis] = plan.len();
            let mut next = ndarray::ArrayD::<f64>::zeros(IxDyn(&shape));
            for (mut o, lane) in next
                .lanes_mut(Axis(axis))
                .into_iter()
                .zip(cur.lanes(Axis(axis)))
            {
                for (p, taps) in plan.iter().enumerate() {
                    o[p] = match taps {
                        Taps::Read(terms) => terms.iter().map(|&(i, w)| w * lane[i]).sum(),
                        Taps::Constant(v) => *v,
                    };
                }
            }
            cur = next;
        }
        Ok(vec![Data {
            dtype: x.dtype,
            values: cur,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let params: Vec<Option<&Data>> = inputs.iter().map(|o| o.as_const()).collect();
        let (_, plans) = self.plan(&cx.shape(x), &params)?;
        let s = cx.scale(x);
        let mut cur = x;
        for (axis, plan) in plans {
            let len = plan.len();
            let reads = |t: &Taps| match t {
                Taps::Read(terms) => terms.clone(),
                Taps::Constant(_) => Vec::new(),
            };
            let taps = plan
                .iter()
                .map(|t| reads(t).len())
                .max()
                .unwrap_or(0)
                .max(1);
            let single = plan
                .iter()
                .all(|t| matches!(t, Taps::Read(r) if r.len() == 1 && r[0].1 == 1.0));
            let pick = |cx: &mut Lowering<'_>, cur: usize, k: usize| -> Result<usize> {
                let indices = plan
                    .iter()
                    .map(|t| {
                        let r = reads(t);
                        r.get(k).or(r.first()).map_or(0, |&(i, _)| i)
                    })
                    .collect();
                cx.push(
                    Op::Gather {
                        axis,
                        indices,
                        indices_shape: vec![len],
                    },
                    &[cur],
                )
            };
            let rank = cx.shape(cur).len();
            let mut wshape = vec![1; rank];
            wshape[axis] = len;
            let mut value = if single {
                pick(cx, cur, 0)?
            } else {
                // Weights (cubic ones exceed 1 a little, and go negative): one scale for all taps.
                let ws = cx.cfg.weight_scale(2.0);
                let mut sum: Option<usize> = None;
                for k in 0..taps {
                    let g = pick(cx, cur, k)?;
                    let w: Vec<f64> = plan
                        .iter()
                        .map(|t| reads(t).get(k).map_or(0.0, |&(_, w)| w))
                        .collect();
                    let wn = cx.constant(&Data::float(super::array(&wshape, w)), ws)?;
                    let term = cx.push(Op::Mul, &[g, wn])?;
                    sum = Some(match sum {
                        None => term,
                        Some(acc) => cx.push(Op::Add, &[acc, term])?,
                    });
                }
                cx.requantize(sum.expect("at least one tap"), s)?
            };
            if plan.iter().any(|t| matches!(t, Taps::Constant(_))) {
                // Positions outside a tf_crop_and_resize region take the extrapolation value.
                let keep: Vec<i64> = plan
                    .iter()
                    .map(|t| i64::from(matches!(t, Taps::Read(_))))
                    .collect();
                let mask = cx.raw_constant(wshape.clone(), 0, keep)?;
                let fill = zkml_ir::rounding::quantize(self.extrapolation, cx.scale(value))
                    .ok_or_else(|| NodeError::Quantization("extrapolation value".into()))?;
                let fill = cx.raw_constant(vec![], cx.scale(value), vec![fill])?;
                value = cx.push(Op::Where, &[mask, value, fill])?;
            }
            cur = value;
        }
        Ok(vec![cx.finish(cur, 0)?])
    }

    fn constant_inputs(&self, inputs: usize) -> Vec<usize> {
        (1..inputs).collect()
    }

    impl_any!();
}

//! `Resize` and `Upsample`, nearest and linear, with constant scales or sizes.
//!
//! Resizing is separable: every resized axis has a plan giving, for each output position, the
//! input positions it reads and their weights (ONNX's coordinate transformation, then the
//! nearest pick or the two linear neighbours, indices clamped to the axis as edge padding
//! does). Nearest resizing is data movement (a `Gather` by constant indices); linear resizing
//! gathers both neighbours and adds them with constant weights, then rescales.

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coordinates {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
}

/// `Resize` or `Upsample`.
#[derive(Debug)]
pub(crate) struct Resize {
    mode: Mode,
    coordinates: Coordinates,
    rounding: Rounding,
    exclude_outside: bool,
    axes: Option<Vec<i64>>,
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
        other => {
            return Err(unsupported(
                "mode",
                format!("'{other}'"),
                "supported modes are nearest and linear",
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
            other => {
                return Err(unsupported(
                    "coordinate_transformation_mode",
                    format!("'{other}'"),
                    "supported: half_pixel, half_pixel_symmetric, pytorch_half_pixel, \
                     align_corners, asymmetric",
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
    a.ignore(&["cubic_coeff_a", "extrapolation_value"]);
    if a.int_or("antialias", 0)? != 0 && mode == Mode::Linear {
        // Antialiasing only changes downsampling, checked when the scales are known.
        return Err(unsupported(
            "antialias",
            "1".into(),
            "antialiased linear resizing is not supported",
        ));
    }
    let policy = a.string_or("keep_aspect_ratio_policy", "stretch")?;
    if policy != "stretch" {
        return Err(unsupported(
            "keep_aspect_ratio_policy",
            format!("'{policy}'"),
            "only 'stretch' is supported",
        ));
    }
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
        axes,
        scales_input,
        sizes_input,
        scales_attr,
    }))
}

/// For each output position of one axis: the input positions read and their weights.
type AxisPlan = Vec<Vec<(usize, f64)>>;

/// The output shape and the plan of every resized axis.
type Plan = (Vec<usize>, Vec<(usize, AxisPlan)>);

impl Resize {
    /// The output shape and a plan for every axis that changes.
    fn plan(&self, shape: &[usize], params: &[Option<&Data>]) -> Result<Plan> {
        let rank = shape.len();
        let axes: Vec<usize> = match &self.axes {
            Some(a) => norm_axes(a, rank)?,
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
        let (out, factors): (Vec<usize>, Vec<f64>) = match (scales, sizes) {
            (_, Some(sz)) if sz.len() == n => {
                let mut out = shape.to_vec();
                let mut f = vec![1.0; rank];
                for (k, &a) in axes.iter().enumerate() {
                    out[a] = super::usizes(&[sz[k]], "sizes")?[0];
                    f[a] = out[a] as f64 / shape[a] as f64;
                }
                (out, f)
            }
            (Some(sc), _) if sc.len() == n => {
                let mut out = shape.to_vec();
                let mut f = vec![1.0; rank];
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
                (out, f)
            }
            _ => {
                return Err(NodeError::Invalid(format!(
                    "scales or sizes must give one value for each of the {n} resized axes"
                )))
            }
        };
        super::checked_size(&out)?;
        let mut plans = Vec::new();
        for &a in &axes {
            if out[a] == shape[a] && factors[a] == 1.0 {
                continue;
            }
            plans.push((a, self.axis_plan(shape[a], out[a], factors[a])));
        }
        Ok((out, plans))
    }

    fn axis_plan(&self, len: usize, out_len: usize, scale: f64) -> AxisPlan {
        let width = scale * len as f64;
        let last = len as i64 - 1;
        let clamp = |i: i64| i.clamp(0, last) as usize;
        (0..out_len)
            .map(|x| {
                let x = x as f64;
                let x_ori = match self.coordinates {
                    Coordinates::AlignCorners if width <= 1.0 => 0.0,
                    Coordinates::AlignCorners => x * (len as f64 - 1.0) / (width - 1.0),
                    Coordinates::Asymmetric => x / scale,
                    Coordinates::PytorchHalfPixel if width <= 1.0 => -0.5,
                    Coordinates::PytorchHalfPixel | Coordinates::HalfPixel => {
                        (x + 0.5) / scale - 0.5
                    }
                    Coordinates::HalfPixelSymmetric => {
                        let adjustment = out_len as f64 / width;
                        let offset = len as f64 / 2.0 * (1.0 - adjustment);
                        offset + (x + 0.5) / scale - 0.5
                    }
                };
                // Neighbours i0 = ceil(x) - 1 and i0 + 1, with the ratio in (0, 1].
                let floor = x_ori.floor();
                let (i0, ratio) = if x_ori == floor {
                    (floor as i64 - 1, 1.0)
                } else {
                    (floor as i64, x_ori - floor)
                };
                let mut coeffs = match self.mode {
                    Mode::Linear => [1.0 - ratio, ratio],
                    Mode::Nearest => {
                        let second = ratio == 1.0
                            || match self.rounding {
                                Rounding::PreferFloor => ratio > 0.5,
                                Rounding::PreferCeil => ratio >= 0.5,
                                Rounding::Floor => false,
                                Rounding::Ceil => true,
                            };
                        if second {
                            [0.0, 1.0]
                        } else {
                            [1.0, 0.0]
                        }
                    }
                };
                let idx = [i0, i0 + 1];
                if self.exclude_outside {
                    for k in 0..2 {
                        if idx[k] < 0 || idx[k] > last {
                            coeffs[k] = 0.0;
                        }
                    }
                    let sum = coeffs[0] + coeffs[1];
                    if sum > 0.0 {
                        coeffs = [coeffs[0] / sum, coeffs[1] / sum];
                    }
                }
                let mut terms: Vec<(usize, f64)> = Vec::new();
                for k in 0..2 {
                    if coeffs[k] != 0.0 {
                        let i = clamp(idx[k]);
                        match terms.iter_mut().find(|(j, _)| *j == i) {
                            Some(t) => t.1 += coeffs[k],
                            None => terms.push((i, coeffs[k])),
                        }
                    }
                }
                terms
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
                for (p, terms) in plan.iter().enumerate() {
                    o[p] = terms.iter().map(|&(i, w)| w * lane[i]).sum();
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
            let single = plan.iter().all(|t| t.len() == 1 && t[0].1 == 1.0);
            let pick = |cx: &mut Lowering<'_>, cur: usize, k: usize| -> Result<usize> {
                let indices = plan
                    .iter()
                    .map(|t| t.get(k).map_or(t[0].0, |&(i, _)| i))
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
            if single {
                cur = pick(cx, cur, 0)?;
                continue;
            }
            let rank = cx.shape(cur).len();
            let mut wshape = vec![1; rank];
            wshape[axis] = len;
            let mut sum: Option<usize> = None;
            for k in 0..2 {
                let g = pick(cx, cur, k)?;
                let w: Vec<f64> = plan
                    .iter()
                    .map(|t| t.get(k).map_or(0.0, |&(_, w)| w))
                    .collect();
                let wd = Data::float(super::array(&wshape, w));
                // Weights lie in [0, 1]: one scale for both terms.
                let ws = cx.cfg.weight_scale(1.0);
                let wn = cx.constant(&wd, ws)?;
                let term = cx.push(Op::Mul, &[g, wn])?;
                sum = Some(match sum {
                    None => term,
                    Some(acc) => cx.push(Op::Add, &[acc, term])?,
                });
            }
            cur = cx.requantize(sum.expect("two terms"), s)?;
        }
        Ok(vec![cx.finish(cur, 0)?])
    }

    fn constant_inputs(&self, inputs: usize) -> Vec<usize> {
        (1..inputs).collect()
    }

    impl_any!();
}

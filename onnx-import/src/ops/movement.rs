//! Data movement: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Slice, Split, Tile,
//! Expand, Gather (constant indices) and Pad (constant, reflect, edge).
//!
//! Each op is planned into integer data-movement ops from its input shapes and constant
//! parameters; the float evaluation runs the very same plan, so import and lowering agree.

use zkml_ir::op::{Op, PadMode, PadSpec, SliceRange};
use zkml_ir::signature::infer_shape;
use zkml_ir::structure::{movement_sources, Source};
use zkml_ir::tensor::broadcast_shapes;

use super::{
    array, const_ints, impl_any, mask, norm_axes, norm_axis, required, usizes, Lowered, OnnxOp,
    Operand, ParseCx,
};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// Opset < 10 `Slice` attributes: starts, ends and optional axes.
type SliceAttrs = (Vec<i64>, Vec<i64>, Option<Vec<i64>>);

/// Which movement op, with its attributes.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Reshape {
        allowzero: bool,
    },
    Flatten {
        axis: i64,
    },
    Transpose {
        perm: Option<Vec<i64>>,
    },
    Squeeze {
        axes_attr: Option<Vec<i64>>,
    },
    Unsqueeze {
        axes_attr: Option<Vec<i64>>,
    },
    Concat {
        axis: i64,
    },
    Slice {
        attrs: Option<SliceAttrs>,
    },
    Split {
        axis: i64,
        split_attr: Option<Vec<i64>>,
        outputs: usize,
    },
    Tile,
    Expand,
    Gather {
        axis: i64,
    },
    Pad {
        mode: PadMode,
        pads_attr: Option<Vec<i64>>,
        value_attr: f64,
    },
}

/// A data-movement op.
#[derive(Debug)]
pub(crate) struct Movement {
    kind: Kind,
}

/// `Gather` with runtime indices: a `Take` of the data (constant data is quantized at the scale
/// its largest value calls for, since any row may be picked). Negative indices count from the
/// end, as ONNX says.
pub(crate) fn gather_by_runtime_indices(
    cx: &mut Lowering<'_>,
    axis: i64,
    data: &Operand<'_>,
    idx: usize,
) -> Result<usize> {
    let x = match data {
        Operand::Value(v) => *v,
        Operand::Const(d) if cx.exact_output(0) => cx.int_constant(d)?,
        Operand::Const(d) => {
            let s = cx.cfg.activation_scale(d.max_abs());
            cx.constant(d, s)?
        }
        _ => return Err(NodeError::Invalid("the data input is missing".into())),
    };
    let shape = cx.shape(x);
    let axis = norm_axis(axis, shape.len())?;
    if cx.scale(idx) != 0 {
        return Err(NodeError::Quantization("indices must be integers".into()));
    }
    let idx = wrap_negative_indices(cx, idx, shape[axis])?;
    cx.push(Op::Take { axis }, &[x, idx])
}

/// `i + dim` where `i < 0`, unless `i` is known never to be negative.
pub(crate) fn wrap_negative_indices(
    cx: &mut Lowering<'_>,
    idx: usize,
    dim: usize,
) -> Result<usize> {
    if super::nonnegative(cx, idx) {
        return Ok(idx);
    }
    let zero = cx.raw_constant(vec![], 0, vec![0])?;
    let negative = cx.push(Op::Compare(zkml_ir::CompareOp::Lt), &[idx, zero])?;
    let d = cx.raw_constant(vec![], 0, vec![dim as i64])?;
    let wrapped = cx.push(Op::Add, &[idx, d])?;
    cx.push(Op::Where, &[negative, wrapped, idx])
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let a = &cx.attrs;
    let old_axes = cx.opset < 13;
    let kind = match cx.node.op_type.as_str() {
        "Reshape" => {
            cx.expect_inputs(2, 2)?;
            Kind::Reshape {
                allowzero: a.int_or("allowzero", 0)? != 0,
            }
        }
        "Flatten" => {
            cx.expect_inputs(1, 1)?;
            Kind::Flatten {
                axis: a.int_or("axis", 1)?,
            }
        }
        "Transpose" => {
            cx.expect_inputs(1, 1)?;
            Kind::Transpose {
                perm: a.ints("perm")?,
            }
        }
        "Squeeze" => {
            cx.expect_inputs(1, if old_axes { 1 } else { 2 })?;
            Kind::Squeeze {
                axes_attr: if old_axes { a.ints("axes")? } else { None },
            }
        }
        "Unsqueeze" => {
            cx.expect_inputs(1, if old_axes { 1 } else { 2 })?;
            let axes_attr = if old_axes {
                Some(
                    a.ints("axes")?
                        .ok_or_else(|| NodeError::Invalid("axes is required".into()))?,
                )
            } else {
                None
            };
            Kind::Unsqueeze { axes_attr }
        }
        "Concat" => {
            cx.expect_inputs(1, usize::MAX)?;
            Kind::Concat {
                axis: a
                    .int("axis")?
                    .ok_or_else(|| NodeError::Invalid("axis is required".into()))?,
            }
        }
        "Slice" => {
            if cx.opset < 10 {
                cx.expect_inputs(1, 1)?;
                let starts = a
                    .ints("starts")?
                    .ok_or_else(|| NodeError::Invalid("starts is required".into()))?;
                let ends = a
                    .ints("ends")?
                    .ok_or_else(|| NodeError::Invalid("ends is required".into()))?;
                Kind::Slice {
                    attrs: Some((starts, ends, a.ints("axes")?)),
                }
            } else {
                cx.expect_inputs(3, 5)?;
                Kind::Slice { attrs: None }
            }
        }
        "Split" => {
            cx.expect_inputs(1, if old_axes { 1 } else { 2 })?;
            let outputs = match a.int("num_outputs")? {
                Some(n) if cx.opset >= 18 => usizes(&[n], "num_outputs")?[0],
                _ => cx.node.output.len(),
            };
            if outputs == 0 || outputs != cx.node.output.len() {
                return Err(NodeError::Invalid(format!(
                    "num_outputs {outputs} does not match {} outputs",
                    cx.node.output.len()
                )));
            }
            Kind::Split {
                axis: a.int_or("axis", 0)?,
                split_attr: if old_axes { a.ints("split")? } else { None },
                outputs,
            }
        }
        "Tile" => {
            cx.expect_inputs(2, 2)?;
            Kind::Tile
        }
        "Expand" => {
            cx.expect_inputs(2, 2)?;
            Kind::Expand
        }
        "Gather" => {
            cx.expect_inputs(2, 2)?;
            Kind::Gather {
                axis: a.int_or("axis", 0)?,
            }
        }
        _ => {
            let mode = match a.string_or("mode", "constant")?.as_str() {
                "constant" => PadMode::Constant(0),
                "reflect" => PadMode::Reflect,
                "edge" => PadMode::Edge,
                other => {
                    return Err(NodeError::UnsupportedAttribute {
                        name: "mode".into(),
                        value: format!("'{other}'"),
                        supported: "supported modes are constant, reflect and edge".into(),
                    })
                }
            };
            if cx.opset < 11 {
                cx.expect_inputs(1, 1)?;
                Kind::Pad {
                    mode,
                    pads_attr: Some(
                        a.ints("pads")?
                            .ok_or_else(|| NodeError::Invalid("pads is required".into()))?,
                    ),
                    value_attr: a.float_or("value", 0.0)?,
                }
            } else {
                cx.expect_inputs(2, 4)?;
                Kind::Pad {
                    mode,
                    pads_attr: None,
                    value_attr: 0.0,
                }
            }
        }
    };
    a.finish()?;
    Ok(Box::new(Movement { kind }))
}

impl Movement {
    /// Lowers the plan on the given data operands (`all` are the node's inputs, for the
    /// constant parameters).
    fn lower_data(
        &self,
        cx: &mut Lowering<'_>,
        data_ops: &[Operand<'_>],
        all: &[Operand<'_>],
    ) -> Result<Vec<usize>> {
        let n = data_ops.len();
        // Runtime data inputs set the scale; constant pieces (Concat) are quantized at it.
        let runtime: Vec<usize> = data_ops
            .iter()
            .filter_map(|o| {
                if let Operand::Value(v) = o {
                    Some(*v)
                } else {
                    None
                }
            })
            .collect();
        let aligned = cx.align(&runtime)?;
        let scale = aligned
            .first()
            .map(|&v| cx.scale(v))
            .ok_or_else(|| NodeError::Invalid("no runtime data input".into()))?;
        let mut it = aligned.into_iter();
        let mut data = Vec::with_capacity(n);
        for o in data_ops {
            data.push(match o {
                Operand::Value(_) => it.next().expect("one per runtime input"),
                other => cx.operand_at(other, scale)?,
            });
        }
        let shapes: Vec<Vec<usize>> = data.iter().map(|&d| cx.shape(d)).collect();
        let params: Vec<Option<&Data>> = all.iter().map(|o| o.as_const()).collect();
        for (i, o) in all.iter().enumerate().skip(n) {
            if let Operand::Value(_) = o {
                return Err(NodeError::Quantization(format!(
                    "parameter input {i} must be a constant"
                )));
            }
        }
        let fill =
            zkml_ir::rounding::quantize(self.pad_value(&params), scale).ok_or_else(|| {
                NodeError::Quantization("the padding value is not representable".into())
            })?;
        let mut outs = Vec::new();
        for chain in self.plan(&shapes, &params)? {
            let mut cur = data.clone();
            for op in chain {
                let op = match op {
                    Op::Pad(PadSpec {
                        begin,
                        end,
                        mode: PadMode::Constant(_),
                    }) => Op::Pad(PadSpec {
                        begin,
                        end,
                        mode: PadMode::Constant(fill),
                    }),
                    other => other,
                };
                cur = vec![cx.push(op, &cur)?];
            }
            outs.push(cur[0]);
        }
        Ok(outs)
    }

    /// How many leading inputs carry data (the rest are constant parameters).
    fn data_inputs(&self, n: usize) -> usize {
        match self.kind {
            Kind::Concat { .. } => n,
            _ => 1,
        }
    }

    /// Integer op chains (one per output) from the data shapes and the parameter inputs
    /// (`params[i]` is input `i`; data inputs may be `None`). Constant padding uses 0; callers
    /// substitute the real fill value.
    fn plan(&self, shapes: &[Vec<usize>], params: &[Option<&Data>]) -> Result<Vec<Vec<Op>>> {
        let x = &shapes[0];
        let rank = x.len();
        let one = |op: Op| Ok(vec![vec![op]]);
        match &self.kind {
            Kind::Reshape { allowzero } => {
                let spec = const_ints(params, 1, "shape")?
                    .ok_or_else(|| NodeError::Invalid("shape is missing".into()))?;
                one(Op::Reshape {
                    shape: reshape_target(x, &spec, *allowzero)?,
                })
            }
            Kind::Flatten { axis } => {
                let axis = if *axis == rank as i64 {
                    rank
                } else {
                    norm_axis(*axis, rank)?
                };
                one(Op::Reshape {
                    shape: vec![x[..axis].iter().product(), x[axis..].iter().product()],
                })
            }
            Kind::Transpose { perm } => {
                let perm = match perm {
                    Some(p) => usizes(p, "perm")?,
                    None => (0..rank).rev().collect(),
                };
                one(Op::Transpose { perm })
            }
            Kind::Squeeze { axes_attr } => {
                let axes = axes_attr.clone().or(const_ints(params, 1, "axes")?);
                let axes = match axes {
                    Some(a) => norm_axes(&a, rank)?,
                    None => (0..rank).filter(|&i| x[i] == 1).collect(),
                };
                if let Some(&bad) = axes.iter().find(|&&a| x[a] != 1) {
                    return Err(NodeError::Invalid(format!(
                        "cannot squeeze axis {bad} of length {}",
                        x[bad]
                    )));
                }
                let shape = (0..rank)
                    .filter(|i| !axes.contains(i))
                    .map(|i| x[i])
                    .collect();
                one(Op::Reshape { shape })
            }
            Kind::Unsqueeze { axes_attr } => {
                let axes = axes_attr
                    .clone()
                    .or(const_ints(params, 1, "axes")?)
                    .ok_or_else(|| NodeError::Invalid("axes is missing".into()))?;
                let out_rank = rank + axes.len();
                let axes = norm_axes(&axes, out_rank)?;
                let mut it = x.iter();
                let shape = (0..out_rank)
                    .map(|i| {
                        if axes.contains(&i) {
                            1
                        } else {
                            *it.next().expect("rank adds up")
                        }
                    })
                    .collect();
                one(Op::Reshape { shape })
            }
            Kind::Concat { axis } => one(Op::Concat {
                axis: norm_axis(*axis, rank)?,
            }),
            Kind::Slice { attrs } => {
                let (starts, ends, axes, steps) = match attrs {
                    Some((s, e, a)) => (s.clone(), e.clone(), a.clone(), None),
                    None => (
                        const_ints(params, 1, "starts")?
                            .ok_or_else(|| NodeError::Invalid("starts is missing".into()))?,
                        const_ints(params, 2, "ends")?
                            .ok_or_else(|| NodeError::Invalid("ends is missing".into()))?,
                        const_ints(params, 3, "axes")?,
                        const_ints(params, 4, "steps")?,
                    ),
                };
                one(Op::Slice {
                    ranges: slice_ranges(x, &starts, &ends, axes, steps)?,
                })
            }
            Kind::Split {
                axis,
                split_attr,
                outputs,
            } => {
                let axis = norm_axis(*axis, rank)?;
                let dim = x[axis];
                let sizes = match split_attr.clone().or(const_ints(params, 1, "split")?) {
                    Some(s) => {
                        let s = usizes(&s, "split")?;
                        if s.len() != *outputs || s.iter().sum::<usize>() != dim {
                            return Err(NodeError::Invalid(format!("split {s:?} does not divide axis of length {dim} into {outputs} parts")));
                        }
                        s
                    }
                    None => {
                        let chunk = dim.div_ceil(*outputs);
                        (0..*outputs)
                            .map(|i| chunk.min(dim.saturating_sub(i * chunk)))
                            .collect()
                    }
                };
                let mut start = 0;
                let mut chains = Vec::new();
                for size in sizes {
                    let ranges = SliceRange::along(x, axis, start, start + size);
                    chains.push(vec![Op::Slice { ranges }]);
                    start += size;
                }
                Ok(chains)
            }
            Kind::Tile => {
                let r = const_ints(params, 1, "repeats")?
                    .ok_or_else(|| NodeError::Invalid("repeats is missing".into()))?;
                one(Op::Tile {
                    repeats: usizes(&r, "repeats")?,
                })
            }
            Kind::Expand => {
                let s = const_ints(params, 1, "shape")?
                    .ok_or_else(|| NodeError::Invalid("shape is missing".into()))?;
                let s = usizes(&s, "shape")?;
                let shape = broadcast_shapes(x, &s)
                    .ok_or_else(|| NodeError::Invalid(format!("cannot expand {x:?} to {s:?}")))?;
                one(Op::Expand { shape })
            }
            Kind::Gather { axis } => {
                let axis = norm_axis(*axis, rank)?;
                let idx = required(params, 1)?;
                let dim = x[axis] as i64;
                let indices = idx
                    .to_i64s()
                    .map_err(NodeError::Invalid)?
                    .into_iter()
                    .map(|i| {
                        let j = if i < 0 { i + dim } else { i };
                        if (0..dim).contains(&j) {
                            Ok(j as usize)
                        } else {
                            Err(NodeError::Invalid(format!(
                                "index {i} is out of range for an axis of length {dim}"
                            )))
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                one(Op::Gather {
                    axis,
                    indices,
                    indices_shape: idx.shape().to_vec(),
                })
            }
            Kind::Pad {
                mode, pads_attr, ..
            } => {
                let pads = pads_attr
                    .clone()
                    .or(const_ints(params, 1, "pads")?)
                    .ok_or_else(|| NodeError::Invalid("pads is missing".into()))?;
                let axes = match const_ints(params, 3, "axes")? {
                    Some(a) => norm_axes(&a, rank)?,
                    None => (0..rank).collect(),
                };
                if pads.len() != 2 * axes.len() {
                    return Err(NodeError::Invalid(format!(
                        "pads has {} entries for {} axes",
                        pads.len(),
                        axes.len()
                    )));
                }
                let mut begin = vec![0i64; rank];
                let mut end = vec![0i64; rank];
                for (i, &a) in axes.iter().enumerate() {
                    begin[a] = pads[i];
                    end[a] = pads[i + axes.len()];
                }
                let mut chain = Vec::new();
                // Negative pads crop.
                if begin.iter().chain(&end).any(|&p| p < 0) {
                    let ranges = (0..rank)
                        .map(|i| {
                            let s = (-begin[i]).max(0);
                            let e = x[i] as i64 - (-end[i]).max(0);
                            if e < s {
                                Err(NodeError::Invalid(format!(
                                    "negative pads remove all of axis {i}"
                                )))
                            } else {
                                Ok(SliceRange {
                                    start: s,
                                    end: e,
                                    step: 1,
                                })
                            }
                        })
                        .collect::<Result<Vec<_>>>()?;
                    chain.push(Op::Slice { ranges });
                }
                let clamp =
                    |v: &[i64]| usizes(&v.iter().map(|&p| p.max(0)).collect::<Vec<_>>(), "pads");
                chain.push(Op::Pad(PadSpec {
                    begin: clamp(&begin)?,
                    end: clamp(&end)?,
                    mode: *mode,
                }));
                Ok(vec![chain])
            }
        }
    }

    /// The fill value of constant padding.
    fn pad_value(&self, params: &[Option<&Data>]) -> f64 {
        match &self.kind {
            Kind::Pad {
                pads_attr: Some(_),
                value_attr,
                ..
            } => *value_attr,
            Kind::Pad { .. } => params
                .get(2)
                .copied()
                .flatten()
                .and_then(|d| d.values.iter().next().copied())
                .unwrap_or(0.0),
            _ => 0.0,
        }
    }
}

fn reshape_target(x: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total: usize = x.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*x.get(i).ok_or_else(|| {
                NodeError::Invalid(format!("shape {spec:?} copies a missing axis {i}"))
            })?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(NodeError::Invalid(format!("invalid target shape {spec:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, &d)| d)
            .product();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(NodeError::Invalid(format!(
                "cannot reshape {x:?} into {spec:?}"
            )));
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(NodeError::Invalid(format!(
            "cannot reshape {x:?} into {spec:?}"
        )));
    }
    Ok(out)
}

/// ONNX slice semantics: negative indices count from the end, then clamp.
fn slice_ranges(
    x: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<Vec<i64>>,
    steps: Option<Vec<i64>>,
) -> Result<Vec<SliceRange>> {
    let rank = x.len();
    let axes = match axes {
        Some(a) => a,
        None => (0..starts.len() as i64).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(NodeError::Invalid(
            "starts, ends, axes and steps must have equal lengths".into(),
        ));
    }
    let mut ranges: Vec<SliceRange> = x.iter().map(|&d| SliceRange::full(d)).collect();
    let mut seen = vec![false; rank];
    for i in 0..starts.len() {
        let a = norm_axis(axes[i], rank)?;
        if std::mem::replace(&mut seen[a], true) {
            return Err(NodeError::Invalid(format!("axis {a} is sliced twice")));
        }
        let d = x[a] as i128;
        let step = steps[i];
        if step == 0 {
            return Err(NodeError::Invalid("slice step 0".into()));
        }
        let fix = |v: i64| {
            if v < 0 {
                i128::from(v) + d
            } else {
                i128::from(v)
            }
        };
        let (s, e) = (fix(starts[i]), fix(ends[i]));
        let (s, e) = if step > 0 {
            (s.clamp(0, d), e.clamp(0, d))
        } else {
            (s.clamp(0, d - 1), e.clamp(-1, d - 1))
        };
        ranges[a] = SliceRange {
            start: s as i64,
            end: e as i64,
            step,
        };
        if ranges[a].is_empty() {
            // Keep empty ranges well formed.
            ranges[a] = SliceRange {
                start: 0,
                end: 0,
                step: 1,
            };
        }
    }
    Ok(ranges)
}

fn apply_float(op: &Op, inputs: &[&Data], fill: f64) -> Result<Data> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|d| d.shape()).collect();
    let out = infer_shape(op, &shapes, &[]).map_err(NodeError::Invalid)?;
    super::checked_size(&out)?;
    let std: Vec<_> = inputs
        .iter()
        .map(|d| d.values.as_standard_layout())
        .collect();
    let slices: Vec<&[f64]> = std
        .iter()
        .map(|v| v.as_slice().expect("standard layout"))
        .collect();
    let values = movement_sources(op, &shapes, &out)
        .into_iter()
        .map(|s| match s {
            Source::Input { input, index } => slices[input][index],
            Source::Const(_) => fill,
        })
        .collect();
    Ok(Data {
        dtype: inputs[0].dtype,
        values: array(&out, values),
    })
}

impl OnnxOp for Movement {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let n = self.data_inputs(inputs.len());
        let data: Vec<&Data> = (0..n).map(|i| required(inputs, i)).collect::<Result<_>>()?;
        let shapes: Vec<Vec<usize>> = data.iter().map(|d| d.shape().to_vec()).collect();
        let fill = self.pad_value(inputs);
        let mut outs = Vec::new();
        for chain in self.plan(&shapes, inputs)? {
            let mut cur: Vec<Data> = Vec::new();
            for (k, op) in chain.iter().enumerate() {
                let ins: Vec<&Data> = if k == 0 { data.clone() } else { vec![&cur[0]] };
                cur = vec![apply_float(op, &ins, fill)?];
            }
            outs.push(cur.pop().expect("chains are not empty"));
        }
        Ok(outs)
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        if let (Kind::Gather { axis }, Some(Operand::Value(idx))) = (&self.kind, inputs.get(1)) {
            return Ok(vec![gather_by_runtime_indices(
                cx, *axis, &inputs[0], *idx,
            )?]);
        }
        let n = self.data_inputs(inputs.len());
        self.lower_data(cx, &inputs[..n], inputs)
    }

    fn lower_masked(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        let n = self.data_inputs(inputs.len());
        if inputs[n..].iter().any(|o| matches!(o, Operand::Masked(_))) {
            return Err(NodeError::Quantization(
                "an attention mask as a shape or index parameter".into(),
            ));
        }
        let mut finite = Vec::with_capacity(n);
        let mut keeps = Vec::with_capacity(n);
        let mut infinite = false;
        for o in &inputs[..n] {
            let split = mask::split(o)?;
            let shape = match &split.finite {
                mask::Finite::Node(v) => cx.shape(*v),
                mask::Finite::Const(d) => d.shape().to_vec(),
            };
            keeps.push(mask::keep_for_shape(cx, split.keep, &shape)?);
            finite.push(split.finite);
            infinite |= split.infinite;
        }
        let finite_ops: Vec<Operand<'_>> = finite.iter().map(|f| f.operand()).collect();
        let keep_ops: Vec<Operand<'_>> = keeps.iter().map(|&k| Operand::Value(k)).collect();
        let values = self.lower_data(cx, &finite_ops, inputs)?;
        let keeps = self.lower_data(cx, &keep_ops, inputs)?;
        Ok(values
            .into_iter()
            .zip(keeps)
            .map(|(value, keep)| {
                Lowered::Masked(super::Masked {
                    value,
                    keep,
                    infinite,
                })
            })
            .collect())
    }

    fn index_inputs(&self, shapes: &[Option<&[usize]>]) -> Vec<(usize, usize)> {
        match (&self.kind, shapes.first().copied().flatten()) {
            (Kind::Gather { axis }, Some(data)) => norm_axis(*axis, data.len())
                .map(|a| vec![(1, data[a])])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn forwarded_inputs(&self, inputs: usize) -> Vec<usize> {
        (0..self.data_inputs(inputs)).collect()
    }

    fn constant_inputs(&self, inputs: usize) -> Vec<usize> {
        match self.kind {
            // Gather's indices may be computed at run time.
            Kind::Gather { .. } => Vec::new(),
            _ => (self.data_inputs(inputs)..inputs).collect(),
        }
    }

    impl_any!();
}

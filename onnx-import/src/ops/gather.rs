//! GatherElements, GatherND, ScatterElements and ScatterND.
//!
//! With constant indices both are data movement (a `Gather` of the flattened data by constant
//! positions). With runtime indices each picked element's position in the flattened data is a
//! linear function of its indices, and the element is a `Take` of the flattened data at that
//! position. Every runtime index is also checked against its own axis (a `Take` from a table of
//! that axis's length), so an index past its axis is an error as in ONNX, never a silently
//! wrong element of a neighbouring row.
//!
//! Scatters take constant indices: each output element is its data element combined with the
//! updates that land on it, gathered in layers (the first update of every position, then the
//! second, ...) and combined by the reduction.

use ndarray::{ArrayD, IxDyn};
use zkml_ir::op::Op;
use zkml_ir::structure::for_each_coord;
use zkml_ir::tensor::strides;

use super::movement::wrap_negative_indices;
use super::{impl_any, norm_axis, required, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// `GatherElements`.
#[derive(Debug)]
pub(crate) struct GatherElements {
    axis: i64,
}

pub(crate) fn parse_elements(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let axis = cx.attrs.int_or("axis", 0)?;
    cx.attrs.finish()?;
    Ok(Box::new(GatherElements { axis }))
}

/// Each output position's base offset into the flattened data (its coordinates with the
/// gathered axis at 0), and the gathered axis's stride and length.
fn elements_layout(data: &[usize], idx: &[usize], axis: usize) -> (Vec<usize>, usize, usize) {
    let ds = strides(data);
    let mut base = Vec::with_capacity(idx.iter().product());
    for_each_coord(idx, |c| {
        base.push(
            c.iter()
                .enumerate()
                .filter(|&(d, _)| d != axis)
                .map(|(d, &v)| v * ds[d])
                .sum(),
        );
    });
    (base, ds[axis], data[axis])
}

fn check_elements_shapes(data: &[usize], idx: &[usize], axis: usize) -> Result<()> {
    if data.len() != idx.len()
        || data
            .iter()
            .zip(idx)
            .enumerate()
            .any(|(d, (&a, &b))| d != axis && b > a)
    {
        return Err(NodeError::Invalid(format!(
            "indices of shape {idx:?} do not fit data of shape {data:?} on axis {axis}"
        )));
    }
    Ok(())
}

/// A runtime index wrapped and checked into `[0, dim)`.
fn checked_index(cx: &mut Lowering<'_>, idx: usize, dim: usize) -> Result<usize> {
    let idx = wrap_negative_indices(cx, idx, dim)?;
    if !(super::nonnegative(cx, idx) && cx.bound(idx) < dim as u64) {
        // A Take from `dim` zeros: an error for any index outside the axis (the program
        // evaluates and the circuit constrains every node, used or not).
        let zeros = cx.raw_constant(vec![dim], 0, vec![0; dim])?;
        cx.push(Op::Take { axis: 0 }, &[zeros, idx])?;
    }
    Ok(idx)
}

/// The data operand as a node: constants at the scale their largest value calls for (any
/// element may be picked), integers at scale 0.
fn data_node(cx: &mut Lowering<'_>, data: &Operand<'_>) -> Result<usize> {
    match data {
        Operand::Value(v) => Ok(*v),
        Operand::Const(d) if cx.exact_output(0) => cx.int_constant(d),
        Operand::Const(d) => {
            let s = cx.cfg.activation_scale(d.max_abs());
            cx.constant(d, s)
        }
        _ => Err(NodeError::Invalid("the data input is missing".into())),
    }
}

/// `data` flattened to one axis.
fn flat(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    let n = cx.shape(x).iter().product();
    cx.push(Op::Reshape { shape: vec![n] }, &[x])
}

impl OnnxOp for GatherElements {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, idx) = (required(inputs, 0)?, required(inputs, 1)?);
        let axis = norm_axis(self.axis, x.shape().len())?;
        check_elements_shapes(x.shape(), idx.shape(), axis)?;
        let (base, stride, dim) = elements_layout(x.shape(), idx.shape(), axis);
        let flat: Vec<f64> = x.values.iter().copied().collect();
        let mut out = Vec::with_capacity(base.len());
        for (b, i) in base.iter().zip(idx.to_i64s().map_err(NodeError::Invalid)?) {
            let j = if i < 0 { i + dim as i64 } else { i };
            if j < 0 || j >= dim as i64 {
                return Err(NodeError::Invalid(format!(
                    "index {i} is out of range for an axis of length {dim}"
                )));
            }
            out.push(flat[b + j as usize * stride]);
        }
        Ok(vec![Data {
            dtype: x.dtype,
            values: ArrayD::from_shape_vec(IxDyn(idx.shape()), out).expect("one per index"),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = data_node(cx, &inputs[0])?;
        let shape = cx.shape(x);
        let axis = norm_axis(self.axis, shape.len())?;
        let flat_x = flat(cx, x)?;
        match inputs[1] {
            Operand::Const(idx) => {
                check_elements_shapes(&shape, idx.shape(), axis)?;
                let (base, stride, dim) = elements_layout(&shape, idx.shape(), axis);
                let mut positions = Vec::with_capacity(base.len());
                for (b, i) in base.iter().zip(idx.to_i64s().map_err(NodeError::Invalid)?) {
                    let j = if i < 0 { i + dim as i64 } else { i };
                    if j < 0 || j >= dim as i64 {
                        return Err(NodeError::Invalid(format!(
                            "index {i} is out of range for an axis of length {dim}"
                        )));
                    }
                    positions.push(b + j as usize * stride);
                }
                Ok(vec![cx.push(
                    Op::Gather {
                        axis: 0,
                        indices: positions,
                        indices_shape: idx.shape().to_vec(),
                    },
                    &[flat_x],
                )?])
            }
            Operand::Value(idx) => {
                let idx_shape = cx.shape(idx);
                check_elements_shapes(&shape, &idx_shape, axis)?;
                let (base, stride, dim) = elements_layout(&shape, &idx_shape, axis);
                let idx = checked_index(cx, idx, dim)?;
                let s = cx.raw_constant(vec![], 0, vec![stride as i64])?;
                let scaled = cx.push(Op::Mul, &[idx, s])?;
                let b = cx.raw_constant(idx_shape, 0, base.iter().map(|&v| v as i64).collect())?;
                let pos = cx.push(Op::Add, &[scaled, b])?;
                Ok(vec![cx.push(Op::Take { axis: 0 }, &[flat_x, pos])?])
            }
            _ => Err(NodeError::Invalid("indices are missing".into())),
        }
    }

    fn index_inputs(&self, shapes: &[Option<&[usize]>]) -> Vec<(usize, usize)> {
        match shapes.first().copied().flatten() {
            Some(d) => norm_axis(self.axis, d.len())
                .map(|a| vec![(1, d[a])])
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    fn forwarded_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![0]
    }

    impl_any!();
}

/// `GatherND`.
#[derive(Debug)]
pub(crate) struct GatherNd {
    batch_dims: usize,
}

pub(crate) fn parse_nd(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let batch_dims = cx.attrs.int_or("batch_dims", 0)?;
    cx.attrs.finish()?;
    Ok(Box::new(GatherNd {
        batch_dims: super::usizes(&[batch_dims], "batch_dims")?[0],
    }))
}

/// The geometry of a `GatherND`.
struct NdLayout {
    /// Number of index tuples (the output's leading positions).
    tuples: usize,
    /// Components per tuple.
    k: usize,
    /// Length of each indexed axis.
    dims: Vec<usize>,
    /// Stride of each indexed axis, in rows of `slice` elements.
    steps: Vec<usize>,
    /// Rows (of `slice` elements) in one batch.
    rows: usize,
    /// Elements of one gathered slice.
    slice: usize,
    /// Tuples per batch.
    per_batch: usize,
    /// The output shape.
    out: Vec<usize>,
}

impl NdLayout {
    /// The first data row (in units of `slice`) each index tuple selects.
    fn rows_of(&self, iv: &[i64]) -> Result<Vec<usize>> {
        (0..self.tuples)
            .map(|t| {
                let mut row = (t / self.per_batch.max(1)) * self.rows;
                for j in 0..self.k {
                    let i = iv[t * self.k + j];
                    let d = self.dims[j] as i64;
                    let w = if i < 0 { i + d } else { i };
                    if w < 0 || w >= d {
                        return Err(NodeError::Invalid(format!(
                            "index {i} is out of range for an axis of length {d}"
                        )));
                    }
                    row += w as usize * self.steps[j];
                }
                Ok(row)
            })
            .collect()
    }
}

impl GatherNd {
    fn layout(&self, data: &[usize], idx: &[usize]) -> Result<NdLayout> {
        let b = self.batch_dims;
        let bad = || {
            NodeError::Invalid(format!(
                "indices of shape {idx:?} do not fit data of shape {data:?} with {b} batch dims"
            ))
        };
        let k = *idx.last().ok_or_else(bad)?;
        if idx.len() < b + 1 || data.len() < b + k || data[..b] != idx[..b] {
            return Err(bad());
        }
        let dims = data[b..b + k].to_vec();
        let slice: usize = data[b + k..].iter().product();
        let mut steps = vec![1usize; k];
        for j in (0..k.saturating_sub(1)).rev() {
            steps[j] = steps[j + 1] * dims[j + 1];
        }
        let rows: usize = dims.iter().product();
        let tuples: usize = idx[..idx.len() - 1].iter().product();
        let batches: usize = data[..b].iter().product();
        let mut out = idx[..idx.len() - 1].to_vec();
        out.extend_from_slice(&data[b + k..]);
        Ok(NdLayout {
            tuples,
            k,
            dims,
            steps,
            rows,
            slice,
            per_batch: tuples / batches.max(1),
            out,
        })
    }
}

impl OnnxOp for GatherNd {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, idx) = (required(inputs, 0)?, required(inputs, 1)?);
        let l = self.layout(x.shape(), idx.shape())?;
        let iv = idx.to_i64s().map_err(NodeError::Invalid)?;
        let flat: Vec<f64> = x.values.iter().copied().collect();
        let mut out = Vec::with_capacity(l.tuples * l.slice);
        for row in l.rows_of(&iv)? {
            out.extend_from_slice(&flat[row * l.slice..(row + 1) * l.slice]);
        }
        Ok(vec![Data {
            dtype: x.dtype,
            values: ArrayD::from_shape_vec(IxDyn(&l.out), out).expect("sizes add up"),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = data_node(cx, &inputs[0])?;
        let shape = cx.shape(x);
        let total: usize = shape.iter().product();
        match inputs[1] {
            Operand::Const(idx) => {
                let l = self.layout(&shape, idx.shape())?;
                let iv = idx.to_i64s().map_err(NodeError::Invalid)?;
                let mut positions = Vec::with_capacity(l.tuples * l.slice);
                for row in l.rows_of(&iv)? {
                    positions.extend(row * l.slice..(row + 1) * l.slice);
                }
                let flat_x = flat(cx, x)?;
                Ok(vec![cx.push(
                    Op::Gather {
                        axis: 0,
                        indices: positions,
                        indices_shape: l.out.clone(),
                    },
                    &[flat_x],
                )?])
            }
            Operand::Value(idx) => {
                let idx_shape = cx.shape(idx);
                let l = self.layout(&shape, &idx_shape)?;
                // row = batch * rows + sum_j idx_j * step_j, one per tuple
                let tuple_shape = idx_shape[..idx_shape.len() - 1].to_vec();
                let mut row: Option<usize> = None;
                for j in 0..l.k {
                    let last = idx_shape.len() - 1;
                    let ranges = zkml_ir::op::SliceRange::along(&idx_shape, last, j, j + 1);
                    let comp = cx.push(Op::Slice { ranges }, &[idx])?;
                    let comp = cx.push(
                        Op::Reshape {
                            shape: tuple_shape.clone(),
                        },
                        &[comp],
                    )?;
                    let comp = checked_index(cx, comp, l.dims[j])?;
                    let step = cx.raw_constant(vec![], 0, vec![l.steps[j] as i64])?;
                    let term = cx.push(Op::Mul, &[comp, step])?;
                    row = Some(match row {
                        None => term,
                        Some(r) => cx.push(Op::Add, &[r, term])?,
                    });
                }
                let row = row.ok_or_else(|| NodeError::Invalid("empty index tuples".into()))?;
                let batch_base: Vec<i64> = (0..l.tuples)
                    .map(|t| ((t / l.per_batch.max(1)) * l.rows) as i64)
                    .collect();
                let base = cx.raw_constant(tuple_shape, 0, batch_base)?;
                let row = cx.push(Op::Add, &[row, base])?;
                let rows = cx.push(
                    Op::Reshape {
                        shape: vec![total / l.slice.max(1), l.slice],
                    },
                    &[x],
                )?;
                let picked = cx.push(Op::Take { axis: 0 }, &[rows, row])?;
                Ok(vec![cx.push(Op::Reshape { shape: l.out }, &[picked])?])
            }
            _ => Err(NodeError::Invalid("indices are missing".into())),
        }
    }

    fn forwarded_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![0]
    }

    impl_any!();
}

/// How `ScatterElements` / `ScatterND` combine an update with the value already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

fn parse_reduction(cx: &ParseCx<'_>) -> Result<Reduction> {
    Ok(match cx.attrs.string_or("reduction", "none")?.as_str() {
        "none" => Reduction::None,
        "add" => Reduction::Add,
        "mul" => Reduction::Mul,
        "max" => Reduction::Max,
        "min" => Reduction::Min,
        other => {
            return Err(NodeError::UnsupportedAttribute {
                name: "reduction".into(),
                value: format!("'{other}'"),
                supported: "none, add, mul, max and min".into(),
            })
        }
    })
}

impl Reduction {
    fn apply(self, old: f64, update: f64) -> f64 {
        match self {
            Reduction::None => update,
            Reduction::Add => old + update,
            Reduction::Mul => old * update,
            Reduction::Max => old.max(update),
            Reduction::Min => old.min(update),
        }
    }
}

/// `ScatterElements` (and the older `Scatter`) or `ScatterND`, with constant indices.
#[derive(Debug)]
pub(crate) struct Scatter {
    /// `Some(axis)` for ScatterElements, `None` for ScatterND.
    axis: Option<i64>,
    reduction: Reduction,
}

pub(crate) fn parse_scatter(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(3, 3)?;
    let nd = cx.node.op_type == "ScatterND";
    let axis = if nd {
        None
    } else {
        Some(cx.attrs.int_or("axis", 0)?)
    };
    let reduction = if cx.opset >= 16 {
        parse_reduction(cx)?
    } else {
        Reduction::None
    };
    cx.attrs.finish()?;
    Ok(Box::new(Scatter { axis, reduction }))
}

impl Scatter {
    /// For every update (flattened), the flat output position it lands on.
    fn targets(&self, data: &[usize], idx: &Data, updates: &[usize]) -> Result<Vec<usize>> {
        let iv = idx.to_i64s().map_err(NodeError::Invalid)?;
        let wrap = |i: i64, d: usize| -> Result<usize> {
            let j = if i < 0 { i + d as i64 } else { i };
            if j < 0 || j >= d as i64 {
                return Err(NodeError::Invalid(format!(
                    "index {i} is out of range for an axis of length {d}"
                )));
            }
            Ok(j as usize)
        };
        let ds = strides(data);
        match self.axis {
            Some(axis) => {
                let axis = norm_axis(axis, data.len())?;
                if idx.shape() != updates {
                    return Err(NodeError::Invalid(format!(
                        "indices {:?} and updates {updates:?} differ in shape",
                        idx.shape()
                    )));
                }
                check_elements_shapes(data, updates, axis)?;
                let (base, stride, dim) = elements_layout(data, updates, axis);
                base.iter()
                    .zip(iv)
                    .map(|(b, i)| Ok(b + wrap(i, dim)? * stride))
                    .collect()
            }
            None => {
                let k = *idx.shape().last().unwrap_or(&0);
                if k == 0 || k > data.len() {
                    return Err(NodeError::Invalid(format!(
                        "index tuples of length {k} for data of rank {}",
                        data.len()
                    )));
                }
                let slice: usize = data[k..].iter().product();
                let tuples = iv.len() / k;
                if tuples * slice != updates.iter().product::<usize>() {
                    return Err(NodeError::Invalid(format!(
                        "updates {updates:?} do not match {tuples} slices of {slice} elements"
                    )));
                }
                let mut out = Vec::with_capacity(tuples * slice);
                for t in 0..tuples {
                    let mut start = 0;
                    for j in 0..k {
                        start += wrap(iv[t * k + j], data[j])? * ds[j];
                    }
                    out.extend(start..start + slice);
                }
                Ok(out)
            }
        }
    }
}

impl OnnxOp for Scatter {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (x, idx, upd) = (
            required(inputs, 0)?,
            required(inputs, 1)?,
            required(inputs, 2)?,
        );
        let targets = self.targets(x.shape(), idx, upd.shape())?;
        let mut out: Vec<f64> = x.values.iter().copied().collect();
        for (&p, &u) in targets.iter().zip(upd.values.iter()) {
            out[p] = self.reduction.apply(out[p], u);
        }
        Ok(vec![Data {
            dtype: x.dtype,
            values: ArrayD::from_shape_vec(IxDyn(x.shape()), out).expect("same size"),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let Operand::Const(idx) = inputs[1] else {
            return Err(NodeError::Quantization(
                "scatter with runtime indices is not supported; the indices must be constant"
                    .into(),
            ));
        };
        // Data and updates at one scale (integers at scale 0).
        let exact = cx.exact_output(0);
        let (x, u) = match (inputs[0], inputs[2]) {
            (Operand::Value(a), Operand::Value(b)) => {
                let v = cx.align(&[a, b])?;
                (v[0], v[1])
            }
            (Operand::Value(a), c) => {
                let s = cx.scale(a);
                (a, cx.operand_for(&c, exact && s == 0, s)?)
            }
            (c, Operand::Value(b)) => {
                let s = cx.scale(b);
                (cx.operand_for(&c, exact && s == 0, s)?, b)
            }
            _ => {
                return Err(NodeError::Invalid(
                    "data or updates must be runtime values".into(),
                ))
            }
        };
        let shape = cx.shape(x);
        let targets = self.targets(&shape, idx, &cx.shape(u))?;
        let n: usize = shape.iter().product();
        let flat_x = flat(cx, x)?;
        let flat_u = flat(cx, u)?;
        // Layer j holds, at every position, its j-th update, or the position's own data where
        // it has none (for None, Max and Min; Add and Mul use 0 and 1 there).
        let mut per_position: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (k, &p) in targets.iter().enumerate() {
            per_position[p].push(k);
        }
        if self.reduction == Reduction::None {
            // Only the last update of a position counts.
            for list in &mut per_position {
                if list.len() > 1 {
                    let last = *list.last().expect("not empty");
                    *list = vec![last];
                }
            }
        }
        let layers = per_position.iter().map(Vec::len).max().unwrap_or(0);
        let s = cx.scale(flat_x);
        // Products grow: keep them at the scale the calibrated output calls for.
        let product_scale = s.min(cx.out_scale(0));
        let neutral = match self.reduction {
            Reduction::Add => Some(0),
            Reduction::Mul => Some(1i64 << s.max(0)),
            _ => None,
        };
        let u_len = targets.len();
        let mut pieces = vec![flat_u, flat_x];
        if let Some(v) = neutral {
            pieces.push(cx.raw_constant(vec![1], s, vec![v])?);
        }
        let pool = cx.push(Op::Concat { axis: 0 }, &pieces)?;
        let mut acc = flat_x;
        for j in 0..layers {
            let picks: Vec<usize> = per_position
                .iter()
                .enumerate()
                .map(|(p, list)| match (list.get(j), neutral) {
                    (Some(&k), _) => k,
                    (None, Some(_)) => u_len + n,
                    (None, None) => u_len + p,
                })
                .collect();
            let layer = cx.push(
                Op::Gather {
                    axis: 0,
                    indices: picks,
                    indices_shape: vec![n],
                },
                &[pool],
            )?;
            acc = match self.reduction {
                Reduction::None => layer,
                Reduction::Add => cx.push(Op::Add, &[acc, layer])?,
                Reduction::Max => cx.push(Op::Max, &[acc, layer])?,
                Reduction::Min => cx.push(Op::Min, &[acc, layer])?,
                Reduction::Mul => {
                    let p = cx.push(Op::Mul, &[acc, layer])?;
                    cx.requantize(p, product_scale)?
                }
            };
        }
        let y = cx.push(Op::Reshape { shape }, &[acc])?;
        Ok(vec![cx.finish(y, 0)?])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1]
    }

    impl_any!();
}

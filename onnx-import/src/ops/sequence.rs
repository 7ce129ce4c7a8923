//! Range, CumSum, Trilu, OneHot and TopK.
//!
//! `Range` only ever folds (its length depends on its inputs' values). `CumSum` of a runtime
//! tensor is a product with a constant triangular 0/1 matrix, exact. `Trilu` keeps or zeroes
//! elements by a constant pattern, a selection by a constant condition that costs nothing.
//! `OneHot` compares the indices with every position. `TopK` (constant `k`) takes `k` rounds of
//! arg-max, each excluding the element it picked; ties go to the lower index, as in ONNX.

use ndarray::{ArrayD, Axis, IxDyn};
use zkml_ir::op::{CompareOp, Op, ReduceSpec};

use super::{array, const_ints, impl_any, norm_axis, required, runtime, OnnxOp, Operand, ParseCx};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// The scalar integer at input `i`, which must be a constant.
fn scalar(inputs: &[Option<&Data>], i: usize, what: &str) -> Result<i64> {
    let v = const_ints(inputs, i, what)?
        .ok_or_else(|| NodeError::Invalid(format!("{what} is missing")))?;
    match v.as_slice() {
        [x] => Ok(*x),
        _ => Err(NodeError::Invalid(format!(
            "{what} must hold one value, got {}",
            v.len()
        ))),
    }
}

/// `Range`.
#[derive(Debug)]
pub(crate) struct Range;

pub(crate) fn parse_range(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(3, 3)?;
    cx.attrs.finish()?;
    Ok(Box::new(Range))
}

impl OnnxOp for Range {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let one = |i: usize| -> Result<f64> {
            let d = required(inputs, i)?;
            d.values
                .iter()
                .next()
                .copied()
                .ok_or_else(|| NodeError::Invalid(format!("input {i} is empty")))
        };
        let (start, limit, delta) = (one(0)?, one(1)?, one(2)?);
        if delta == 0.0 || !(start.is_finite() && limit.is_finite() && delta.is_finite()) {
            return Err(NodeError::Invalid(
                "Range needs a finite, non-zero delta".into(),
            ));
        }
        let n = ((limit - start) / delta).ceil().max(0.0) as usize;
        super::checked_size(&[n])?;
        let values: Vec<f64> = (0..n).map(|i| start + i as f64 * delta).collect();
        Ok(vec![Data {
            dtype: required(inputs, 0)?.dtype,
            values: array(&[n], values),
        }])
    }

    fn lower(&self, _cx: &mut Lowering<'_>, _inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        Err(NodeError::Invalid("Range folds to a constant".into()))
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![0, 1, 2]
    }

    impl_any!();
}

/// `CumSum`.
#[derive(Debug)]
pub(crate) struct CumSum {
    exclusive: bool,
    reverse: bool,
}

pub(crate) fn parse_cumsum(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    let op = CumSum {
        exclusive: cx.attrs.int_or("exclusive", 0)? != 0,
        reverse: cx.attrs.int_or("reverse", 0)? != 0,
    };
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

impl CumSum {
    /// Whether input position `j` contributes to output position `i`.
    fn contributes(&self, j: usize, i: usize) -> bool {
        match (self.reverse, self.exclusive) {
            (false, false) => j <= i,
            (false, true) => j < i,
            (true, false) => j >= i,
            (true, true) => j > i,
        }
    }
}

impl OnnxOp for CumSum {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let axis = norm_axis(scalar(inputs, 1, "axis")?, x.shape().len())?;
        let mut out = x.values.clone();
        for (mut o, lane) in out
            .lanes_mut(Axis(axis))
            .into_iter()
            .zip(x.values.lanes(Axis(axis)))
        {
            for i in 0..lane.len() {
                o[i] = (0..lane.len())
                    .filter(|&j| self.contributes(j, i))
                    .map(|j| lane[j])
                    .sum();
            }
        }
        Ok(vec![Data {
            dtype: x.dtype,
            values: out,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "x")?;
        let Operand::Const(a) = inputs[1] else {
            return Err(NodeError::Invalid("axis is missing".into()));
        };
        let shape = cx.shape(x);
        let rank = shape.len();
        let axis = norm_axis(scalar(&[None, Some(a)], 1, "axis")?, rank)?;
        let n = shape[axis];
        // Move the axis last, multiply by the 0/1 matrix T[j][i] = [j contributes to i].
        let mut perm: Vec<usize> = (0..rank).filter(|&d| d != axis).collect();
        perm.push(axis);
        let moved = if axis + 1 == rank {
            x
        } else {
            cx.push(Op::Transpose { perm: perm.clone() }, &[x])?
        };
        let moved = if rank == 1 {
            cx.push(Op::Reshape { shape: vec![1, n] }, &[moved])?
        } else {
            moved
        };
        let t: Vec<i64> = (0..n * n)
            .map(|k| i64::from(self.contributes(k / n, k % n)))
            .collect();
        let tri = cx.raw_constant(vec![n, n], 0, t)?;
        let mut y = cx.push(Op::MatMul, &[moved, tri])?;
        if rank == 1 {
            y = cx.push(Op::Reshape { shape: vec![n] }, &[y])?;
        } else if axis + 1 != rank {
            let mut inverse = vec![0; rank];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            y = cx.push(Op::Transpose { perm: inverse }, &[y])?;
        }
        cx.finish(y, 0).map(|y| vec![y])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1]
    }

    impl_any!();
}

/// `Trilu`.
#[derive(Debug)]
pub(crate) struct Trilu {
    upper: bool,
}

pub(crate) fn parse_trilu(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 2)?;
    let upper = cx.attrs.int_or("upper", 1)? != 0;
    cx.attrs.finish()?;
    Ok(Box::new(Trilu { upper }))
}

impl Trilu {
    /// The keep pattern over a tensor of `shape` (rank at least 2).
    fn pattern(&self, shape: &[usize], k: i64) -> Result<Vec<bool>> {
        let r = shape.len();
        if r < 2 {
            return Err(NodeError::Invalid(format!(
                "Trilu needs a tensor of rank 2 or more, got {shape:?}"
            )));
        }
        let (rows, cols) = (shape[r - 2], shape[r - 1]);
        let n: usize = shape.iter().product();
        Ok((0..n)
            .map(|f| {
                let (i, j) = (((f / cols) % rows) as i64, (f % cols) as i64);
                if self.upper {
                    j - i >= k
                } else {
                    j - i <= k
                }
            })
            .collect())
    }
}

impl OnnxOp for Trilu {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let k = match inputs.get(1).copied().flatten() {
            Some(_) => scalar(inputs, 1, "k")?,
            None => 0,
        };
        let keep = self.pattern(x.shape(), k)?;
        let values: Vec<f64> = x
            .values
            .iter()
            .zip(&keep)
            .map(|(&v, &kept)| if kept { v } else { 0.0 })
            .collect();
        Ok(vec![Data {
            dtype: x.dtype,
            values: array(x.shape(), values),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "input")?;
        let k = match inputs.get(1) {
            Some(Operand::Const(d)) => scalar(&[None, Some(d)], 1, "k")?,
            _ => 0,
        };
        let shape = cx.shape(x);
        let keep: Vec<i64> = self
            .pattern(&shape, k)?
            .into_iter()
            .map(i64::from)
            .collect();
        let c = cx.raw_constant(shape.clone(), 0, keep)?;
        let zero = cx.raw_constant(vec![], cx.scale(x), vec![0])?;
        Ok(vec![cx.push(Op::Where, &[c, x, zero])?])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1]
    }

    impl_any!();
}

/// `OneHot`.
#[derive(Debug)]
pub(crate) struct OneHot {
    axis: i64,
}

pub(crate) fn parse_onehot(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(3, 3)?;
    let axis = cx.attrs.int_or("axis", -1)?;
    cx.attrs.finish()?;
    Ok(Box::new(OneHot { axis }))
}

impl OneHot {
    fn depth(inputs: &[Option<&Data>]) -> Result<usize> {
        let d = required(inputs, 1)?;
        let v = d.values.iter().next().copied().unwrap_or(0.0);
        if !(v >= 1.0 && v < (1u64 << 31) as f64) {
            return Err(NodeError::Invalid(format!("depth {v} must be positive")));
        }
        Ok(v.trunc() as usize)
    }

    fn out_axis(&self, rank: usize) -> Result<usize> {
        norm_axis(self.axis, rank + 1)
    }
}

impl OnnxOp for OneHot {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let idx = required(inputs, 0)?;
        let depth = Self::depth(inputs)?;
        let values = required(inputs, 2)?;
        let (off, on) = match values.values.iter().copied().collect::<Vec<_>>()[..] {
            [off, on] => (off, on),
            _ => return Err(NodeError::Invalid("values must hold [off, on]".into())),
        };
        let axis = self.out_axis(idx.shape().len())?;
        let mut shape = idx.shape().to_vec();
        shape.insert(axis, depth);
        super::checked_size(&shape)?;
        let inner: usize = idx.shape()[axis..].iter().product();
        let mut out = vec![off; shape.iter().product()];
        for (p, &v) in idx.values.iter().enumerate() {
            let i = v.trunc() as i64;
            let j = if i < 0 { i + depth as i64 } else { i };
            if (0..depth as i64).contains(&j) {
                let (outer, rest) = (p / inner, p % inner);
                out[(outer * depth + j as usize) * inner + rest] = on;
            }
        }
        Ok(vec![Data {
            dtype: values.dtype,
            values: array(&shape, out),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let mut idx = runtime(inputs, 0, "indices")?;
        if cx.in_dtype(0) == Some(DType::Float) {
            // Real indices are truncated to integers, as ONNX casts them.
            idx = super::misc::truncate(cx, idx)?;
        }
        let (Operand::Const(d), Operand::Const(v)) = (inputs[1], inputs[2]) else {
            return Err(NodeError::Invalid(
                "depth and values must be constants".into(),
            ));
        };
        let depth = Self::depth(&[None, Some(d)])?;
        let (off, on) = match v.values.iter().copied().collect::<Vec<_>>()[..] {
            [off, on] => (off, on),
            _ => return Err(NodeError::Invalid("values must hold [off, on]".into())),
        };
        let idx = super::movement::wrap_negative_indices(cx, idx, depth)?;
        let idx_shape = cx.shape(idx);
        let axis = self.out_axis(idx_shape.len())?;
        let mut unsq = idx_shape.clone();
        unsq.insert(axis, 1);
        let idx = cx.push(
            Op::Reshape {
                shape: unsq.clone(),
            },
            &[idx],
        )?;
        let mut pos_shape = vec![1; unsq.len()];
        pos_shape[axis] = depth;
        let positions = cx.raw_constant(pos_shape, 0, (0..depth as i64).collect())?;
        let hot = cx.push(Op::Compare(CompareOp::Eq), &[idx, positions])?;
        // off + (on - off) * hot, at scale 0 for integers, else at the scale the values call for.
        let s = if cx.exact_output(0) {
            0
        } else {
            cx.cfg.activation_scale(off.abs().max(on.abs()))
        };
        let q = |x: f64| {
            zkml_ir::rounding::quantize(x, s)
                .ok_or_else(|| NodeError::Quantization(format!("value {x} at scale 2^{s}")))
        };
        let (qoff, qon) = (q(off)?, q(on)?);
        let diff = cx.raw_constant(vec![], s, vec![qon - qoff])?;
        let scaled = cx.push(Op::Mul, &[hot, diff])?;
        let base = cx.raw_constant(vec![], s, vec![qoff])?;
        Ok(vec![cx.push(Op::Add, &[scaled, base])?])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1, 2]
    }

    fn index_inputs(&self, _shapes: &[Option<&[usize]>]) -> Vec<(usize, usize)> {
        Vec::new()
    }

    impl_any!();
}

/// `TopK` with a constant `k`.
#[derive(Debug)]
pub(crate) struct TopK {
    axis: i64,
    largest: bool,
    /// Before opset 10, `k` is an attribute.
    k_attr: Option<i64>,
}

pub(crate) fn parse_topk(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let k_attr = if cx.opset < 10 {
        cx.expect_inputs(1, 1)?;
        Some(
            cx.attrs
                .int("k")?
                .ok_or_else(|| NodeError::Invalid("k is required".into()))?,
        )
    } else {
        cx.expect_inputs(2, 2)?;
        None
    };
    let op = TopK {
        axis: cx.attrs.int_or("axis", -1)?,
        largest: cx.attrs.int_or("largest", 1)? != 0,
        k_attr,
    };
    // Sorted or not, the k elements come out in order (ONNX leaves unsorted order open).
    cx.attrs.ignore(&["sorted"]);
    cx.attrs.finish()?;
    Ok(Box::new(op))
}

impl TopK {
    fn k(&self, inputs: &[Option<&Data>], dim: usize) -> Result<usize> {
        let k = match self.k_attr {
            Some(k) => k,
            None => scalar(inputs, 1, "K")?,
        };
        if k < 0 || k as usize > dim {
            return Err(NodeError::Invalid(format!(
                "k = {k} is outside [0, {dim}] for the axis"
            )));
        }
        Ok(k as usize)
    }
}

impl OnnxOp for TopK {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let axis = norm_axis(self.axis, x.shape().len())?;
        let k = self.k(inputs, x.shape()[axis])?;
        let mut shape = x.shape().to_vec();
        shape[axis] = k;
        let mut vals = ArrayD::<f64>::zeros(IxDyn(&shape));
        let mut idxs = ArrayD::<f64>::zeros(IxDyn(&shape));
        for ((lane, mut vl), mut il) in x
            .values
            .lanes(Axis(axis))
            .into_iter()
            .zip(vals.lanes_mut(Axis(axis)))
            .zip(idxs.lanes_mut(Axis(axis)))
        {
            let mut order: Vec<usize> = (0..lane.len()).collect();
            // Stable: equal values keep the lower index first.
            order.sort_by(|&a, &b| {
                let (va, vb) = (lane[a], lane[b]);
                if self.largest {
                    vb.total_cmp(&va)
                } else {
                    va.total_cmp(&vb)
                }
            });
            for (t, &o) in order.iter().take(k).enumerate() {
                vl[t] = lane[o];
                il[t] = o as f64;
            }
        }
        Ok(vec![
            Data {
                dtype: x.dtype,
                values: vals,
            },
            Data {
                dtype: DType::Int,
                values: idxs,
            },
        ])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "X")?;
        let shape = cx.shape(x);
        let axis = norm_axis(self.axis, shape.len())?;
        let dim = shape[axis];
        let consts: Vec<Option<&Data>> = inputs.iter().map(|o| o.as_const()).collect();
        let k = self.k(&consts, dim)?;
        if k == 0 {
            return Err(NodeError::Invalid("k = 0 gives empty outputs".into()));
        }
        let mut cur = if self.largest {
            x
        } else {
            cx.push(Op::Neg, &[x])?
        };
        let low = -(cx.bound(cur) as i64) - 1;
        let low = cx.raw_constant(vec![], cx.scale(cur), vec![low])?;
        let mut pos_shape = vec![1; shape.len()];
        pos_shape[axis] = dim;
        let positions = cx.raw_constant(pos_shape, 0, (0..dim as i64).collect())?;
        let spec = ReduceSpec {
            axes: vec![axis],
            keepdims: true,
        };
        let (mut values, mut indices) = (Vec::new(), Vec::new());
        for t in 0..k {
            let i = cx.push(
                Op::ArgMax {
                    axis,
                    keepdims: true,
                    select_last_index: false,
                },
                &[cur],
            )?;
            let m = cx.push(Op::ReduceMax(spec.clone()), &[cur])?;
            values.push(if self.largest {
                m
            } else {
                cx.push(Op::Neg, &[m])?
            });
            indices.push(i);
            if t + 1 < k {
                let picked = cx.push(Op::Compare(CompareOp::Eq), &[positions, i])?;
                cur = cx.push(Op::Where, &[picked, low, cur])?;
            }
        }
        let v = cx.push(Op::Concat { axis }, &values)?;
        let i = cx.push(Op::Concat { axis }, &indices)?;
        Ok(vec![v, i])
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![1]
    }

    impl_any!();
}

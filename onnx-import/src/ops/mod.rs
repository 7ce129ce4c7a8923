//! ONNX ops: one module per family. Each op is a typed struct parsed from a node's attributes,
//! with its float semantics ([`OnnxOp::eval`]) and its lowering to integer ops
//! ([`OnnxOp::lower`]).

use std::any::Any;
use std::fmt::Debug;

use ndarray::{ArrayD, IxDyn, Zip};

use crate::attrs::Attrs;
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;
use crate::proto::NodeProto;

pub(crate) mod activation;
pub(crate) mod arith;
pub(crate) mod conv;
pub(crate) mod einsum;
pub(crate) mod gather;
pub(crate) mod linear;
pub(crate) mod logic;
pub(crate) mod mask;
pub(crate) mod misc;
pub(crate) mod movement;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod resize;
pub(crate) mod rounding;
pub(crate) mod sequence;
pub(crate) mod softmax;

/// What a parser sees of a node.
pub(crate) struct ParseCx<'a> {
    pub node: &'a NodeProto,
    pub attrs: Attrs<'a>,
    pub opset: i64,
}

impl ParseCx<'_> {
    /// Number of inputs given (trailing empty names excluded).
    pub fn input_count(&self) -> usize {
        let mut n = self.node.input.len();
        while n > 0 && self.node.input[n - 1].is_empty() {
            n -= 1;
        }
        n
    }

    /// Number of outputs requested (trailing empty names excluded).
    pub fn output_count(&self) -> usize {
        let mut n = self.node.output.len();
        while n > 0 && self.node.output[n - 1].is_empty() {
            n -= 1;
        }
        n
    }

    /// Fails unless the node has between `lo` and `hi` inputs.
    pub fn expect_inputs(&self, lo: usize, hi: usize) -> Result<(), NodeError> {
        let n = self.input_count();
        if n < lo || n > hi {
            return Err(NodeError::Invalid(format!(
                "expects {lo} to {hi} inputs, has {n}"
            )));
        }
        Ok(())
    }

    /// Fails if outputs beyond the first `n` are requested.
    pub fn expect_outputs(&self, n: usize, what_else: &str) -> Result<(), NodeError> {
        if self.output_count() > n {
            return Err(NodeError::UnsupportedAttribute {
                name: "outputs".into(),
                value: format!("{} outputs", self.output_count()),
                supported: format!("only the first {n} output(s) are supported ({what_else})"),
            });
        }
        Ok(())
    }
}

/// Parses a node into an op.
pub(crate) type ParseFn = fn(&ParseCx<'_>) -> Result<Box<dyn OnnxOp>, NodeError>;

/// An input of a node during lowering.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand<'a> {
    /// An optional input that was not given.
    Absent,
    /// A constant known at import.
    Const(&'a Data),
    /// A value computed at run time: the program node holding it.
    Value(usize),
    /// A runtime additive attention mask or masked score.
    Masked(Masked),
}

/// A value with masked-out positions: `value` where `keep` is 1, "minus infinity" where it is
/// 0 (see [`mask`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Masked {
    /// The finite values (arbitrary where masked).
    pub value: usize,
    /// 1 where the value is kept, 0 where it is masked out: a boolean node at scale 0.
    pub keep: usize,
    /// Whether the mask came from `-inf` (a softmax row with every position masked is then
    /// NaN, which exporters turn into zeros) rather than `finfo.min` (such a row is uniform).
    pub infinite: bool,
}

/// What lowering produced for one output: a plain value, or a masked one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lowered {
    /// A program node.
    Value(usize),
    /// See [`Operand::Masked`].
    Masked(Masked),
}

impl<'a> Operand<'a> {
    pub fn as_const(&self) -> Option<&'a Data> {
        match self {
            Operand::Const(d) => Some(d),
            _ => None,
        }
    }
}

/// A typed ONNX op.
pub(crate) trait OnnxOp: Debug + Send + Sync {
    /// Float semantics: the op's outputs for the given inputs (`None` for absent optional
    /// inputs). Used for constant folding, shape inference and calibration.
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>, NodeError>;

    /// Emits integer ops computing this op's outputs; returns one program node per output.
    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>])
        -> Result<Vec<usize>, NodeError>;

    /// Lowering when an input is masked, or a constant input holds mask values (`-inf`,
    /// `finfo.min`): ops that build, move or consume attention masks override this.
    fn lower_masked(
        &self,
        _cx: &mut Lowering<'_>,
        _inputs: &[Operand<'_>],
    ) -> Result<Vec<Lowered>, NodeError> {
        Err(NodeError::Quantization(
            "an input is an additive attention mask (values of -inf or about -3.4e38); only \
             Add, Mul, Where, Softmax, Cast and data movement can take masks"
                .into(),
        ))
    }

    /// Inputs that must be known at import (shapes, axes, pads, counts): the op's output shape
    /// depends on their values.
    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        Vec::new()
    }

    /// Inputs read as indices into an axis, with that axis's length: `(input, length)` for the
    /// given input shapes. Integer model inputs that only index get the domain `[0, length)`.
    fn index_inputs(&self, _shapes: &[Option<&[usize]>]) -> Vec<(usize, usize)> {
        Vec::new()
    }

    /// Inputs whose values the outputs only copy (data movement, casts between integer
    /// kinds): a constraint on an output's values is one on theirs.
    fn forwarded_inputs(&self, _inputs: usize) -> Vec<usize> {
        Vec::new()
    }

    /// Downcasting, for graph rewrites such as batch-norm folding.
    fn as_any(&self) -> &dyn Any;
}

/// Implements `as_any` for an op type.
macro_rules! impl_any {
    () => {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    };
}
pub(crate) use impl_any;

/// The `i`-th input, which must be present.
pub(crate) fn required<'a>(inputs: &[Option<&'a Data>], i: usize) -> Result<&'a Data, NodeError> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| NodeError::Invalid(format!("input {i} is missing")))
}

/// The `i`-th input during lowering, which must be a runtime value.
pub(crate) fn runtime(inputs: &[Operand<'_>], i: usize, what: &str) -> Result<usize, NodeError> {
    match inputs.get(i) {
        Some(Operand::Value(v)) => Ok(*v),
        Some(Operand::Const(_)) => Err(NodeError::Quantization(format!(
            "{what} is a constant here; constant subgraphs are folded, so this op was expected to read a runtime value"
        ))),
        _ => Err(NodeError::Invalid(format!("{what} (input {i}) is missing"))),
    }
}

/// The `i`-th input during lowering, which must be a constant.
pub(crate) fn constant<'a>(
    inputs: &[Operand<'a>],
    i: usize,
    what: &str,
) -> Result<&'a Data, NodeError> {
    match inputs.get(i) {
        Some(Operand::Const(d)) => Ok(d),
        Some(Operand::Value(_)) => Err(NodeError::Quantization(format!(
            "{what} (input {i}) must be a constant (an initializer or foldable subgraph); runtime values are not supported"
        ))),
        _ => Err(NodeError::Invalid(format!("{what} (input {i}) is missing"))),
    }
}

/// A constant input read as integers (shapes, axes, indices, pads).
pub(crate) fn const_ints(
    inputs: &[Option<&Data>],
    i: usize,
    what: &str,
) -> Result<Option<Vec<i64>>, NodeError> {
    match inputs.get(i).copied().flatten() {
        None => Ok(None),
        Some(d) => d
            .to_i64s()
            .map(Some)
            .map_err(|e| NodeError::Invalid(format!("{what}: {e}"))),
    }
}

/// Whether program node `x` is never negative, judged from how it was computed (integer
/// inputs with a non-negative domain, comparisons, indices, non-negative constants, and ops
/// that keep non-negativity).
pub(crate) fn nonnegative(cx: &Lowering<'_>, x: usize) -> bool {
    fn walk(b: &zkml_ir::ProgramBuilder, x: usize, depth: u32) -> bool {
        use zkml_ir::Op;
        if depth == 0 {
            return false;
        }
        let node = b.node(x);
        let all = |ins: &[usize]| ins.iter().all(|&i| walk(b, i, depth - 1));
        match &node.op {
            Op::Input { domain, .. } => domain.interval().is_some_and(|(lo, _)| lo >= 0),
            Op::Const { values, .. } => values.iter().all(|&v| v >= 0),
            Op::Compare(_) | Op::ArgMax { .. } | Op::Relu | Op::Abs | Op::Sqrt { .. } => true,
            Op::Clip { min: Some(lo), .. } if *lo >= 0 => true,
            Op::Where => all(&node.inputs[1..]),
            Op::Take { .. } | Op::Div { .. } => all(&node.inputs[..1]),
            Op::Lookup { table } => b.tables()[*table].values.iter().all(|&v| v >= 0),
            Op::Add
            | Op::Mul
            | Op::Max
            | Op::Min
            | Op::MatMul
            | Op::Rescale { .. }
            | Op::ReduceSum(_)
            | Op::ReduceMax(_)
            | Op::SumPool(_)
            | Op::MaxPool(_)
            | Op::Clip { .. } => all(&node.inputs),
            op if op.is_data_movement() => all(&node.inputs),
            _ => false,
        }
    }
    walk(cx.b, x, 24)
}

/// Normalizes a possibly negative axis.
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize, NodeError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r.max(1) {
        return Err(NodeError::Invalid(format!(
            "axis {axis} is out of range for rank {rank}"
        )));
    }
    Ok(a as usize)
}

/// Normalizes a list of possibly negative axes, sorted and distinct.
pub(crate) fn norm_axes(axes: &[i64], rank: usize) -> Result<Vec<usize>, NodeError> {
    let mut out = axes
        .iter()
        .map(|&a| norm_axis(a, rank))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    let before = out.len();
    out.dedup();
    if out.len() != before {
        return Err(NodeError::Invalid(format!("axes {axes:?} repeat an axis")));
    }
    Ok(out)
}

/// Applies `f` elementwise with numpy broadcasting.
pub(crate) fn broadcast_map(
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<ArrayD<f64>, NodeError> {
    let shape = zkml_ir::tensor::broadcast_shapes(a.shape(), b.shape()).ok_or_else(|| {
        NodeError::Invalid(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        ))
    })?;
    checked_size(&shape)?;
    let av = a.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    let bv = b.broadcast(IxDyn(&shape)).expect("broadcast shape checked");
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

/// The dtype of a binary result: float if either side is float.
pub(crate) fn join_dtype(a: DType, b: DType) -> DType {
    if a == DType::Float || b == DType::Float {
        DType::Float
    } else {
        a
    }
}

/// Converts ONNX integer attributes to non-negative sizes.
pub(crate) fn usizes(values: &[i64], what: &str) -> Result<Vec<usize>, NodeError> {
    values
        .iter()
        .map(|&v| {
            usize::try_from(v)
                .ok()
                .filter(|&v| v < (1 << 31))
                .ok_or_else(|| NodeError::Invalid(format!("{what} value {v} must be non-negative")))
        })
        .collect()
}

/// The most elements any tensor may have during import (64 Mi): far beyond what a proof can
/// cover, and small enough that a corrupt shape cannot exhaust memory.
pub(crate) const MAX_TENSOR_ELEMENTS: usize = 1 << 26;

/// The element count of `shape`, or an error if it exceeds [`MAX_TENSOR_ELEMENTS`].
pub(crate) fn checked_size(shape: &[usize]) -> Result<usize, NodeError> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| NodeError::Invalid(format!("a tensor of shape {shape:?} is larger than the limit of {MAX_TENSOR_ELEMENTS} elements")))
}

/// Builds an array from a shape and row-major values.
pub(crate) fn array(shape: &[usize], values: Vec<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("length matches shape")
}

/// Opset < 7 broadcasting (`broadcast = 1`): the second operand's dims line up with the first's
/// starting at `axis` (trailing alignment when no axis is given). Returns the second operand's
/// shape padded with ones to the first's rank.
pub(crate) fn legacy_broadcast_shape(
    b: &[usize],
    a_rank: usize,
    axis: Option<i64>,
) -> Result<Vec<usize>, NodeError> {
    let start = match axis {
        None => a_rank.checked_sub(b.len()),
        Some(ax) => norm_axis(ax, a_rank)
            .ok()
            .filter(|&s| s + b.len() <= a_rank),
    }
    .ok_or_else(|| {
        NodeError::Invalid(format!(
            "operand {b:?} does not fit rank {a_rank} at axis {axis:?}"
        ))
    })?;
    let mut shape = vec![1; a_rank];
    shape[start..start + b.len()].copy_from_slice(b);
    Ok(shape)
}

/// Parses the opset < 7 `broadcast` / `axis` attributes: `Some(axis)` when broadcasting.
pub(crate) fn parse_legacy_broadcast(cx: &ParseCx<'_>) -> Result<Option<Option<i64>>, NodeError> {
    if cx.opset >= 7 {
        return Ok(None);
    }
    let broadcast = cx.attrs.int_or("broadcast", 0)? != 0;
    let axis = cx.attrs.int("axis")?;
    Ok(broadcast.then_some(axis))
}

/// Reshapes a constant or runtime second operand for opset < 7 broadcasting.
pub(crate) fn legacy_align_data(
    b: &Data,
    a_rank: usize,
    axis: Option<i64>,
) -> Result<Data, NodeError> {
    let shape = legacy_broadcast_shape(b.shape(), a_rank, axis)?;
    Ok(Data {
        dtype: b.dtype,
        values: b
            .values
            .to_shape(IxDyn(&shape))
            .map_err(|e| NodeError::Invalid(e.to_string()))?
            .to_owned(),
    })
}

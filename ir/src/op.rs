//! The typed ops of a quantized program.
//!
//! Every op works on integers that stand for fixed-point reals: a tensor with scale `s` holds
//! `q` for the real `q / 2^s`. The scale rule of each op (how the output scale follows from the
//! input scales) is given in its doc comment; the exact integer semantics are in
//! [`crate::eval`], and the rounding rules in [`crate::rounding`].

use serde::{Deserialize, Serialize};

/// One integer tensor operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// The program's input number `index`. Real inputs must lie in the value range
    /// (`value_bits`); integer and boolean inputs (scale 0) in their declared domain.
    Input {
        /// Position among the program's inputs.
        index: usize,
        /// What values the input takes.
        domain: InputDomain,
    },
    /// A constant tensor, row-major: a model parameter (weight, bias, normalization scale),
    /// or a constant the compiler introduced (a multiplier, a count, an epsilon).
    Const {
        /// The values.
        values: Vec<i64>,
        /// Whether this is a model parameter (its visibility is chosen at setup).
        param: bool,
    },

    /// `a + b` with broadcasting. Both inputs have the same scale; the output keeps it.
    Add,
    /// `a - b` with broadcasting. Both inputs have the same scale; the output keeps it.
    Sub,
    /// `-a`. Scale unchanged.
    Neg,
    /// `a * b` elementwise with broadcasting, exact. Output scale is `scale(a) + scale(b)`.
    Mul,
    /// Batched matrix product `a[..., m, k] * b[..., k, n] (+ bias[n])`, exact. Batch axes
    /// broadcast. The optional third input is a bias at scale `scale(a) + scale(b)`, broadcast
    /// to the output. Output scale is `scale(a) + scale(b)`.
    MatMul,
    /// N-dimensional grouped convolution of `x[n, c, ...]` with `w[m, c / group, ...]`
    /// (+ optional `bias[m]` at the output scale), exact, zero padding. Output scale is
    /// `scale(x) + scale(w)`.
    Conv(ConvSpec),
    /// N-dimensional grouped transposed convolution of `x[n, c, ...]` with
    /// `w[c, m / group, ...]` (+ optional `bias[m]`), exact. Output scale is
    /// `scale(x) + scale(w)`.
    ConvTranspose(ConvTransposeSpec),
    /// Sum over sliding windows of the spatial axes of `x[n, c, ...]`; padded positions add
    /// nothing. Scale unchanged.
    SumPool(PoolSpec),
    /// Sum over `axes`. Scale unchanged.
    ReduceSum(ReduceSpec),

    /// `x / 2^shift`, rounded half toward positive infinity ([`crate::rounding::rescale`]).
    /// Output scale is `scale(x) - shift`. The result must lie in the value range.
    Rescale {
        /// Number of bits removed.
        shift: u32,
    },
    /// `a * 2^shift / b`, rounded half toward positive infinity ([`crate::rounding::div_round`]),
    /// with broadcasting. Every divisor must be positive. Output scale is
    /// `scale(a) + shift - scale(b)`. The result must lie in the value range.
    Div {
        /// Extra bits of precision given to the quotient.
        shift: u32,
    },
    /// `floor(sqrt(x * 2^shift))` ([`crate::rounding::isqrt`]); `x` must be non-negative and
    /// `scale(x) + shift` even. Output scale is `(scale(x) + shift) / 2`. The result must lie in
    /// the value range.
    Sqrt {
        /// Bits added before the root is taken.
        shift: u32,
    },

    /// `max(x, 0)`. Scale unchanged.
    Relu,
    /// `|x|`. Scale unchanged.
    Abs,
    /// `min(max(x, min), max)` with integer bounds at the input's scale. Scale unchanged.
    Clip {
        /// Lower bound, if any.
        min: Option<i64>,
        /// Upper bound, if any.
        max: Option<i64>,
    },
    /// Elementwise maximum with broadcasting; equal input scales, kept.
    Max,
    /// Elementwise minimum with broadcasting; equal input scales, kept.
    Min,
    /// Maximum over `axes`. Scale unchanged.
    ReduceMax(ReduceSpec),
    /// Maximum over sliding windows of the spatial axes; padded positions are ignored. Scale
    /// unchanged.
    MaxPool(PoolSpec),
    /// Index of the maximum along `axis` (the first one, or the last one when
    /// `select_last_index`). Output scale is 0.
    ArgMax {
        /// Reduced axis.
        axis: usize,
        /// Keep the reduced axis with length 1.
        keepdims: bool,
        /// Break ties towards the last index instead of the first.
        select_last_index: bool,
    },

    /// `table[x]` through lookup table number `table`; `x` must lie in the table's domain and
    /// have the table's input scale. Output scale is the table's output scale.
    Lookup {
        /// Index into the program's tables.
        table: usize,
    },

    /// Same values, new shape (same element count).
    Reshape {
        /// The output shape.
        shape: Vec<usize>,
    },
    /// Permutes axes: output axis `i` is input axis `perm[i]`.
    Transpose {
        /// The permutation.
        perm: Vec<usize>,
    },
    /// Strided slice, one range per axis (all axes listed).
    Slice {
        /// The range kept on each axis.
        ranges: Vec<SliceRange>,
    },
    /// Concatenation of all inputs along `axis`; equal scales, kept.
    Concat {
        /// The joined axis.
        axis: usize,
    },
    /// Picks entries along `axis` by constant indices (`indices` has shape `indices_shape`).
    Gather {
        /// The indexed axis.
        axis: usize,
        /// Flat indices, each already in `0..dim`.
        indices: Vec<usize>,
        /// Shape of the index tensor, which replaces `axis` in the output.
        indices_shape: Vec<usize>,
    },
    /// Pads every axis.
    Pad(PadSpec),
    /// Repeats the tensor `repeats[i]` times along axis `i`.
    Tile {
        /// Repetitions per axis.
        repeats: Vec<usize>,
    },
    /// Broadcasts to `shape` (numpy rules).
    Expand {
        /// The output shape.
        shape: Vec<usize>,
    },

    /// Elementwise comparison `a cmp b` with broadcasting: 1 where it holds, else 0. Both
    /// inputs have the same scale; the output scale is 0.
    Compare(CompareOp),
    /// `cond ? a : b` elementwise with broadcasting. `cond` has scale 0 and every value 0 or 1;
    /// `a` and `b` have the same scale, which the output keeps.
    Where,
    /// Gather with runtime indices (numpy `take`): `data[..., indices[j], ...]` along `axis`.
    /// `indices` has scale 0 and every index lies in `[0, dim)`; the output shape is
    /// `data[..axis] ++ shape(indices) ++ data[axis + 1..]` and it keeps the scale of `data`.
    Take {
        /// The indexed axis of `data`.
        axis: usize,
    },
}

/// The values a program input takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputDomain {
    /// Reals, quantized at the input's scale into the value range.
    Real,
    /// Integers in `[lo, hi]`, carried exactly at scale 0 (token ids, positions, counts).
    Integer {
        /// Smallest admitted value.
        lo: i64,
        /// Largest admitted value.
        hi: i64,
    },
    /// Booleans: 0 or 1 at scale 0.
    Bool,
    /// Reals at the input's scale with `|v| <= bound` (`bound` at most the value limit
    /// `2^(value_bits-1)`; values stay in the value range as for [`InputDomain::Real`]): a
    /// tensor one segment of a cut program passes to the next, which keeps the bound the
    /// producing node had (see [`crate::segment`]).
    Bounded {
        /// Largest admitted magnitude.
        bound: u64,
    },
}

impl InputDomain {
    /// The admitted integer interval, for integer and boolean inputs (scale 0, carried
    /// exactly).
    pub fn interval(&self) -> Option<(i64, i64)> {
        match *self {
            InputDomain::Real | InputDomain::Bounded { .. } => None,
            InputDomain::Integer { lo, hi } => Some((lo, hi)),
            InputDomain::Bool => Some((0, 1)),
        }
    }

    /// The admitted interval of quantized values, where the domain narrows the value range:
    /// integer, boolean and bounded inputs. Bounds beyond `i64` saturate (validation refuses
    /// them).
    pub fn admitted(&self) -> Option<(i64, i64)> {
        match *self {
            InputDomain::Bounded { bound } => {
                let b = i64::try_from(bound).unwrap_or(i64::MAX);
                Some((-b, b))
            }
            _ => self.interval(),
        }
    }

    /// A short description such as `real`, `int [0, 255]` or `bool`.
    pub fn describe(&self) -> String {
        match self {
            InputDomain::Real => "real".into(),
            InputDomain::Integer { lo, hi } => format!("int [{lo}, {hi}]"),
            InputDomain::Bool => "bool".into(),
            InputDomain::Bounded { bound } => format!("real, |q| <= {bound}"),
        }
    }
}

/// The relation of [`Op::Compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `a == b`.
    Eq,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
}

impl CompareOp {
    /// Whether `a cmp b` holds.
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            CompareOp::Eq => a == b,
            CompareOp::Lt => a < b,
            CompareOp::Le => a <= b,
            CompareOp::Gt => a > b,
            CompareOp::Ge => a >= b,
        }
    }
}

/// Geometry of a (grouped, dilated, strided, padded) convolution over the trailing spatial axes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
    /// Dilation per spatial axis.
    pub dilations: Vec<usize>,
    /// Zero padding before each spatial axis.
    pub pads_begin: Vec<usize>,
    /// Zero padding after each spatial axis.
    pub pads_end: Vec<usize>,
    /// Number of groups; input and output channels divide evenly into groups.
    pub group: usize,
}

/// Geometry of a transposed convolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvTransposeSpec {
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
    /// Dilation per spatial axis.
    pub dilations: Vec<usize>,
    /// Padding removed at the start of each output axis (negative: the output starts before
    /// the first input position's footprint).
    pub pads_begin: Vec<i64>,
    /// Output length per spatial axis (fixes output padding).
    pub output_spatial: Vec<usize>,
    /// Number of groups.
    pub group: usize,
}

/// Geometry of a pooling window over the trailing spatial axes of `[n, c, ...]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Window size per spatial axis.
    pub kernel: Vec<usize>,
    /// Stride per spatial axis.
    pub strides: Vec<usize>,
    /// Dilation per spatial axis.
    pub dilations: Vec<usize>,
    /// Padding before each spatial axis (padded positions are not window members).
    pub pads_begin: Vec<usize>,
    /// Output length per spatial axis.
    pub output_spatial: Vec<usize>,
}

/// Axes of a reduction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReduceSpec {
    /// Reduced axes, sorted and distinct.
    pub axes: Vec<usize>,
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
}

/// The kept indices of one axis: `start, start + step, ...` while inside `[0, dim)` and before
/// `end` (after `end` for negative steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SliceRange {
    /// First index, in `0..dim` unless the range is empty.
    pub start: i64,
    /// Exclusive end (may be -1 for negative steps).
    pub end: i64,
    /// Non-zero step.
    pub step: i64,
}

impl SliceRange {
    /// Every index of an axis of length `dim`.
    pub fn full(dim: usize) -> Self {
        SliceRange {
            start: 0,
            end: dim as i64,
            step: 1,
        }
    }

    /// Ranges over a tensor of `shape` that keep every index except along `axis`, where they
    /// keep `start..end`.
    pub fn along(shape: &[usize], axis: usize, start: usize, end: usize) -> Vec<Self> {
        let mut ranges: Vec<Self> = shape.iter().map(|&d| Self::full(d)).collect();
        ranges[axis] = SliceRange {
            start: start as i64,
            end: end as i64,
            step: 1,
        };
        ranges
    }

    /// Number of indices kept.
    pub fn len(&self) -> usize {
        let (start, end, step) = (
            i128::from(self.start),
            i128::from(self.end),
            i128::from(self.step),
        );
        let n = if step > 0 && end > start {
            (end - start + step - 1) / step
        } else if step < 0 && start > end {
            (start - end - step - 1) / (-step)
        } else {
            0
        };
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Whether the range keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a tensor is padded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PadSpec {
    /// Elements added before each axis.
    pub begin: Vec<usize>,
    /// Elements added after each axis.
    pub end: Vec<usize>,
    /// What the new elements hold.
    pub mode: PadMode,
}

/// Fill rule of [`Op::Pad`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    /// A constant at the tensor's scale.
    Constant(i64),
    /// Mirror without repeating the edge element.
    Reflect,
    /// Repeat the edge element.
    Edge,
}

impl Op {
    /// A short name for listings and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "Input",
            Op::Const { .. } => "Const",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Neg => "Neg",
            Op::Mul => "Mul",
            Op::MatMul => "MatMul",
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::SumPool(_) => "SumPool",
            Op::ReduceSum(_) => "ReduceSum",
            Op::Rescale { .. } => "Rescale",
            Op::Div { .. } => "Div",
            Op::Sqrt { .. } => "Sqrt",
            Op::Relu => "Relu",
            Op::Abs => "Abs",
            Op::Clip { .. } => "Clip",
            Op::Max => "Max",
            Op::Min => "Min",
            Op::ReduceMax(_) => "ReduceMax",
            Op::MaxPool(_) => "MaxPool",
            Op::ArgMax { .. } => "ArgMax",
            Op::Lookup { .. } => "Lookup",
            Op::Reshape { .. } => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Slice { .. } => "Slice",
            Op::Concat { .. } => "Concat",
            Op::Gather { .. } => "Gather",
            Op::Pad(_) => "Pad",
            Op::Tile { .. } => "Tile",
            Op::Expand { .. } => "Expand",
            Op::Compare(CompareOp::Eq) => "Equal",
            Op::Compare(CompareOp::Lt) => "Less",
            Op::Compare(CompareOp::Le) => "LessOrEqual",
            Op::Compare(CompareOp::Gt) => "Greater",
            Op::Compare(CompareOp::Ge) => "GreaterOrEqual",
            Op::Where => "Where",
            Op::Take { .. } => "Take",
        }
    }

    /// How many inputs the op takes: `(min, max)`; `max == usize::MAX` for variadic ops.
    pub fn arity(&self) -> (usize, usize) {
        match self {
            Op::Input { .. } | Op::Const { .. } => (0, 0),
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Max
            | Op::Min
            | Op::Div { .. }
            | Op::Compare(_)
            | Op::Take { .. } => (2, 2),
            Op::Where => (3, 3),
            Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => (2, 3),
            Op::Concat { .. } => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    /// Checks that every numeric attribute is small enough for shape arithmetic to be exact
    /// (below 2^31, shifts at most 62), so malformed programs are errors rather than overflows.
    pub fn check_parameters(&self) -> Result<(), String> {
        const LIMIT: u64 = 1 << 31;
        let small = |what: &str, values: &[usize]| -> Result<(), String> {
            match values.iter().find(|&&v| v as u64 >= LIMIT) {
                Some(v) => Err(format!("{what} value {v} is too large")),
                None => Ok(()),
            }
        };
        match self {
            Op::Rescale { shift } | Op::Div { shift } | Op::Sqrt { shift } if *shift > 62 => {
                Err(format!("shift {shift} is larger than 62"))
            }
            Op::Conv(c) => {
                small("stride", &c.strides)?;
                small("dilation", &c.dilations)?;
                small("padding", &c.pads_begin)?;
                small("padding", &c.pads_end)?;
                small("group", &[c.group])
            }
            Op::ConvTranspose(c) => {
                small("stride", &c.strides)?;
                small("dilation", &c.dilations)?;
                if let Some(p) = c.pads_begin.iter().find(|p| p.unsigned_abs() >= LIMIT) {
                    return Err(format!("padding value {p} is too large"));
                }
                small("output size", &c.output_spatial)?;
                small("group", &[c.group])
            }
            Op::SumPool(p) | Op::MaxPool(p) => {
                small("kernel", &p.kernel)?;
                small("stride", &p.strides)?;
                small("dilation", &p.dilations)?;
                small("padding", &p.pads_begin)?;
                small("output size", &p.output_spatial)
            }
            Op::Reshape { shape } | Op::Expand { shape } => small("dimension", shape),
            Op::Gather { indices_shape, .. } => small("index dimension", indices_shape),
            Op::Pad(p) => {
                small("padding", &p.begin)?;
                small("padding", &p.end)
            }
            Op::Tile { repeats } => small("repeat", repeats),
            Op::Slice { ranges } => match ranges.iter().find(|r| {
                [r.start, r.end, r.step]
                    .iter()
                    .any(|v| v.unsigned_abs() >= LIMIT)
            }) {
                Some(r) => Err(format!("slice range {r:?} is too large")),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Whether the op only moves values around (no arithmetic): its outputs are copies of input
    /// elements or constants.
    pub fn is_data_movement(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. }
                | Op::Transpose { .. }
                | Op::Slice { .. }
                | Op::Concat { .. }
                | Op::Gather { .. }
                | Op::Pad(_)
                | Op::Tile { .. }
                | Op::Expand { .. }
        )
    }

    /// Whether the op's result is only known to fit the value range once it has been computed:
    /// the evaluator checks it, and a circuit range-checks it.
    pub fn is_range_checked(&self) -> bool {
        matches!(
            self,
            Op::Input { .. } | Op::Rescale { .. } | Op::Div { .. } | Op::Sqrt { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_lengths() {
        let r = |start, end, step| SliceRange { start, end, step }.len();
        assert_eq!(r(0, 5, 1), 5);
        assert_eq!(r(0, 5, 2), 3);
        assert_eq!(r(4, -1, -1), 5);
        assert_eq!(r(4, -1, -2), 3);
        assert_eq!(r(3, 3, 1), 0);
        assert_eq!(r(3, 1, 1), 0);
    }
}

//! Additive attention masks.
//!
//! Exporters mask attention scores by adding `finfo(float32).min` (about `-3.4e38`) or `-inf`
//! where a position must get no weight, either from a constant (a causal mask folded at
//! export) or from a runtime mask input (`Where(mask, 0, finfo.min)`,
//! `(1 - mask) * finfo.min`). No integer program can hold such a value, and none needs to: a
//! masked value is carried as a pair, its finite part and a 0/1 *keep* flag, and the softmax
//! that consumes it gives every position with keep 0 exactly zero weight (see
//! [`super::softmax`]). Values at or below [`crate::data::MASK_THRESHOLD`] are mask values.

use zkml_ir::op::{CompareOp, Op};

use super::Operand;
use crate::data::{is_mask_value, Data};
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// The finite part of a possibly masked operand.
pub(crate) enum Finite<'a> {
    /// A runtime value.
    Node(usize),
    /// A constant (mask values replaced by 0).
    Const(std::borrow::Cow<'a, Data>),
}

impl Finite<'_> {
    /// As an operand of the usual lowering helpers.
    pub fn operand(&self) -> Operand<'_> {
        match self {
            Finite::Node(n) => Operand::Value(*n),
            Finite::Const(d) => Operand::Const(d),
        }
    }
}

/// Where an operand is kept.
#[derive(Clone, Debug)]
pub(crate) enum Keep {
    /// Everywhere.
    All,
    /// A runtime 0/1 node.
    Node(usize),
    /// A constant 0/1 pattern with its shape.
    Const(Vec<usize>, Vec<i64>),
}

/// An operand split into its finite part, its keep flags, and whether its mask values are
/// `-inf` (see [`super::Masked::infinite`]).
pub(crate) struct Split<'a> {
    pub finite: Finite<'a>,
    pub keep: Keep,
    pub infinite: bool,
}

/// Splits an operand into its finite part and its keep flags.
pub(crate) fn split<'a>(operand: &Operand<'a>) -> Result<Split<'a>> {
    let plain = |finite, keep| Split {
        finite,
        keep,
        infinite: false,
    };
    match *operand {
        Operand::Masked(m) => Ok(Split {
            finite: Finite::Node(m.value),
            keep: Keep::Node(m.keep),
            infinite: m.infinite,
        }),
        Operand::Value(v) => Ok(plain(Finite::Node(v), Keep::All)),
        Operand::Const(d) if d.has_mask_values() => {
            let keep: Vec<i64> = d
                .values
                .iter()
                .map(|&v| i64::from(!is_mask_value(v)))
                .collect();
            let finite = Data {
                dtype: d.dtype,
                values: d.values.mapv(|v| if is_mask_value(v) { 0.0 } else { v }),
            };
            Ok(Split {
                finite: Finite::Const(std::borrow::Cow::Owned(finite)),
                keep: Keep::Const(d.shape().to_vec(), keep),
                infinite: d.values.iter().any(|&v| v == f64::NEG_INFINITY),
            })
        }
        Operand::Const(d) => Ok(plain(
            Finite::Const(std::borrow::Cow::Borrowed(d)),
            Keep::All,
        )),
        Operand::Absent => Err(NodeError::Invalid("an input is missing".into())),
    }
}

/// The keep flags as a 0/1 node at scale 0 (a scalar 1 when everything is kept).
pub(crate) fn keep_node(cx: &mut Lowering<'_>, keep: Keep) -> Result<usize> {
    match keep {
        Keep::All => cx.raw_constant(vec![], 0, vec![1]),
        Keep::Node(n) => Ok(n),
        Keep::Const(shape, values) => cx.raw_constant(shape, 0, values),
    }
}

/// The keep flags as a 0/1 node at scale 0 of exactly `shape` (ones when everything is kept).
pub(crate) fn keep_for_shape(cx: &mut Lowering<'_>, keep: Keep, shape: &[usize]) -> Result<usize> {
    match keep {
        Keep::All => {
            let n = shape.iter().product();
            cx.raw_constant(shape.to_vec(), 0, vec![1; n])
        }
        other => {
            let k = keep_node(cx, other)?;
            if cx.shape(k) == shape {
                return Ok(k);
            }
            cx.push(
                Op::Expand {
                    shape: shape.to_vec(),
                },
                &[k],
            )
        }
    }
}

/// Positions kept by both: the product of the flags.
pub(crate) fn both(cx: &mut Lowering<'_>, a: Keep, b: Keep) -> Result<Keep> {
    Ok(match (a, b) {
        (Keep::All, k) | (k, Keep::All) => k,
        (a, b) => {
            let (a, b) = (keep_node(cx, a)?, keep_node(cx, b)?);
            Keep::Node(cx.push(Op::Mul, &[a, b])?)
        }
    })
}

/// The mask built by `t * m`, where `m` holds only mask values and `t` is a runtime value that
/// is never negative: positions with `t = 0` are kept (the product is 0 there), all others are
/// masked. A `t` that could be negative would give `+inf` and is refused.
pub(crate) fn mask_from_product(
    cx: &mut Lowering<'_>,
    t: usize,
    m: &Data,
) -> Result<super::Masked> {
    if !m.values.iter().all(|&v| is_mask_value(v)) {
        return Err(NodeError::Quantization(
            "a product of a runtime value and a constant that mixes mask values (-inf, \
             finfo.min) with finite ones"
                .into(),
        ));
    }
    if !super::nonnegative(cx, t) {
        return Err(NodeError::Quantization(
            "an attention mask is built as value * finfo.min from a value that may be negative \
             (it would be +inf there); give the mask input the domain [0, 1]"
                .into(),
        ));
    }
    let zero = cx.raw_constant(vec![], cx.scale(t), vec![0])?;
    let keep = if cx.scale(t) == 0 && cx.bound(t) <= 1 {
        let one = cx.raw_constant(vec![], 0, vec![1])?;
        cx.push(Op::Sub, &[one, t])?
    } else {
        cx.push(Op::Compare(CompareOp::Eq), &[t, zero])?
    };
    // Bring the keep flags to the product's broadcast shape.
    let shape = zkml_ir::tensor::broadcast_shapes(&cx.shape(keep), m.shape()).ok_or_else(|| {
        NodeError::Invalid(format!(
            "shapes {:?} and {:?} do not broadcast",
            cx.shape(keep),
            m.shape()
        ))
    })?;
    let keep = if cx.shape(keep) != shape {
        cx.push(
            Op::Expand {
                shape: shape.clone(),
            },
            &[keep],
        )?
    } else {
        keep
    };
    let n = shape.iter().product();
    let value = cx.raw_constant(shape, 0, vec![0; n])?;
    Ok(super::Masked {
        value,
        keep,
        infinite: m.values.iter().any(|&v| v == f64::NEG_INFINITY),
    })
}

//! Static bounds: the largest magnitude each node can produce, whatever the inputs.
//!
//! Range-checked ops (inputs, rescale, division, square root) are bounded by the value range
//! itself, which the evaluator enforces. Every other op's bound follows from its inputs' bounds,
//! so the whole program is known to stay far inside the field (and `i64`) before it runs.

use crate::op::Op;
use crate::program::{Node, Program};
use crate::rounding::isqrt;
use crate::structure::{for_each_product, for_each_window_member};
use crate::tensor::numel;

/// How parameters (constants marked `param`) enter the bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamBounds {
    /// Their exact values are known (parameters fixed in the circuit).
    Exact,
    /// Only their envelope is known: each value lies in `[-2^(b-1), 2^(b-1))` with
    /// `b = `[`param_envelope_bits`]`(max |v|)` (parameters that are witnesses of a proof).
    Envelope,
}

/// Bits of the signed envelope of a parameter tensor whose largest magnitude is `max_abs`: the
/// smallest `b` with `max_abs < 2^(b-1)`.
pub fn param_envelope_bits(max_abs: u64) -> u32 {
    (u64::BITS - max_abs.leading_zeros()) + 1
}

/// The static bound of `node`, whose inputs are `ins` (with bounds `in_bounds`) and whose output
/// shape is `shape`.
pub(crate) fn node_bound(
    program: &Program,
    node: &Node,
    ins: &[&Node],
    in_bounds: &[u64],
    shape: &[usize],
    params: ParamBounds,
) -> Result<u64, String> {
    let limit = 1u64 << (program.value_bits - 1);
    let b = |i: usize| u128::from(in_bounds[i]);
    let widest = || in_bounds.iter().copied().max().unwrap_or(0);
    let wide: u128 = match &node.op {
        Op::Input { domain, .. } => match domain.admitted() {
            None => u128::from(limit),
            Some((lo, hi)) => u128::from(lo.unsigned_abs().max(hi.unsigned_abs())),
        },
        Op::Const {
            values,
            param: true,
        } if params == ParamBounds::Envelope => {
            let exact = values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
            1u128 << (param_envelope_bits(exact) - 1)
        }
        Op::Const { values, .. } => {
            if values.len() != numel(shape) {
                return Err(format!("holds {} values for shape {shape:?}", values.len()));
            }
            values
                .iter()
                .map(|v| u128::from(v.unsigned_abs()))
                .max()
                .unwrap_or(0)
        }
        Op::Add | Op::Sub => b(0) + b(1),
        Op::Neg | Op::Relu | Op::Abs => b(0),
        Op::Mul => b(0) * b(1),
        Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => {
            product_bound(&node.op, ins, in_bounds, shape, params)
        }
        Op::SumPool(_) | Op::ReduceSum(_) => {
            let mut count = vec![0u128; numel(shape)];
            for_each_window_member(&node.op, &ins[0].shape, shape, |o, _| count[o] += 1);
            count.into_iter().max().unwrap_or(0) * b(0)
        }
        Op::Rescale { shift } => ((b(0) >> shift) + 1).min(u128::from(limit)),
        Op::Div { .. } => u128::from(limit),
        Op::Sqrt { shift } => {
            // b(0) < 2^64, so shifts below 60 stay inside i128.
            let v = if *shift < 60 {
                (b(0) << shift) as i128
            } else {
                i128::MAX
            };
            (isqrt(v).unwrap_or(i64::MAX) as u128 + 1).min(u128::from(limit))
        }
        Op::Clip { min, max } => {
            // Clipping is monotone: the output range is the clipped input range.
            let x = i128::from(in_bounds[0]);
            let clip = |v: i128| {
                let v = min.map_or(v, |lo| v.max(i128::from(lo)));
                max.map_or(v, |hi| v.min(i128::from(hi)))
            };
            clip(-x).unsigned_abs().max(clip(x).unsigned_abs())
        }
        Op::Max | Op::Min | Op::ReduceMax(_) | Op::MaxPool(_) => u128::from(widest()),
        Op::ArgMax { axis, .. } => ins[0].shape[*axis].saturating_sub(1) as u128,
        Op::Compare(_) => 1,
        Op::Where => b(1).max(b(2)),
        Op::Take { .. } => b(0),
        Op::Lookup { table } => u128::from(program.tables[*table].max_abs_output()),
        Op::Pad(spec) => {
            let fill = match spec.mode {
                crate::op::PadMode::Constant(v) => v.unsigned_abs(),
                _ => 0,
            };
            u128::from(widest().max(fill))
        }
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather { .. }
        | Op::Tile { .. }
        | Op::Expand { .. } => u128::from(widest()),
    };
    Ok(u64::try_from(wide).unwrap_or(u64::MAX))
}

/// Bound of a product op: per output, the sum over its terms of `|a| * |b|`, using the exact
/// values of an operand when it is a constant known to the circuit.
fn product_bound(
    op: &Op,
    ins: &[&Node],
    in_bounds: &[u64],
    shape: &[usize],
    params: ParamBounds,
) -> u128 {
    let (a, w) = (ins[0], ins[1]);
    let abs = |k: usize, i: usize| -> u128 {
        match &ins[k].op {
            Op::Const { values, param } if !*param || params == ParamBounds::Exact => {
                u128::from(values[i].unsigned_abs())
            }
            _ => u128::from(in_bounds[k]),
        }
    };
    let mut acc = vec![0u128; numel(shape)];
    for_each_product(op, &a.shape, &w.shape, shape, |o, ia, ib| {
        acc[o] = acc[o].saturating_add(abs(0, ia).saturating_mul(abs(1, ib)));
    });
    let bias = in_bounds.get(2).map_or(0, |&b| u128::from(b));
    acc.into_iter().max().unwrap_or(0).saturating_add(bias)
}

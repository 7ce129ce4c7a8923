//! The integer reference evaluator: the oracle every proof backend must match exactly.
//!
//! Semantics per op (all integer, no floating point; `B = value_bits`, `L = 2^(B-1)`):
//!
//! | op | result |
//! |---|---|
//! | `Input` | the supplied integers; each must lie in `[-L, L)` (integer and boolean inputs: in their domain) |
//! | `Add`, `Sub`, `Neg`, `Mul` | exact, with numpy broadcasting |
//! | `MatMul`, `Conv`, `ConvTranspose` | exact sums of products (+ bias), see [`crate::structure`] |
//! | `SumPool`, `ReduceSum` | exact sums over the window / axes |
//! | `Rescale{s}` | `floor((x + 2^(s-1)) / 2^s)`; must lie in `[-L, L)` |
//! | `Div{s}` | `floor((a * 2^(s+1) + b) / 2b)`, `b > 0`; must lie in `[-L, L)` |
//! | `Sqrt{s}` | `floor(sqrt(x * 2^s))`, `x >= 0`; must lie in `[-L, L)` |
//! | `Relu`, `Abs`, `Clip`, `Max`, `Min` | exact |
//! | `ReduceMax`, `MaxPool` | maximum over the window / axes (padding ignored) |
//! | `ArgMax` | index of the first (or last) maximum |
//! | `Lookup{t}` | `table[t].values[x - lo]`; `x` must lie in the table's domain |
//! | `Compare(op)` | 1 where `a op b` holds, else 0 |
//! | `Where` | `a` where `cond` is 1, `b` where it is 0; any other condition value is an error |
//! | `Take{axis}` | `data` picked along `axis` by runtime indices, each in `[0, dim)` |
//! | data movement | copies (constant padding inserts its constant) |
//!
//! Any violation is an [`EvalError`] naming the node; nothing wraps or saturates silently.

use crate::error::EvalError;
use crate::op::Op;
use crate::program::{Node, Program};
use crate::rounding::{div_round, isqrt, rescale};
use crate::structure::{
    bias_index, for_each_product, for_each_take, for_each_window_member, movement_sources, Source,
};
use crate::tensor::{numel, BroadcastMap, Tensor};

/// The value of every node after a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// `values[i]` is node `i`'s output.
    pub values: Vec<Tensor>,
    outputs: Vec<usize>,
}

impl Trace {
    /// The program outputs, in order.
    pub fn outputs(&self) -> Vec<&Tensor> {
        self.outputs.iter().map(|&o| &self.values[o]).collect()
    }
}

/// Runs `program` on integer `inputs` (one tensor per program input).
pub fn evaluate(program: &Program, inputs: &[Tensor]) -> Result<Trace, EvalError> {
    if inputs.len() != program.inputs.len() {
        return Err(EvalError::WrongInputCount {
            expected: program.inputs.len(),
            got: inputs.len(),
        });
    }
    let mut values: Vec<Tensor> = Vec::with_capacity(program.nodes.len());
    for (id, node) in program.nodes.iter().enumerate() {
        let ins: Vec<&Tensor> = node.inputs.iter().map(|&j| &values[j]).collect();
        let out = eval_node(program, id, node, &ins, inputs)?;
        debug_assert_eq!(out.shape(), node.shape.as_slice());
        values.push(out);
    }
    Ok(Trace {
        values,
        outputs: program.outputs.clone(),
    })
}

/// Evaluates the nodes that read constants only (directly or through other such nodes):
/// their values are the same for every input, so an error there (a zero divisor, the square
/// root of a negative constant, a constant leaving the value range) means the program is
/// undefined on every input. Constants themselves are only read, never copied, unless such a
/// node reads them.
pub(crate) fn check_constant_nodes(program: &Program) -> Result<(), EvalError> {
    let mut constant = vec![false; program.nodes.len()];
    let mut values: std::collections::HashMap<usize, Tensor> = std::collections::HashMap::new();
    for (id, node) in program.nodes.iter().enumerate() {
        match node.op {
            Op::Input { .. } => continue,
            Op::Const { .. } => {
                constant[id] = true;
                continue;
            }
            _ => {}
        }
        if !node.inputs.iter().all(|&j| constant[j]) {
            continue;
        }
        constant[id] = true;
        for &j in &node.inputs {
            // Only constants are missing: other constant-only nodes were stored below.
            if let std::collections::hash_map::Entry::Vacant(e) = values.entry(j) {
                e.insert(eval_node(program, j, &program.nodes[j], &[], &[])?);
            }
        }
        let ins: Vec<&Tensor> = node.inputs.iter().map(|j| &values[j]).collect();
        let out = eval_node(program, id, node, &ins, &[])?;
        values.insert(id, out);
    }
    Ok(())
}

fn eval_node(
    program: &Program,
    id: usize,
    node: &Node,
    ins: &[&Tensor],
    inputs: &[Tensor],
) -> Result<Tensor, EvalError> {
    let shape = node.shape.clone();
    let limit = program.value_limit();
    let range_checked = |data: Vec<i64>| -> Result<Tensor, EvalError> {
        if let Some(&value) = data.iter().find(|&&v| v < -limit || v >= limit) {
            return Err(EvalError::OutOfRange {
                node: id,
                name: node.name.clone(),
                op: node.op.name(),
                value,
                bits: program.value_bits,
            });
        }
        Ok(Tensor::new(shape.clone(), data).expect("shape checked by validation"))
    };
    let tensor = |data: Vec<i64>| Tensor::new(shape.clone(), data).expect("shape derived");
    Ok(match &node.op {
        Op::Input { index, domain } => {
            let x = &inputs[*index];
            if x.shape() != shape.as_slice() {
                return Err(EvalError::WrongInputShape {
                    index: *index,
                    name: node.name.clone(),
                    expected: shape,
                    got: x.shape().to_vec(),
                });
            }
            if let Some((lo, hi)) = domain.admitted() {
                if let Some((position, &value)) =
                    x.data().iter().enumerate().find(|(_, &v)| v < lo || v > hi)
                {
                    return Err(EvalError::OutsideInputDomain {
                        index: *index,
                        name: node.name.clone(),
                        position,
                        value,
                        domain: domain.describe(),
                    });
                }
            }
            range_checked(x.data().to_vec())?
        }
        Op::Const { values, .. } => tensor(values.clone()),
        Op::Add => tensor(binary(ins, &shape, |a, b| a + b)),
        Op::Sub => tensor(binary(ins, &shape, |a, b| a - b)),
        Op::Mul => tensor(binary(ins, &shape, |a, b| a * b)),
        Op::Max => tensor(binary(ins, &shape, i64::max)),
        Op::Compare(cmp) => tensor(binary(ins, &shape, |a, b| i64::from(cmp.holds(a, b)))),
        Op::Where => {
            let maps: Vec<BroadcastMap> = ins
                .iter()
                .map(|t| BroadcastMap::new(t.shape(), &shape))
                .collect();
            let mut data = Vec::with_capacity(numel(&shape));
            for o in 0..numel(&shape) {
                let at = |k: usize| ins[k].data()[maps[k].index(o)];
                data.push(match at(0) {
                    1 => at(1),
                    0 => at(2),
                    value => {
                        return Err(EvalError::NotBoolean {
                            node: id,
                            name: node.name.clone(),
                            value,
                        })
                    }
                });
            }
            tensor(data)
        }
        Op::Take { axis } => {
            let (x, idx) = (ins[0], ins[1]);
            let dim = x.shape()[*axis];
            if let Some(&value) = idx.data().iter().find(|&&i| i < 0 || i >= dim as i64) {
                return Err(EvalError::IndexOutOfRange {
                    node: id,
                    name: node.name.clone(),
                    value,
                    dim,
                });
            }
            let mut data = Vec::with_capacity(numel(&shape));
            for_each_take(*axis, x.shape(), idx.shape(), |position, base, stride| {
                data.push(x.data()[base + stride * idx.data()[position] as usize]);
            });
            tensor(data)
        }
        Op::Min => tensor(binary(ins, &shape, i64::min)),
        Op::Neg => tensor(ins[0].data().iter().map(|v| -v).collect()),
        Op::Relu => tensor(ins[0].data().iter().map(|&v| v.max(0)).collect()),
        Op::Abs => tensor(ins[0].data().iter().map(|v| v.abs()).collect()),
        Op::Clip { min, max } => tensor(
            ins[0]
                .data()
                .iter()
                .map(|&v| {
                    let v = min.map_or(v, |lo| v.max(lo));
                    max.map_or(v, |hi| v.min(hi))
                })
                .collect(),
        ),
        Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => {
            let (a, b) = (ins[0], ins[1]);
            let mut acc = vec![0i64; numel(&shape)];
            for_each_product(&node.op, a.shape(), b.shape(), &shape, |o, ia, ib| {
                acc[o] += a.data()[ia] * b.data()[ib];
            });
            if let Some(bias) = ins.get(2) {
                for (o, v) in acc.iter_mut().enumerate() {
                    *v += bias.data()[bias_index(&node.op, bias.shape(), &shape, o)];
                }
            }
            tensor(acc)
        }
        Op::SumPool(_) | Op::ReduceSum(_) => {
            let x = ins[0];
            let mut acc = vec![0i64; numel(&shape)];
            for_each_window_member(&node.op, x.shape(), &shape, |o, i| acc[o] += x.data()[i]);
            tensor(acc)
        }
        Op::ReduceMax(_) | Op::MaxPool(_) => {
            let x = ins[0];
            let mut acc: Vec<Option<i64>> = vec![None; numel(&shape)];
            for_each_window_member(&node.op, x.shape(), &shape, |o, i| {
                let v = x.data()[i];
                acc[o] = Some(acc[o].map_or(v, |m| m.max(v)));
            });
            let data: Option<Vec<i64>> = acc.into_iter().collect();
            tensor(data.ok_or_else(|| EvalError::EmptyWindow {
                node: id,
                name: node.name.clone(),
            })?)
        }
        Op::ArgMax {
            axis,
            select_last_index,
            ..
        } => {
            let x = ins[0];
            let dim = x.shape()[*axis];
            let stride: usize = x.shape()[axis + 1..].iter().product();
            let mut best: Vec<Option<(i64, i64)>> = vec![None; numel(&shape)];
            for_each_window_member(&node.op, x.shape(), &shape, |o, i| {
                let v = x.data()[i];
                let pos = ((i / stride) % dim) as i64;
                let better = match best[o] {
                    None => true,
                    Some((m, _)) => v > m || (*select_last_index && v == m),
                };
                if better {
                    best[o] = Some((v, pos));
                }
            });
            tensor(best.into_iter().map(|b| b.map_or(0, |(_, p)| p)).collect())
        }
        Op::Rescale { shift } => {
            range_checked(ins[0].data().iter().map(|&v| rescale(v, *shift)).collect())?
        }
        Op::Div { shift } => {
            let map_a = BroadcastMap::new(ins[0].shape(), &shape);
            let map_b = BroadcastMap::new(ins[1].shape(), &shape);
            let mut data = Vec::with_capacity(numel(&shape));
            for o in 0..numel(&shape) {
                let a = ins[0].data()[map_a.index(o)];
                let b = ins[1].data()[map_b.index(o)];
                let q = div_round(a, b, *shift).ok_or_else(|| EvalError::NonPositiveDivisor {
                    node: id,
                    name: node.name.clone(),
                    value: b,
                })?;
                data.push(q);
            }
            range_checked(data)?
        }
        Op::Sqrt { shift } => {
            let mut data = Vec::with_capacity(ins[0].len());
            for &v in ins[0].data() {
                let root =
                    isqrt(i128::from(v) << shift).ok_or_else(|| EvalError::NegativeSqrt {
                        node: id,
                        name: node.name.clone(),
                        value: v,
                    })?;
                data.push(root);
            }
            range_checked(data)?
        }
        Op::Lookup { table } => {
            let t = &program.tables[*table];
            let mut data = Vec::with_capacity(ins[0].len());
            for &v in ins[0].data() {
                data.push(t.get(v).ok_or_else(|| EvalError::OutsideTableDomain {
                    node: id,
                    name: node.name.clone(),
                    table: *table,
                    function: t.function.describe(),
                    value: v,
                    lo: t.lo,
                    hi: t.hi(),
                })?);
            }
            tensor(data)
        }
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather { .. }
        | Op::Pad(_)
        | Op::Tile { .. }
        | Op::Expand { .. } => {
            let shapes: Vec<&[usize]> = ins.iter().map(|t| t.shape()).collect();
            let data = movement_sources(&node.op, &shapes, &shape)
                .into_iter()
                .map(|s| match s {
                    Source::Input { input, index } => ins[input].data()[index],
                    Source::Const(v) => v,
                })
                .collect();
            tensor(data)
        }
    })
}

fn binary(ins: &[&Tensor], shape: &[usize], f: impl Fn(i64, i64) -> i64) -> Vec<i64> {
    let (a, b) = (ins[0], ins[1]);
    if a.shape() == shape && b.shape() == shape {
        return a
            .data()
            .iter()
            .zip(b.data())
            .map(|(&x, &y)| f(x, y))
            .collect();
    }
    let ma = BroadcastMap::new(a.shape(), shape);
    let mb = BroadcastMap::new(b.shape(), shape);
    (0..numel(shape))
        .map(|o| f(a.data()[ma.index(o)], b.data()[mb.index(o)]))
        .collect()
}

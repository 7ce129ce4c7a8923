//! The integer program as R1CS: one lowering per op, with the circuits' semantics.
//!
//! A tensor element is a *signal*: a linear combination of variables with its integer value.
//! Constant weights multiply signals for free (a linear combination), so additions, constant
//! products, matrix products and convolutions with fixed weights, sums and data movement cost
//! no constraint. What costs one constraint each: a product of two signals, and binding a
//! public value. Range checks are bit decompositions (`n` booleans and one recomposition:
//! `n + 1` constraints for `0 <= v < 2^n`), from which everything else follows:
//!
//! | op | constraints per element |
//! |---|---|
//! | input (`B` value bits) | `B + 1` |
//! | `Rescale{s}` | quotient `B + 1`, remainder `s + 1` |
//! | ReLU, `|x|` | decision bit 1, product 1, sign `bits(bound) + 1` |
//! | max, min, clip bound | decision bit 1, product 1, difference `bits(diff) + 1` |
//! | `Div`, `Sqrt` | product 1, two remainders and the quotient range-checked |
//! | lookup (table of `T` entries) | `T + 2` up to 64 entries; about `3 sqrt(T) + log T` beyond |
//! | `Take` (axis of length `d`) | one-hot `d + 2` per index; runtime data `d` products |
//! | product of signals | 1 per multiply |
//!
//! A lookup into a table of up to 64 entries is a one-hot selector vector: `T` booleans,
//! exactly one set (`sum b_t = 1`) at the looked-up input (`sum (lo + t) b_t = x`), and the
//! output `sum table[t] b_t` a free linear combination. A larger table is split into rows of
//! about `sqrt(T)` entries, with one selector vector for the row and one for the column, at
//! about `3 sqrt(T) + log T` constraints (see `ops::lookup`). Both are exact for any table.

use zkml_ir::structure::{
    bias_index, for_each_product, for_each_window_member, movement_sources, Source,
};
use zkml_ir::tensor::{numel, BroadcastMap};
use zkml_ir::{CompareOp, Op, Program, Trace};

use zkml_circuits::visibility::{parameter_envelope, public_parts, PublicPart, ValueClass};
use zkml_circuits::{ParamVisibility, Visibility, VisibilityConfig};

use crate::builder::{Builder, Sig};
use crate::hash::{hash_values, publish};
use crate::ops::{argmax, divide, lookup, rescale, sqrt, take};
use crate::r1cs::{Assignment, R1cs, Var};
use crate::Groth16Error;

/// Per-node constraint counts of a compiled program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Costs {
    /// Constraints added by each node (inputs include their range checks; outputs their
    /// binding to public values, counted on the output node).
    pub per_node: Vec<usize>,
}

/// A program compiled to R1CS, with the assignment when a trace was given.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The constraint system.
    pub r1cs: R1cs,
    /// The assignment (with a trace).
    pub assignment: Option<Assignment>,
    /// Constraints per node.
    pub costs: Costs,
}

/// Compiles `program` to R1CS with public inputs and outputs; with a trace, also its
/// assignment. Public instance: every input element, then every output element, in program
/// order.
pub fn compile(program: &Program, trace: Option<&Trace>) -> Result<Compiled, Groth16Error> {
    compile_with(program, trace, VisibilityConfig::default())
}

/// Compiles `program` to R1CS with inputs and outputs public, private or hashed and
/// parameters fixed, private or hashed; with a trace, also its assignment. The public instance
/// is `zkml_circuits::visibility::public_parts`' (the halo2 circuits' order and hashing: a hash
/// means the same in both backends).
///
/// Fixed parameters are constants of the constraints, so products with them are free. Private
/// and hashed parameters are witnesses, each range-checked to its signed envelope (the bounds
/// every later range check relies on are then the envelope's, as in the circuits), and every
/// product with one costs a constraint.
pub fn compile_with(
    program: &Program,
    trace: Option<&Trace>,
    visibility: VisibilityConfig,
) -> Result<Compiled, Groth16Error> {
    let parts =
        public_parts(program, visibility).map_err(|e| Groth16Error::Program(e.to_string()))?;
    if parts.iter().any(|p| matches!(p, PublicPart::Link { .. })) {
        return Err(Groth16Error::Program(
            "linked segments are proven with halo2; the Groth16 backend proves whole programs"
                .into(),
        ));
    }
    if let Some(t) = trace {
        if t.values.len() != program.nodes.len() {
            return Err(Groth16Error::Witness(format!(
                "the trace has {} values for {} nodes",
                t.values.len(),
                program.nodes.len()
            )));
        }
    }
    let bounds = program
        .bounds_with(visibility.param_bounds())
        .map_err(|e| Groth16Error::Program(e.to_string()))?;
    let mut b = Builder {
        r1cs: R1cs::default(),
        instance: Vec::new(),
        witness: Vec::new(),
        bits: program.value_bits,
        public_inputs: visibility.inputs == Visibility::Public,
        witness_params: visibility.params != ParamVisibility::Fixed,
    };
    let mut input_instances: Vec<Vec<u32>> = vec![Vec::new(); program.nodes.len()];
    let mut sigs: Vec<Vec<Sig>> = Vec::with_capacity(program.nodes.len());
    let mut costs = Costs::default();
    for (id, node) in program.nodes.iter().enumerate() {
        let before = b.r1cs.constraints.len();
        let first_instance = b.r1cs.num_instance as u32;
        let out = lower(&mut b, program, trace, &bounds, id, &sigs).map_err(|reason| {
            Groth16Error::Unsupported {
                node: id,
                name: node.name.clone(),
                op: node.op.name(),
                reason,
            }
        })?;
        if let Some(t) = trace {
            let expected = t.values[id].data();
            if let Some(i) = (0..out.len()).find(|&i| out[i].val != i128::from(expected[i])) {
                return Err(Groth16Error::Witness(format!(
                    "node {id} ('{}') element {i}: the R1CS witness is {} where the evaluator \
                     computed {}",
                    node.name, out[i].val, expected[i]
                )));
            }
        }
        costs.per_node.push(b.r1cs.constraints.len() - before);
        input_instances[id] = (first_instance..b.r1cs.num_instance as u32).collect();
        sigs.push(out);
    }
    // The public instance, part by part: input values are instance variables already; output
    // values and hashes get theirs here. `order` lists the variables in instance order.
    let mut order: Vec<u32> = Vec::with_capacity(b.r1cs.num_instance);
    for part in &parts {
        match part {
            PublicPart::Values {
                class: ValueClass::Inputs,
                node,
            } => order.extend(&input_instances[*node]),
            PublicPart::Values { node, .. } => {
                let before = b.r1cs.constraints.len();
                for s in sigs[*node].clone() {
                    let inst = b.instance(s.val);
                    order.push(b.r1cs.num_instance as u32 - 1);
                    b.enforce(&s.terms, &[(Var::One, 1)], &inst.terms);
                }
                costs.per_node[*node] += b.r1cs.constraints.len() - before;
            }
            PublicPart::Hash { tensors, .. } => {
                let before = b.r1cs.constraints.len();
                let values: Vec<(&Sig, u32)> = tensors
                    .iter()
                    .flat_map(|t| sigs[t.node].iter().map(move |s| (s, t.bits)))
                    .collect();
                let h = hash_values(&mut b, &values);
                publish(&mut b, &h);
                order.push(b.r1cs.num_instance as u32 - 1);
                if let Some(t) = tensors.first() {
                    costs.per_node[t.node] += b.r1cs.constraints.len() - before;
                }
            }
            PublicPart::Link { .. } => unreachable!("refused above"),
        }
    }
    reorder_instance(&mut b, &order)?;
    let assignment = trace.map(|_| Assignment {
        instance: b.instance.clone(),
        witness: b.witness.clone(),
    });
    Ok(Compiled {
        r1cs: b.r1cs,
        assignment,
        costs,
    })
}

/// Renumbers the instance variables so that variable `order[k]` becomes the `k`-th.
fn reorder_instance(b: &mut Builder, order: &[u32]) -> Result<(), Groth16Error> {
    let n = b.r1cs.num_instance;
    let mut new_index = vec![u32::MAX; n];
    for (k, &old) in order.iter().enumerate() {
        match new_index.get_mut(old as usize) {
            Some(slot) if *slot == u32::MAX => *slot = k as u32,
            _ => {
                return Err(Groth16Error::Program(format!(
                    "instance variable {old} is listed twice or does not exist"
                )))
            }
        }
    }
    if order.len() != n {
        return Err(Groth16Error::Program(format!(
            "{} of {n} instance variables are public parts",
            order.len()
        )));
    }
    if new_index.iter().enumerate().all(|(i, &k)| i as u32 == k) {
        return Ok(());
    }
    for k in &mut b.r1cs.constraints {
        for lc in [&mut k.a, &mut k.b, &mut k.c] {
            for (v, _) in lc.iter_mut() {
                if let Var::Instance(i) = v {
                    *i = new_index[*i as usize];
                }
            }
            lc.sort_by_key(|t| t.0);
        }
    }
    b.instance = order.iter().map(|&old| b.instance[old as usize]).collect();
    Ok(())
}

fn node_values(trace: Option<&Trace>, id: usize, n: usize) -> Vec<i128> {
    match trace {
        Some(t) => t.values[id].data().iter().map(|&v| i128::from(v)).collect(),
        None => vec![0; n],
    }
}

fn lower(
    b: &mut Builder,
    program: &Program,
    trace: Option<&Trace>,
    bounds: &[u64],
    id: usize,
    sigs: &[Vec<Sig>],
) -> Result<Vec<Sig>, String> {
    let node = &program.nodes[id];
    let ins: Vec<&[Sig]> = node.inputs.iter().map(|&i| sigs[i].as_slice()).collect();
    let in_shapes: Vec<&[usize]> = node
        .inputs
        .iter()
        .map(|&i| program.nodes[i].shape.as_slice())
        .collect();
    let in_bound = |k: usize| bounds[node.inputs[k]];
    let shape = node.shape.as_slice();
    let n = numel(shape);
    let bits = b.bits;
    let pairs = |k0: usize, k1: usize| -> Vec<(Sig, Sig)> {
        let ma = BroadcastMap::new(in_shapes[k0], shape);
        let mb = BroadcastMap::new(in_shapes[k1], shape);
        (0..n)
            .map(|o| (ins[k0][ma.index(o)].clone(), ins[k1][mb.index(o)].clone()))
            .collect()
    };
    Ok(match &node.op {
        Op::Input { domain, .. } => node_values(trace, id, n)
            .into_iter()
            .map(|v| {
                let s = if b.public_inputs {
                    b.instance(v)
                } else {
                    b.witness(v)
                };
                match domain.admitted() {
                    // A bounded input as wide as the value range is checked as a real one.
                    Some((lo, hi)) if hi < program.value_limit() => b.bounded(&s, lo, hi),
                    _ => b.signed(&s, bits),
                }
                s
            })
            .collect(),
        Op::Const { values, param } if *param && b.witness_params => {
            let envelope = parameter_envelope(program, id);
            values
                .iter()
                .map(|&v| {
                    let w = b.witness(if trace.is_some() { i128::from(v) } else { 0 });
                    b.signed(&w, envelope);
                    w
                })
                .collect()
        }
        Op::Const { values, .. } => values
            .iter()
            .map(|&v| Sig::constant(i128::from(v)))
            .collect(),
        Op::Add | Op::Sub => {
            let sign = if node.op == Op::Add { 1 } else { -1 };
            pairs(0, 1)
                .iter()
                .map(|(x, y)| b.lin(&[(x, 1), (y, sign)], 0))
                .collect()
        }
        Op::Neg => ins[0].iter().map(|x| b.lin(&[(x, -1)], 0)).collect(),
        Op::Mul => pairs(0, 1).iter().map(|(x, y)| b.mul(x, y)).collect(),
        Op::Max | Op::Min => {
            let diff = in_bound(0).saturating_add(in_bound(1));
            pairs(0, 1)
                .iter()
                .map(|(x, y)| b.max(x, y, node.op == Op::Min, diff))
                .collect()
        }
        Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => {
            let mut acc: Vec<Sig> = vec![Sig::constant(0); n];
            let mut products: Vec<(usize, usize, usize)> = Vec::new();
            for_each_product(&node.op, in_shapes[0], in_shapes[1], shape, |o, ia, ib| {
                products.push((o, ia, ib))
            });
            for (o, ia, ib) in products {
                let p = b.mul(&ins[0][ia], &ins[1][ib]);
                acc[o].add(&p, 1);
            }
            if let Some(bias) = ins.get(2) {
                for (o, a) in acc.iter_mut().enumerate() {
                    a.add(&bias[bias_index(&node.op, in_shapes[2], shape, o)], 1);
                }
            }
            acc.into_iter().map(|s| b.compact(s.merged())).collect()
        }
        Op::SumPool(_) | Op::ReduceSum(_) => {
            let mut acc: Vec<Sig> = vec![Sig::constant(0); n];
            let mut members = Vec::new();
            for_each_window_member(&node.op, in_shapes[0], shape, |o, i| members.push((o, i)));
            for (o, i) in members {
                acc[o].add(&ins[0][i], 1);
            }
            acc.into_iter().map(|s| b.compact(s.merged())).collect()
        }
        Op::Rescale { shift } => ins[0]
            .iter()
            .map(|x| rescale(b, x, *shift))
            .collect::<Result<_, _>>()?,
        Op::Div { shift } => {
            let b_bound = in_bound(1);
            pairs(0, 1)
                .iter()
                .map(|(x, y)| divide(b, x, y, *shift, b_bound))
                .collect::<Result<_, _>>()?
        }
        Op::Sqrt { shift } => ins[0]
            .iter()
            .map(|v| sqrt(b, v, *shift))
            .collect::<Result<_, _>>()?,
        Op::Relu => ins[0].iter().map(|x| b.relu(x, in_bound(0))).collect(),
        Op::Abs => ins[0].iter().map(|x| b.abs(x, in_bound(0))).collect(),
        Op::Clip { min, max } => {
            let bound = in_bound(0);
            ins[0]
                .iter()
                .map(|x| {
                    let mut y = x.clone();
                    if *min == Some(0) && max.is_none() {
                        return b.relu(x, bound);
                    }
                    if let Some(lo) = min {
                        let c = Sig::constant(i128::from(*lo));
                        y = b.max(&y, &c, false, bound.saturating_add(lo.unsigned_abs()));
                    }
                    if let Some(hi) = max {
                        let c = Sig::constant(i128::from(*hi));
                        let diff = bound
                            .max(min.map_or(0, |v| v.unsigned_abs()))
                            .saturating_add(hi.unsigned_abs());
                        y = b.max(&y, &c, true, diff);
                    }
                    y
                })
                .collect()
        }
        Op::ReduceMax(_) | Op::MaxPool(_) => {
            let mut windows: Vec<Vec<Sig>> = vec![Vec::new(); n];
            for_each_window_member(&node.op, in_shapes[0], shape, |o, i| {
                windows[o].push(ins[0][i].clone())
            });
            let diff = in_bound(0).saturating_mul(2);
            windows
                .into_iter()
                .map(|w| {
                    let mut it = w.into_iter();
                    let first = it.next().expect("windows are non-empty");
                    it.fold(first, |m, x| b.max(&m, &x, false, diff))
                })
                .collect()
        }
        Op::ArgMax {
            select_last_index, ..
        } => {
            let mut windows: Vec<Vec<Sig>> = vec![Vec::new(); n];
            for_each_window_member(&node.op, in_shapes[0], shape, |o, i| {
                windows[o].push(ins[0][i].clone())
            });
            let diff = in_bound(0).saturating_mul(2);
            windows
                .into_iter()
                .map(|w| argmax(b, &w, *select_last_index, diff))
                .collect()
        }
        Op::Lookup { table } => {
            let t = &program.tables[*table];
            ins[0]
                .iter()
                .map(|x| {
                    if let Some(c) = x.as_const() {
                        return t
                            .get(c as i64)
                            .map(|y| Sig::constant(i128::from(y)))
                            .ok_or_else(|| format!("constant {c} is outside the table domain"));
                    }
                    Ok(lookup(b, x, t.lo, &t.values))
                })
                .collect::<Result<_, String>>()?
        }
        Op::Compare(cmp) => {
            let diff = in_bound(0).saturating_add(in_bound(1));
            pairs(0, 1)
                .iter()
                .map(|(x, y)| match cmp {
                    CompareOp::Gt => b.compare(x, y, true, diff),
                    CompareOp::Ge => b.compare(x, y, false, diff),
                    CompareOp::Lt => b.compare(y, x, true, diff),
                    CompareOp::Le => b.compare(y, x, false, diff),
                    CompareOp::Eq => {
                        let ge = b.compare(x, y, false, diff);
                        let gt = b.compare(x, y, true, diff);
                        b.lin(&[(&ge, 1), (&gt, -1)], 0)
                    }
                })
                .collect()
        }
        Op::Where => {
            let maps: Vec<BroadcastMap> = in_shapes
                .iter()
                .map(|s| BroadcastMap::new(s, shape))
                .collect();
            (0..n)
                .map(|o| {
                    let c = &ins[0][maps[0].index(o)];
                    let x = &ins[1][maps[1].index(o)];
                    let y = &ins[2][maps[2].index(o)];
                    match c.as_const() {
                        Some(1) => Ok(x.clone()),
                        Some(0) => Ok(y.clone()),
                        Some(v) => Err(format!("constant condition {v} is not 0 or 1")),
                        None => {
                            b.enforce_boolean(c);
                            let d = b.lin(&[(x, 1), (y, -1)], 0);
                            let m = b.mul(c, &d);
                            Ok(b.lin(&[(y, 1), (&m, 1)], 0))
                        }
                    }
                })
                .collect::<Result<_, String>>()?
        }
        Op::Take { axis } => take(b, *axis, in_shapes[0], in_shapes[1], ins[0], ins[1])?,
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather { .. }
        | Op::Pad(_)
        | Op::Tile { .. }
        | Op::Expand { .. } => movement_sources(&node.op, &in_shapes, shape)
            .into_iter()
            .map(|s| match s {
                Source::Input { input, index } => ins[input][index].clone(),
                Source::Const(v) => Sig::constant(i128::from(v)),
            })
            .collect(),
    })
}

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
//! about `3 sqrt(T) + log T` constraints (see `lookup` below). Both are exact for any table.

use zkml_ir::structure::{
    bias_index, for_each_product, for_each_take, for_each_window_member, movement_sources, Source,
};
use zkml_ir::tensor::{numel, BroadcastMap};
use zkml_ir::{CompareOp, Op, ParamBounds, Program, Trace};

use crate::r1cs::{field, Assignment, Constraint, Lc, R1cs, Var};
use crate::Groth16Error;

/// A linear combination with the integer it evaluates to (0 without a trace).
#[derive(Clone, Debug)]
pub(crate) struct Sig {
    pub terms: Vec<(Var, i128)>,
    pub val: i128,
}

impl Sig {
    fn constant(v: i128) -> Self {
        Self {
            terms: if v == 0 { vec![] } else { vec![(Var::One, v)] },
            val: v,
        }
    }

    fn var(v: Var, val: i128) -> Self {
        Self {
            terms: vec![(v, 1)],
            val,
        }
    }

    /// Adds `c * s` in place.
    fn add(&mut self, s: &Sig, c: i128) {
        self.terms.extend(s.terms.iter().map(|&(v, k)| (v, k * c)));
        self.val += s.val * c;
    }

    /// The same signal with each variable once.
    fn merged(mut self) -> Self {
        self.terms = lc_terms(&self.terms);
        self
    }

    /// The constant this signal is, if it uses no variable.
    fn as_const(&self) -> Option<i128> {
        self.terms
            .iter()
            .all(|(v, _)| *v == Var::One)
            .then_some(self.val)
    }
}

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

struct Builder {
    r1cs: R1cs,
    instance: Vec<i128>,
    witness: Vec<i128>,
    bits: u32,
}

fn lc(terms: &[(Var, i128)]) -> Lc {
    let mut sorted: Vec<(Var, i128)> = terms.to_vec();
    sorted.sort_by_key(|t| t.0);
    let mut out: Lc = Vec::with_capacity(sorted.len());
    let mut last: Option<(Var, i128)> = None;
    for (v, c) in sorted {
        match &mut last {
            Some((lv, lc)) if *lv == v => *lc += c,
            _ => {
                if let Some((lv, lc)) = last.take() {
                    if lc != 0 {
                        out.push((lv, field(lc)));
                    }
                }
                last = Some((v, c));
            }
        }
    }
    if let Some((lv, lc)) = last {
        if lc != 0 {
            out.push((lv, field(lc)));
        }
    }
    out
}

/// Bits needed for values up to `max` (at least 1).
fn bits_for(max: u128) -> u32 {
    (128 - max.leading_zeros()).max(1)
}

impl Builder {
    fn witness(&mut self, val: i128) -> Sig {
        let i = self.r1cs.num_witness as u32;
        self.r1cs.num_witness += 1;
        self.witness.push(val);
        Sig::var(Var::Witness(i), val)
    }

    fn instance(&mut self, val: i128) -> Sig {
        let i = self.r1cs.num_instance as u32;
        self.r1cs.num_instance += 1;
        self.instance.push(val);
        Sig::var(Var::Instance(i), val)
    }

    fn enforce(&mut self, a: &[(Var, i128)], b: &[(Var, i128)], c: &[(Var, i128)]) {
        self.r1cs.constraints.push(Constraint {
            a: lc(a),
            b: lc(b),
            c: lc(c),
        });
    }

    /// `sum coeff * sig + constant`.
    fn lin(&self, terms: &[(&Sig, i128)], constant: i128) -> Sig {
        let mut out = Sig::constant(constant);
        for &(s, c) in terms {
            if c != 0 {
                out.add(s, c);
            }
        }
        if out.terms.len() > 64 {
            out = out.merged();
        }
        out
    }

    /// A signal over at most one variable: long combinations become one witness (one
    /// constraint), so that signals used many times stay sparse.
    fn compact(&mut self, s: Sig) -> Sig {
        if s.terms.len() <= 64 {
            return s;
        }
        let w = self.witness(s.val);
        self.enforce(&s.terms, &[(Var::One, 1)], &w.terms);
        w
    }

    /// `a * b`: a constant factor is free, otherwise one constraint.
    fn mul(&mut self, a: &Sig, b: &Sig) -> Sig {
        if let Some(c) = a.as_const() {
            return self.lin(&[(b, c)], 0);
        }
        if let Some(c) = b.as_const() {
            return self.lin(&[(a, c)], 0);
        }
        let p = self.witness(a.val * b.val);
        self.enforce(&a.terms, &b.terms, &p.terms);
        p
    }

    /// A new witness constrained to 0 or 1.
    fn boolean(&mut self, val: i128) -> Sig {
        let b = self.witness(val);
        self.enforce_boolean(&b);
        b
    }

    fn enforce_boolean(&mut self, b: &Sig) {
        let mut minus_one = b.terms.clone();
        minus_one.push((Var::One, -1));
        self.enforce(&b.terms, &minus_one, &[]);
    }

    /// `0 <= s < 2^n`: `n` bits and their recomposition.
    fn unsigned(&mut self, s: &Sig, n: u32) {
        assert!(n <= 200, "range checks stay far below the field size");
        if let Some(c) = s.as_const() {
            assert!(c >= 0 && c < 1i128 << n, "constant {c} outside {n} bits");
            return;
        }
        let mut sum = Vec::with_capacity(n as usize);
        for i in 0..n {
            let bit = (s.val.max(0) >> i) & 1;
            let b = self.boolean(bit);
            sum.push((b.terms[0].0, 1i128 << i));
        }
        self.enforce(&sum, &[(Var::One, 1)], &s.terms);
    }

    /// `-2^(n-1) <= s < 2^(n-1)`.
    fn signed(&mut self, s: &Sig, n: u32) {
        let shifted = self.lin(&[(s, 1)], 1i128 << (n - 1));
        self.unsigned(&shifted, n);
    }

    /// `lo <= s <= hi`.
    fn bounded(&mut self, s: &Sig, lo: i64, hi: i64) {
        let span = (i128::from(hi) - i128::from(lo)) as u128;
        let n = bits_for(span);
        let low = self.lin(&[(s, 1)], -i128::from(lo));
        self.unsigned(&low, n);
        if span + 1 != 1u128 << n {
            let high = self.lin(&[(s, -1)], i128::from(hi));
            self.unsigned(&high, n);
        }
    }

    /// The decision of `p` against `q` with strictness constants `e1`, `e0` (the circuits'
    /// selection): `b = 1` forces `p - q >= e1`, `b = 0` forces `q - p >= e0`. Returns the
    /// bit and `m = b (p - q)`.
    fn decide(&mut self, p: &Sig, q: &Sig, bit: i128, e1: i128, e0: i128, diff: u64) -> (Sig, Sig) {
        let b = self.boolean(bit);
        let d = self.lin(&[(p, 1), (q, -1)], 0);
        let m = self.mul(&b, &d);
        // t = (2b - 1)(p - q) - b e1 - (1 - b) e0 = 2m - d - b e1 - (1 - b) e0 >= 0
        let t = self.lin(&[(&m, 2), (&d, -1), (&b, e0 - e1)], -e0);
        self.unsigned(&t, bits_for(u128::from(diff) + 1));
        (b, m)
    }

    /// `max(p, q)` (or the minimum).
    fn max(&mut self, p: &Sig, q: &Sig, min: bool, diff: u64) -> Sig {
        if let (Some(a), Some(b)) = (p.as_const(), q.as_const()) {
            return Sig::constant(if min { a.min(b) } else { a.max(b) });
        }
        let (_, m) = self.decide(p, q, i128::from(p.val >= q.val), 0, 0, diff);
        if min {
            self.lin(&[(p, 1), (&m, -1)], 0)
        } else {
            self.lin(&[(q, 1), (&m, 1)], 0)
        }
    }

    /// `max(v, 0)`.
    fn relu(&mut self, v: &Sig, bound: u64) -> Sig {
        if let Some(c) = v.as_const() {
            return Sig::constant(c.max(0));
        }
        let b = self.boolean(i128::from(v.val >= 0));
        let y = self.mul(&b, v);
        // (2b - 1) v = 2y - v >= 0
        let t = self.lin(&[(&y, 2), (v, -1)], 0);
        self.unsigned(&t, bits_for(u128::from(bound)));
        y
    }

    /// `|v|`.
    fn abs(&mut self, v: &Sig, bound: u64) -> Sig {
        if let Some(c) = v.as_const() {
            return Sig::constant(c.abs());
        }
        let b = self.boolean(i128::from(v.val >= 0));
        let y = self.mul(&b, v);
        let t = self.lin(&[(&y, 2), (v, -1)], 0);
        self.unsigned(&t, bits_for(u128::from(bound)));
        t
    }

    /// `[a > b]` (`strict`) or `[a >= b]`, exactly.
    fn compare(&mut self, a: &Sig, b: &Sig, strict: bool, diff: u64) -> Sig {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Sig::constant(i128::from(if strict { x > y } else { x >= y }));
        }
        let holds = if strict {
            a.val > b.val
        } else {
            a.val >= b.val
        };
        let (e1, e0) = if strict { (1, 0) } else { (0, 1) };
        self.decide(a, b, i128::from(holds), e1, e0, diff).0
    }

    /// `dim` selectors, exactly one set, at `position` (which no constraint ties them to: the
    /// caller recomposes them).
    fn one_hot_free(&mut self, position: i128, dim: usize) -> Vec<Sig> {
        let bits: Vec<Sig> = (0..dim)
            .map(|t| self.boolean(i128::from(position == t as i128)))
            .collect();
        let count: Vec<(Var, i128)> = bits.iter().map(|b| (b.terms[0].0, 1)).collect();
        self.enforce(&count, &[(Var::One, 1)], &[(Var::One, 1)]);
        bits
    }

    /// `dim` selectors, exactly one set, at `index` (`lo + t` for selector `t`).
    fn one_hot(&mut self, index: &Sig, lo: i128, dim: usize) -> Vec<Sig> {
        let bits: Vec<Sig> = (0..dim)
            .map(|t| self.boolean(i128::from(index.val == lo + t as i128)))
            .collect();
        let count: Vec<(Var, i128)> = bits.iter().map(|b| (b.terms[0].0, 1)).collect();
        self.enforce(&count, &[(Var::One, 1)], &[(Var::One, 1)]);
        let weighted: Vec<(Var, i128)> = bits
            .iter()
            .enumerate()
            .map(|(t, b)| (b.terms[0].0, lo + t as i128))
            .collect();
        self.enforce(&weighted, &[(Var::One, 1)], &index.terms);
        bits
    }
}

fn lc_terms(terms: &[(Var, i128)]) -> Vec<(Var, i128)> {
    let mut sorted = terms.to_vec();
    sorted.sort_by_key(|t| t.0);
    let mut out: Vec<(Var, i128)> = Vec::with_capacity(sorted.len());
    for (v, c) in sorted {
        match out.last_mut() {
            Some((lv, lc)) if *lv == v => *lc += c,
            _ => out.push((v, c)),
        }
    }
    out.retain(|t| t.1 != 0);
    out
}

/// Compiles `program` to R1CS; with a trace, also its assignment. Public instance: every
/// input element, then every output element, in program order.
pub fn compile(program: &Program, trace: Option<&Trace>) -> Result<Compiled, Groth16Error> {
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
        .bounds_with(ParamBounds::Exact)
        .map_err(|e| Groth16Error::Program(e.to_string()))?;
    let mut b = Builder {
        r1cs: R1cs::default(),
        instance: Vec::new(),
        witness: Vec::new(),
        bits: program.value_bits,
    };
    let mut sigs: Vec<Vec<Sig>> = Vec::with_capacity(program.nodes.len());
    let mut costs = Costs::default();
    for (id, node) in program.nodes.iter().enumerate() {
        let before = b.r1cs.constraints.len();
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
        sigs.push(out);
    }
    for &o in &program.outputs {
        let before = b.r1cs.constraints.len();
        for s in sigs[o].clone() {
            let inst = b.instance(s.val);
            b.enforce(&s.terms, &[(Var::One, 1)], &inst.terms);
        }
        costs.per_node[o] += b.r1cs.constraints.len() - before;
    }
    let assignment = trace.map(|_| Assignment {
        instance: b.instance.iter().map(|&v| field(v)).collect(),
        witness: b.witness.iter().map(|&v| field(v)).collect(),
    });
    Ok(Compiled {
        r1cs: b.r1cs,
        assignment,
        costs,
    })
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
                let s = b.instance(v);
                match domain.interval() {
                    None => b.signed(&s, bits),
                    Some((lo, hi)) => b.bounded(&s, lo, hi),
                }
                s
            })
            .collect(),
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

/// A constant result, which the evaluator requires in the value range like any other: an
/// error (the program has no valid run) when it is not. Constants folded here (a product with
/// zero, a constant branch) reach nodes the program's own check of constant nodes sees as
/// data-dependent.
fn constant_in_range(v: i128, bits: u32, what: &str) -> Result<Sig, String> {
    let limit = 1i128 << (bits - 1);
    if v < -limit || v >= limit {
        return Err(format!(
            "{what} is the constant {v}, outside the {bits}-bit value range"
        ));
    }
    Ok(Sig::constant(v))
}

/// `Rescale{s}`: `x + 2^(s-1) = q 2^s + r`, `0 <= r < 2^s`, `q` in the value range.
fn rescale(b: &mut Builder, x: &Sig, shift: u32) -> Result<Sig, String> {
    let bits = b.bits;
    if let Some(c) = x.as_const() {
        let q = i128::from(zkml_ir::rounding::rescale(c as i64, shift));
        return constant_in_range(q, bits, "the rescaled value");
    }
    if shift == 0 {
        b.signed(x, bits);
        return Ok(x.clone());
    }
    let q = b.witness(i128::from(zkml_ir::rounding::rescale(x.val as i64, shift)));
    let r = b.lin(&[(x, 1), (&q, -(1i128 << shift))], 1i128 << (shift - 1));
    b.unsigned(&r, shift);
    b.signed(&q, bits);
    Ok(q)
}

/// `Div{shift}`: `c a + b = 2 b y + r` with `c = 2^(shift+1)`, `0 <= r`, `0 <= 2b - 1 - r`
/// (so `b >= 1` and `r < 2b`) and `y` in the value range.
fn divide(b: &mut Builder, x: &Sig, d: &Sig, shift: u32, d_bound: u64) -> Result<Sig, String> {
    if let (Some(a), Some(c)) = (x.as_const(), d.as_const()) {
        let y = zkml_ir::rounding::div_round(a as i64, c as i64, shift)
            .ok_or_else(|| format!("the constant division {a} / {c} is undefined"))?;
        return constant_in_range(i128::from(y), b.bits, "the quotient");
    }
    let c = 1i128 << (shift + 1);
    let y_val = if d.val > 0 {
        (x.val * c + d.val).div_euclid(2 * d.val)
    } else {
        0
    };
    let y = b.witness(y_val);
    let dy = b.mul(d, &y);
    let r = b.lin(&[(x, c), (d, 1), (&dy, -2)], 0);
    let z = b.lin(&[(d, 2), (&r, -1)], -1);
    let rbits = bits_for(2 * u128::from(d_bound));
    b.unsigned(&r, rbits);
    b.unsigned(&z, rbits);
    let bits = b.bits;
    b.signed(&y, bits);
    Ok(y)
}

/// `Sqrt{shift}`: `y^2 <= v 2^s < (y + 1)^2`, `0 <= y < 2^(B-1)`.
fn sqrt(b: &mut Builder, v: &Sig, shift: u32) -> Result<Sig, String> {
    let c = 1i128 << shift;
    if let Some(k) = v.as_const() {
        let y = zkml_ir::rounding::isqrt(k * c)
            .ok_or_else(|| format!("the square root of the constant {k} is undefined"))?;
        return constant_in_range(i128::from(y), b.bits, "the square root");
    }
    let y = b.witness(i128::from(zkml_ir::rounding::isqrt(v.val * c).unwrap_or(0)));
    let y2 = b.mul(&y, &y);
    let t1 = b.lin(&[(v, c), (&y2, -1)], 0);
    let t2 = b.lin(&[(&y2, 1), (&y, 2), (v, -c)], 0);
    let bits = b.bits;
    b.unsigned(&y, bits - 1);
    b.unsigned(&t1, bits);
    b.unsigned(&t2, bits);
    Ok(y)
}

/// First (or last) index of the maximum, scanning left to right.
fn argmax(b: &mut Builder, w: &[Sig], last: bool, diff: u64) -> Sig {
    let mut best = w[0].clone();
    let mut index = Sig::constant(0);
    for (i, x) in w.iter().enumerate().skip(1) {
        let take = if last {
            x.val >= best.val
        } else {
            x.val > best.val
        };
        let (e1, e0) = if last { (0, 1) } else { (1, 0) };
        if let (Some(p), Some(q)) = (x.as_const(), best.as_const()) {
            if if last { p >= q } else { p > q } {
                best = x.clone();
                index = Sig::constant(i as i128);
            }
            continue;
        }
        let (bit, m) = b.decide(x, &best, i128::from(take), e1, e0, diff);
        best = b.lin(&[(&best, 1), (&m, 1)], 0);
        let step = b.lin(&[(&index, -1)], i as i128);
        let moved = b.mul(&bit, &step);
        index = b.lin(&[(&index, 1), (&moved, 1)], 0);
    }
    index
}

/// `Take`: one-hot selectors per distinct index signal, then the selected data (free for
/// constant data, one product per selector for runtime data).
fn take(
    b: &mut Builder,
    axis: usize,
    data_shape: &[usize],
    index_shape: &[usize],
    data: &[Sig],
    indices: &[Sig],
) -> Result<Vec<Sig>, String> {
    let dim = data_shape[axis];
    let mut hot: Vec<Option<Vec<Sig>>> = vec![None; indices.len()];
    let mut out = Vec::new();
    let mut elements = Vec::new();
    for_each_take(axis, data_shape, index_shape, |position, base, stride| {
        elements.push((position, base, stride))
    });
    for (position, base, stride) in elements {
        let idx = &indices[position];
        if let Some(i) = idx.as_const() {
            if i < 0 || i >= dim as i128 {
                return Err(format!(
                    "constant index {i} is outside the axis of length {dim}"
                ));
            }
            out.push(data[base + stride * i as usize].clone());
            continue;
        }
        if hot[position].is_none() {
            hot[position] = Some(b.one_hot(idx, 0, dim));
        }
        let sel = hot[position].clone().expect("made above");
        let mut terms = Vec::with_capacity(dim);
        for (t, s) in sel.iter().enumerate() {
            let d = &data[base + stride * t];
            terms.push(b.mul(s, d));
        }
        let refs: Vec<(&Sig, i128)> = terms.iter().map(|s| (s, 1)).collect();
        let y = b.lin(&refs, 0);
        out.push(b.compact(y));
    }
    Ok(out)
}

/// Tables of at most this many entries are looked up through one one-hot vector.
const FLAT_TABLE: usize = 64;

/// `table[x - lo]`. A small table: one selector per entry (`T + 2` constraints). A larger one
/// is split into `H` rows of `L ~ sqrt(T)` entries: one-hot selectors for the row `a` and the
/// column `s` (`H + L` booleans, two sums, one recomposition `x - lo = a L + s`), the index
/// kept below `T` by a range check, and the output `sum_a h_a (sum_s table[a L + s] l_s)`: one
/// product per row, the inner sums free. About `3 sqrt(T) + log T` constraints.
fn lookup(b: &mut Builder, x: &Sig, lo: i64, values: &[i64]) -> Sig {
    let size = values.len();
    let lo = i128::from(lo);
    if size <= FLAT_TABLE {
        let hot = b.one_hot(x, lo, size);
        let terms: Vec<(&Sig, i128)> = hot
            .iter()
            .zip(values)
            .map(|(s, &y)| (s, i128::from(y)))
            .collect();
        let y = b.lin(&terms, 0);
        return b.compact(y);
    }
    let cols = (size as f64).sqrt().ceil() as usize;
    let rows = size.div_ceil(cols);
    let index = b.lin(&[(x, 1)], -lo);
    let (row, col) = if (0..size as i128).contains(&index.val) {
        (index.val / cols as i128, index.val % cols as i128)
    } else {
        (-1, -1)
    };
    let h = b.one_hot_free(row, rows);
    let l = b.one_hot_free(col, cols);
    // x - lo = a L + s
    let mut recomposed: Vec<(Var, i128)> = Vec::with_capacity(rows + cols);
    recomposed.extend(
        h.iter()
            .enumerate()
            .map(|(a, s)| (s.terms[0].0, (a * cols) as i128)),
    );
    recomposed.extend(l.iter().enumerate().map(|(c, s)| (s.terms[0].0, c as i128)));
    b.enforce(&recomposed, &[(Var::One, 1)], &index.terms);
    // x - lo <= T - 1
    let headroom = b.lin(&[(&index, -1)], size as i128 - 1);
    b.unsigned(&headroom, bits_for(size as u128));
    let mut products = Vec::with_capacity(rows);
    for (a, ha) in h.iter().enumerate() {
        let terms: Vec<(&Sig, i128)> = l
            .iter()
            .enumerate()
            .filter_map(|(c, lc)| values.get(a * cols + c).map(|&v| (lc, i128::from(v))))
            .collect();
        let inner = b.lin(&terms, 0).merged();
        products.push(b.mul(ha, &inner));
    }
    let refs: Vec<(&Sig, i128)> = products.iter().map(|p| (p, 1)).collect();
    let y = b.lin(&refs, 0);
    b.compact(y)
}

//! Lays out a whole program, node by node, producing one wire per tensor element.

use rustc_hash::FxHashMap as HashMap;

use halo2_proofs::halo2curves::bn256::Fr;
use zkml_ir::structure::{
    bias_index, for_each_product, for_each_window_member, movement_sources, Source,
};
use zkml_ir::tensor::{numel, BroadcastMap};
use zkml_ir::{Node, Op, Program, Trace};

use super::adversary::{Adversary, Choice, Tamper};
use super::divsqrt::{divide, sqrt, DivItem};
use super::gather::{take, TakeInput};
use super::linear::shared_dot;
use super::product::{pair_dots, products};
use super::range::{bounded_value, rescale, rescale_relu, signed_value};
use super::select::{abs, argmax, clip, compare, max_pairs, reduce_max, relu, where_select};
use super::{CellRef, Layout, LayoutError, Wire};
use crate::params::CircuitParams;
use crate::visibility::{
    parameter_envelope, public_parts_bounded, ParamVisibility, PublicPart, ValueClass,
    VisibilityConfig,
};

/// A linear combination of wires.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinItem {
    pub terms: Vec<(Wire, i128)>,
    pub constant: i128,
}

/// Lays out `program`; with a trace the cells hold its values, without one they are 0.
pub fn build(
    program: &Program,
    trace: Option<&Trace>,
    params: CircuitParams,
    visibility: VisibilityConfig,
) -> Result<Layout, LayoutError> {
    build_with(
        program,
        trace,
        params,
        visibility,
        Blinding::default(),
        None,
    )
}

/// A layout of `program` made only to be measured (rows, streams, tables, public values and
/// each node's usage, exactly as [`build`] lays them out): it keeps no cell values,
/// coefficients, constants or copy constraints, so sizing a large program takes a fraction of
/// the memory and time of a full layout. It cannot be synthesized.
pub fn measure(
    program: &Program,
    params: CircuitParams,
    visibility: VisibilityConfig,
) -> Result<Layout, LayoutError> {
    let bounds = program
        .bounds_with(visibility.param_bounds())
        .map_err(|e| LayoutError::Program(e.to_string()))?;
    measure_bounded(program, params, visibility, &bounds)
}

/// [`measure`], given the program's bounds under `visibility`'s parameter bounds (sizing
/// measures one program in many shapes).
pub(crate) fn measure_bounded(
    program: &Program,
    params: CircuitParams,
    visibility: VisibilityConfig,
    bounds: &[u64],
) -> Result<Layout, LayoutError> {
    build_layout(
        program,
        None,
        params,
        visibility,
        Blinding::default(),
        None,
        Some(bounds),
    )
}

/// The blinding values of a segment's link commitments ([`crate::Visibility::Linked`]): the
/// one shared with the segment before (inputs) and the one shared with the segment after
/// (outputs). Zero without a witness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blinding {
    /// Blinds the commitment to the inputs.
    pub inputs: Fr,
    /// Blinds the commitment to the outputs.
    pub outputs: Fr,
}

/// [`build`] for a segment whose inputs or outputs are linked, with their blinding values.
pub fn build_segment(
    program: &Program,
    trace: Option<&Trace>,
    params: CircuitParams,
    visibility: VisibilityConfig,
    blinding: Blinding,
) -> Result<Layout, LayoutError> {
    build_with(program, trace, params, visibility, blinding, None)
}

/// [`build`], with `adversary` choosing witness values in place of the honest generator
/// (see [`super::adversary`]).
pub(crate) fn build_with(
    program: &Program,
    trace: Option<&Trace>,
    params: CircuitParams,
    visibility: VisibilityConfig,
    blinding: Blinding,
    adversary: Option<Adversary>,
) -> Result<Layout, LayoutError> {
    build_layout(
        program, trace, params, visibility, blinding, adversary, None,
    )
}

fn build_layout(
    program: &Program,
    trace: Option<&Trace>,
    params: CircuitParams,
    visibility: VisibilityConfig,
    blinding: Blinding,
    adversary: Option<Adversary>,
    measuring: Option<&[u64]>,
) -> Result<Layout, LayoutError> {
    params
        .validate()
        .map_err(|e| LayoutError::Witness(e.to_string()))?;
    if let Some(t) = trace {
        if t.values.len() != program.nodes.len() {
            return Err(LayoutError::Witness(format!(
                "the trace has {} values for {} nodes",
                t.values.len(),
                program.nodes.len()
            )));
        }
    }
    if visibility.hashes() && !params.poseidon {
        return Err(LayoutError::Program(
            "hashed visibility needs a circuit with the Poseidon gates".into(),
        ));
    }
    // A measuring layout (see [`measure`]) comes with the bounds.
    let computed;
    let bounds = match measuring {
        Some(b) => b,
        None => {
            computed = program
                .bounds_with(visibility.param_bounds())
                .map_err(|e| LayoutError::Program(e.to_string()))?;
            &computed
        }
    };
    let parts = public_parts_bounded(program, visibility, bounds)?;
    let ctx = Ctx {
        program,
        trace,
        bounds,
        witness_params: visibility.params != ParamVisibility::Fixed,
        relu_read: relu_read(program),
    };
    let mut layout = Layout::new(params, trace.is_some());
    layout.counting = measuring.is_some();
    layout.tamper = adversary.map(|a| Box::new(Tamper::new(a)));
    let mut wires: Vec<Vec<Wire>> = Vec::with_capacity(program.nodes.len());
    for (id, node) in program.nodes.iter().enumerate() {
        if let Some(t) = &mut layout.tamper {
            t.node = id;
        }
        let before = layout.usage();
        let out = lower_node(&mut layout, &ctx, id, node, &wires).map_err(|reason| {
            LayoutError::Unsupported {
                node: id,
                name: node.name.clone(),
                op: node.op.name(),
                reason,
            }
        })?;
        debug_assert_eq!(out.len(), numel(&node.shape));
        let after = layout.usage();
        layout.node_usage.push(super::Usage {
            rows: after.rows - before.rows,
            range_checks: after.range_checks - before.range_checks,
            table_checks: after.table_checks - before.table_checks,
        });
        if layout.tamper.is_some() {
            let values = out.iter().map(|&w| layout.value(w)).collect();
            if let Some(t) = &mut layout.tamper {
                t.report.values.push(values);
            }
        }
        wires.push(out);
    }
    for part in parts {
        match part {
            PublicPart::Values { node, .. } => {
                for &w in &wires[node] {
                    let c = layout.cell(w);
                    layout.expose(c);
                }
            }
            PublicPart::Hash { tensors, .. } => {
                let items: Vec<(Wire, u32)> = tensors
                    .iter()
                    .flat_map(|t| wires[t.node].iter().map(move |&w| (w, t.bits)))
                    .collect();
                let h = super::hash::hash(&mut layout, &items);
                layout.expose(h);
            }
            PublicPart::Link { class, tensors } => {
                let items: Vec<(Wire, u32)> = tensors
                    .iter()
                    .flat_map(|t| wires[t.node].iter().map(move |&w| (w, t.bits)))
                    .collect();
                let key = match class {
                    ValueClass::Inputs => blinding.inputs,
                    _ => blinding.outputs,
                };
                let h = super::hash::commit(&mut layout, key, &items);
                layout.expose(h);
            }
        }
    }
    Ok(layout)
}

/// What every node's lowering reads.
struct Ctx<'a> {
    program: &'a Program,
    trace: Option<&'a Trace>,
    /// Static bounds under the chosen parameter visibility.
    bounds: &'a [u64],
    /// Parameters are witnesses (range-checked cells) rather than constants.
    witness_params: bool,
    /// By node: a rescale whose result a ReLU (or a clip from 0) reads.
    relu_read: Vec<bool>,
}

/// Whether ReLU takes `max(x, 0)` of its only input: `Relu`, and a clip whose lower bound is 0.
fn is_relu(op: &Op) -> bool {
    matches!(op, Op::Relu | Op::Clip { min: Some(0), .. })
}

/// By node: whether it is a rescale (by a positive shift) whose result a ReLU reads.
fn relu_read(program: &Program) -> Vec<bool> {
    let mut read = vec![false; program.nodes.len()];
    for node in &program.nodes {
        if let (true, [input]) = (is_relu(&node.op), node.inputs.as_slice()) {
            if matches!(program.nodes[*input].op, Op::Rescale { shift } if shift > 0) {
                read[*input] = true;
            }
        }
    }
    read
}

fn node_values(trace: Option<&Trace>, id: usize, len: usize) -> Vec<i128> {
    match trace {
        Some(t) => t.values[id].data().iter().map(|&v| i128::from(v)).collect(),
        None => vec![0; len],
    }
}

fn lower_node(
    layout: &mut Layout,
    ctx: &Ctx<'_>,
    id: usize,
    node: &Node,
    wires: &[Vec<Wire>],
) -> Result<Vec<Wire>, String> {
    let (program, trace) = (ctx.program, ctx.trace);
    let ins: Vec<&[Wire]> = node.inputs.iter().map(|&i| wires[i].as_slice()).collect();
    let in_nodes: Vec<&Node> = node.inputs.iter().map(|&i| &program.nodes[i]).collect();
    let in_bound = |k: usize| ctx.bounds[node.inputs[k]];
    let shape = &node.shape;
    let n = numel(shape);
    let bits = program.value_bits;
    Ok(match &node.op {
        Op::Input { domain, .. } => node_values(trace, id, n)
            .into_iter()
            .map(|v| {
                let v = layout.choose(Choice::Value, v);
                Wire::Cell(match domain.admitted() {
                    // A bounded input as wide as the value range is checked as a real one.
                    Some((lo, hi)) if hi < program.value_limit() => {
                        bounded_value(layout, v, lo, hi)
                    }
                    _ => signed_value(layout, v, bits),
                })
            })
            .collect(),
        Op::Const {
            values,
            param: true,
        } if ctx.witness_params => {
            let envelope = parameter_envelope(program, id);
            values
                .iter()
                .map(|&v| {
                    let v = layout.choose(Choice::Value, i128::from(v));
                    Wire::Cell(signed_value(layout, v, envelope))
                })
                .collect()
        }
        Op::Const { values, .. } => values.iter().map(|&v| Wire::Const(i128::from(v))).collect(),
        Op::Add | Op::Sub | Op::Mul | Op::Max | Op::Min => {
            let ma = BroadcastMap::new(&in_nodes[0].shape, shape);
            let mb = BroadcastMap::new(&in_nodes[1].shape, shape);
            let pairs: Vec<(Wire, Wire)> = (0..n)
                .map(|o| (ins[0][ma.index(o)], ins[1][mb.index(o)]))
                .collect();
            match node.op {
                Op::Add | Op::Sub => {
                    let sign = if node.op == Op::Add { 1 } else { -1 };
                    linear(
                        layout,
                        pairs
                            .into_iter()
                            .map(|(a, b)| LinItem {
                                terms: vec![(a, 1), (b, sign)],
                                constant: 0,
                            })
                            .collect(),
                    )
                }
                Op::Mul => multiply(layout, &pairs),
                _ => {
                    let bound = in_bound(0).saturating_add(in_bound(1));
                    max_pairs(layout, &pairs, node.op == Op::Min, bound)
                }
            }
        }
        Op::Neg => linear(
            layout,
            ins[0]
                .iter()
                .map(|&a| LinItem {
                    terms: vec![(a, -1)],
                    constant: 0,
                })
                .collect(),
        ),
        Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => {
            product_op(layout, node, &in_nodes, &ins)?
        }
        Op::SumPool(_) | Op::ReduceSum(_) => {
            let mut items = vec![LinItem::default(); n];
            for_each_window_member(&node.op, &in_nodes[0].shape, shape, |o, i| {
                items[o].terms.push((ins[0][i], 1))
            });
            linear(layout, items)
        }
        Op::Rescale { shift }
            if ctx.relu_read[id]
                && layout.params.fold == 0
                && layout.params.septet_groups() > 0 =>
        {
            let (qs, relus) = rescale_relu(layout, ins[0], *shift, bits)?;
            layout.fused_relu.insert(id, relus);
            qs
        }
        Op::Rescale { shift } => ins[0]
            .iter()
            .map(|&x| rescale(layout, x, *shift, bits))
            .collect::<Result<_, _>>()?,
        op if is_relu(op) && layout.fused_relu.contains_key(&node.inputs[0]) => {
            let relus = layout.fused_relu[&node.inputs[0]].clone();
            match op {
                Op::Clip { max: Some(hi), .. } => {
                    clip(layout, &relus, None, Some(*hi), in_bound(0))
                }
                _ => relus,
            }
        }
        Op::Div { shift } => {
            let ma = BroadcastMap::new(&in_nodes[0].shape, shape);
            let mb = BroadcastMap::new(&in_nodes[1].shape, shape);
            let items: Vec<DivItem> = (0..n)
                .map(|o| DivItem {
                    a: ins[0][ma.index(o)],
                    b: ins[1][mb.index(o)],
                    shift: *shift,
                    b_bound: in_bound(1),
                })
                .collect();
            divide(layout, &items, bits)?
        }
        Op::Sqrt { shift } => sqrt(layout, ins[0], *shift, bits)?,
        Op::Relu => relu(layout, ins[0], in_bound(0)),
        Op::Abs => abs(layout, ins[0], in_bound(0)),
        Op::Clip {
            min: Some(0),
            max: None,
        } => relu(layout, ins[0], in_bound(0)),
        Op::Clip { min, max } => clip(layout, ins[0], *min, *max, in_bound(0)),
        Op::ReduceMax(_) | Op::MaxPool(_) => {
            let mut windows = vec![Vec::new(); n];
            for_each_window_member(&node.op, &in_nodes[0].shape, shape, |o, i| {
                windows[o].push(ins[0][i])
            });
            reduce_max(layout, windows, in_bound(0).saturating_mul(2))
        }
        Op::ArgMax {
            select_last_index, ..
        } => {
            let mut windows = vec![Vec::new(); n];
            for_each_window_member(&node.op, &in_nodes[0].shape, shape, |o, i| {
                windows[o].push(ins[0][i])
            });
            argmax(
                layout,
                &windows,
                *select_last_index,
                in_bound(0).saturating_mul(2),
            )
        }
        Op::Lookup { table } => {
            super::lookup::lookup(layout, *table, &program.tables[*table], ins[0])?
        }
        Op::Compare(cmp) => {
            let ma = BroadcastMap::new(&in_nodes[0].shape, shape);
            let mb = BroadcastMap::new(&in_nodes[1].shape, shape);
            let pairs: Vec<(Wire, Wire)> = (0..n)
                .map(|o| (ins[0][ma.index(o)], ins[1][mb.index(o)]))
                .collect();
            compare(
                layout,
                &pairs,
                *cmp,
                in_bound(0).saturating_add(in_bound(1)),
            )
        }
        Op::Where => {
            let maps: Vec<BroadcastMap> = in_nodes
                .iter()
                .map(|i| BroadcastMap::new(&i.shape, shape))
                .collect();
            let triples: Vec<(Wire, Wire, Wire)> = (0..n)
                .map(|o| {
                    (
                        ins[0][maps[0].index(o)],
                        ins[1][maps[1].index(o)],
                        ins[2][maps[2].index(o)],
                    )
                })
                .collect();
            where_select(layout, &triples)?
        }
        Op::Take { axis } => take(
            layout,
            &TakeInput {
                axis: *axis,
                data_shape: &in_nodes[0].shape,
                index_shape: &in_nodes[1].shape,
                data: ins[0],
                indices: ins[1],
                first_free_tag: program.tables.len() as u64 + 1,
            },
        )?,
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Gather { .. }
        | Op::Pad(_)
        | Op::Tile { .. }
        | Op::Expand { .. } => {
            let shapes: Vec<&[usize]> = in_nodes.iter().map(|n| n.shape.as_slice()).collect();
            movement_sources(&node.op, &shapes, shape)
                .into_iter()
                .map(|s| match s {
                    Source::Input { input, index } => ins[input][index],
                    Source::Const(v) => Wire::Const(i128::from(v)),
                })
                .collect()
        }
    })
}

/// A linear item's distinct cells in order of first use, each one's summed coefficient, and
/// the constant with the constant terms folded in. `position` is scratch space, reused
/// between items.
pub(crate) fn collect_terms(
    item: &LinItem,
    position: &mut HashMap<CellRef, usize>,
) -> (Vec<CellRef>, Vec<i128>, i128) {
    let mut constant = item.constant;
    let mut cells: Vec<CellRef> = Vec::with_capacity(item.terms.len());
    let mut weights: Vec<i128> = Vec::with_capacity(item.terms.len());
    position.clear();
    for &(w, coeff) in &item.terms {
        match w {
            Wire::Const(v) => constant += v * coeff,
            Wire::Cell(c) => match position.get(&c) {
                Some(&p) => weights[p] += coeff,
                None => {
                    position.insert(c, cells.len());
                    cells.push(c);
                    weights.push(coeff);
                }
            },
        }
    }
    (cells, weights, constant)
}

/// A linear result waiting for its row: (item index, weights per operand, constant).
type GroupMember = (usize, Vec<i128>, i128);

/// Linear combinations: constants folded, identical operand lists sharing rows.
pub(crate) fn linear(layout: &mut Layout, items: Vec<LinItem>) -> Vec<Wire> {
    let mut out: Vec<Option<Wire>> = vec![None; items.len()];
    let mut groups: HashMap<Vec<CellRef>, Vec<GroupMember>> = HashMap::default();
    let mut order: Vec<Vec<CellRef>> = Vec::new();
    let mut position = HashMap::default();
    for (i, item) in items.into_iter().enumerate() {
        // Zero coefficients are kept: outputs of one matrix row or convolution position then
        // share their operand list (and rows) even where a weight quantized to zero.
        let (cells, weights, constant) = collect_terms(&item, &mut position);
        if weights.iter().all(|&w| w == 0) {
            out[i] = Some(Wire::Const(constant));
        } else if cells.len() == 1 && weights[0] == 1 && constant == 0 {
            out[i] = Some(Wire::Cell(cells[0]));
        } else {
            if !groups.contains_key(&cells) {
                order.push(cells.clone());
            }
            groups
                .entry(cells)
                .or_default()
                .push((i, weights, constant));
        }
    }
    let m = layout.params.results;
    for cells in order {
        let members = groups.remove(&cells).expect("recorded");
        for batch in members.chunks(m) {
            let weights: Vec<Vec<i128>> = batch.iter().map(|(_, w, _)| w.clone()).collect();
            let constants: Vec<i128> = batch.iter().map(|(_, _, c)| *c).collect();
            let results = shared_dot(layout, &cells, &weights, &constants);
            for ((i, _, _), r) in batch.iter().zip(results) {
                out[*i] = Some(Wire::Cell(r));
            }
        }
    }
    out.into_iter()
        .map(|w| w.expect("every item produced"))
        .collect()
}

/// Elementwise products: constants make them linear.
fn multiply(layout: &mut Layout, pairs: &[(Wire, Wire)]) -> Vec<Wire> {
    let mut out: Vec<Option<Wire>> = vec![None; pairs.len()];
    let mut lin = Vec::new();
    let mut lin_idx = Vec::new();
    let mut prod = Vec::new();
    let mut prod_idx = Vec::new();
    for (i, &(a, b)) in pairs.iter().enumerate() {
        match (a, b) {
            (Wire::Const(x), Wire::Const(y)) => out[i] = Some(Wire::Const(x * y)),
            (Wire::Const(c), w) | (w, Wire::Const(c)) => {
                lin.push(LinItem {
                    terms: vec![(w, c)],
                    constant: 0,
                });
                lin_idx.push(i);
            }
            (Wire::Cell(x), Wire::Cell(y)) => {
                prod.push((x, y));
                prod_idx.push(i);
            }
        }
    }
    for (i, w) in lin_idx.into_iter().zip(linear(layout, lin)) {
        out[i] = Some(w);
    }
    for (i, c) in prod_idx.into_iter().zip(products(layout, &prod)) {
        out[i] = Some(Wire::Cell(c));
    }
    out.into_iter().map(|w| w.expect("filled")).collect()
}

/// `MatMul`, `Conv`, `ConvTranspose`: per output, constant terms fold, cell-times-constant terms
/// form dot products with fixed weights (operand lists shared across outputs), and
/// cell-times-cell terms form product chains.
fn product_op(
    layout: &mut Layout,
    node: &Node,
    in_nodes: &[&Node],
    ins: &[&[Wire]],
) -> Result<Vec<Wire>, String> {
    let n = numel(&node.shape);
    let mut lin = vec![LinItem::default(); n];
    let mut pairs: Vec<Vec<(CellRef, CellRef)>> = vec![Vec::new(); n];
    for_each_product(
        &node.op,
        &in_nodes[0].shape,
        &in_nodes[1].shape,
        &node.shape,
        |o, ia, ib| match (ins[0][ia], ins[1][ib]) {
            (Wire::Const(x), Wire::Const(y)) => lin[o].constant += x * y,
            (Wire::Const(c), w) | (w, Wire::Const(c)) => lin[o].terms.push((w, c)),
            (Wire::Cell(a), Wire::Cell(b)) => pairs[o].push((a, b)),
        },
    );
    if let Some(bias) = ins.get(2) {
        for (o, item) in lin.iter_mut().enumerate() {
            item.terms.push((
                bias[bias_index(&node.op, &in_nodes[2].shape, &node.shape, o)],
                1,
            ));
        }
    }
    if pairs.iter().all(Vec::is_empty) {
        if let Some(out) = super::freivalds::constant_products(layout, &lin) {
            return Ok(out);
        }
    }
    Ok(sums_of_products(layout, lin, &pairs))
}

/// Per output `o`: the linear combination `lin[o]` plus the runtime dot product `pairs[o]`.
/// Dot products of equal length are batched `M` at a time.
pub(crate) fn sums_of_products(
    layout: &mut Layout,
    mut lin: Vec<LinItem>,
    pairs: &[Vec<(CellRef, CellRef)>],
) -> Vec<Wire> {
    let n = lin.len();
    if pairs.iter().all(Vec::is_empty) {
        return linear(layout, lin);
    }
    if let Some(products) = super::freivalds::runtime_products(layout, pairs) {
        for (item, p) in lin.iter_mut().zip(products) {
            if let Some(c) = p {
                item.terms.push((Wire::Cell(c), 1));
            }
        }
        return linear(layout, lin);
    }
    let m = layout.params.results;
    let mut by_len: HashMap<usize, Vec<usize>> = HashMap::default();
    let mut lens = Vec::new();
    for (o, p) in pairs.iter().enumerate() {
        if !p.is_empty() {
            if !by_len.contains_key(&p.len()) {
                lens.push(p.len());
            }
            by_len.entry(p.len()).or_default().push(o);
        }
    }
    let mut prod_out: Vec<Option<CellRef>> = vec![None; n];
    for len in lens {
        for batch in by_len[&len].chunks(m) {
            let batch_pairs: Vec<Vec<(CellRef, CellRef)>> =
                batch.iter().map(|&o| pairs[o].clone()).collect();
            for (&o, cell) in
                batch
                    .iter()
                    .zip(pair_dots(layout, &batch_pairs, &vec![0; batch.len()]))
            {
                prod_out[o] = Some(cell);
            }
        }
    }
    for (o, item) in lin.iter_mut().enumerate() {
        if let Some(c) = prod_out[o] {
            item.terms.push((Wire::Cell(c), 1));
        }
    }
    linear(layout, lin)
}

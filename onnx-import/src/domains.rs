//! Domains of integer and boolean model inputs: what values the model admits, so the circuit
//! range-checks exactly that.
//!
//! * A boolean input takes 0 or 1.
//! * An integer input given a domain in [`crate::ImportOptions::domains`] takes that.
//! * An integer input whose values reach only index positions (through data movement and
//!   casts), such as token ids into an embedding, takes `[-length, length)` of the shortest
//!   indexed axis, as ONNX admits (negative indices count from the end).
//! * An integer input that builds an additive attention mask (it flows, through integer and
//!   boolean computations only, into an op with a `-inf` or `finfo.min` constant) is a keep
//!   flag: `[0, 1]`.
//! * Any other integer input takes the whole value range.

use std::collections::VecDeque;

use zkml_ir::InputDomain;

use crate::data::DType;
use crate::error::ImportError;
use crate::graph::Graph;

/// The domain of every graph input, in input order.
pub(crate) fn input_domains(
    graph: &Graph,
    value_bits: u32,
) -> Result<Vec<InputDomain>, ImportError> {
    let limit = 1i64 << (value_bits - 1);
    let consumers = consumers(graph);
    let derived = integer_derived(graph);
    graph
        .inputs
        .iter()
        .map(|&id| {
            let v = &graph.values[id];
            if let Some(&(lo, hi)) = graph.domains.get(&v.name) {
                if v.dtype == DType::Float {
                    return Err(ImportError::UnsupportedInput {
                        name: v.name.clone(),
                        reason: "a domain was given, but the input is floating point".into(),
                    });
                }
                if lo > hi || lo < -limit || hi >= limit {
                    return Err(ImportError::UnsupportedInput {
                        name: v.name.clone(),
                        reason: format!(
                            "the domain [{lo}, {hi}] is empty or leaves the {value_bits}-bit \
                             value range [{}, {}]",
                            -limit,
                            limit - 1
                        ),
                    });
                }
                return Ok(InputDomain::Integer { lo, hi });
            }
            Ok(match v.dtype {
                DType::Float => InputDomain::Real,
                DType::Bool => InputDomain::Bool,
                DType::Int => {
                    let (mut lo, mut hi) = (-limit, limit - 1);
                    if let Some(len) = indexed_length(graph, &consumers, id) {
                        lo = lo.max(-(len as i64));
                        hi = hi.min(len as i64 - 1);
                    } else if builds_mask(graph, &consumers, &derived, id) {
                        lo = 0;
                        hi = 1;
                    }
                    if hi < lo {
                        return Err(ImportError::UnsupportedInput {
                            name: v.name.clone(),
                            reason: "it indexes an empty axis".into(),
                        });
                    }
                    InputDomain::Integer { lo, hi }
                }
            })
        })
        .collect()
}

/// For every value, the nodes reading it.
fn consumers(graph: &Graph) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); graph.values.len()];
    for (n, node) in graph.nodes.iter().enumerate() {
        for &i in node.inputs.iter().flatten() {
            if !out[i].contains(&n) {
                out[i].push(n);
            }
        }
    }
    out
}

/// The inputs `node` reads as indices, with the lengths of the axes they index.
fn index_uses(graph: &Graph, node: &crate::graph::GraphNode) -> Vec<(usize, usize)> {
    let shapes: Vec<Option<&[usize]>> = node
        .inputs
        .iter()
        .map(|i| i.map(|id| graph.values[id].shape.as_slice()))
        .collect();
    node.op.index_inputs(&shapes)
}

/// Values computed from integer and boolean inputs (and constants) alone, without reading
/// data by them as indices (an embedding's rows are data, not a function of the ids).
fn integer_derived(graph: &Graph) -> Vec<bool> {
    let mut derived = vec![false; graph.values.len()];
    for &i in &graph.inputs {
        derived[i] = graph.values[i].dtype != DType::Float;
    }
    for node in &graph.nodes {
        let indexes = index_uses(graph, node);
        let runtime: Vec<usize> = node
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(pos, i)| {
                i.filter(|&id| graph.values[id].constant.is_none())
                    .map(|id| (pos, id))
            })
            .filter(|(pos, _)| !indexes.iter().any(|(p, _)| p == pos))
            .map(|(_, id)| id)
            .collect();
        let runtime_index = indexes.iter().any(|&(p, _)| {
            node.inputs
                .get(p)
                .copied()
                .flatten()
                .is_some_and(|id| graph.values[id].constant.is_none())
        });
        if !runtime_index && !runtime.is_empty() && runtime.iter().all(|&i| derived[i]) {
            for &o in node.outputs.iter().flatten() {
                derived[o] = true;
            }
        }
    }
    derived
}

/// When every use of `start`'s values (through value-forwarding ops) is as an index, the
/// shortest indexed axis.
fn indexed_length(graph: &Graph, consumers: &[Vec<usize>], start: usize) -> Option<usize> {
    let mut shortest: Option<usize> = None;
    let mut queue = VecDeque::from([start]);
    let mut seen = vec![false; graph.values.len()];
    seen[start] = true;
    while let Some(v) = queue.pop_front() {
        for &n in &consumers[v] {
            let node = &graph.nodes[n];
            let index_uses = index_uses(graph, node);
            let forwarded = node.op.forwarded_inputs(node.inputs.len());
            for (pos, input) in node.inputs.iter().enumerate() {
                if *input != Some(v) {
                    continue;
                }
                if let Some(&(_, len)) = index_uses.iter().find(|(p, _)| *p == pos) {
                    shortest = Some(shortest.map_or(len, |s: usize| s.min(len)));
                } else if forwarded.contains(&pos) {
                    for &o in node.outputs.iter().flatten() {
                        if !std::mem::replace(&mut seen[o], true) {
                            queue.push_back(o);
                        }
                    }
                } else {
                    // Used as a value: arithmetic on it admits any value.
                    return None;
                }
            }
        }
    }
    shortest
}

/// Whether `start` flows, through integer and boolean computations only, into an op with a
/// mask constant (`-inf`, `finfo.min`).
fn builds_mask(graph: &Graph, consumers: &[Vec<usize>], derived: &[bool], start: usize) -> bool {
    let mut queue = VecDeque::from([start]);
    let mut seen = vec![false; graph.values.len()];
    seen[start] = true;
    while let Some(v) = queue.pop_front() {
        for &n in &consumers[v] {
            let node = &graph.nodes[n];
            let has_mask_constant = node.inputs.iter().flatten().any(|&i| {
                graph.values[i]
                    .constant
                    .as_ref()
                    .is_some_and(|c| c.has_mask_values())
            });
            if has_mask_constant {
                return true;
            }
            for &o in node.outputs.iter().flatten() {
                if derived[o] && !std::mem::replace(&mut seen[o], true) {
                    queue.push_back(o);
                }
            }
        }
    }
    false
}

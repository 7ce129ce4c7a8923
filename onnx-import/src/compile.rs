//! Calibration and compilation: float graph + calibration inputs -> integer program.

use zkml_ir::input::{dequantize_tensor, quantize_inputs};
use zkml_ir::{evaluate, InputDomain, Program, ProgramBuilder};

use crate::data::{DType, Data};
use crate::error::ImportError;
use crate::graph::Graph;
use crate::lower::{Lowering, NodeTypes, QuantConfig, Stats};
use crate::ops::{Lowered, Operand};

/// How close the integer program came to the float graph on the calibration inputs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CalibrationReport {
    /// Number of calibration inputs.
    pub samples: usize,
    /// Whether the inputs were synthetic (no calibration data was given).
    pub synthetic: bool,
    /// One entry per model output.
    pub outputs: Vec<OutputError>,
    /// The intermediate values that lose the most precision on the first calibration input,
    /// worst first (at most [`WORST_VALUES`]): where to look when an output is off.
    pub worst_values: Vec<OutputError>,
}

/// How many intermediate values [`CalibrationReport::worst_values`] lists.
pub const WORST_VALUES: usize = 8;

/// Error of one output over all calibration inputs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputError {
    /// Output name.
    pub name: String,
    /// Largest |quantized - float|.
    pub max_abs_error: f64,
    /// Largest |float|.
    pub max_abs_value: f64,
    /// `max_abs_error / max_abs_value` (0 when the output is all zero).
    pub relative_error: f64,
    /// Scale of the output.
    pub scale: i32,
}

/// Runs the float graph on every calibration input and records each value's range.
pub(crate) fn collect_stats(
    graph: &Graph,
    samples: &[Vec<Data>],
) -> Result<Vec<Stats>, ImportError> {
    let mut stats = vec![Stats::EMPTY; graph.values.len()];
    for sample in samples {
        let vals = graph.run(sample)?;
        for (id, v) in vals.iter().enumerate() {
            if graph.values[id].constant.is_some() {
                continue;
            }
            if let Some(d) = v {
                // An output must be finite (-inf: a mask value). Inside the model, NaN rows of
                // a fully masked softmax are replaced by zeros (IsNaN, Where) and never reach
                // the program, which computes those rows exactly; they only stay out of the
                // statistics.
                let output = graph.outputs.contains(&id);
                if let Some(bad) = d
                    .values
                    .iter()
                    .find(|x| output && (x.is_nan() || **x == f64::INFINITY))
                {
                    return Err(ImportError::Calibration(format!(
                        "value '{}' is {bad} on a calibration input; the float model itself is not finite there",
                        graph.values[id].name
                    )));
                }
                for &x in d.values.iter() {
                    stats[id].observe(x);
                }
            }
        }
    }
    Ok(stats)
}

/// Lowers the graph with the given statistics; `domains` gives each input's domain.
pub(crate) fn lower_graph(
    graph: &Graph,
    stats: &[Stats],
    domains: &[InputDomain],
    cfg: &QuantConfig,
) -> Result<(Program, Vec<Option<usize>>), ImportError> {
    let mut b = ProgramBuilder::new(cfg.value_bits)?;
    let mut map: Vec<Option<Lowered>> = vec![None; graph.values.len()];
    for (&id, domain) in graph.inputs.iter().zip(domains) {
        let v = &graph.values[id];
        let scale = match domain {
            InputDomain::Real => cfg.activation_scale(stats[id].max_abs()),
            _ => 0,
        };
        map[id] = Some(Lowered::Value(b.input_in(
            &v.name,
            v.shape.clone(),
            scale,
            *domain,
        )?));
    }
    for node in &graph.nodes {
        let operands: Vec<Operand<'_>> = node
            .inputs
            .iter()
            .map(|i| match i {
                None => Operand::Absent,
                Some(id) => match (&graph.values[*id].constant, map[*id]) {
                    (Some(c), _) => Operand::Const(c),
                    (None, Some(Lowered::Value(v))) => Operand::Value(v),
                    (None, Some(Lowered::Masked(m))) => Operand::Masked(m),
                    (None, None) => unreachable!("producers are lowered first"),
                },
            })
            .collect();
        let in_stats = node
            .inputs
            .iter()
            .map(|i| {
                i.filter(|&id| graph.values[id].constant.is_none())
                    .map(|id| stats[id])
            })
            .collect();
        let out_stats = node
            .outputs
            .iter()
            .map(|o| o.map_or(Stats::EMPTY, |id| stats[id]))
            .collect();
        let types = NodeTypes {
            inputs: node
                .inputs
                .iter()
                .map(|i| i.map(|id| graph.values[id].dtype))
                .collect(),
            outputs: node
                .outputs
                .iter()
                .map(|o| o.map_or(DType::Float, |id| graph.values[id].dtype))
                .collect(),
        };
        let mut cx = Lowering::new(&mut b, cfg, &node.name, in_stats, out_stats, types);
        let masked = operands.iter().any(|o| match o {
            Operand::Masked(_) => true,
            Operand::Const(c) => c.has_mask_values(),
            _ => false,
        });
        let outs = if masked {
            node.op.lower_masked(&mut cx, &operands)
        } else {
            node.op
                .lower(&mut cx, &operands)
                .map(|v| v.into_iter().map(Lowered::Value).collect())
        }
        .map_err(|kind| ImportError::Node {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            opset: graph.opset,
            kind,
        })?;
        for (slot, out) in node.outputs.iter().zip(outs) {
            if let Some(id) = slot {
                map[*id] = Some(out);
            }
        }
    }
    for (&id, output_name) in graph.outputs.iter().zip(&graph.output_names) {
        let v = &graph.values[id];
        let node = match (&v.constant, map[id]) {
            (_, Some(Lowered::Value(n))) => n,
            (_, Some(Lowered::Masked(_))) => {
                return Err(ImportError::InvalidGraph(format!(
                    "output '{}' is an additive attention mask; masks can only feed a softmax",
                    v.name
                )))
            }
            (Some(c), None) => {
                let scale = if v.dtype == DType::Float {
                    cfg.activation_scale(c.max_abs())
                } else {
                    0
                };
                let values = c
                    .values
                    .iter()
                    .map(|&x| zkml_ir::rounding::quantize(x, scale))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ImportError::InvalidGraph(format!(
                            "constant output '{}' is not finite",
                            v.name
                        ))
                    })?;
                b.constant(&v.name, c.shape().to_vec(), scale, values)?
            }
            (None, None) => {
                return Err(ImportError::InvalidGraph(format!(
                    "output '{}' was not computed",
                    v.name
                )))
            }
        };
        b.output(node, output_name);
    }
    let nodes = map
        .iter()
        .map(|l| match l {
            Some(Lowered::Value(n)) => Some(*n),
            _ => None,
        })
        .collect();
    Ok((b.finish()?, nodes))
}

/// Compares the program with the float graph on every sample; `nodes` maps graph values to the
/// program nodes holding them.
pub(crate) fn measure(
    graph: &Graph,
    program: &Program,
    nodes: &[Option<usize>],
    samples: &[Vec<Vec<f64>>],
    synthetic: bool,
) -> Result<CalibrationReport, ImportError> {
    let mut outputs: Vec<OutputError> = program
        .outputs
        .iter()
        .zip(&program.output_names)
        .map(|(&o, name)| OutputError {
            name: name.clone(),
            max_abs_error: 0.0,
            max_abs_value: 0.0,
            relative_error: 0.0,
            scale: program.nodes[o].scale,
        })
        .collect();
    for sample in samples {
        let float = graph.run_float(sample)?;
        let q = quantize_inputs(program, sample)?;
        let trace = evaluate(program, &q)?;
        for (k, t) in trace.outputs().into_iter().enumerate() {
            let deq = dequantize_tensor(t, outputs[k].scale);
            for (a, b) in deq.iter().zip(&float[k]) {
                outputs[k].max_abs_error = outputs[k].max_abs_error.max((a - b).abs());
                outputs[k].max_abs_value = outputs[k].max_abs_value.max(b.abs());
            }
        }
    }
    for o in &mut outputs {
        o.relative_error = if o.max_abs_value > 0.0 {
            o.max_abs_error / o.max_abs_value
        } else {
            0.0
        };
    }
    let worst_values = match samples.first() {
        Some(sample) => worst_values(graph, program, nodes, sample)?,
        None => Vec::new(),
    };
    Ok(CalibrationReport {
        samples: samples.len(),
        synthetic,
        outputs,
        worst_values,
    })
}

/// Relative error of every runtime graph value held by a program node, on one sample.
fn worst_values(
    graph: &Graph,
    program: &Program,
    nodes: &[Option<usize>],
    sample: &[Vec<f64>],
) -> Result<Vec<OutputError>, ImportError> {
    let data = graph.inputs_from_flat(sample)?;
    let float = graph.run(&data)?;
    let q = quantize_inputs(program, sample)?;
    let trace = evaluate(program, &q)?;
    let mut errors = Vec::new();
    for (id, node) in nodes.iter().enumerate() {
        let (Some(n), Some(f)) = (node, &float[id]) else {
            continue;
        };
        if graph.values[id].constant.is_some() || graph.inputs.contains(&id) {
            continue;
        }
        let scale = program.nodes[*n].scale;
        let got = dequantize_tensor(&trace.values[*n], scale);
        if got.len() != f.values.len() {
            continue;
        }
        let mut e = OutputError {
            name: graph.values[id].name.clone(),
            max_abs_error: 0.0,
            max_abs_value: 0.0,
            relative_error: 0.0,
            scale,
        };
        for (a, b) in got.iter().zip(f.values.iter()) {
            if b.is_finite() && !crate::data::is_mask_value(*b) {
                e.max_abs_error = e.max_abs_error.max((a - b).abs());
                e.max_abs_value = e.max_abs_value.max(b.abs());
            }
        }
        if e.max_abs_value > 0.0 {
            e.relative_error = e.max_abs_error / e.max_abs_value;
            errors.push(e);
        }
    }
    errors.sort_by(|a, b| b.relative_error.total_cmp(&a.relative_error));
    errors.truncate(WORST_VALUES);
    Ok(errors)
}

/// Deterministic synthetic calibration inputs from a fixed seed: standard normal reals, and
/// integers drawn uniformly from the first 16 values of their domain at or above 0 (token ids,
/// positions and masks all start there).
pub(crate) fn synthetic_samples(
    graph: &Graph,
    domains: &[InputDomain],
    count: usize,
) -> Vec<Vec<Vec<f64>>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            graph
                .input_shapes()
                .iter()
                .zip(domains)
                .map(|((_, shape), domain)| {
                    (0..shape.iter().product::<usize>())
                        .map(|_| match domain.interval() {
                            None => {
                                // Box-Muller
                                let (u, v) = (next().max(1e-12), next());
                                (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
                            }
                            Some((lo, hi)) => {
                                let first = lo.max(0).min(hi);
                                let span = (hi - first).min(15) + 1;
                                (first + (next() * span as f64) as i64).min(hi) as f64
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

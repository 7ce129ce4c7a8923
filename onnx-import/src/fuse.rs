//! Graph rewrites before quantization: batch normalization folded into the Conv or Gemm that
//! feeds it, so it costs nothing and loses no precision.

use ndarray::{ArrayD, IxDyn};

use crate::data::{DType, Data};
use crate::error::{ImportError, NodeError};
use crate::graph::Graph;
use crate::ops::conv::Conv;
use crate::ops::linear::Gemm;
use crate::ops::norm::BatchNorm;

/// Folds every BatchNormalization whose input is produced by a Conv or Gemm with constant
/// weights and read by nothing else.
pub(crate) fn fold_batch_norms(graph: &mut Graph) -> Result<(), ImportError> {
    let mut i = 0;
    while i < graph.nodes.len() {
        if fold_one(graph, i)? {
            graph.nodes.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn constant(graph: &Graph, input: Option<usize>) -> Option<Data> {
    input.and_then(|id| graph.values[id].constant.clone())
}

/// Tries to fold node `i`; returns whether it was folded (the caller removes it).
fn fold_one(graph: &mut Graph, i: usize) -> Result<bool, ImportError> {
    let Some(bn) = graph.nodes[i].op.as_any().downcast_ref::<BatchNorm>() else {
        return Ok(false);
    };
    let inputs = graph.nodes[i].inputs.clone();
    let Some(x) = inputs[0] else { return Ok(false) };
    let params: Option<Vec<Data>> = (1..5)
        .map(|k| constant(graph, inputs.get(k).copied().flatten()))
        .collect();
    let Some(params) = params else {
        return Ok(false);
    };
    let users = graph
        .nodes
        .iter()
        .filter(|n| n.inputs.contains(&Some(x)))
        .count();
    if users != 1 || graph.outputs.contains(&x) {
        return Ok(false);
    }
    let Some(p) = graph
        .nodes
        .iter()
        .position(|n| n.outputs.first() == Some(&Some(x)))
    else {
        return Ok(false);
    };
    let err = |kind: NodeError| ImportError::Node {
        node: graph.nodes[i].name.clone(),
        op_type: graph.nodes[i].op_type.clone(),
        opset: graph.opset,
        kind,
    };
    let (a, c) = bn
        .affine(&params[0], &params[1], &params[2], &params[3])
        .map_err(err)?;
    let producer = &graph.nodes[p];
    let weight = constant(graph, producer.inputs.get(1).copied().flatten());
    let bias = constant(graph, producer.inputs.get(2).copied().flatten());
    let Some(weight) = weight else {
        return Ok(false);
    };
    if producer.inputs.get(2).copied().flatten().is_some() && bias.is_none() {
        return Ok(false);
    }
    let channels = a.len();

    let (new_w, new_b) = if producer.op.as_any().is::<Conv>() {
        if weight.shape().first() != Some(&channels) {
            return Ok(false);
        }
        let per_out: usize = weight.shape()[1..].iter().product();
        let w = scale_rows(&weight, &a, per_out);
        let b: Vec<f64> = (0..channels)
            .map(|m| {
                bias.as_ref()
                    .map_or(0.0, |b| b.values.iter().nth(m).copied().unwrap_or(0.0))
                    * a[m]
                    + c[m]
            })
            .collect();
        (
            w,
            Data::float(ArrayD::from_shape_vec(IxDyn(&[channels]), b).expect("1-D")),
        )
    } else if let Some(gemm) = producer.op.as_any().downcast_ref::<Gemm>() {
        let out_shape = &graph.values[x].shape;
        if out_shape.len() != 2 || out_shape[1] != channels || weight.shape().len() != 2 {
            return Ok(false);
        }
        // Effective B is [K, N]; scale column n by a[n].
        let eff = gemm.effective_b(&weight).map_err(err)?;
        let mut w = eff.values.clone();
        for (idx, v) in w.indexed_iter_mut() {
            *v *= a[idx[1]];
        }
        let m = out_shape[0];
        let mut cb = vec![0.0; m * channels];
        for r in 0..m {
            for n in 0..channels {
                let prior = match &bias {
                    None => 0.0,
                    Some(b) => match b.values.broadcast(IxDyn(&[m, channels])) {
                        Some(v) => v[[r, n].as_slice()],
                        None => return Ok(false),
                    },
                };
                cb[r * channels + n] = gemm.beta * prior * a[n] + c[n];
            }
        }
        let new_gemm = Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: gemm.trans_a,
            trans_b: false,
        };
        graph.nodes[p].op = Box::new(new_gemm);
        (
            Data::float(w),
            Data::float(ArrayD::from_shape_vec(IxDyn(&[m, channels]), cb).expect("2-D")),
        )
    } else {
        return Ok(false);
    };

    let bn_out = graph.nodes[i].outputs[0];
    let w_id = push_const(
        graph,
        &format!("{}.folded_weight", graph.nodes[p].name),
        new_w,
    );
    let b_id = push_const(
        graph,
        &format!("{}.folded_bias", graph.nodes[p].name),
        new_b,
    );
    let producer = &mut graph.nodes[p];
    producer.inputs.truncate(1);
    producer.inputs.push(Some(w_id));
    producer.inputs.push(Some(b_id));
    producer.outputs = vec![bn_out];
    Ok(true)
}

fn scale_rows(w: &Data, a: &[f64], per_row: usize) -> Data {
    let std = w.values.as_standard_layout();
    let values: Vec<f64> = std
        .iter()
        .enumerate()
        .map(|(i, &v)| v * a[i / per_row])
        .collect();
    Data::float(ArrayD::from_shape_vec(IxDyn(w.shape()), values).expect("same shape"))
}

fn push_const(graph: &mut Graph, name: &str, data: Data) -> usize {
    graph.values.push(crate::graph::Value {
        name: name.to_string(),
        shape: data.shape().to_vec(),
        dtype: DType::Float,
        constant: Some(data),
    });
    graph.values.len() - 1
}

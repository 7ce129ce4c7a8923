//! `LSTM`, `GRU` and `RNN`, unrolled over the static sequence length into matrix products,
//! gate activations and elementwise updates, exactly as the ONNX operator definitions write
//! them: every direction (forward, reverse, bidirectional), both layouts, peepholes, cell
//! clipping, coupled input-forget gates, `linear_before_reset`, initial states, and the
//! activations the spec lists (Sigmoid, Tanh, Relu, LeakyRelu, ThresholdedRelu, ScaledTanh,
//! HardSigmoid, Elu, Softsign, Softplus, Affine) with their `activation_alpha/beta`.
//!
//! The input projection `X W^T + biases` is one product for all steps; each step then adds
//! `H R^T` and applies the gates. `sequence_lens`, when given, must be the full length for
//! every batch entry.

use ndarray::{ArrayD, Axis, IxDyn};

use super::{attr_float, attr_ints, ExpandCx};
use crate::data::Data;
use crate::error::NodeError;

type Result<T> = std::result::Result<T, NodeError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Lstm,
    Gru,
    Rnn,
}

impl Kind {
    fn gates(self) -> usize {
        match self {
            Kind::Lstm => 4,
            Kind::Gru => 3,
            Kind::Rnn => 1,
        }
    }

    fn default_activations(self) -> &'static [&'static str] {
        match self {
            Kind::Lstm => &["Sigmoid", "Tanh", "Tanh"],
            Kind::Gru => &["Sigmoid", "Tanh"],
            Kind::Rnn => &["Tanh"],
        }
    }
}

/// An activation with its parameters.
#[derive(Clone, Debug)]
struct Activation {
    name: String,
    alpha: Option<f64>,
    beta: Option<f64>,
}

/// The parsed attributes shared by the three layers.
struct Spec {
    kind: Kind,
    hidden: usize,
    directions: Vec<bool>,
    batch_first: bool,
    clip: Option<f64>,
    /// Per direction, the activations in the order of [`Kind::default_activations`].
    activations: Vec<Vec<Activation>>,
    input_forget: bool,
    linear_before_reset: bool,
}

fn unsupported(name: &str, value: String, supported: &str) -> NodeError {
    NodeError::UnsupportedAttribute {
        name: name.into(),
        value,
        supported: supported.into(),
    }
}

fn parse(cx: &ExpandCx<'_>, kind: Kind) -> Result<Spec> {
    let a = &cx.attrs;
    let directions = match a.string_or("direction", "forward")?.as_str() {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => {
            return Err(unsupported(
                "direction",
                format!("'{other}'"),
                "forward, reverse or bidirectional",
            ))
        }
    };
    let r = cx.input(2, "R")?;
    let hidden = match a.int("hidden_size")? {
        Some(h) => crate::ops::usizes(&[h], "hidden_size")?[0],
        None => *r
            .shape
            .last()
            .ok_or_else(|| NodeError::Invalid("R has no shape".into()))?,
    };
    let batch_first = a.int_or("layout", 0)? != 0;
    let clip = a.float("clip")?;
    let input_forget = kind == Kind::Lstm && a.int_or("input_forget", 0)? != 0;
    let linear_before_reset = kind == Kind::Gru && a.int_or("linear_before_reset", 0)? != 0;
    let per = kind.default_activations().len();
    let names: Vec<String> = match a.strings("activations")? {
        Some(list) => list,
        None => kind
            .default_activations()
            .iter()
            .cycle()
            .take(per * directions.len())
            .map(|s| s.to_string())
            .collect(),
    };
    if names.len() != per * directions.len() {
        return Err(NodeError::Invalid(format!(
            "{} activations given, {} expected",
            names.len(),
            per * directions.len()
        )));
    }
    let mut alphas = a
        .floats("activation_alpha")?
        .unwrap_or_default()
        .into_iter();
    let mut betas = a.floats("activation_beta")?.unwrap_or_default().into_iter();
    let mut acts = Vec::new();
    for name in names {
        let (uses_alpha, uses_beta) = match name.as_str() {
            "Sigmoid" | "Tanh" | "Relu" | "Softsign" | "Softplus" => (false, false),
            "LeakyRelu" | "ThresholdedRelu" | "Elu" => (true, false),
            "ScaledTanh" | "HardSigmoid" | "Affine" => (true, true),
            other => {
                return Err(unsupported(
                    "activations",
                    format!("'{other}'"),
                    "the activations of the ONNX recurrent ops",
                ))
            }
        };
        acts.push(Activation {
            alpha: if uses_alpha { alphas.next() } else { None },
            beta: if uses_beta { betas.next() } else { None },
            name,
        });
    }
    a.finish()?;
    Ok(Spec {
        kind,
        hidden,
        activations: acts.chunks(per).map(<[Activation]>::to_vec).collect(),
        directions,
        batch_first,
        clip,
        input_forget,
        linear_before_reset,
    })
}

/// Emits `act(x)`.
fn activate(cx: &mut ExpandCx<'_>, act: &Activation, x: &str) -> String {
    let alpha = |d: f64| act.alpha.unwrap_or(d);
    let beta = |d: f64| act.beta.unwrap_or(d);
    match act.name.as_str() {
        "Sigmoid" | "Tanh" | "Relu" | "Softsign" | "Softplus" => cx.op(&act.name, &[x], vec![]),
        "LeakyRelu" => cx.op("LeakyRelu", &[x], vec![attr_float("alpha", alpha(0.01))]),
        "Elu" => cx.op("Elu", &[x], vec![attr_float("alpha", alpha(1.0))]),
        "HardSigmoid" => cx.op(
            "HardSigmoid",
            &[x],
            vec![
                attr_float("alpha", alpha(0.2)),
                attr_float("beta", beta(0.5)),
            ],
        ),
        "ThresholdedRelu" => {
            let t = cx.scalar(alpha(1.0));
            let above = cx.op("Greater", &[x, &t], vec![]);
            let zero = cx.scalar(0.0);
            cx.op("Where", &[&above, x, &zero], vec![])
        }
        "ScaledTanh" => {
            let (a, b) = (cx.scalar(alpha(1.0)), cx.scalar(beta(1.0)));
            let bx = cx.op("Mul", &[x, &b], vec![]);
            let t = cx.op("Tanh", &[&bx], vec![]);
            cx.op("Mul", &[&t, &a], vec![])
        }
        _ => {
            // Affine
            let (a, b) = (cx.scalar(alpha(1.0)), cx.scalar(beta(0.0)));
            let ax = cx.op("Mul", &[x, &a], vec![]);
            cx.op("Add", &[&ax, &b], vec![])
        }
    }
}

/// `x` clipped to `[-c, c]` when the layer clips.
fn clipped(cx: &mut ExpandCx<'_>, spec: &Spec, x: String) -> String {
    match spec.clip {
        Some(c) => {
            let (lo, hi) = (cx.scalar(-c), cx.scalar(c));
            cx.op("Clip", &[&x, &lo, &hi], vec![])
        }
        None => x,
    }
}

/// Rows `[k * h, (k + 1) * h)` of direction `d` of a `[dirs, G * h, ...]` weight, transposed
/// to `[..., h]` for a right-hand product.
fn gate_weights(w: &Data, d: usize, rows: std::ops::Range<usize>) -> Data {
    let m = w.values.index_axis(Axis(0), d);
    let part = m.slice_axis(Axis(0), ndarray::Slice::from(rows));
    Data::float(part.t().to_owned().into_dyn())
}

/// `[start, end)` of direction `d` of the bias `[dirs, 2 G h]` (zeros when absent).
fn bias_part(b: Option<&Data>, d: usize, range: std::ops::Range<usize>) -> Data {
    let len = range.len();
    match b {
        Some(b) => {
            let row = b.values.index_axis(Axis(0), d);
            Data::float(
                row.slice_axis(Axis(0), ndarray::Slice::from(range))
                    .to_owned()
                    .into_dyn(),
            )
        }
        None => Data::float(ArrayD::zeros(IxDyn(&[len]))),
    }
}

fn add_data(a: &Data, b: &Data) -> Data {
    Data::float(&a.values + &b.values)
}

/// The initial state of direction `d` from input `i` (`[dirs, batch, h]`), or zeros.
fn initial(cx: &mut ExpandCx<'_>, i: usize, d: usize, batch: usize, h: usize) -> String {
    match cx.optional(i).map(|x| x.name.clone()) {
        Some(name) => {
            let s = cx.slice(&name, 0, d as i64, d as i64 + 1);
            cx.squeeze(&s, 0)
        }
        None => cx.constant_value(&Data::float(ArrayD::zeros(IxDyn(&[batch, h])))),
    }
}

/// The unrolled layer; returns `(Y, Y_h, Y_c)`.
fn unroll(cx: &mut ExpandCx<'_>, spec: &Spec) -> Result<Vec<Option<String>>> {
    let x = cx.input(0, "X")?.clone();
    if x.shape.len() != 3 {
        return Err(NodeError::Invalid(format!(
            "X must have rank 3, got {:?}",
            x.shape
        )));
    }
    let (seq, batch) = if spec.batch_first {
        (x.shape[1], x.shape[0])
    } else {
        (x.shape[0], x.shape[1])
    };
    let h = spec.hidden;
    let g = spec.kind.gates();
    let dirs = spec.directions.len();
    let w = cx.constant(1, "W")?;
    let r = cx.constant(2, "R")?;
    let b = match cx.optional(3) {
        Some(_) => Some(cx.constant(3, "B")?),
        None => None,
    };
    let expect = |what: &str, d: &Data, shape: &[usize]| -> Result<()> {
        if d.shape() != shape {
            return Err(NodeError::Invalid(format!(
                "{what} has shape {:?}, expected {shape:?}",
                d.shape()
            )));
        }
        Ok(())
    };
    let input_size = x.shape[2];
    expect("W", w, &[dirs, g * h, input_size])?;
    expect("R", r, &[dirs, g * h, h])?;
    if let Some(b) = b {
        expect("B", b, &[dirs, 2 * g * h])?;
    }
    if let Some(lens) = cx.optional(4) {
        let full = lens
            .constant
            .and_then(|d| d.to_i64s().ok())
            .is_some_and(|v| v.iter().all(|&l| l == seq as i64));
        if !full {
            return Err(unsupported(
                "sequence_lens",
                "shorter than the sequence".into(),
                "sequence_lens must be a constant equal to the sequence length for every batch \
                 entry",
            ));
        }
    }
    let peepholes = match (spec.kind, cx.optional(7)) {
        (Kind::Lstm, Some(_)) => Some(cx.constant(7, "P")?),
        _ => None,
    };
    if let Some(p) = peepholes {
        expect("P", p, &[dirs, 3 * h])?;
    }
    // X as [seq, batch, input].
    let xs = if spec.batch_first {
        cx.op("Transpose", &[&x.name], vec![attr_ints("perm", &[1, 0, 2])])
    } else {
        x.name.clone()
    };
    let (mut ys, mut hs, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for (d, &reverse) in spec.directions.iter().enumerate() {
        let acts = spec.activations[d].clone();
        // Input projection for every step, with the biases that do not wait for the reset gate.
        let wt = gate_weights(w, d, 0..g * h);
        let wt = cx.constant_value(&wt);
        let wb = bias_part(b, d, 0..g * h);
        let mut rb = bias_part(b, d, g * h..2 * g * h);
        let mut rb_h = None;
        if spec.linear_before_reset {
            // Rb_h stays inside r * (H R_h^T + Rb_h).
            rb_h = Some(bias_part(b, d, g * h + 2 * h..2 * g * h));
            rb.values
                .slice_axis_mut(Axis(0), ndarray::Slice::from(2 * h..3 * h))
                .fill(0.0);
        }
        let bias = cx.constant_value(&add_data(&wb, &rb));
        let xw = cx.op("MatMul", &[&xs, &wt], vec![]);
        let xw = cx.op("Add", &[&xw, &bias], vec![]);
        let mut state = initial(cx, 5, d, batch, h);
        let mut cell = if spec.kind == Kind::Lstm {
            Some(initial(cx, 6, d, batch, h))
        } else {
            None
        };
        let mut outs: Vec<Option<String>> = vec![None; seq];
        let order: Vec<usize> = if reverse {
            (0..seq).rev().collect()
        } else {
            (0..seq).collect()
        };
        for t in order {
            let xt = cx.slice(&xw, 0, t as i64, t as i64 + 1);
            let xt = cx.squeeze(&xt, 0);
            let gate = |cx: &mut ExpandCx<'_>, v: &str, k: usize| {
                cx.slice(v, -1, (k * h) as i64, ((k + 1) * h) as i64)
            };
            let new_state = match spec.kind {
                Kind::Rnn => {
                    let rt = cx.constant_value(&gate_weights(r, d, 0..h));
                    let hr = cx.op("MatMul", &[&state, &rt], vec![]);
                    let pre = cx.op("Add", &[&xt, &hr], vec![]);
                    let pre = clipped(cx, spec, pre);
                    activate(cx, &acts[0], &pre)
                }
                Kind::Lstm => {
                    let c_prev = cell.clone().expect("LSTM has a cell");
                    let rt = cx.constant_value(&gate_weights(r, d, 0..4 * h));
                    let hr = cx.op("MatMul", &[&state, &rt], vec![]);
                    let all = cx.op("Add", &[&xt, &hr], vec![]);
                    let (mut i, mut o, mut f, c) = (
                        gate(cx, &all, 0),
                        gate(cx, &all, 1),
                        gate(cx, &all, 2),
                        gate(cx, &all, 3),
                    );
                    let peep = |cx: &mut ExpandCx<'_>, k: usize| {
                        peepholes.map(|p| {
                            let row = p.values.index_axis(Axis(0), d);
                            let part = row
                                .slice_axis(Axis(0), ndarray::Slice::from(k * h..(k + 1) * h))
                                .to_owned()
                                .into_dyn();
                            cx.constant_value(&Data::float(part))
                        })
                    };
                    // P is [P_i, P_o, P_f].
                    if let Some(pi) = peep(cx, 0) {
                        let m = cx.op("Mul", &[&c_prev, &pi], vec![]);
                        i = cx.op("Add", &[&i, &m], vec![]);
                    }
                    if let Some(pf) = peep(cx, 2) {
                        let m = cx.op("Mul", &[&c_prev, &pf], vec![]);
                        f = cx.op("Add", &[&f, &m], vec![]);
                    }
                    let i = clipped(cx, spec, i);
                    let i = activate(cx, &acts[0], &i);
                    let f = if spec.input_forget {
                        let one = cx.scalar(1.0);
                        cx.op("Sub", &[&one, &i], vec![])
                    } else {
                        let f = clipped(cx, spec, f);
                        activate(cx, &acts[0], &f)
                    };
                    let c = clipped(cx, spec, c);
                    let c = activate(cx, &acts[1], &c);
                    let kept = cx.op("Mul", &[&f, &c_prev], vec![]);
                    let fresh = cx.op("Mul", &[&i, &c], vec![]);
                    let c_new = cx.op("Add", &[&kept, &fresh], vec![]);
                    if let Some(po) = peep(cx, 1) {
                        let m = cx.op("Mul", &[&c_new, &po], vec![]);
                        o = cx.op("Add", &[&o, &m], vec![]);
                    }
                    let o = clipped(cx, spec, o);
                    let o = activate(cx, &acts[0], &o);
                    let hc = activate(cx, &acts[2], &c_new);
                    cell = Some(c_new);
                    cx.op("Mul", &[&o, &hc], vec![])
                }
                Kind::Gru => {
                    // Gates z, r, h.
                    let xz = gate(cx, &xt, 0);
                    let xr = gate(cx, &xt, 1);
                    let xh = gate(cx, &xt, 2);
                    let rzr = cx.constant_value(&gate_weights(r, d, 0..2 * h));
                    let hzr = cx.op("MatMul", &[&state, &rzr], vec![]);
                    let hz = gate(cx, &hzr, 0);
                    let hr = gate(cx, &hzr, 1);
                    let z = cx.op("Add", &[&xz, &hz], vec![]);
                    let z = clipped(cx, spec, z);
                    let z = activate(cx, &acts[0], &z);
                    let rr = cx.op("Add", &[&xr, &hr], vec![]);
                    let rr = clipped(cx, spec, rr);
                    let rr = activate(cx, &acts[0], &rr);
                    let rh = cx.constant_value(&gate_weights(r, d, 2 * h..3 * h));
                    let pre = match &rb_h {
                        Some(rbh) => {
                            let hh = cx.op("MatMul", &[&state, &rh], vec![]);
                            let rbh = cx.constant_value(rbh);
                            let hh = cx.op("Add", &[&hh, &rbh], vec![]);
                            let gated = cx.op("Mul", &[&rr, &hh], vec![]);
                            cx.op("Add", &[&xh, &gated], vec![])
                        }
                        None => {
                            let reset = cx.op("Mul", &[&rr, &state], vec![]);
                            let hh = cx.op("MatMul", &[&reset, &rh], vec![]);
                            cx.op("Add", &[&xh, &hh], vec![])
                        }
                    };
                    let pre = clipped(cx, spec, pre);
                    let cand = activate(cx, &acts[1], &pre);
                    // H = (1 - z) cand + z H = cand + z (H - cand)
                    let diff = cx.op("Sub", &[&state, &cand], vec![]);
                    let zd = cx.op("Mul", &[&z, &diff], vec![]);
                    cx.op("Add", &[&cand, &zd], vec![])
                }
            };
            state = new_state.clone();
            outs[t] = Some(new_state);
        }
        let steps: Vec<String> = outs
            .into_iter()
            .map(|o| {
                let o = o.expect("every step ran");
                cx.unsqueeze(&o, 0)
            })
            .collect();
        let y = cx.concat(&steps, 0);
        ys.push(cx.unsqueeze(&y, 1));
        hs.push(cx.unsqueeze(&state, 0));
        if let Some(c) = cell {
            cs.push(cx.unsqueeze(&c, 0));
        }
    }
    let mut y = cx.concat(&ys, 1);
    let mut yh = cx.concat(&hs, 0);
    let mut yc = (!cs.is_empty()).then(|| cx.concat(&cs, 0));
    if spec.batch_first {
        y = cx.op("Transpose", &[&y], vec![attr_ints("perm", &[2, 0, 1, 3])]);
        yh = cx.op("Transpose", &[&yh], vec![attr_ints("perm", &[1, 0, 2])]);
        yc = yc.map(|c| cx.op("Transpose", &[&c], vec![attr_ints("perm", &[1, 0, 2])]));
    }
    Ok(vec![Some(y), Some(yh), yc])
}

/// `LSTM`.
pub(crate) fn lstm(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let spec = parse(cx, Kind::Lstm)?;
    unroll(cx, &spec)
}

/// `GRU`.
pub(crate) fn gru(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let spec = parse(cx, Kind::Gru)?;
    unroll(cx, &spec)
}

/// `RNN`.
pub(crate) fn rnn(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let spec = parse(cx, Kind::Rnn)?;
    unroll(cx, &spec)
}

//! Output shape and scale of every op, with the checks that make a node well formed.

use crate::op::{ConvSpec, ConvTransposeSpec, Op, PadMode, PoolSpec, ReduceSpec};
use crate::table::LookupTable;
use crate::tensor::{broadcast_shapes, numel};

/// Why a node is malformed. Turned into [`crate::IrError::InvalidNode`] with the node's name.
pub type SignatureError = String;

/// The output shape of `op` applied to inputs of the given shapes.
pub fn infer_shape(
    op: &Op,
    inputs: &[&[usize]],
    tables: &[LookupTable],
) -> Result<Vec<usize>, SignatureError> {
    let (lo, hi) = op.arity();
    if inputs.len() < lo || inputs.len() > hi {
        return Err(format!(
            "takes {lo}{} inputs, got {}",
            if hi == lo {
                String::new()
            } else if hi == usize::MAX {
                " or more".into()
            } else {
                format!(" to {hi}")
            },
            inputs.len()
        ));
    }
    match op {
        Op::Input { .. } | Op::Const { .. } => Err("has no input shape rule".into()),
        Op::Add | Op::Sub | Op::Mul | Op::Max | Op::Min | Op::Div { .. } | Op::Compare(_) => {
            broadcast_shapes(inputs[0], inputs[1]).ok_or_else(|| {
                format!(
                    "shapes {:?} and {:?} do not broadcast",
                    inputs[0], inputs[1]
                )
            })
        }
        Op::Where => broadcast_shapes(inputs[0], inputs[1])
            .and_then(|s| broadcast_shapes(&s, inputs[2]))
            .ok_or_else(|| {
                format!(
                    "shapes {:?}, {:?} and {:?} do not broadcast",
                    inputs[0], inputs[1], inputs[2]
                )
            }),
        Op::Take { axis } => {
            let (x, idx) = (inputs[0], inputs[1]);
            if *axis >= x.len() || x[*axis] == 0 {
                return Err(format!("axis {axis} is not a non-empty axis of {x:?}"));
            }
            let mut out = x[..*axis].to_vec();
            out.extend_from_slice(idx);
            out.extend_from_slice(&x[axis + 1..]);
            Ok(out)
        }
        Op::Neg
        | Op::Relu
        | Op::Abs
        | Op::Clip { .. }
        | Op::Rescale { .. }
        | Op::Sqrt { .. }
        | Op::Lookup { .. } => {
            if let Op::Lookup { table } = op {
                if *table >= tables.len() {
                    return Err(format!("refers to missing lookup table {table}"));
                }
            }
            if let Op::Clip {
                min: Some(a),
                max: Some(b),
            } = op
            {
                if a > b {
                    return Err(format!("clip bounds are reversed ({a} > {b})"));
                }
            }
            Ok(inputs[0].to_vec())
        }
        Op::MatMul => matmul_shape(inputs),
        Op::Conv(spec) => conv_shape(spec, inputs),
        Op::ConvTranspose(spec) => conv_transpose_shape(spec, inputs),
        Op::SumPool(spec) | Op::MaxPool(spec) => pool_shape(spec, inputs[0]),
        Op::ReduceSum(spec) | Op::ReduceMax(spec) => reduce_shape(spec, inputs[0]),
        Op::ArgMax { axis, keepdims, .. } => {
            let x = inputs[0];
            if *axis >= x.len() || x[*axis] == 0 {
                return Err(format!("axis {axis} is not a non-empty axis of {x:?}"));
            }
            reduce_shape(
                &ReduceSpec {
                    axes: vec![*axis],
                    keepdims: *keepdims,
                },
                x,
            )
        }
        Op::Reshape { shape } => {
            if numel(shape) != numel(inputs[0]) {
                return Err(format!("cannot reshape {:?} into {shape:?}", inputs[0]));
            }
            Ok(shape.clone())
        }
        Op::Transpose { perm } => {
            let x = inputs[0];
            let mut seen = vec![false; x.len()];
            let valid = perm.len() == x.len()
                && perm
                    .iter()
                    .all(|&p| p < x.len() && !std::mem::replace(&mut seen[p], true));
            if !valid {
                return Err(format!("{perm:?} is not a permutation of {} axes", x.len()));
            }
            Ok(perm.iter().map(|&p| x[p]).collect())
        }
        Op::Slice { ranges } => {
            let x = inputs[0];
            if ranges.len() != x.len() {
                return Err(format!("needs {} ranges, got {}", x.len(), ranges.len()));
            }
            let mut out = Vec::with_capacity(x.len());
            for (axis, (r, &d)) in ranges.iter().zip(x).enumerate() {
                let n = r.len();
                if r.step == 0 {
                    return Err(format!("axis {axis} has step 0"));
                }
                if n > 0 {
                    let last = r.start + (n as i64 - 1) * r.step;
                    if r.start < 0 || r.start >= d as i64 || last < 0 || last >= d as i64 {
                        return Err(format!("range {r:?} leaves axis {axis} of length {d}"));
                    }
                }
                out.push(n);
            }
            Ok(out)
        }
        Op::Concat { axis } => {
            let first = inputs[0];
            if *axis >= first.len() {
                return Err(format!("axis {axis} out of range for rank {}", first.len()));
            }
            let mut out = first.to_vec();
            out[*axis] = 0;
            for s in inputs {
                let same_rank = s.len() == first.len();
                if !same_rank
                    || s.iter()
                        .zip(first.iter())
                        .enumerate()
                        .any(|(i, (a, b))| i != *axis && a != b)
                {
                    return Err(format!(
                        "cannot concatenate {s:?} with {first:?} on axis {axis}"
                    ));
                }
                out[*axis] += s[*axis];
            }
            Ok(out)
        }
        Op::Gather {
            axis,
            indices,
            indices_shape,
        } => {
            let x = inputs[0];
            if *axis >= x.len() {
                return Err(format!("axis {axis} out of range for rank {}", x.len()));
            }
            if numel(indices_shape) != indices.len() {
                return Err("index count does not match index shape".into());
            }
            if let Some(bad) = indices.iter().find(|&&i| i >= x[*axis]) {
                return Err(format!(
                    "index {bad} out of range for axis of length {}",
                    x[*axis]
                ));
            }
            let mut out = x[..*axis].to_vec();
            out.extend_from_slice(indices_shape);
            out.extend_from_slice(&x[axis + 1..]);
            Ok(out)
        }
        Op::Pad(spec) => {
            let x = inputs[0];
            if spec.begin.len() != x.len() || spec.end.len() != x.len() {
                return Err(format!("needs pads for {} axes", x.len()));
            }
            for (axis, &d) in x.iter().enumerate() {
                let (b, e) = (spec.begin[axis], spec.end[axis]);
                match spec.mode {
                    PadMode::Reflect if (b > 0 || e > 0) && (b >= d || e >= d) => {
                        return Err(format!(
                            "reflect padding of {b}/{e} needs an axis longer than that (axis {axis} has {d})"
                        ))
                    }
                    PadMode::Edge if (b > 0 || e > 0) && d == 0 => {
                        return Err(format!("edge padding of empty axis {axis}"))
                    }
                    _ => {}
                }
            }
            Ok(x.iter()
                .enumerate()
                .map(|(i, d)| d + spec.begin[i] + spec.end[i])
                .collect())
        }
        Op::Tile { repeats } => {
            let x = inputs[0];
            if repeats.len() != x.len() {
                return Err(format!("needs {} repeats, got {}", x.len(), repeats.len()));
            }
            Ok(x.iter().zip(repeats).map(|(d, r)| d * r).collect())
        }
        Op::Expand { shape } => match broadcast_shapes(inputs[0], shape) {
            Some(s) if &s == shape => Ok(s),
            _ => Err(format!("cannot broadcast {:?} to {shape:?}", inputs[0])),
        },
    }
}

fn matmul_shape(inputs: &[&[usize]]) -> Result<Vec<usize>, SignatureError> {
    let (a, b) = (inputs[0], inputs[1]);
    if a.len() < 2 || b.len() < 2 {
        return Err(format!("needs operands of rank >= 2, got {a:?} and {b:?}"));
    }
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    if k != k2 {
        return Err(format!("inner dimensions differ: {a:?} x {b:?}"));
    }
    let mut out = broadcast_shapes(&a[..a.len() - 2], &b[..b.len() - 2])
        .ok_or_else(|| format!("batch axes of {a:?} and {b:?} do not broadcast"))?;
    out.push(m);
    out.push(n);
    if let Some(bias) = inputs.get(2) {
        if broadcast_shapes(bias, &out).as_deref() != Some(&out[..]) {
            return Err(format!("bias {bias:?} does not broadcast to {out:?}"));
        }
    }
    Ok(out)
}

fn spatial_checks(rank: usize, lists: &[(&str, usize)], x: &[usize]) -> Result<(), SignatureError> {
    if x.len() < 3 {
        return Err(format!(
            "needs an input of rank >= 3 ([n, c, ...]), got {x:?}"
        ));
    }
    for (name, len) in lists {
        if *len != rank {
            return Err(format!("{name} has {len} entries for {rank} spatial axes"));
        }
    }
    Ok(())
}

fn conv_shape(spec: &ConvSpec, inputs: &[&[usize]]) -> Result<Vec<usize>, SignatureError> {
    let (x, w) = (inputs[0], inputs[1]);
    let rank = x.len().saturating_sub(2);
    spatial_checks(
        rank,
        &[
            ("strides", spec.strides.len()),
            ("dilations", spec.dilations.len()),
            ("pads_begin", spec.pads_begin.len()),
            ("pads_end", spec.pads_end.len()),
        ],
        x,
    )?;
    if w.len() != x.len() {
        return Err(format!(
            "weight rank {} differs from input rank {}",
            w.len(),
            x.len()
        ));
    }
    let g = spec.group;
    if g == 0 || x[1] % g != 0 || w[0] % g != 0 || w[1] * g != x[1] {
        return Err(format!(
            "channels do not split into {g} groups (input {x:?}, weight {w:?})"
        ));
    }
    if spec.strides.contains(&0) || spec.dilations.contains(&0) {
        return Err("strides and dilations must be positive".into());
    }
    let mut out = vec![x[0], w[0]];
    for i in 0..rank {
        let span = (w[i + 2].max(1) - 1) * spec.dilations[i] + 1;
        let padded = x[i + 2] + spec.pads_begin[i] + spec.pads_end[i];
        if w[i + 2] == 0 || padded < span {
            return Err(format!(
                "kernel {:?} does not fit the padded input on spatial axis {i}",
                &w[2..]
            ));
        }
        out.push((padded - span) / spec.strides[i] + 1);
    }
    check_bias(inputs, w[0])?;
    Ok(out)
}

fn conv_transpose_shape(
    spec: &ConvTransposeSpec,
    inputs: &[&[usize]],
) -> Result<Vec<usize>, SignatureError> {
    let (x, w) = (inputs[0], inputs[1]);
    let rank = x.len().saturating_sub(2);
    spatial_checks(
        rank,
        &[
            ("strides", spec.strides.len()),
            ("dilations", spec.dilations.len()),
            ("pads_begin", spec.pads_begin.len()),
            ("output_spatial", spec.output_spatial.len()),
        ],
        x,
    )?;
    if w.len() != x.len() {
        return Err(format!(
            "weight rank {} differs from input rank {}",
            w.len(),
            x.len()
        ));
    }
    let g = spec.group;
    if g == 0 || x[1] % g != 0 || w[0] != x[1] {
        return Err(format!(
            "channels do not split into {g} groups (input {x:?}, weight {w:?})"
        ));
    }
    if spec.strides.contains(&0) || spec.dilations.contains(&0) {
        return Err("strides and dilations must be positive".into());
    }
    let m = w[1] * g;
    check_bias(inputs, m)?;
    let mut out = vec![x[0], m];
    out.extend_from_slice(&spec.output_spatial);
    Ok(out)
}

fn check_bias(inputs: &[&[usize]], channels: usize) -> Result<(), SignatureError> {
    match inputs.get(2) {
        Some(b) if *b != [channels] => Err(format!("bias shape {b:?} is not [{channels}]")),
        _ => Ok(()),
    }
}

fn pool_shape(spec: &PoolSpec, x: &[usize]) -> Result<Vec<usize>, SignatureError> {
    let rank = x.len().saturating_sub(2);
    spatial_checks(
        rank,
        &[
            ("kernel", spec.kernel.len()),
            ("strides", spec.strides.len()),
            ("dilations", spec.dilations.len()),
            ("pads_begin", spec.pads_begin.len()),
            ("output_spatial", spec.output_spatial.len()),
        ],
        x,
    )?;
    if spec.kernel.contains(&0) || spec.strides.contains(&0) || spec.dilations.contains(&0) {
        return Err("kernel, strides and dilations must be positive".into());
    }
    // Every window must contain at least one input element.
    for i in 0..rank {
        for o in [0, spec.output_spatial[i].saturating_sub(1)] {
            let members = (0..spec.kernel[i])
                .filter(|k| {
                    let pos = (o * spec.strides[i] + k * spec.dilations[i]) as i64
                        - spec.pads_begin[i] as i64;
                    pos >= 0 && (pos as usize) < x[i + 2]
                })
                .count();
            if spec.output_spatial[i] > 0 && members == 0 {
                return Err(format!(
                    "window {o} on spatial axis {i} covers only padding"
                ));
            }
        }
    }
    let mut out = x[..2].to_vec();
    out.extend_from_slice(&spec.output_spatial);
    Ok(out)
}

fn reduce_shape(spec: &ReduceSpec, x: &[usize]) -> Result<Vec<usize>, SignatureError> {
    if spec.axes.windows(2).any(|w| w[0] >= w[1]) || spec.axes.iter().any(|&a| a >= x.len()) {
        return Err(format!(
            "axes {:?} are not sorted distinct axes of {x:?}",
            spec.axes
        ));
    }
    Ok(x.iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if spec.axes.contains(&i) {
                spec.keepdims.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect())
}

/// The output scale of `op` given its input scales.
pub fn output_scale(
    op: &Op,
    scales: &[i32],
    tables: &[LookupTable],
) -> Result<i32, SignatureError> {
    let same = |what: &str| -> Result<i32, SignatureError> {
        if scales.windows(2).all(|w| w[0] == w[1]) {
            Ok(scales[0])
        } else {
            Err(format!("{what} needs equal input scales, got {scales:?}"))
        }
    };
    match op {
        Op::Input { .. } | Op::Const { .. } => Err("has no input scale rule".into()),
        Op::Add | Op::Sub | Op::Max | Op::Min | Op::Concat { .. } => same(op.name()),
        Op::Mul => Ok(scales[0] + scales[1]),
        Op::MatMul | Op::Conv(_) | Op::ConvTranspose(_) => {
            let out = scales[0] + scales[1];
            match scales.get(2) {
                Some(&b) if b != out => Err(format!(
                    "bias scale {b} differs from the product scale {out}"
                )),
                _ => Ok(out),
            }
        }
        Op::Rescale { shift } => Ok(scales[0] - *shift as i32),
        Op::Div { shift } => Ok(scales[0] + *shift as i32 - scales[1]),
        Op::Sqrt { shift } => {
            let s = scales[0] + *shift as i32;
            if s % 2 != 0 {
                return Err(format!("input scale plus shift ({s}) must be even"));
            }
            Ok(s / 2)
        }
        Op::ArgMax { .. } => Ok(0),
        Op::Compare(_) => same(op.name()).map(|_| 0),
        Op::Where => {
            if scales[0] != 0 {
                return Err(format!("the condition has scale {}, not 0", scales[0]));
            }
            if scales[1] != scales[2] {
                return Err(format!(
                    "Where needs equal branch scales, got {} and {}",
                    scales[1], scales[2]
                ));
            }
            Ok(scales[1])
        }
        Op::Take { .. } => {
            if scales[1] != 0 {
                return Err(format!("the indices have scale {}, not 0", scales[1]));
            }
            Ok(scales[0])
        }
        Op::Lookup { table } => {
            let t = &tables[*table];
            if scales[0] != t.in_scale {
                return Err(format!(
                    "input scale {} differs from table input scale {}",
                    scales[0], t.in_scale
                ));
            }
            Ok(t.out_scale)
        }
        _ => Ok(scales[0]),
    }
}

//! Which input elements feed which output element, for every op that combines many inputs.
//!
//! The evaluator and every circuit enumerate ops through these functions, so they cannot
//! disagree about the structure of a convolution or a pooling window.

use crate::op::{ConvSpec, ConvTransposeSpec, Op, PadMode, PoolSpec, ReduceSpec};
use crate::tensor::{numel, strides, unravel, BroadcastMap};

/// Calls `f(coords)` for every coordinate of `shape` in row-major order.
pub fn for_each_coord(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut c = vec![0; shape.len()];
    loop {
        f(&c);
        let mut i = shape.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            c[i] += 1;
            if c[i] < shape[i] {
                break;
            }
            c[i] = 0;
        }
    }
}

/// For a product op (`MatMul`, `Conv`, `ConvTranspose`), calls `f(out, a, b)` for every term
/// `out += a_values[a] * b_values[b]`, outputs in row-major order. Bias is not included.
///
/// # Panics
/// If `op` is not a product op; shapes must have passed [`crate::signature::infer_shape`].
pub fn for_each_product(
    op: &Op,
    a_shape: &[usize],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl FnMut(usize, usize, usize),
) {
    match op {
        Op::MatMul => matmul_terms(a_shape, b_shape, out_shape, f),
        Op::Conv(spec) => conv_terms(spec, a_shape, b_shape, out_shape, f),
        Op::ConvTranspose(spec) => conv_transpose_terms(spec, a_shape, b_shape, out_shape, f),
        other => panic!("{} is not a product op", other.name()),
    }
}

/// The bias element added to output `o` of a product op: per output channel (axis 1) for
/// convolutions, numpy broadcasting for `MatMul`.
pub fn bias_index(op: &Op, bias_shape: &[usize], out_shape: &[usize], o: usize) -> usize {
    match op {
        Op::Conv(_) | Op::ConvTranspose(_) => {
            let spatial: usize = out_shape[2..].iter().product();
            (o / spatial.max(1)) % out_shape[1]
        }
        _ => BroadcastMap::new(bias_shape, out_shape).index(o),
    }
}

fn matmul_terms(a: &[usize], b: &[usize], out: &[usize], mut f: impl FnMut(usize, usize, usize)) {
    let r = out.len();
    let (m, n) = (out[r - 2], out[r - 1]);
    let k = a[a.len() - 1];
    let batch = &out[..r - 2];
    let a_batch = BroadcastMap::new(&a[..a.len() - 2], batch);
    let b_batch = BroadcastMap::new(&b[..b.len() - 2], batch);
    let mut o = 0;
    for bi in 0..numel(batch) {
        let a0 = a_batch.index(bi) * m * k;
        let b0 = b_batch.index(bi) * k * n;
        for i in 0..m {
            for j in 0..n {
                for t in 0..k {
                    f(o, a0 + i * k + t, b0 + t * n + j);
                }
                o += 1;
            }
        }
    }
}

fn conv_terms(
    spec: &ConvSpec,
    x: &[usize],
    w: &[usize],
    out: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = x.len() - 2;
    let xs = strides(x);
    let ws = strides(w);
    let cg = x[1] / spec.group;
    let mg = w[0] / spec.group;
    let kernel = &w[2..];
    let mut o = 0;
    for_each_coord(out, |oc| {
        let (n, m) = (oc[0], oc[1]);
        let g = m / mg;
        for cl in 0..cg {
            let c = g * cg + cl;
            let xbase = n * xs[0] + c * xs[1];
            let wbase = m * ws[0] + cl * ws[1];
            for_each_coord(kernel, |kc| {
                let mut xi = xbase;
                let mut wi = wbase;
                for d in 0..rank {
                    let pos = (oc[d + 2] * spec.strides[d] + kc[d] * spec.dilations[d]) as i64
                        - spec.pads_begin[d] as i64;
                    if pos < 0 || pos as usize >= x[d + 2] {
                        return;
                    }
                    xi += pos as usize * xs[d + 2];
                    wi += kc[d] * ws[d + 2];
                }
                f(o, xi, wi);
            });
        }
        o += 1;
    });
}

fn conv_transpose_terms(
    spec: &ConvTransposeSpec,
    x: &[usize],
    w: &[usize],
    out: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = x.len() - 2;
    let xs = strides(x);
    let ws = strides(w);
    let cg = x[1] / spec.group;
    let mg = w[1];
    let kernel = &w[2..];
    let mut o = 0;
    for_each_coord(out, |oc| {
        let (n, m) = (oc[0], oc[1]);
        let g = m / mg;
        let ml = m % mg;
        for cl in 0..cg {
            let c = g * cg + cl;
            let xbase = n * xs[0] + c * xs[1];
            let wbase = c * ws[0] + ml * ws[1];
            for_each_coord(kernel, |kc| {
                let mut xi = xbase;
                let mut wi = wbase;
                for d in 0..rank {
                    // out = in * stride - pad + k * dilation
                    let t =
                        oc[d + 2] as i64 + spec.pads_begin[d] - (kc[d] * spec.dilations[d]) as i64;
                    let s = spec.strides[d] as i64;
                    if t < 0 || t % s != 0 || (t / s) as usize >= x[d + 2] {
                        return;
                    }
                    xi += (t / s) as usize * xs[d + 2];
                    wi += kc[d] * ws[d + 2];
                }
                f(o, xi, wi);
            });
        }
        o += 1;
    });
}

/// For `Take` along `axis` of data shaped `data` with indices shaped `indices`, calls
/// `f(position, base, stride)` for every output element in row-major order: the element is
/// `data[base + stride * indices[position]]`.
pub fn for_each_take(
    axis: usize,
    data: &[usize],
    indices: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let outer: usize = data[..axis].iter().product();
    let dim = data[axis];
    let inner: usize = data[axis + 1..].iter().product();
    let count = numel(indices);
    for p in 0..outer {
        for position in 0..count {
            for q in 0..inner {
                f(position, p * dim * inner + q, inner);
            }
        }
    }
}

/// For a window op (`SumPool`, `MaxPool`, `ReduceSum`, `ReduceMax`, `ArgMax`), calls
/// `f(out, input)` for every input element of every output's window. Members of one window come
/// in increasing input order.
///
/// # Panics
/// If `op` is not a window op.
pub fn for_each_window_member(
    op: &Op,
    in_shape: &[usize],
    out_shape: &[usize],
    f: impl FnMut(usize, usize),
) {
    match op {
        Op::SumPool(spec) | Op::MaxPool(spec) => pool_members(spec, in_shape, out_shape, f),
        Op::ReduceSum(spec) | Op::ReduceMax(spec) => reduce_members(spec, in_shape, f),
        Op::ArgMax { axis, .. } => reduce_members(
            &ReduceSpec {
                axes: vec![*axis],
                keepdims: true,
            },
            in_shape,
            f,
        ),
        other => panic!("{} is not a window op", other.name()),
    }
}

fn pool_members(spec: &PoolSpec, x: &[usize], out: &[usize], mut f: impl FnMut(usize, usize)) {
    let rank = x.len() - 2;
    let xs = strides(x);
    let mut o = 0;
    for_each_coord(out, |oc| {
        let base = oc[0] * xs[0] + oc[1] * xs[1];
        for_each_coord(&spec.kernel, |kc| {
            let mut xi = base;
            for d in 0..rank {
                let pos = (oc[d + 2] * spec.strides[d] + kc[d] * spec.dilations[d]) as i64
                    - spec.pads_begin[d] as i64;
                if pos < 0 || pos as usize >= x[d + 2] {
                    return;
                }
                xi += pos as usize * xs[d + 2];
            }
            f(o, xi);
        });
        o += 1;
    });
}

fn reduce_members(spec: &ReduceSpec, x: &[usize], mut f: impl FnMut(usize, usize)) {
    // Output index of an input coordinate: drop (or zero) the reduced axes.
    let kept: Vec<usize> = x
        .iter()
        .enumerate()
        .map(|(i, &d)| if spec.axes.contains(&i) { 1 } else { d })
        .collect();
    let ks = strides(&kept);
    let mut c = vec![0; x.len()];
    let n = numel(x);
    // Enumerate outputs in order, and for each output its members in increasing input order.
    let mut by_out: Vec<Vec<usize>> = vec![Vec::new(); numel(&kept)];
    for i in 0..n {
        unravel(i, x, &mut c);
        let o: usize = c
            .iter()
            .enumerate()
            .map(|(a, &v)| if spec.axes.contains(&a) { 0 } else { v * ks[a] })
            .sum();
        by_out[o].push(i);
    }
    for (o, members) in by_out.into_iter().enumerate() {
        for i in members {
            f(o, i);
        }
    }
}

/// Where one output element of a data-movement op comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Element `index` of input number `input`.
    Input {
        /// Which input of the node.
        input: usize,
        /// Flat index into that input.
        index: usize,
    },
    /// A constant (the fill value of constant padding).
    Const(i64),
}

/// The source of every output element of a data-movement op, in row-major output order.
///
/// # Panics
/// If `op` is not a data-movement op.
pub fn movement_sources(op: &Op, inputs: &[&[usize]], out: &[usize]) -> Vec<Source> {
    let x = inputs[0];
    let from0 = |index| Source::Input { input: 0, index };
    let xs = strides(x);
    let mut sources = Vec::with_capacity(numel(out));
    match op {
        Op::Reshape { .. } => sources.extend((0..numel(out)).map(from0)),
        Op::Transpose { perm } => for_each_coord(out, |c| {
            let idx = perm.iter().enumerate().map(|(i, &p)| c[i] * xs[p]).sum();
            sources.push(from0(idx));
        }),
        Op::Slice { ranges } => for_each_coord(out, |c| {
            let idx = ranges
                .iter()
                .enumerate()
                .map(|(i, r)| (r.start + c[i] as i64 * r.step) as usize * xs[i])
                .sum();
            sources.push(from0(idx));
        }),
        Op::Concat { axis } => for_each_coord(out, |c| {
            let mut pos = c[*axis];
            for (input, s) in inputs.iter().enumerate() {
                if pos < s[*axis] {
                    let ss = strides(s);
                    let idx = c
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| if i == *axis { pos } else { v } * ss[i])
                        .sum();
                    sources.push(Source::Input { input, index: idx });
                    return;
                }
                pos -= s[*axis];
            }
        }),
        Op::Gather {
            axis,
            indices,
            indices_shape,
        } => {
            let q = indices_shape.len();
            let is = strides(indices_shape);
            for_each_coord(out, |c| {
                let flat_index: usize = (0..q).map(|j| c[axis + j] * is[j]).sum();
                let mut idx = indices[flat_index] * xs[*axis];
                for i in 0..*axis {
                    idx += c[i] * xs[i];
                }
                for i in axis + 1..x.len() {
                    idx += c[i + q - 1] * xs[i];
                }
                sources.push(from0(idx));
            });
        }
        Op::Pad(spec) => for_each_coord(out, |c| {
            let mut idx = 0;
            for i in 0..x.len() {
                let d = x[i] as i64;
                let mut p = c[i] as i64 - spec.begin[i] as i64;
                if p < 0 || p >= d {
                    match spec.mode {
                        PadMode::Constant(v) => {
                            sources.push(Source::Const(v));
                            return;
                        }
                        PadMode::Edge => p = p.clamp(0, d - 1),
                        PadMode::Reflect => {
                            p = if p < 0 { -p } else { 2 * (d - 1) - p };
                        }
                    }
                }
                idx += p as usize * xs[i];
            }
            sources.push(from0(idx));
        }),
        Op::Tile { .. } => for_each_coord(out, |c| {
            let idx = (0..x.len()).map(|i| (c[i] % x[i]) * xs[i]).sum();
            sources.push(from0(idx));
        }),
        Op::Expand { .. } => {
            let map = BroadcastMap::new(x, out);
            sources.extend((0..numel(out)).map(|o| from0(map.index(o))));
        }
        other => panic!("{} is not a data-movement op", other.name()),
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::SliceRange;

    #[test]
    fn coords_cover_shape_in_order() {
        let mut seen = Vec::new();
        for_each_coord(&[2, 3], |c| seen.push((c[0], c[1])));
        assert_eq!(seen, vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        let mut count = 0;
        for_each_coord(&[], |_| count += 1);
        assert_eq!(count, 1, "a scalar has one coordinate");
        for_each_coord(&[3, 0], |_| count += 1);
        assert_eq!(count, 1, "an empty shape has none");
    }

    #[test]
    fn matmul_terms_enumerate_inner_products() {
        let mut terms = Vec::new();
        matmul_terms(&[2, 3], &[3, 2], &[2, 2], |o, a, b| terms.push((o, a, b)));
        assert_eq!(terms.len(), 12);
        assert_eq!(&terms[..3], &[(0, 0, 0), (0, 1, 2), (0, 2, 4)]);
    }

    #[test]
    fn reflect_and_edge_padding_sources() {
        let spec = |mode| crate::op::PadSpec {
            begin: vec![2],
            end: vec![2],
            mode,
        };
        let idx = |s: Vec<Source>| -> Vec<i64> {
            s.into_iter()
                .map(|s| match s {
                    Source::Input { index, .. } => index as i64,
                    Source::Const(v) => 100 + v,
                })
                .collect()
        };
        let r = movement_sources(&Op::Pad(spec(PadMode::Reflect)), &[&[3]], &[7]);
        assert_eq!(idx(r), vec![2, 1, 0, 1, 2, 1, 0]);
        let e = movement_sources(&Op::Pad(spec(PadMode::Edge)), &[&[3]], &[7]);
        assert_eq!(idx(e), vec![0, 0, 0, 1, 2, 2, 2]);
        let c = movement_sources(&Op::Pad(spec(PadMode::Constant(5))), &[&[3]], &[7]);
        assert_eq!(idx(c), vec![105, 105, 0, 1, 2, 105, 105]);
    }

    #[test]
    fn negative_step_slice() {
        let op = Op::Slice {
            ranges: vec![SliceRange {
                start: 4,
                end: -1,
                step: -2,
            }],
        };
        let s = movement_sources(&op, &[&[5]], &[3]);
        let idx: Vec<_> = s
            .iter()
            .map(|s| match s {
                Source::Input { index, .. } => *index,
                Source::Const(_) => usize::MAX,
            })
            .collect();
        assert_eq!(idx, vec![4, 2, 0]);
    }
}

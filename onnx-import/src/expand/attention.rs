//! `Attention` (opset 23) and `RotaryEmbedding` (opset 23), which `torch.onnx.export` emits for
//! scaled dot-product attention and rotary embeddings at opset 23 and later, expanded as the
//! ONNX reference computes them.
//!
//! Attention: 3-D inputs are split into heads; past keys and values are concatenated in front
//! (and returned as the present ones); grouped-query key/value heads repeat for the query heads
//! they serve; scores are `Q K^T * scale`, soft-capped if asked; the causal bias (offset by the
//! past length), the sliding window, and a boolean (`Where(mask, 0, -inf)`) or additive mask
//! are added, so masked positions get zero weight and a row with every key masked by `-inf`
//! comes out as zeros, as the reference says; then `softmax(.) V`.

use ndarray::{ArrayD, IxDyn};

use super::{attr_int, attr_ints, ExpandCx};
use crate::data::{DType, Data};
use crate::error::NodeError;

type Result<T> = std::result::Result<T, NodeError>;

fn unsupported(name: &str, value: String, supported: &str) -> NodeError {
    NodeError::UnsupportedAttribute {
        name: name.into(),
        value,
        supported: supported.into(),
    }
}

/// `[B, S, heads * H]` to `[B, heads, S, H]`.
fn split_heads(cx: &mut ExpandCx<'_>, x: &str, shape: &[usize], heads: usize) -> Result<String> {
    if heads == 0 || !shape[2].is_multiple_of(heads) {
        return Err(NodeError::Invalid(format!(
            "a hidden size of {} does not split into {heads} heads",
            shape[2]
        )));
    }
    let s = cx.ints(&[
        shape[0] as i64,
        shape[1] as i64,
        heads as i64,
        (shape[2] / heads) as i64,
    ]);
    let r = cx.op("Reshape", &[x, &s], vec![]);
    Ok(cx.op("Transpose", &[&r], vec![attr_ints("perm", &[0, 2, 1, 3])]))
}

/// A constant bias `[q, kv]`: 0 where key `j` may be attended by query `i`, `-inf` elsewhere.
fn position_bias(q: usize, kv: usize, allowed: impl Fn(i64, i64) -> bool) -> Data {
    let values = (0..q * kv)
        .map(|f| {
            let (i, j) = ((f / kv) as i64, (f % kv) as i64);
            if allowed(i, j) {
                0.0
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    Data::float(ArrayD::from_shape_vec(IxDyn(&[q, kv]), values).expect("q x kv"))
}

/// `Attention`.
pub(crate) fn attention(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let a = &cx.attrs;
    let is_causal = a.int_or("is_causal", 0)? != 0;
    let q_heads_attr = a.int("q_num_heads")?;
    let kv_heads_attr = a.int("kv_num_heads")?;
    let scale_attr = a.float("scale")?;
    let softcap = a.float_or("softcap", 0.0)?;
    let mode = a.int_or("qk_matmul_output_mode", 0)?;
    let left = a.int_or("left_window_size", -1)?;
    let right = a.int_or("right_window_size", -1)?;
    // The softmax is exact integer arithmetic whatever precision is asked for.
    a.ignore(&["softmax_precision"]);
    a.finish()?;
    if cx.optional(6).is_some() {
        return Err(unsupported(
            "nonpad_kv_seqlen",
            "given".into(),
            "an external KV cache with per-batch lengths is not supported",
        ));
    }
    let (q, k, v) = (
        cx.input(0, "Q")?.clone(),
        cx.input(1, "K")?.clone(),
        cx.input(2, "V")?.clone(),
    );
    let three_d = q.shape.len() == 3;
    let heads = |attr: Option<i64>, what: &str| -> Result<usize> {
        attr.filter(|&h| h > 0)
            .map(|h| h as usize)
            .ok_or_else(|| NodeError::Invalid(format!("{what} is required for 3-D inputs")))
    };
    let (qn, kn, vn) = if three_d {
        let (qh, kvh) = (
            heads(q_heads_attr, "q_num_heads")?,
            heads(kv_heads_attr, "kv_num_heads")?,
        );
        (
            split_heads(cx, &q.name, &q.shape, qh)?,
            split_heads(cx, &k.name, &k.shape, kvh)?,
            split_heads(cx, &v.name, &v.shape, kvh)?,
        )
    } else if q.shape.len() == 4 {
        (q.name.clone(), k.name.clone(), v.name.clone())
    } else {
        return Err(NodeError::Invalid(format!(
            "Q must have rank 3 or 4, got {:?}",
            q.shape
        )));
    };
    let q_heads = if three_d {
        heads(q_heads_attr, "q_num_heads")?
    } else {
        q.shape[1]
    };
    let kv_heads = if three_d {
        heads(kv_heads_attr, "kv_num_heads")?
    } else {
        k.shape[1]
    };
    let head_size = if three_d {
        q.shape[2] / q_heads
    } else {
        q.shape[3]
    };
    let q_len = q.shape[if three_d { 1 } else { 2 }];
    let new_len = k.shape[if three_d { 1 } else { 2 }];
    // The cache.
    let past = match (cx.optional(4).cloned(), cx.optional(5).cloned()) {
        (Some(pk), Some(pv)) => Some((pk, pv)),
        (None, None) => None,
        _ => {
            return Err(NodeError::Invalid(
                "past_key and past_value come together".into(),
            ))
        }
    };
    let past_len = past.as_ref().map_or(0, |(pk, _)| pk.shape[2]);
    let (kn, vn) = match &past {
        Some((pk, pv)) => (
            cx.concat(&[pk.name.clone(), kn], 2),
            cx.concat(&[pv.name.clone(), vn], 2),
        ),
        None => (kn, vn),
    };
    let kv_len = past_len + new_len;
    // Grouped-query attention: each key/value head serves q_heads / kv_heads query heads.
    let (kr, vr) = if q_heads != kv_heads {
        if kv_heads == 0 || q_heads % kv_heads != 0 {
            return Err(NodeError::Invalid(format!(
                "{q_heads} query heads do not share {kv_heads} key/value heads evenly"
            )));
        }
        let rep = q_heads / kv_heads;
        let repeat = |cx: &mut ExpandCx<'_>, x: &str, width: usize| {
            let u = cx.unsqueeze(x, 2);
            let e = cx.ints(&[
                q.shape[0] as i64,
                kv_heads as i64,
                rep as i64,
                kv_len as i64,
                width as i64,
            ]);
            let ex = cx.op("Expand", &[&u, &e], vec![]);
            let s = cx.ints(&[
                q.shape[0] as i64,
                q_heads as i64,
                kv_len as i64,
                width as i64,
            ]);
            cx.op("Reshape", &[&ex, &s], vec![])
        };
        let v_width = if three_d {
            v.shape[2] / kv_heads
        } else {
            v.shape[3]
        };
        (repeat(cx, &kn, head_size), repeat(cx, &vn, v_width))
    } else {
        (kn.clone(), vn.clone())
    };
    let scale = scale_attr.unwrap_or(1.0 / (head_size as f64).sqrt());
    let kt = cx.op("Transpose", &[&kr], vec![attr_ints("perm", &[0, 1, 3, 2])]);
    let raw = cx.op("MatMul", &[&qn, &kt], vec![]);
    let sc = cx.scalar(scale);
    let mut scores = cx.op("Mul", &[&raw, &sc], vec![]);
    let scaled = scores.clone();
    if softcap > 0.0 {
        let c = cx.scalar(softcap);
        let d = cx.op("Div", &[&scores, &c], vec![]);
        let t = cx.op("Tanh", &[&d], vec![]);
        scores = cx.op("Mul", &[&t, &c], vec![]);
    }
    let capped = scores.clone();
    // The bias: the mask, the causal frontier (offset by the past length), the window.
    let mut biased = false;
    if let Some(mask) = cx.optional(3).cloned() {
        let mut m = mask.name.clone();
        let short = kv_len.saturating_sub(*mask.shape.last().unwrap_or(&kv_len));
        if short > 0 {
            // A mask shorter than the keys is padded as masked.
            let mut shape = mask.shape.clone();
            *shape.last_mut().expect("rank >= 1") = short;
            let fill = if mask.dtype == DType::Bool {
                Data {
                    dtype: DType::Bool,
                    values: ArrayD::zeros(IxDyn(&shape)),
                }
            } else {
                Data::float(ArrayD::from_elem(IxDyn(&shape), f64::NEG_INFINITY))
            };
            let f = cx.constant_value(&fill);
            m = cx.concat(&[m, f], -1);
        }
        if mask.dtype == DType::Bool {
            let (zero, inf) = (cx.scalar(0.0), cx.scalar(f64::NEG_INFINITY));
            m = cx.op("Where", &[&m, &zero, &inf], vec![]);
        }
        scores = cx.op("Add", &[&scores, &m], vec![]);
        biased = true;
    }
    if is_causal {
        let offset = past_len as i64;
        let bias = cx.constant_value(&position_bias(q_len, kv_len, |i, j| j <= i + offset));
        scores = cx.op("Add", &[&scores, &bias], vec![]);
        biased = true;
    }
    if left >= 0 || right >= 0 {
        let offset = past_len as i64;
        let bias = cx.constant_value(&position_bias(q_len, kv_len, |i, j| {
            let d = i + offset - j;
            (left < 0 || d <= left) && (right < 0 || -d <= right)
        }));
        scores = cx.op("Add", &[&scores, &bias], vec![]);
        biased = true;
    }
    let probs = cx.op("Softmax", &[&scores], vec![attr_int("axis", -1)]);
    // A row with every key masked by -inf is NaN in float; the reference makes it zeros (the
    // integer softmax already does).
    let nan = cx.op("IsNaN", &[&probs], vec![]);
    let zero = cx.scalar(0.0);
    let probs = cx.op("Where", &[&nan, &zero, &probs], vec![]);
    let mut y = cx.op("MatMul", &[&probs, &vr], vec![]);
    if three_d {
        let t = cx.op("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 1, 3])]);
        let s = cx.ints(&[q.shape[0] as i64, q_len as i64, -1]);
        y = cx.op("Reshape", &[&t, &s], vec![]);
    }
    let qk = match mode {
        0 => Some(scaled),
        1 => Some(capped),
        2 if !biased => Some(capped),
        2 => {
            return Err(unsupported(
                "qk_matmul_output_mode",
                "2".into(),
                "masked scores (-inf where masked) cannot be an output; modes 0, 1 and 3 can",
            ))
        }
        3 => Some(probs),
        other => {
            return Err(unsupported(
                "qk_matmul_output_mode",
                other.to_string(),
                "modes 0 to 3",
            ))
        }
    };
    // The present key and value are the (concatenated) cache, before any head repetition.
    Ok(vec![Some(y), Some(kn), Some(vn), qk])
}

/// `RotaryEmbedding`.
pub(crate) fn rotary_embedding(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let interleaved = cx.attrs.int_or("interleaved", 0)? != 0;
    let num_heads = cx.attrs.int_or("num_heads", 0)?;
    let dim_attr = cx.attrs.int_or("rotary_embedding_dim", 0)?;
    cx.attrs.finish()?;
    let x = cx.input(0, "input")?.clone();
    let (b, s) = (
        x.shape[0],
        if x.shape.len() == 4 {
            x.shape[2]
        } else {
            x.shape[1]
        },
    );
    // As [B, S, heads, H].
    let (xs, heads, head) = match x.shape.len() {
        4 => (
            cx.op(
                "Transpose",
                &[&x.name],
                vec![attr_ints("perm", &[0, 2, 1, 3])],
            ),
            x.shape[1],
            x.shape[3],
        ),
        3 => {
            if num_heads <= 0 || x.shape[2] % num_heads as usize != 0 {
                return Err(NodeError::Invalid(
                    "num_heads must split a 3-D input's hidden size".into(),
                ));
            }
            let h = num_heads as usize;
            let shape = cx.ints(&[b as i64, s as i64, h as i64, (x.shape[2] / h) as i64]);
            (
                cx.op("Reshape", &[&x.name, &shape], vec![]),
                h,
                x.shape[2] / h,
            )
        }
        _ => {
            return Err(NodeError::Invalid(format!(
                "input must have rank 3 or 4, got {:?}",
                x.shape
            )))
        }
    };
    let rd = if dim_attr > 0 {
        dim_attr as usize
    } else {
        head
    };
    if rd > head || rd % 2 != 0 {
        return Err(NodeError::Invalid(format!(
            "rotary_embedding_dim {rd} must be even and at most the head size {head}"
        )));
    }
    let half = rd / 2;
    let (cos, sin) = (
        cx.input(1, "cos_cache")?.clone(),
        cx.input(2, "sin_cache")?.clone(),
    );
    let (cos, sin) = match cx.optional(3).cloned() {
        Some(pos) => (
            cx.op("Gather", &[&cos.name, &pos.name], vec![attr_int("axis", 0)]),
            cx.op("Gather", &[&sin.name, &pos.name], vec![attr_int("axis", 0)]),
        ),
        None => (cos.name, sin.name),
    };
    // [B, S, half] -> [B, S, 1, half]
    let (cos, sin) = (cx.unsqueeze(&cos, 2), cx.unsqueeze(&sin, 2));
    let rot = cx.slice(&xs, 3, 0, rd as i64);
    let (x1, x2) = if interleaved {
        let (s0, e, a, st) = (
            cx.ints(&[0]),
            cx.ints(&[rd as i64]),
            cx.ints(&[3]),
            cx.ints(&[2]),
        );
        let s1 = cx.ints(&[1]);
        (
            cx.op("Slice", &[&rot, &s0, &e, &a, &st], vec![]),
            cx.op("Slice", &[&rot, &s1, &e, &a, &st], vec![]),
        )
    } else {
        (
            cx.slice(&rot, 3, 0, half as i64),
            cx.slice(&rot, 3, half as i64, rd as i64),
        )
    };
    let c1 = cx.op("Mul", &[&cos, &x1], vec![]);
    let s2 = cx.op("Mul", &[&sin, &x2], vec![]);
    let real = cx.op("Sub", &[&c1, &s2], vec![]);
    let s1 = cx.op("Mul", &[&sin, &x1], vec![]);
    let c2 = cx.op("Mul", &[&cos, &x2], vec![]);
    let imag = cx.op("Add", &[&s1, &c2], vec![]);
    let rotated = if interleaved {
        let (r, i) = (cx.unsqueeze(&real, 4), cx.unsqueeze(&imag, 4));
        let pair = cx.concat(&[r, i], 4);
        let shape = cx.ints(&[b as i64, s as i64, heads as i64, rd as i64]);
        cx.op("Reshape", &[&pair, &shape], vec![])
    } else {
        cx.concat(&[real, imag], 3)
    };
    let full = if rd < head {
        let rest = cx.slice(&xs, 3, rd as i64, head as i64);
        cx.concat(&[rotated, rest], 3)
    } else {
        rotated
    };
    let out = if x.shape.len() == 4 {
        cx.op(
            "Transpose",
            &[&full],
            vec![attr_ints("perm", &[0, 2, 1, 3])],
        )
    } else {
        let shape = cx.ints(&[b as i64, s as i64, (heads * head) as i64]);
        cx.op("Reshape", &[&full, &shape], vec![])
    };
    Ok(vec![Some(out)])
}

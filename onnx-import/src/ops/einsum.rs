//! `Einsum` with one or two operands, as exporters emit it for matrix products and reductions.
//!
//! Each letter of a two-operand equation is one of: a batch axis (in both operands and the
//! output), a contracted axis (in both, not in the output), a free axis of one operand (in it
//! and the output), or summed within one operand (in it alone). Summed axes are reduced first;
//! then each operand is transposed to `[batch, free, contracted]` / `[batch, contracted,
//! free]`, flattened to three axes, multiplied with `MatMul`, and the result is reshaped and
//! transposed to the output's letter order. One operand: a transpose and a sum. An ellipsis
//! stands for the same leading axes in every term. A letter repeated within one term (a
//! diagonal) is not supported.

use ndarray::IxDyn;
use zkml_ir::op::{Op, ReduceSpec};

use super::linear::lower_product;
use super::{impl_any, required, OnnxOp, Operand, ParseCx};
use crate::data::Data;
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// A parsed equation: the letters of each operand and of the output.
#[derive(Debug)]
pub(crate) struct Einsum {
    equation: String,
}

pub(crate) fn parse(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 2)?;
    let equation = cx
        .attrs
        .string("equation")?
        .ok_or_else(|| NodeError::Invalid("equation is required".into()))?;
    cx.attrs.finish()?;
    Ok(Box::new(Einsum { equation }))
}

/// Terms with the ellipsis expanded, given the operands' ranks.
fn terms(equation: &str, ranks: &[usize]) -> Result<(Vec<Vec<char>>, Vec<char>)> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let inputs: Vec<&str> = lhs.split(',').collect();
    if inputs.len() != ranks.len() {
        return Err(NodeError::Invalid(format!(
            "equation '{equation}' has {} operand terms for {} inputs",
            inputs.len(),
            ranks.len()
        )));
    }
    // Letters for the ellipsis axes, unused by the equation.
    let spare: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .filter(|c| !eq.contains(*c))
        .collect();
    let mut ellipsis_rank = 0;
    let mut parsed = Vec::new();
    for (term, &rank) in inputs.iter().zip(ranks) {
        let named = term.replace("...", "").chars().count();
        let dots = term.contains("...");
        if !dots && named != rank || named > rank {
            return Err(NodeError::Invalid(format!(
                "term '{term}' does not match an operand of rank {rank}"
            )));
        }
        if dots {
            ellipsis_rank = ellipsis_rank.max(rank - named);
        }
        parsed.push((term.to_string(), rank - named));
    }
    let expand = |term: &str, fill: usize| -> Result<Vec<char>> {
        let mut out = Vec::new();
        let mut rest = term;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("...") {
                out.extend_from_slice(&spare[ellipsis_rank - fill..ellipsis_rank]);
                rest = after;
            } else {
                let c = rest.chars().next().expect("not empty");
                if !c.is_ascii_alphabetic() {
                    return Err(NodeError::Invalid(format!(
                        "'{c}' is not a letter in equation '{equation}'"
                    )));
                }
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        Ok(out)
    };
    let operands = parsed
        .iter()
        .map(|(t, fill)| expand(t, *fill))
        .collect::<Result<Vec<_>>>()?;
    let output = match rhs {
        Some(r) => expand(&r, ellipsis_rank)?,
        None => {
            // Implicit output: the ellipsis, then letters seen once, alphabetically.
            let mut out: Vec<char> = spare[..ellipsis_rank].to_vec();
            let mut once: Vec<char> = operands
                .iter()
                .flatten()
                .copied()
                .filter(|c| !spare[..ellipsis_rank].contains(c))
                .filter(|c| operands.iter().flatten().filter(|d| *d == c).count() == 1)
                .collect();
            once.sort_unstable();
            out.extend(once);
            out
        }
    };
    for t in operands.iter().chain(std::iter::once(&output)) {
        let mut seen = t.clone();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(NodeError::UnsupportedAttribute {
                name: "equation".into(),
                value: format!("'{equation}'"),
                supported: "a letter repeated within one term (a diagonal) is not supported".into(),
            });
        }
    }
    if let Some(c) = output
        .iter()
        .find(|c| !operands.iter().any(|t| t.contains(c)))
    {
        return Err(NodeError::Invalid(format!(
            "output letter '{c}' appears in no operand"
        )));
    }
    Ok((operands, output))
}

/// Size of every letter, checked consistent across operands.
fn sizes(operands: &[Vec<char>], shapes: &[&[usize]]) -> Result<Vec<(char, usize)>> {
    let mut out: Vec<(char, usize)> = Vec::new();
    for (t, s) in operands.iter().zip(shapes) {
        for (c, &d) in t.iter().zip(s.iter()) {
            match out.iter().find(|(k, _)| k == c) {
                Some(&(_, e)) if e != d => {
                    return Err(NodeError::Invalid(format!(
                        "letter '{c}' has sizes {e} and {d} (broadcasting is not supported)"
                    )))
                }
                Some(_) => {}
                None => out.push((*c, d)),
            }
        }
    }
    Ok(out)
}

fn size_of(sizes: &[(char, usize)], c: char) -> usize {
    sizes.iter().find(|(k, _)| *k == c).map_or(1, |&(_, d)| d)
}

/// An operand during planning: a constant (transformed at import) or a program node.
enum Term<'a> {
    Const(std::borrow::Cow<'a, Data>),
    Node(usize),
}

impl Term<'_> {
    fn operand(&self) -> Operand<'_> {
        match self {
            Term::Const(d) => Operand::Const(d),
            Term::Node(n) => Operand::Value(*n),
        }
    }
}

/// Permutes and reshapes a term.
fn arrange(
    cx: &mut Lowering<'_>,
    t: Term<'_>,
    perm: &[usize],
    shape: &[usize],
) -> Result<Term<'static>> {
    Ok(match t {
        Term::Const(d) => {
            let v = d
                .values
                .clone()
                .permuted_axes(IxDyn(perm))
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order(IxDyn(shape))
                .map_err(|e| NodeError::Invalid(e.to_string()))?;
            Term::Const(std::borrow::Cow::Owned(Data {
                dtype: d.dtype,
                values: v,
            }))
        }
        Term::Node(n) => {
            let mut n = n;
            if perm.iter().enumerate().any(|(i, &p)| i != p) {
                n = cx.push(
                    Op::Transpose {
                        perm: perm.to_vec(),
                    },
                    &[n],
                )?;
            }
            if cx.shape(n) != shape {
                n = cx.push(
                    Op::Reshape {
                        shape: shape.to_vec(),
                    },
                    &[n],
                )?;
            }
            Term::Node(n)
        }
    })
}

/// Sums the axes of a runtime term whose letters are not wanted, returning the kept letters.
fn sum_out(
    cx: &mut Lowering<'_>,
    t: Term<'_>,
    letters: &[char],
    keep: impl Fn(char) -> bool,
) -> Result<(Term<'static>, Vec<char>)> {
    let axes: Vec<usize> = (0..letters.len()).filter(|&i| !keep(letters[i])).collect();
    let kept: Vec<char> = letters.iter().copied().filter(|&c| keep(c)).collect();
    if axes.is_empty() {
        return Ok((
            match t {
                Term::Const(d) => Term::Const(std::borrow::Cow::Owned(d.into_owned())),
                Term::Node(n) => Term::Node(n),
            },
            kept,
        ));
    }
    Ok(match t {
        Term::Const(d) => {
            let mut v = d.values.clone();
            for &a in axes.iter().rev() {
                v = v.sum_axis(ndarray::Axis(a));
            }
            (
                Term::Const(std::borrow::Cow::Owned(Data {
                    dtype: d.dtype,
                    values: v,
                })),
                kept,
            )
        }
        Term::Node(n) => {
            let y = cx.push(
                Op::ReduceSum(ReduceSpec {
                    axes,
                    keepdims: false,
                }),
                &[n],
            )?;
            (Term::Node(y), kept)
        }
    })
}

impl Einsum {
    /// Float evaluation by the definition: every assignment of the letters.
    fn eval_direct(&self, data: &[&Data]) -> Result<Data> {
        let shapes: Vec<&[usize]> = data.iter().map(|d| d.shape()).collect();
        let ranks: Vec<usize> = shapes.iter().map(|s| s.len()).collect();
        let (operands, output) = terms(&self.equation, &ranks)?;
        let sizes = sizes(&operands, &shapes)?;
        let letters: Vec<char> = sizes.iter().map(|&(c, _)| c).collect();
        let dims: Vec<usize> = sizes.iter().map(|&(_, d)| d).collect();
        let out_shape: Vec<usize> = output.iter().map(|&c| size_of(&sizes, c)).collect();
        super::checked_size(&out_shape)?;
        let total = super::checked_size(&dims)?;
        let pos = |t: &[char]| -> Vec<usize> {
            t.iter()
                .map(|c| letters.iter().position(|l| l == c).expect("known letter"))
                .collect()
        };
        let op_pos: Vec<Vec<usize>> = operands.iter().map(|t| pos(t)).collect();
        let out_pos = pos(&output);
        let flat: Vec<Vec<f64>> = data
            .iter()
            .map(|d| d.values.as_standard_layout().iter().copied().collect())
            .collect();
        let strides = |shape: &[usize]| zkml_ir::tensor::strides(shape);
        let op_strides: Vec<Vec<usize>> = shapes.iter().map(|s| strides(s)).collect();
        let out_strides = strides(&out_shape);
        let mut out = vec![0.0; out_shape.iter().product()];
        let mut coord = vec![0usize; dims.len()];
        for _ in 0..total {
            let mut term = 1.0;
            for (k, p) in op_pos.iter().enumerate() {
                let i: usize = p
                    .iter()
                    .zip(&op_strides[k])
                    .map(|(&l, &s)| coord[l] * s)
                    .sum();
                term *= flat[k][i];
            }
            let o: usize = out_pos
                .iter()
                .zip(&out_strides)
                .map(|(&l, &s)| coord[l] * s)
                .sum();
            out[o] += term;
            for d in (0..dims.len()).rev() {
                coord[d] += 1;
                if coord[d] < dims[d] {
                    break;
                }
                coord[d] = 0;
            }
        }
        Ok(Data {
            dtype: data[0].dtype,
            values: super::array(&out_shape, out),
        })
    }
}

impl OnnxOp for Einsum {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let data: Vec<&Data> = (0..inputs.len())
            .map(|i| required(inputs, i))
            .collect::<Result<_>>()?;
        Ok(vec![self.eval_direct(&data)?])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let mut shapes_owned = Vec::new();
        let mut ts = Vec::new();
        for o in inputs {
            match o {
                Operand::Value(v) => {
                    shapes_owned.push(cx.shape(*v));
                    ts.push(Term::Node(*v));
                }
                Operand::Const(d) => {
                    shapes_owned.push(d.shape().to_vec());
                    ts.push(Term::Const(std::borrow::Cow::Borrowed(*d)));
                }
                _ => return Err(NodeError::Invalid("an operand is missing".into())),
            }
        }
        let shapes: Vec<&[usize]> = shapes_owned.iter().map(|s| s.as_slice()).collect();
        let ranks: Vec<usize> = shapes.iter().map(|s| s.len()).collect();
        let (operands, output) = terms(&self.equation, &ranks)?;
        let sizes = sizes(&operands, &shapes)?;
        let dims = |ls: &[char]| -> Vec<usize> { ls.iter().map(|&c| size_of(&sizes, c)).collect() };
        let order = |from: &[char], to: &[char]| -> Vec<usize> {
            to.iter()
                .map(|c| from.iter().position(|f| f == c).expect("letter present"))
                .collect()
        };
        if ts.len() == 1 {
            let t = ts.pop().expect("one operand");
            let (t, kept) = sum_out(cx, t, &operands[0], |c| output.contains(&c))?;
            let perm = order(&kept, &output);
            let shape = dims(&output);
            let Term::Node(n) = arrange(cx, t, &perm, &shape)? else {
                return Err(NodeError::Invalid(
                    "a constant einsum should have been folded".into(),
                ));
            };
            return Ok(vec![cx.finish(n, 0)?]);
        }
        let (a, b) = (&operands[0], &operands[1]);
        let tb = ts.pop().expect("two operands");
        let ta = ts.pop().expect("two operands");
        let (ta, la) = sum_out(cx, ta, a, |c| b.contains(&c) || output.contains(&c))?;
        let (tb, lb) = sum_out(cx, tb, b, |c| la.contains(&c) || output.contains(&c))?;
        let batch: Vec<char> = output
            .iter()
            .copied()
            .filter(|c| la.contains(c) && lb.contains(c))
            .collect();
        let contract: Vec<char> = la
            .iter()
            .copied()
            .filter(|c| lb.contains(c) && !output.contains(c))
            .collect();
        let free_a: Vec<char> = la.iter().copied().filter(|c| !lb.contains(c)).collect();
        let free_b: Vec<char> = lb.iter().copied().filter(|c| !la.contains(c)).collect();
        let prod = |ls: &[char]| -> usize { dims(ls).iter().product() };
        let (nb, nfa, nc, nfb) = (prod(&batch), prod(&free_a), prod(&contract), prod(&free_b));
        let a_letters: Vec<char> = batch
            .iter()
            .chain(&free_a)
            .chain(&contract)
            .copied()
            .collect();
        let b_letters: Vec<char> = batch
            .iter()
            .chain(&contract)
            .chain(&free_b)
            .copied()
            .collect();
        let ta = arrange(cx, ta, &order(&la, &a_letters), &[nb, nfa, nc])?;
        let tb = arrange(cx, tb, &order(&lb, &b_letters), &[nb, nc, nfb])?;
        let y = lower_product(cx, Op::MatMul, ta.operand(), tb.operand(), None)?;
        let y_letters: Vec<char> = batch
            .iter()
            .chain(&free_a)
            .chain(&free_b)
            .copied()
            .collect();
        let y = cx.push(
            Op::Reshape {
                shape: dims(&y_letters),
            },
            &[y],
        )?;
        let perm = order(&y_letters, &output);
        let Term::Node(y) = arrange(cx, Term::Node(y), &perm, &dims(&output))? else {
            unreachable!("a node stays a node");
        };
        Ok(vec![y])
    }

    impl_any!();
}

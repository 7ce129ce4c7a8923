//! Comparisons and booleans: Equal, Less, LessOrEqual, Greater, GreaterOrEqual, Not, And, Or,
//! Xor, Where, IsNaN, IsInf, Sign.
//!
//! Booleans are 0/1 integers at scale 0. Comparisons are exact on the quantized operands; a
//! comparison with a real constant `t` compares the integer `x_q` (at scale `s`) with the
//! integer threshold that gives the same answer for every `x_q`: `x < t` is
//! `x_q < ceil(t 2^s)`, `x <= t` is `x_q <= floor(t 2^s)`, and so on. `Where` is a selection
//! whose condition is constrained boolean. `IsNaN` and `IsInf` of a runtime value are false:
//! program values are integers.

use ndarray::{ArrayD, IxDyn, Zip};
use zkml_ir::op::{CompareOp, Op};

use super::{broadcast_map, checked_size, impl_any, required, Lowered, OnnxOp, Operand, ParseCx};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// A comparison.
#[derive(Debug)]
pub(crate) struct Compare {
    op: CompareOp,
}

pub(crate) fn parse_compare(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    if cx.opset < 7 {
        cx.attrs.ignore(&["broadcast", "axis"]);
    }
    cx.attrs.finish()?;
    let op = match cx.node.op_type.as_str() {
        "Equal" => CompareOp::Eq,
        "Less" => CompareOp::Lt,
        "LessOrEqual" => CompareOp::Le,
        "Greater" => CompareOp::Gt,
        _ => CompareOp::Ge,
    };
    Ok(Box::new(Compare { op }))
}

/// The relation with its operands swapped: `a op b` is `b flip(op) a`.
fn flipped(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Eq => CompareOp::Eq,
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
    }
}

fn holds(op: CompareOp, a: f64, b: f64) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    }
}

fn bools(values: ArrayD<f64>) -> Data {
    Data {
        dtype: DType::Bool,
        values,
    }
}

impl OnnxOp for Compare {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (a, b) = (required(inputs, 0)?, required(inputs, 1)?);
        let op = self.op;
        let v = broadcast_map(&a.values, &b.values, |x, y| {
            f64::from(u8::from(holds(op, x, y)))
        })?;
        Ok(vec![bools(v)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let (op, x, threshold) = match (inputs[0], inputs[1]) {
            (Operand::Value(a), Operand::Value(b)) => {
                let v = cx.align(&[a, b])?;
                return Ok(vec![cx.push(Op::Compare(self.op), &[v[0], v[1]])?]);
            }
            (Operand::Value(a), Operand::Const(t)) => (self.op, a, t),
            (Operand::Const(t), Operand::Value(b)) => (flipped(self.op), b, t),
            _ => {
                return Err(NodeError::Invalid(
                    "a comparison needs a runtime operand".into(),
                ))
            }
        };
        compare_with_constant(cx, op, x, threshold).map(|n| vec![n])
    }

    impl_any!();
}

/// `x op t` for a runtime `x` and a constant `t`, exact for every quantized `x`.
pub(crate) fn compare_with_constant(
    cx: &mut Lowering<'_>,
    op: CompareOp,
    x: usize,
    t: &Data,
) -> Result<usize> {
    let s = cx.scale(x);
    let bound = cx.bound(x) as f64 + 1.0;
    let step = 2f64.powi(s);
    // Thresholds beyond the bound of x compare the same as the bound itself.
    let clamp = |v: f64| v.clamp(-bound, bound) as i64;
    let mut values = Vec::with_capacity(t.values.len());
    let mut eq_never = Vec::with_capacity(t.values.len());
    for &v in t.values.iter() {
        if v.is_nan() {
            return Err(NodeError::Quantization("a comparison with NaN".into()));
        }
        let scaled = v * step;
        let (q, never) = match op {
            CompareOp::Lt | CompareOp::Ge => (clamp(scaled.ceil()), false),
            CompareOp::Le | CompareOp::Gt => (clamp(scaled.floor()), false),
            CompareOp::Eq => (clamp(scaled), scaled.fract() != 0.0 || scaled.abs() > bound),
        };
        values.push(q);
        eq_never.push(never);
    }
    let c = cx.raw_constant(t.shape().to_vec(), s, values)?;
    let mut result = cx.push(Op::Compare(op), &[x, c])?;
    if eq_never.iter().any(|&n| n) {
        // Equality with a value no quantized x takes: false there.
        let keep: Vec<i64> = eq_never.iter().map(|&n| i64::from(!n)).collect();
        let k = cx.raw_constant(t.shape().to_vec(), 0, keep)?;
        result = cx.push(Op::Mul, &[result, k])?;
    }
    Ok(result)
}

/// The boolean ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Logic {
    Not,
    And,
    Or,
    Xor,
}

/// `Not`, `And`, `Or`, `Xor` on booleans.
#[derive(Debug)]
pub(crate) struct Boolean {
    op: Logic,
}

pub(crate) fn parse_boolean(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let op = match cx.node.op_type.as_str() {
        "Not" => Logic::Not,
        "And" => Logic::And,
        "Or" => Logic::Or,
        _ => Logic::Xor,
    };
    if op == Logic::Not {
        cx.expect_inputs(1, 1)?;
    } else {
        cx.expect_inputs(2, 2)?;
    }
    if cx.opset < 7 {
        cx.attrs.ignore(&["broadcast", "axis"]);
    }
    cx.attrs.finish()?;
    Ok(Box::new(Boolean { op }))
}

impl OnnxOp for Boolean {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let a = required(inputs, 0)?;
        let t = |v: f64| v != 0.0;
        let f = |b: bool| f64::from(u8::from(b));
        let v = match self.op {
            Logic::Not => a.values.mapv(|x| f(!t(x))),
            op => {
                let b = required(inputs, 1)?;
                broadcast_map(&a.values, &b.values, |x, y| match op {
                    Logic::And => f(t(x) && t(y)),
                    Logic::Or => f(t(x) || t(y)),
                    _ => f(t(x) != t(y)),
                })?
            }
        };
        Ok(vec![bools(v)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let mut nodes = Vec::with_capacity(inputs.len());
        for o in inputs {
            nodes.push(boolean_operand(cx, o)?);
        }
        let out = match self.op {
            Logic::Not => {
                let one = cx.raw_constant(vec![], 0, vec![1])?;
                cx.push(Op::Sub, &[one, nodes[0]])?
            }
            Logic::And => cx.push(Op::Mul, &[nodes[0], nodes[1]])?,
            Logic::Or => cx.push(Op::Max, &[nodes[0], nodes[1]])?,
            Logic::Xor => {
                let d = cx.push(Op::Sub, &[nodes[0], nodes[1]])?;
                cx.push(Op::Abs, &[d])?
            }
        };
        Ok(vec![out])
    }

    impl_any!();
}

/// A boolean operand as a 0/1 node at scale 0: constants are taken as booleans, runtime values
/// must already be 0/1 (their bound is at most 1 and they are never negative).
fn boolean_operand(cx: &mut Lowering<'_>, o: &Operand<'_>) -> Result<usize> {
    match o {
        Operand::Const(d) => {
            let v = d.values.iter().map(|&x| i64::from(x != 0.0)).collect();
            cx.raw_constant(d.shape().to_vec(), 0, v)
        }
        Operand::Value(v) => to_boolean(cx, *v),
        _ => Err(NodeError::Invalid("an operand is missing".into())),
    }
}

/// `x != 0` as a 0/1 node; `x` itself when it already is one.
pub(crate) fn to_boolean(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    if cx.scale(x) == 0 && cx.bound(x) <= 1 && super::nonnegative(cx, x) {
        return Ok(x);
    }
    let zero = cx.raw_constant(vec![], cx.scale(x), vec![0])?;
    let eq = cx.push(Op::Compare(CompareOp::Eq), &[x, zero])?;
    let one = cx.raw_constant(vec![], 0, vec![1])?;
    cx.push(Op::Sub, &[one, eq])
}

/// `Where(cond, a, b)`.
#[derive(Debug)]
pub(crate) struct Select;

pub(crate) fn parse_where(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(3, 3)?;
    cx.attrs.finish()?;
    Ok(Box::new(Select))
}

fn broadcast3(a: &ArrayD<f64>, b: &ArrayD<f64>, c: &ArrayD<f64>) -> Result<Vec<usize>> {
    let shape = zkml_ir::tensor::broadcast_shapes(a.shape(), b.shape())
        .and_then(|s| zkml_ir::tensor::broadcast_shapes(&s, c.shape()))
        .ok_or_else(|| {
            NodeError::Invalid(format!(
                "shapes {:?}, {:?} and {:?} do not broadcast",
                a.shape(),
                b.shape(),
                c.shape()
            ))
        })?;
    checked_size(&shape)?;
    Ok(shape)
}

impl OnnxOp for Select {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (c, a, b) = (
            required(inputs, 0)?,
            required(inputs, 1)?,
            required(inputs, 2)?,
        );
        let shape = broadcast3(&c.values, &a.values, &b.values)?;
        let dim = IxDyn(&shape);
        let (cv, av, bv) = (
            c.values.broadcast(dim.clone()).expect("checked"),
            a.values.broadcast(dim.clone()).expect("checked"),
            b.values.broadcast(dim).expect("checked"),
        );
        let values = Zip::from(&cv)
            .and(&av)
            .and(&bv)
            .map_collect(|&c, &x, &y| if c != 0.0 { x } else { y });
        let dtype = if a.dtype == DType::Float || b.dtype == DType::Float {
            DType::Float
        } else {
            a.dtype
        };
        Ok(vec![Data { dtype, values }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let c = boolean_operand(cx, &inputs[0])?;
        let (a, b) = branches(cx, &inputs[1], &inputs[2])?;
        Ok(vec![cx.push(Op::Where, &[c, a, b])?])
    }

    fn lower_masked(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        let c = match inputs[0] {
            Operand::Masked(_) => {
                return Err(NodeError::Quantization("a mask as a condition".into()))
            }
            o => boolean_operand(cx, &o)?,
        };
        let sa = super::mask::split(&inputs[1])?;
        let sb = super::mask::split(&inputs[2])?;
        let infinite = sa.infinite || sb.infinite;
        let (a, b) = branches(cx, &sa.finite.operand(), &sb.finite.operand())?;
        let value = cx.push(Op::Where, &[c, a, b])?;
        let (ka, kb) = (
            super::mask::keep_node(cx, sa.keep)?,
            super::mask::keep_node(cx, sb.keep)?,
        );
        let keep = cx.push(Op::Where, &[c, ka, kb])?;
        Ok(vec![Lowered::Masked(super::Masked {
            value,
            keep,
            infinite,
        })])
    }

    impl_any!();
}

/// The two branches of a selection at one scale: runtime branches aligned, constants quantized
/// at their scale (at scale 0 for integer results, at the calibrated output scale when both are
/// constant).
fn branches(cx: &mut Lowering<'_>, a: &Operand<'_>, b: &Operand<'_>) -> Result<(usize, usize)> {
    let exact = cx.exact_output(0);
    match (a, b) {
        (Operand::Value(x), Operand::Value(y)) => {
            let v = cx.align(&[*x, *y])?;
            Ok((v[0], v[1]))
        }
        (Operand::Value(x), c) => {
            let s = cx.scale(*x);
            Ok((*x, cx.operand_for(c, exact && s == 0, s)?))
        }
        (c, Operand::Value(y)) => {
            let s = cx.scale(*y);
            Ok((cx.operand_for(c, exact && s == 0, s)?, *y))
        }
        (ca, cb) => {
            let s = if exact { 0 } else { cx.out_scale(0) };
            Ok((cx.operand_for(ca, exact, s)?, cx.operand_for(cb, exact, s)?))
        }
    }
}

/// `IsNaN` and `IsInf`.
#[derive(Debug)]
pub(crate) struct Special {
    nan: bool,
    positive: bool,
    negative: bool,
}

pub(crate) fn parse_special(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let nan = cx.node.op_type == "IsNaN";
    let (positive, negative) = if nan {
        (false, false)
    } else {
        (
            cx.attrs.int_or("detect_positive", 1)? != 0,
            cx.attrs.int_or("detect_negative", 1)? != 0,
        )
    };
    cx.attrs.finish()?;
    Ok(Box::new(Special {
        nan,
        positive,
        negative,
    }))
}

impl OnnxOp for Special {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let v = x.values.mapv(|v| {
            let hit = if self.nan {
                v.is_nan()
            } else {
                (self.positive && v == f64::INFINITY) || (self.negative && v == f64::NEG_INFINITY)
            };
            f64::from(u8::from(hit))
        });
        Ok(vec![bools(v)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let shape = cx.shape(x);
        let n = shape.iter().product();
        Ok(vec![cx.raw_constant(shape, 0, vec![0; n])?])
    }

    fn lower_masked(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        // A masked position is -inf: IsInf(detect_negative) sees it, IsNaN does not.
        let Operand::Masked(super::Masked { keep, .. }) = inputs[0] else {
            return Err(NodeError::Invalid("expected a mask".into()));
        };
        let shape = cx.shape(keep);
        let n: usize = shape.iter().product();
        if self.nan || !self.negative {
            return Ok(vec![Lowered::Value(cx.raw_constant(
                shape,
                0,
                vec![0; n],
            )?)]);
        }
        let one = cx.raw_constant(vec![], 0, vec![1])?;
        Ok(vec![Lowered::Value(cx.push(Op::Sub, &[one, keep])?)])
    }

    impl_any!();
}

/// `Sign`: `[x > 0] - [x < 0]`.
#[derive(Debug)]
pub(crate) struct Sign;

pub(crate) fn parse_sign(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    cx.attrs.finish()?;
    Ok(Box::new(Sign))
}

impl OnnxOp for Sign {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        Ok(vec![Data {
            dtype: x.dtype,
            values: x.values.mapv(|v| {
                if v > 0.0 {
                    1.0
                } else if v < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }),
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = super::runtime(inputs, 0, "X")?;
        let zero = cx.raw_constant(vec![], cx.scale(x), vec![0])?;
        let pos = cx.push(Op::Compare(CompareOp::Gt), &[x, zero])?;
        let neg = cx.push(Op::Compare(CompareOp::Lt), &[x, zero])?;
        Ok(vec![cx.push(Op::Sub, &[pos, neg])?])
    }

    impl_any!();
}

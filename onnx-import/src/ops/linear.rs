//! Matrix products: Gemm and MatMul.

use ndarray::{ArrayD, Ix2, IxDyn};
use zkml_ir::op::Op;
use zkml_ir::structure::for_each_product;

use super::{array, broadcast_map, impl_any, required, OnnxOp, Operand, ParseCx};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;

type Result<T> = std::result::Result<T, NodeError>;

/// Float evaluation of any product op through the same term structure the integer program uses.
pub(crate) fn eval_product(
    op: &Op,
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    out_shape: &[usize],
) -> Result<ArrayD<f64>> {
    super::checked_size(out_shape)?;
    let a_std = a.as_standard_layout();
    let b_std = b.as_standard_layout();
    let av = a_std.as_slice().expect("standard layout");
    let bv = b_std.as_slice().expect("standard layout");
    let mut acc = vec![0.0; out_shape.iter().product()];
    for_each_product(op, a.shape(), b.shape(), out_shape, |o, ia, ib| {
        acc[o] += av[ia] * bv[ib]
    });
    Ok(array(out_shape, acc))
}

/// Emits `a * b (+ bias)` for a product op, without requantizing: constants become weights and
/// a constant bias is quantized at the product scale.
pub(crate) fn product(
    cx: &mut Lowering<'_>,
    op: Op,
    a: Operand<'_>,
    b: Operand<'_>,
    bias: Option<&Data>,
) -> Result<usize> {
    let node = |cx: &mut Lowering<'_>, o: Operand<'_>| -> Result<usize> {
        match o {
            Operand::Value(v) => Ok(v),
            Operand::Const(d) => cx.weight(d),
            Operand::Absent | Operand::Masked(_) => {
                Err(NodeError::Invalid("an operand is missing".into()))
            }
        }
    };
    if a.as_const().is_some() && b.as_const().is_some() {
        return Err(NodeError::Invalid(
            "both operands are constant; the node should have been folded".into(),
        ));
    }
    let x = node(cx, a)?;
    let w = node(cx, b)?;
    let mut ins = vec![x, w];
    if let Some(bias) = bias {
        let s = cx.scale(x) + cx.scale(w);
        ins.push(cx.constant(bias, s)?);
    }
    cx.push(op, &ins)
}

/// [`product`], requantized to output 0's scale.
pub(crate) fn lower_product(
    cx: &mut Lowering<'_>,
    op: Op,
    a: Operand<'_>,
    b: Operand<'_>,
    bias: Option<&Data>,
) -> Result<usize> {
    let acc = product(cx, op, a, b, bias)?;
    cx.finish(acc, 0)
}

/// `acc + addend` for a runtime addend, aligned exactly.
pub(crate) fn add_runtime(cx: &mut Lowering<'_>, acc: usize, addend: usize) -> Result<usize> {
    let v = cx.align(&[acc, addend])?;
    cx.push(Op::Add, &[v[0], v[1]])
}

/// `Gemm`: `alpha * A' B' + beta * C` on 2-D operands.
#[derive(Debug)]
pub(crate) struct Gemm {
    pub alpha: f64,
    pub beta: f64,
    pub trans_a: bool,
    pub trans_b: bool,
}

pub(crate) fn parse_gemm(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 3)?;
    let a = &cx.attrs;
    let op = Gemm {
        alpha: a.float_or("alpha", 1.0)?,
        beta: a.float_or("beta", 1.0)?,
        trans_a: a.int_or("transA", 0)? != 0,
        trans_b: a.int_or("transB", 0)? != 0,
    };
    // Opset < 7 `broadcast` only allowed what numpy broadcasting of C allows anyway.
    a.ignore(&["broadcast"]);
    a.finish()?;
    Ok(Box::new(op))
}

fn two_d(d: &ArrayD<f64>, what: &str) -> Result<ndarray::Array2<f64>> {
    d.clone()
        .into_dimensionality::<Ix2>()
        .map_err(|_| NodeError::Invalid(format!("{what} must be 2-D, got shape {:?}", d.shape())))
}

impl Gemm {
    /// `B'` as a constant with `alpha` folded in.
    pub(crate) fn effective_b(&self, b: &Data) -> Result<Data> {
        let b2 = two_d(&b.values, "B")?;
        let b2 = if self.trans_b { b2.t().to_owned() } else { b2 };
        Ok(Data::float(b2.mapv(|v| v * self.alpha).into_dyn()))
    }
}

impl OnnxOp for Gemm {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let a = two_d(&required(inputs, 0)?.values, "A")?;
        let b = two_d(&required(inputs, 1)?.values, "B")?;
        let a = if self.trans_a { a.t().to_owned() } else { a };
        let b = if self.trans_b { b.t().to_owned() } else { b };
        if a.ncols() != b.nrows() {
            return Err(NodeError::Invalid(format!(
                "inner dimensions differ: {:?} x {:?}",
                a.shape(),
                b.shape()
            )));
        }
        super::checked_size(&[a.nrows(), b.ncols()])?;
        let mut y = a.dot(&b).mapv(|v| v * self.alpha).into_dyn();
        if let Some(c) = inputs.get(2).copied().flatten() {
            let bc = broadcast_map(&y, &c.values, |p, c| p + self.beta * c)?;
            if bc.shape() != y.shape() {
                return Err(NodeError::Invalid(format!(
                    "C {:?} does not broadcast to {:?}",
                    c.shape(),
                    y.shape()
                )));
            }
            y = bc;
        }
        Ok(vec![Data::float(y)])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let transpose =
            |cx: &mut Lowering<'_>, v: usize| cx.push(Op::Transpose { perm: vec![1, 0] }, &[v]);
        let a_owned;
        let a_op = match inputs[0] {
            Operand::Value(v) if self.trans_a => Operand::Value(transpose(cx, v)?),
            Operand::Const(d) if self.trans_a => {
                a_owned = Data::float(two_d(&d.values, "A")?.t().to_owned().into_dyn());
                Operand::Const(&a_owned)
            }
            other => other,
        };
        let scalar = |v: f64| Data::float(ArrayD::from_elem(IxDyn(&[]), v));
        let b_owned;
        let (b_op, alpha_left) = match inputs[1] {
            Operand::Const(d) => {
                b_owned = self.effective_b(d)?;
                (Operand::Const(&b_owned), 1.0)
            }
            Operand::Value(v) => (
                Operand::Value(if self.trans_b { transpose(cx, v)? } else { v }),
                self.alpha,
            ),
            Operand::Absent | Operand::Masked(_) => {
                return Err(NodeError::Invalid("B is missing".into()))
            }
        };
        let const_bias = match inputs.get(2) {
            Some(Operand::Const(c)) if alpha_left == 1.0 => {
                Some(Data::float(c.values.mapv(|v| v * self.beta)))
            }
            _ => None,
        };
        let mut acc = product(cx, Op::MatMul, a_op, b_op, const_bias.as_ref())?;
        if alpha_left != 1.0 {
            let w = cx.weight(&scalar(alpha_left))?;
            acc = cx.push(Op::Mul, &[acc, w])?;
        }
        match inputs.get(2) {
            Some(Operand::Const(c)) if const_bias.is_none() => {
                let s = cx.scale(acc);
                let c = cx.constant(&Data::float(c.values.mapv(|v| v * self.beta)), s)?;
                acc = cx.push(Op::Add, &[acc, c])?;
            }
            Some(Operand::Value(c)) => {
                let mut c = *c;
                if self.beta != 1.0 {
                    let w = cx.weight(&scalar(self.beta))?;
                    c = cx.push(Op::Mul, &[c, w])?;
                }
                acc = add_runtime(cx, acc, c)?;
            }
            _ => {}
        }
        Ok(vec![cx.finish(acc, 0)?])
    }

    impl_any!();
}

/// `MatMul` with numpy semantics (1-D operands are promoted and the added axis removed).
#[derive(Debug)]
pub(crate) struct MatMul;

pub(crate) fn parse_matmul(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(2, 2)?;
    cx.attrs.finish()?;
    Ok(Box::new(MatMul))
}

/// Shapes after 1-D promotion, and the final output shape.
fn promote(a: &[usize], b: &[usize]) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    if a.is_empty() || b.is_empty() {
        return Err(NodeError::Invalid(
            "MatMul operands must have rank >= 1".into(),
        ));
    }
    let pa = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let pb = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let out = zkml_ir::signature::infer_shape(&Op::MatMul, &[&pa, &pb], &[])
        .map_err(NodeError::Invalid)?;
    let mut fin = out.clone();
    if b.len() == 1 {
        fin.pop();
    }
    if a.len() == 1 {
        fin.remove(fin.len() - 1 - usize::from(b.len() != 1));
    }
    Ok((pa, pb, fin))
}

impl OnnxOp for MatMul {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let (a, b) = (required(inputs, 0)?, required(inputs, 1)?);
        let (pa, pb, fin) = promote(a.shape(), b.shape())?;
        let av = a
            .values
            .to_shape(IxDyn(&pa))
            .map_err(|e| NodeError::Invalid(e.to_string()))?
            .to_owned();
        let bv = b
            .values
            .to_shape(IxDyn(&pb))
            .map_err(|e| NodeError::Invalid(e.to_string()))?
            .to_owned();
        let out = zkml_ir::signature::infer_shape(&Op::MatMul, &[&pa, &pb], &[])
            .map_err(NodeError::Invalid)?;
        let y = eval_product(&Op::MatMul, &av, &bv, &out)?;
        let y = y
            .into_shape_with_order(IxDyn(&fin))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        let dtype = if a.dtype == DType::Float || b.dtype == DType::Float {
            DType::Float
        } else {
            DType::Int
        };
        Ok(vec![Data { dtype, values: y }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let shape_of = |cx: &Lowering<'_>, o: &Operand<'_>| -> Vec<usize> {
            match o {
                Operand::Value(v) => cx.shape(*v),
                Operand::Const(d) => d.shape().to_vec(),
                Operand::Absent | Operand::Masked(_) => Vec::new(),
            }
        };
        let (sa, sb) = (shape_of(cx, &inputs[0]), shape_of(cx, &inputs[1]));
        let (pa, pb, fin) = promote(&sa, &sb)?;
        // Promote 1-D constants first, so the operands below can borrow them.
        let promoted_consts: Vec<Option<Data>> = inputs
            .iter()
            .zip([(&sa, &pa), (&sb, &pb)])
            .map(|(o, (orig, promoted))| match o {
                Operand::Const(d) if orig != promoted => d
                    .values
                    .to_shape(IxDyn(promoted))
                    .map(|v| Some(Data::float(v.to_owned())))
                    .map_err(|e| NodeError::Invalid(e.to_string())),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let mut ops = Vec::new();
        for (i, (o, (orig, promoted))) in inputs.iter().zip([(&sa, &pa), (&sb, &pb)]).enumerate() {
            ops.push(match (o, &promoted_consts[i]) {
                (_, Some(d)) => Operand::Const(d),
                (Operand::Value(v), None) if orig != promoted => Operand::Value(cx.push(
                    Op::Reshape {
                        shape: promoted.clone(),
                    },
                    &[*v],
                )?),
                (other, None) => *other,
            });
        }
        let y = lower_product(cx, Op::MatMul, ops[0], ops[1], None)?;
        let y = if cx.shape(y) != fin {
            cx.push(Op::Reshape { shape: fin }, &[y])?
        } else {
            y
        };
        Ok(vec![y])
    }

    impl_any!();
}

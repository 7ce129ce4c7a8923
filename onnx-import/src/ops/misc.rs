//! Identity, Dropout (inference), Constant, ConstantOfShape, Shape, Size and Cast.

use ndarray::{ArrayD, IxDyn};
use zkml_ir::op::Op;

use super::{
    array, const_ints, impl_any, required, runtime, usizes, Lowered, OnnxOp, Operand, ParseCx,
};
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::lower::Lowering;
use crate::proto::data_type;

type Result<T> = std::result::Result<T, NodeError>;

/// `Identity`, and `Dropout` at inference (its optional mask output is all true).
#[derive(Debug)]
pub(crate) struct Identity {
    mask: bool,
}

pub(crate) fn parse_identity(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    let dropout = cx.node.op_type == "Dropout";
    if dropout {
        cx.expect_inputs(1, 3)?;
        cx.attrs.ignore(&["seed", "ratio", "is_test"]);
    } else {
        cx.expect_inputs(1, 1)?;
    }
    cx.attrs.finish()?;
    Ok(Box::new(Identity {
        mask: dropout && cx.output_count() > 1,
    }))
}

impl OnnxOp for Identity {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        if let Some(t) = inputs.get(2).copied().flatten() {
            if t.values.iter().any(|&v| v != 0.0) {
                return Err(NodeError::UnsupportedAttribute {
                    name: "training_mode".into(),
                    value: "true".into(),
                    supported: "Dropout is supported at inference only".into(),
                });
            }
        }
        let mut out = vec![x.clone()];
        if self.mask {
            out.push(Data {
                dtype: DType::Bool,
                values: ArrayD::ones(IxDyn(x.shape())),
            });
        }
        Ok(out)
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        if let Some(Operand::Value(_)) = inputs.get(2) {
            return Err(NodeError::Quantization(
                "training_mode must be a constant".into(),
            ));
        }
        let x = runtime(inputs, 0, "input")?;
        let mut out = vec![x];
        if self.mask {
            let shape = cx.shape(x);
            let n = shape.iter().product();
            out.push(cx.raw_constant(shape, 0, vec![1; n])?);
        }
        Ok(out)
    }

    fn lower_masked(&self, _cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        match inputs[0] {
            Operand::Masked(m) if !self.mask => Ok(vec![Lowered::Masked(m)]),
            _ => Err(NodeError::Quantization(
                "a Dropout mask output of an attention mask".into(),
            )),
        }
    }

    fn forwarded_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![0]
    }

    impl_any!();
}

/// `Constant`.
#[derive(Debug)]
pub(crate) struct Constant {
    value: Data,
}

pub(crate) fn parse_constant(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(0, 0)?;
    let a = &cx.attrs;
    let mut found = Vec::new();
    if let Some(t) = a.tensor("value")? {
        found.push(t);
    }
    if let Some(f) = a.float("value_float")? {
        found.push(Data::float(ArrayD::from_elem(IxDyn(&[]), f)));
    }
    if let Some(f) = a.floats("value_floats")? {
        found.push(Data::float(array(&[f.len()], f)));
    }
    if let Some(i) = a.int("value_int")? {
        found.push(Data::int(ArrayD::from_elem(IxDyn(&[]), i as f64)));
    }
    if let Some(i) = a.ints("value_ints")? {
        found.push(Data::ints(&i));
    }
    a.finish().map_err(|e| match e {
        NodeError::UnknownAttribute { name, .. } => NodeError::UnsupportedAttribute {
            name,
            value: "set".into(),
            supported:
                "supported values are value, value_float, value_floats, value_int and value_ints"
                    .into(),
        },
        other => other,
    })?;
    if found.len() != 1 {
        return Err(NodeError::Invalid(format!(
            "exactly one value attribute is required, found {}",
            found.len()
        )));
    }
    Ok(Box::new(Constant {
        value: found.pop().expect("one"),
    }))
}

impl OnnxOp for Constant {
    fn eval(&self, _inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        Ok(vec![self.value.clone()])
    }

    fn lower(&self, _cx: &mut Lowering<'_>, _inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        Err(NodeError::Invalid(
            "constants are folded before lowering".into(),
        ))
    }

    impl_any!();
}

/// `ConstantOfShape`.
#[derive(Debug)]
pub(crate) struct ConstantOfShape {
    value: Data,
}

pub(crate) fn parse_constant_of_shape(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let value = cx
        .attrs
        .tensor("value")?
        .unwrap_or_else(|| Data::float(ArrayD::zeros(IxDyn(&[1]))));
    cx.attrs.finish()?;
    if value.values.len() != 1 {
        return Err(NodeError::Invalid(
            "value must hold exactly one element".into(),
        ));
    }
    Ok(Box::new(ConstantOfShape { value }))
}

impl OnnxOp for ConstantOfShape {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let shape = usizes(
            &const_ints(inputs, 0, "shape")?.unwrap_or_default(),
            "shape",
        )?;
        super::checked_size(&shape)?;
        let v = self.value.values.iter().next().copied().unwrap_or(0.0);
        Ok(vec![Data {
            dtype: self.value.dtype,
            values: ArrayD::from_elem(IxDyn(&shape), v),
        }])
    }

    fn lower(&self, _cx: &mut Lowering<'_>, _inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        Err(NodeError::Quantization(
            "the shape input must be a constant".into(),
        ))
    }

    fn constant_inputs(&self, _inputs: usize) -> Vec<usize> {
        vec![0]
    }

    impl_any!();
}

/// `Shape` (with `start`/`end` since opset 15) and `Size`: they read only the static shape, so
/// they always fold to constants.
#[derive(Debug)]
pub(crate) struct ShapeOf {
    size: bool,
    start: i64,
    end: Option<i64>,
}

pub(crate) fn parse_shape(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let size = cx.node.op_type == "Size";
    let (start, end) = if size {
        (0, None)
    } else {
        (cx.attrs.int_or("start", 0)?, cx.attrs.int("end")?)
    };
    cx.attrs.finish()?;
    Ok(Box::new(ShapeOf { size, start, end }))
}

impl OnnxOp for ShapeOf {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        if self.size {
            return Ok(vec![Data::int(ArrayD::from_elem(
                IxDyn(&[]),
                x.values.len() as f64,
            ))]);
        }
        let r = x.shape().len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let (s, e) = (clamp(self.start), clamp(self.end.unwrap_or(r)));
        let dims: Vec<i64> = x.shape()[s..e.max(s)].iter().map(|&d| d as i64).collect();
        Ok(vec![Data::ints(&dims)])
    }

    fn lower(&self, _cx: &mut Lowering<'_>, _inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        Err(NodeError::Invalid(
            "shapes are folded before lowering".into(),
        ))
    }

    impl_any!();
}

/// `trunc(x)` of a real `x` at scale `s`, as an integer at scale 0: `floor(x / 2^s)` for
/// `x >= 0`, `ceil(x / 2^s)` below, with `floor(x / 2^s) = Rescale_s(x - 2^(s-1))` and
/// `ceil(x / 2^s) = Rescale_s(x + 2^(s-1) - 1)`.
pub(crate) fn truncate(cx: &mut Lowering<'_>, x: usize) -> Result<usize> {
    let s = cx.scale(x);
    if s <= 0 {
        return Ok(x);
    }
    let (floor, ceil) = super::rounding::floor_and_ceil(cx, x)?;
    let zero = cx.raw_constant(vec![], s, vec![0])?;
    let negative = cx.push(Op::Compare(zkml_ir::CompareOp::Lt), &[x, zero])?;
    cx.push(Op::Where, &[negative, ceil, floor])
}

/// `Cast`.
#[derive(Debug)]
pub(crate) struct Cast {
    to: DType,
    to_name: String,
}

pub(crate) fn parse_cast(cx: &ParseCx<'_>) -> Result<Box<dyn OnnxOp>> {
    cx.expect_inputs(1, 1)?;
    let code =
        cx.attrs
            .int("to")?
            .ok_or_else(|| NodeError::Invalid("attribute 'to' is required".into()))? as i32;
    // `saturate` only affects float8 targets, which are rejected below.
    cx.attrs.ignore(&["saturate", "round_mode"]);
    cx.attrs.finish()?;
    let to = DType::from_onnx(code).ok_or_else(|| {
        NodeError::UnsupportedDtype(format!(
            "cast to {} is not supported (supported: float, integer and bool types)",
            data_type::name(code)
        ))
    })?;
    Ok(Box::new(Cast {
        to,
        to_name: data_type::name(code),
    }))
}

impl OnnxOp for Cast {
    fn eval(&self, inputs: &[Option<&Data>]) -> Result<Vec<Data>> {
        let x = required(inputs, 0)?;
        let values = match self.to {
            DType::Float => x.values.clone(),
            DType::Int => x.values.mapv(f64::trunc),
            DType::Bool => x.values.mapv(|v| if v != 0.0 { 1.0 } else { 0.0 }),
        };
        Ok(vec![Data {
            dtype: self.to,
            values,
        }])
    }

    fn lower(&self, cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<usize>> {
        let x = runtime(inputs, 0, "input")?;
        let from = cx.in_dtype(0).unwrap_or(DType::Float);
        Ok(vec![match (from, self.to) {
            // Integers and booleans are exact reals at scale 0; a real stays what it is.
            (_, DType::Float) => x,
            (DType::Bool, _) | (DType::Int, DType::Int) => x,
            (_, DType::Bool) => super::logic::to_boolean(cx, x)?,
            (DType::Float, DType::Int) => truncate(cx, x)?,
        }])
    }

    fn lower_masked(&self, _cx: &mut Lowering<'_>, inputs: &[Operand<'_>]) -> Result<Vec<Lowered>> {
        match inputs[0] {
            Operand::Masked(m) if self.to == DType::Float => Ok(vec![Lowered::Masked(m)]),
            _ => Err(NodeError::Quantization(format!(
                "cast of an attention mask (-inf / finfo.min values) to {}",
                self.to_name
            ))),
        }
    }

    fn forwarded_inputs(&self, _inputs: usize) -> Vec<usize> {
        // Casts between integer kinds keep the values.
        if self.to == DType::Int {
            vec![0]
        } else {
            Vec::new()
        }
    }

    impl_any!();
}

//! Tensor values during import: constants, folded shapes and calibration values.
//!
//! Every value is held as `f64` together with its element kind. Integers (shape arithmetic,
//! indices) stay exact below 2^53, far beyond any shape; floats keep the model's f32 values
//! exactly.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::proto::{data_type, TensorProto};

/// The element kind of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// Any floating-point type.
    Float,
    /// Any integer type.
    Int,
    /// Booleans (0 or 1).
    Bool,
}

impl DType {
    /// The kind of an ONNX data type code, or `None` for types zkml cannot hold.
    pub fn from_onnx(code: i32) -> Option<Self> {
        use data_type::*;
        match code {
            FLOAT | DOUBLE | FLOAT16 | BFLOAT16 => Some(DType::Float),
            UINT8 | INT8 | UINT16 | INT16 | INT32 | INT64 | UINT32 | UINT64 => Some(DType::Int),
            BOOL => Some(DType::Bool),
            _ => None,
        }
    }
}

/// A tensor value with its element kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// Element kind.
    pub dtype: DType,
    /// Values (row-major, any rank).
    pub values: ArrayD<f64>,
}

impl Data {
    /// A float tensor.
    pub fn float(values: ArrayD<f64>) -> Self {
        Self {
            dtype: DType::Float,
            values,
        }
    }

    /// An integer tensor.
    pub fn int(values: ArrayD<f64>) -> Self {
        Self {
            dtype: DType::Int,
            values,
        }
    }

    /// A tensor of zeros.
    pub fn zeros(dtype: DType, shape: &[usize]) -> Self {
        Self {
            dtype,
            values: ArrayD::zeros(IxDyn(shape)),
        }
    }

    /// A 1-D integer tensor.
    pub fn ints(values: &[i64]) -> Self {
        Self::int(
            ArrayD::from_shape_vec(
                IxDyn(&[values.len()]),
                values.iter().map(|&v| v as f64).collect(),
            )
            .expect("1-D"),
        )
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.values.shape()
    }

    /// The values as integers (each must be integral). Magnitudes beyond `i64` saturate, so the
    /// `INT64_MAX` / `INT64_MIN` sentinels exporters write for "to the end" stay the extremes
    /// (they are stored as `+-2^63` in an `f64`).
    pub fn to_i64s(&self) -> Result<Vec<i64>, String> {
        self.values
            .iter()
            .map(|&v| {
                if v.is_finite() && v.fract() == 0.0 {
                    // `as` saturates at the ends of i64.
                    Ok(v as i64)
                } else {
                    Err(format!("expected integer values, found {v}"))
                }
            })
            .collect()
    }

    /// Whether any value is a mask value (see [`is_mask_value`]).
    pub fn has_mask_values(&self) -> bool {
        self.values.iter().any(|&v| is_mask_value(v))
    }

    /// The values in row-major order.
    pub fn to_vec(&self) -> Vec<f64> {
        self.values.iter().copied().collect()
    }

    /// Largest absolute value (0 when empty, NaN-free values assumed).
    pub fn max_abs(&self) -> f64 {
        self.values.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }
}

/// Below this, a value means "masked out" (exporters write `finfo(float32).min`, about
/// `-3.4e38`, or `-inf` into additive attention masks); no real activation comes near it.
pub const MASK_THRESHOLD: f64 = -1e30;

/// Whether `v` is an additive-mask value: `-inf` or at most [`MASK_THRESHOLD`].
pub fn is_mask_value(v: f64) -> bool {
    v <= MASK_THRESHOLD
}

/// Decodes an ONNX tensor. `model_dir` resolves external data files.
pub fn from_tensor_proto(t: &TensorProto, model_dir: Option<&Path>) -> Result<Data, String> {
    let dtype = DType::from_onnx(t.data_type).ok_or_else(|| {
        format!(
            "tensor '{}' has unsupported element type {} (supported: float, double, float16, \
             bfloat16, integer and bool types)",
            t.name,
            data_type::name(t.data_type)
        )
    })?;
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        let d = usize::try_from(d)
            .map_err(|_| format!("tensor '{}' has negative dimension {d}", t.name))?;
        shape.push(d);
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= crate::ops::MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| format!("tensor '{}' with shape {shape:?} is too large", t.name))?;
    let external;
    let raw: &[u8] = if t.data_location == 1 {
        external = read_external(t, model_dir)?;
        &external
    } else {
        &t.raw_data
    };
    let values = if !raw.is_empty() {
        decode_raw(t.data_type, raw, n).map_err(|e| format!("tensor '{}': {e}", t.name))?
    } else {
        decode_typed(t, n).map_err(|e| format!("tensor '{}': {e}", t.name))?
    };
    let values = ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())?;
    Ok(Data { dtype, values })
}

/// Replaces every initializer stored in an external file by the same tensor with its data
/// inline; returns whether anything changed.
pub fn inline_external_data(
    model: &mut crate::proto::ModelProto,
    model_dir: Option<&Path>,
) -> Result<bool, String> {
    let Some(graph) = model.graph.as_mut() else {
        return Ok(false);
    };
    let mut changed = false;
    for t in graph
        .initializer
        .iter_mut()
        .filter(|t| t.data_location == 1)
    {
        let raw = read_external(t, model_dir)?;
        t.raw_data = raw;
        t.data_location = 0;
        t.external_data.clear();
        changed = true;
    }
    Ok(changed)
}

fn read_external(t: &TensorProto, model_dir: Option<&Path>) -> Result<Vec<u8>, String> {
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.as_str())
    };
    let location = get("location")
        .ok_or_else(|| format!("tensor '{}' has external data without a location", t.name))?;
    let dir = model_dir.ok_or_else(|| {
        format!(
            "tensor '{}' stores its data in '{location}', but the model was not read from a file",
            t.name
        )
    })?;
    let path = dir.join(location);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "tensor '{}': cannot read external data {}: {e}",
            t.name,
            path.display()
        )
    })?;
    let parse = |k: &str| -> Result<Option<usize>, String> {
        get(k)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| format!("bad external data {k} '{v}'"))
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    let end = match parse("length")? {
        Some(len) => offset.checked_add(len),
        None => Some(bytes.len()),
    };
    match end {
        Some(end) if offset <= end && end <= bytes.len() => Ok(bytes[offset..end].to_vec()),
        _ => Err(format!(
            "tensor '{}': external data range is outside {}",
            t.name,
            path.display()
        )),
    }
}

fn decode_raw(code: i32, raw: &[u8], n: usize) -> Result<Vec<f64>, String> {
    use data_type::*;
    let width = match code {
        FLOAT | INT32 | UINT32 => 4,
        DOUBLE | INT64 | UINT64 => 8,
        FLOAT16 | BFLOAT16 | INT16 | UINT16 => 2,
        INT8 | UINT8 | BOOL => 1,
        _ => return Err(format!("raw data of type {} is not supported", name(code))),
    };
    if raw.len() != n * width {
        return Err(format!(
            "raw data holds {} bytes, {} expected",
            raw.len(),
            n * width
        ));
    }
    Ok(raw
        .chunks_exact(width)
        .map(|c| match code {
            FLOAT => f32::from_le_bytes(c.try_into().expect("4")) as f64,
            DOUBLE => f64::from_le_bytes(c.try_into().expect("8")),
            INT32 => i32::from_le_bytes(c.try_into().expect("4")) as f64,
            UINT32 => u32::from_le_bytes(c.try_into().expect("4")) as f64,
            INT64 => i64::from_le_bytes(c.try_into().expect("8")) as f64,
            UINT64 => u64::from_le_bytes(c.try_into().expect("8")) as f64,
            INT16 => i16::from_le_bytes(c.try_into().expect("2")) as f64,
            UINT16 => u16::from_le_bytes(c.try_into().expect("2")) as f64,
            FLOAT16 => f16_to_f64(u16::from_le_bytes(c.try_into().expect("2"))),
            BFLOAT16 => {
                f32::from_bits(u32::from(u16::from_le_bytes(c.try_into().expect("2"))) << 16) as f64
            }
            INT8 => c[0] as i8 as f64,
            _ => c[0] as f64,
        })
        .collect())
}

fn decode_typed(t: &TensorProto, n: usize) -> Result<Vec<f64>, String> {
    use data_type::*;
    let values: Vec<f64> = match t.data_type {
        FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
        DOUBLE => t.double_data.clone(),
        INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        UINT32 | UINT64 => t.uint64_data.iter().map(|&v| v as f64).collect(),
        FLOAT16 => t.int32_data.iter().map(|&v| f16_to_f64(v as u16)).collect(),
        BFLOAT16 => t
            .int32_data
            .iter()
            .map(|&v| f32::from_bits((v as u32 & 0xffff) << 16) as f64)
            .collect(),
        INT32 | INT16 | INT8 | UINT16 | UINT8 | BOOL => {
            t.int32_data.iter().map(|&v| v as f64).collect()
        }
        other => return Err(format!("type {} is not supported", name(other))),
    };
    if values.len() != n {
        return Err(format!(
            "holds {} values, its shape needs {n}",
            values.len()
        ));
    }
    Ok(values)
}

/// IEEE 754 half precision to f64.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn raw_and_typed_tensors_decode() {
        let raw = TensorProto {
            dims: vec![2],
            data_type: data_type::FLOAT,
            raw_data: [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat(),
            ..Default::default()
        };
        assert_eq!(
            from_tensor_proto(&raw, None).unwrap().to_vec(),
            vec![1.5, -2.0]
        );
        let typed = TensorProto {
            dims: vec![3],
            data_type: data_type::INT64,
            int64_data: vec![1, -1, 7],
            ..Default::default()
        };
        let d = from_tensor_proto(&typed, None).unwrap();
        assert_eq!(d.dtype, DType::Int);
        assert_eq!(d.to_i64s().unwrap(), vec![1, -1, 7]);
    }

    #[test]
    fn short_or_unsupported_tensors_are_errors() {
        let short = TensorProto {
            dims: vec![3],
            data_type: data_type::FLOAT,
            raw_data: vec![0; 8],
            ..Default::default()
        };
        assert!(from_tensor_proto(&short, None)
            .unwrap_err()
            .contains("8 bytes"));
        let string = TensorProto {
            dims: vec![1],
            data_type: data_type::STRING,
            name: "s".into(),
            ..Default::default()
        };
        assert!(from_tensor_proto(&string, None)
            .unwrap_err()
            .contains("STRING"));
    }
}

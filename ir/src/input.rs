//! Input files and the quantization of real inputs.
//!
//! The input format is EZKL's, unchanged, so its users can switch without converting files:
//!
//! ```json
//! {"input_data": [[0.1, 0.2, ...], [...]]}
//! ```
//!
//! `input_data` holds one list per model input, each the input's values flattened in row-major
//! order. Nested lists inside one input are flattened too, and a single flat list of numbers is
//! read as the only input. Other top-level keys (such as `output_data`) are ignored. Every value
//! must be a finite number or a boolean (`true` is 1, `false` is 0); `NaN` and `Infinity` are
//! rejected with a message naming them.
//!
//! Integer and boolean inputs (token ids, positions, masks) take JSON integers (or booleans):
//! every value of the program's value range is exact in an `f64`, so they are carried exactly.
//! A fractional value, or one outside the input's domain, is an error naming the input and the
//! element.

use serde_json::Value;
use thiserror::Error;

use crate::op::{InputDomain, Op};
use crate::program::Program;
use crate::rounding::{dequantize, quantize};
use crate::tensor::{numel, Tensor};

/// Why an input file or value was rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    /// Not JSON, or JSON of the wrong form.
    #[error("input file is not valid: {0}")]
    Malformed(String),
    /// The file holds NaN or infinity.
    #[error("input file contains the non-finite number {token}; inputs must be finite numbers")]
    NonFiniteToken {
        /// The token found.
        token: String,
    },
    /// A value is not a number.
    #[error("input {input} element {position} is {found}, not a number")]
    NotANumber {
        /// Input position.
        input: usize,
        /// Element position (flattened).
        position: usize,
        /// What was found.
        found: String,
    },
    /// Wrong number of input tensors.
    #[error("the model takes {expected} input(s), the file holds {got}")]
    WrongInputCount {
        /// Model inputs.
        expected: usize,
        /// Lists in the file.
        got: usize,
    },
    /// Wrong number of values for one input.
    #[error("input {input} '{name}' has shape {shape:?} and needs {expected} values, the file holds {got}")]
    WrongLength {
        /// Input position.
        input: usize,
        /// Input name.
        name: String,
        /// Input shape.
        shape: Vec<usize>,
        /// Values needed.
        expected: usize,
        /// Values supplied.
        got: usize,
    },
    /// A value is NaN or infinite.
    #[error("input {input} element {position} is {value}; inputs must be finite")]
    NonFinite {
        /// Input position.
        input: usize,
        /// Element position.
        position: usize,
        /// The value.
        value: f64,
    },
    /// An integer or boolean input holds a fractional value.
    #[error("input {input} '{name}' element {position} is {value}, but the input takes integers")]
    NotInteger {
        /// Input position.
        input: usize,
        /// Input name.
        name: String,
        /// Element position.
        position: usize,
        /// The value.
        value: f64,
    },
    /// An integer or boolean input holds a value outside its domain.
    #[error(
        "input {input} '{name}' element {position} is {value}, outside the input's domain {domain}"
    )]
    OutsideDomain {
        /// Input position.
        input: usize,
        /// Input name.
        name: String,
        /// Element position.
        position: usize,
        /// The value.
        value: f64,
        /// The domain, described.
        domain: String,
    },
    /// A value is too large for the input's quantization.
    #[error(
        "input {input} element {position} = {value} is outside the representable range \
         [{min}, {max}] of this input (scale 2^{scale}); recompile with calibration data that \
         covers it"
    )]
    OutOfRange {
        /// Input position.
        input: usize,
        /// Element position.
        position: usize,
        /// The value.
        value: f64,
        /// Smallest representable value.
        min: f64,
        /// Largest representable value.
        max: f64,
        /// The input's scale.
        scale: i32,
    },
}

/// Parses an input file into one flat list of reals per input.
pub fn parse_input_json(text: &str) -> Result<Vec<Vec<f64>>, InputError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| match find_non_finite_token(text) {
            Some(token) => InputError::NonFiniteToken { token },
            None => InputError::Malformed(e.to_string()),
        })?;
    let data = match &value {
        Value::Object(map) => map
            .get("input_data")
            .ok_or_else(|| InputError::Malformed("missing the \"input_data\" key".into()))?,
        _ => {
            return Err(InputError::Malformed(
                "expected an object {\"input_data\": [[...], ...]}".into(),
            ))
        }
    };
    let Value::Array(items) = data else {
        return Err(InputError::Malformed(
            "\"input_data\" must be a list".into(),
        ));
    };
    let groups: Vec<&Value> = if items.iter().all(|v| !v.is_array()) {
        vec![data]
    } else {
        items.iter().collect()
    };
    groups
        .into_iter()
        .enumerate()
        .map(|(input, v)| {
            let mut out = Vec::new();
            flatten(v, input, &mut out)?;
            Ok(out)
        })
        .collect()
}

fn flatten(v: &Value, input: usize, out: &mut Vec<f64>) -> Result<(), InputError> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|x| flatten(x, input, out)),
        Value::Number(n) => {
            out.push(n.as_f64().ok_or_else(|| InputError::NotANumber {
                input,
                position: out.len(),
                found: n.to_string(),
            })?);
            Ok(())
        }
        Value::Bool(b) => {
            out.push(f64::from(u8::from(*b)));
            Ok(())
        }
        other => Err(InputError::NotANumber {
            input,
            position: out.len(),
            found: match other {
                Value::String(s) => format!("the string {s:?}"),
                Value::Null => "null".into(),
                _ => "an object".into(),
            },
        }),
    }
}

/// Looks for `NaN` / `Infinity` / `inf` tokens outside string literals.
fn find_non_finite_token(text: &str) -> Option<String> {
    let mut in_string = false;
    let mut escaped = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = &text[start..i];
            let lower = word.to_ascii_lowercase();
            if ["nan", "infinity", "inf"].contains(&lower.as_str()) {
                let signed = start > 0 && bytes[start - 1] == b'-';
                return Some(if signed {
                    format!("-{word}")
                } else {
                    word.to_string()
                });
            }
            continue;
        }
        i += 1;
    }
    None
}

/// What an input must look like: its name, shape, scale and domain.
#[derive(Clone, Copy, Debug)]
pub struct InputSpec<'a> {
    /// Name, for messages.
    pub name: &'a str,
    /// Shape.
    pub shape: &'a [usize],
    /// Scale.
    pub scale: i32,
    /// Reals, or integers carried exactly.
    pub domain: InputDomain,
}

/// Quantizes one flat list of reals per input at the program's input scales.
pub fn quantize_inputs(program: &Program, data: &[Vec<f64>]) -> Result<Vec<Tensor>, InputError> {
    let specs: Vec<InputSpec<'_>> = program
        .inputs
        .iter()
        .map(|&i| {
            let n = &program.nodes[i];
            InputSpec {
                name: &n.name,
                shape: &n.shape,
                scale: n.scale,
                domain: match n.op {
                    Op::Input { domain, .. } => domain,
                    _ => InputDomain::Real,
                },
            }
        })
        .collect();
    quantize_with(&specs, program.value_bits, data)
}

/// Quantizes one flat list of reals per input, given each input's spec and the value bits
/// (values must lie in `[-2^(bits-1), 2^(bits-1))` once quantized).
pub fn quantize_with(
    specs: &[InputSpec<'_>],
    value_bits: u32,
    data: &[Vec<f64>],
) -> Result<Vec<Tensor>, InputError> {
    if data.len() != specs.len() {
        return Err(InputError::WrongInputCount {
            expected: specs.len(),
            got: data.len(),
        });
    }
    let limit = 1i64 << (value_bits.clamp(1, 63) - 1);
    specs
        .iter()
        .zip(data)
        .enumerate()
        .map(|(input, (spec, values))| {
            let expected = numel(spec.shape);
            if values.len() != expected {
                return Err(InputError::WrongLength {
                    input,
                    name: spec.name.to_string(),
                    shape: spec.shape.to_vec(),
                    expected,
                    got: values.len(),
                });
            }
            let (min, max) = match spec.domain {
                InputDomain::Bounded { bound } => {
                    let b = i64::try_from(bound).unwrap_or(i64::MAX);
                    (-b.min(limit), b.min(limit - 1))
                }
                _ => (-limit, limit - 1),
            };
            let mut q = Vec::with_capacity(values.len());
            for (position, &value) in values.iter().enumerate() {
                if !value.is_finite() {
                    return Err(InputError::NonFinite {
                        input,
                        position,
                        value,
                    });
                }
                if let Some((lo, hi)) = spec.domain.interval() {
                    if value.fract() != 0.0 {
                        return Err(InputError::NotInteger {
                            input,
                            name: spec.name.to_string(),
                            position,
                            value,
                        });
                    }
                    // Integral and compared as f64: exact for every admissible value.
                    if value < lo as f64 || value > hi as f64 {
                        return Err(InputError::OutsideDomain {
                            input,
                            name: spec.name.to_string(),
                            position,
                            value,
                            domain: spec.domain.describe(),
                        });
                    }
                    q.push(value as i64);
                    continue;
                }
                match quantize(value, spec.scale) {
                    Some(v) if v >= min && v <= max => q.push(v),
                    _ => {
                        return Err(InputError::OutOfRange {
                            input,
                            position,
                            value,
                            min: dequantize(min, spec.scale),
                            max: dequantize(max, spec.scale),
                            scale: spec.scale,
                        })
                    }
                }
            }
            Ok(Tensor::new(spec.shape.to_vec(), q).expect("length checked"))
        })
        .collect()
}

/// The reals a tensor at `scale` stands for.
pub fn dequantize_tensor(t: &Tensor, scale: i32) -> Vec<f64> {
    t.data().iter().map(|&q| dequantize(q, scale)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ezkl_format_is_accepted() {
        let d = parse_input_json(r#"{"input_data": [[1.0, 2.5], [3]]}"#).unwrap();
        assert_eq!(d, vec![vec![1.0, 2.5], vec![3.0]]);
        let single =
            parse_input_json(r#"{"input_data": [1, 2, 3], "output_data": [[0]]}"#).unwrap();
        assert_eq!(single, vec![vec![1.0, 2.0, 3.0]]);
        let nested = parse_input_json(r#"{"input_data": [[[1, 2], [3, 4]]]}"#).unwrap();
        assert_eq!(nested, vec![vec![1.0, 2.0, 3.0, 4.0]]);
    }

    #[test]
    fn non_finite_tokens_are_named() {
        for (text, token) in [
            (r#"{"input_data": [[1, NaN]]}"#, "NaN"),
            (r#"{"input_data": [[-Infinity]]}"#, "-Infinity"),
            (r#"{"input_data": [[inf]]}"#, "inf"),
        ] {
            assert_eq!(
                parse_input_json(text).unwrap_err(),
                InputError::NonFiniteToken {
                    token: token.into()
                }
            );
        }
        // A string that merely contains "NaN" is a type error, not a non-finite token.
        assert!(matches!(
            parse_input_json(r#"{"input_data": [["NaN"]]}"#).unwrap_err(),
            InputError::NotANumber { .. }
        ));
    }

    #[test]
    fn malformed_files_are_errors() {
        for text in [
            "",
            "[1,2]",
            r#"{"input": [[1]]}"#,
            r#"{"input_data": 3}"#,
            "{\"input_data\": [[1,",
        ] {
            assert!(parse_input_json(text).is_err(), "{text}");
        }
        assert!(matches!(
            parse_input_json(r#"{"input_data": [[1e999]]}"#).unwrap_err(),
            InputError::Malformed(_)
        ));
    }
}

//! Test support: build small ONNX models in code and check zkml against tract.

#![allow(dead_code)]

use prost::Message;
use zkml_ir::input::{dequantize_tensor, quantize_inputs};
use zkml_onnx::proto::{
    attribute_type, data_type, tensor_shape_proto, type_proto, AttributeProto, GraphProto,
    ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use zkml_onnx::{compile, parse_model, ImportOptions, QuantConfig};

/// An attribute value.
pub enum A {
    I(i64),
    F(f32),
    Is(Vec<i64>),
    Fs(Vec<f32>),
    S(&'static str),
}

/// Builds a model node by node.
pub struct ModelBuilder {
    opset: i64,
    graph: GraphProto,
}

fn value_info(name: &str, shape: Option<&[usize]>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: data_type::FLOAT,
                shape: shape.map(|s| TensorShapeProto {
                    dim: s
                        .iter()
                        .map(|&d| tensor_shape_proto::Dimension {
                            value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
                            denotation: String::new(),
                        })
                        .collect(),
                }),
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

impl ModelBuilder {
    pub fn new(opset: i64) -> Self {
        Self {
            opset,
            graph: GraphProto {
                name: "test".into(),
                ..Default::default()
            },
        }
    }

    pub fn input(mut self, name: &str, shape: &[usize]) -> Self {
        self.graph.input.push(value_info(name, Some(shape)));
        self
    }

    pub fn init(mut self, name: &str, shape: &[usize], values: &[f32]) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "initializer {name}"
        );
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            float_data: values.to_vec(),
            ..Default::default()
        });
        self
    }

    pub fn init_i64(mut self, name: &str, shape: &[usize], values: &[i64]) -> Self {
        self.graph.initializer.push(TensorProto {
            name: name.into(),
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: data_type::INT64,
            int64_data: values.to_vec(),
            ..Default::default()
        });
        self
    }

    pub fn node(
        mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<(&str, A)>,
    ) -> Self {
        let n = self.graph.node.len();
        self.graph.node.push(NodeProto {
            name: format!("{op}_{n}"),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs
                .into_iter()
                .map(|(name, v)| {
                    let mut a = AttributeProto {
                        name: name.into(),
                        ..Default::default()
                    };
                    match v {
                        A::I(i) => (a.r#type, a.i) = (attribute_type::INT, i),
                        A::F(f) => (a.r#type, a.f) = (attribute_type::FLOAT, f),
                        A::Is(v) => (a.r#type, a.ints) = (attribute_type::INTS, v),
                        A::Fs(v) => (a.r#type, a.floats) = (attribute_type::FLOATS, v),
                        A::S(s) => {
                            (a.r#type, a.s) = (attribute_type::STRING, s.as_bytes().to_vec())
                        }
                    }
                    a
                })
                .collect(),
            ..Default::default()
        });
        self
    }

    pub fn output(mut self, name: &str) -> Self {
        self.graph.output.push(value_info(name, None));
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "zkml-tests".into(),
            graph: Some(self.graph),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

/// Deterministic pseudo-random values in `[lo, hi)`.
pub fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let u = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64;
            // Round to f32 so every engine sees identical inputs.
            (lo + (hi - lo) * u) as f32 as f64
        })
        .collect()
}

/// Pseudo-random f32 weights in `[-1, 1)`.
pub fn weights(seed: u64, n: usize) -> Vec<f32> {
    values(seed, n, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// The tolerance of quantized outputs: 1% of the largest reference magnitude.
pub const QUANT_TOLERANCE: f64 = 0.01;

/// Checks a model on `inputs` (flat values per input, shapes from the model):
/// zkml's float evaluation against tract (1e-4 + 1e-4 relative), and the integer program
/// (calibrated on the same input) against tract within 1% of the largest output magnitude.
pub fn check(name: &str, bytes: Vec<u8>, inputs: &[Vec<f64>]) {
    check_against(name, bytes, inputs, true)
}

/// Like [`check`], for models tract cannot run (`reason` says why): the integer program is
/// compared with zkml's own float evaluation, which the ONNX conformance suite checks against
/// ONNX's reference outputs on the same ops.
pub fn check_without_tract(name: &str, bytes: Vec<u8>, inputs: &[Vec<f64>], reason: &str) {
    let model = parse_model(bytes.clone(), None, &ImportOptions::default()).unwrap();
    let shapes: Vec<Vec<usize>> = model
        .graph
        .input_shapes()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert!(
        zkml_onnx::reference::run_tract(&bytes, &shapes, inputs).is_err(),
        "{name}: tract runs this model now ({reason}); use check()"
    );
    check_against(name, bytes, inputs, false)
}

fn check_against(name: &str, bytes: Vec<u8>, inputs: &[Vec<f64>], tract: bool) {
    let model = parse_model(bytes.clone(), None, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{name}: import failed: {e}"));
    let shapes: Vec<Vec<usize>> = model
        .graph
        .input_shapes()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let float = model
        .graph
        .run_float(inputs)
        .unwrap_or_else(|e| panic!("{name}: float evaluation failed: {e}"));
    let reference = if tract {
        zkml_onnx::reference::run_tract(&bytes, &shapes, inputs)
            .unwrap_or_else(|e| panic!("{name}: tract failed: {e}"))
    } else {
        float.clone()
    };
    assert_eq!(float.len(), reference.len(), "{name}: output count");
    for (k, (f, r)) in float.iter().zip(&reference).enumerate() {
        assert_eq!(f.len(), r.len(), "{name}: output {k} length");
        for (i, (a, b)) in f.iter().zip(r).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
                "{name}: float output {k}[{i}] = {a}, tract {b}"
            );
        }
    }
    let compiled = compile(&model, &[inputs.to_vec()], &QuantConfig::default())
        .unwrap_or_else(|e| panic!("{name}: compile failed: {e}"));
    let p = &compiled.program;
    let q = quantize_inputs(p, inputs).unwrap();
    let trace = zkml_ir::evaluate(p, &q)
        .unwrap_or_else(|e| panic!("{name}: integer evaluation failed: {e}"));
    for (k, (t, r)) in trace.outputs().into_iter().zip(&reference).enumerate() {
        let got = dequantize_tensor(t, p.nodes[p.outputs[k]].scale);
        let max = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let tol = (QUANT_TOLERANCE * max).max(1e-4);
        for (i, (a, b)) in got.iter().zip(r).enumerate() {
            assert!(
                (a - b).abs() <= tol,
                "{name}: quantized output {k}[{i}] = {a}, tract {b} (tolerance {tol:.2e})"
            );
        }
    }
}

/// A single-node model `y = op(x, params...)` with constant parameters.
pub fn unary_model(
    opset: i64,
    op: &str,
    x_shape: &[usize],
    params: &[(&str, &[usize], Vec<f32>)],
    attrs: Vec<(&str, A)>,
) -> Vec<u8> {
    let mut b = ModelBuilder::new(opset).input("x", x_shape);
    let mut ins = vec!["x"];
    for (name, shape, v) in params {
        b = b.init(name, shape, v);
        ins.push(name);
    }
    b.node(op, &ins, &["y"], attrs).output("y").bytes()
}

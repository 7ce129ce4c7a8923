//! Ops imported by expansion into standard ONNX nodes: the recurrent layers (`LSTM`, `GRU`,
//! `RNN`, unrolled over their static sequence length), the attention ops of opset 23
//! (`Attention`, `RotaryEmbedding`) and the `ai.onnx.ml` classic-ML ops (tree ensembles,
//! linear models, scalers).
//!
//! An expansion runs when the node is added to the graph, with its inputs' shapes and constants
//! known, and emits ordinary nodes (`MatMul`, `Sigmoid`, `Less`, ...). Those are then imported
//! like any other node: folded where constant, calibrated one by one (every gate and state of an
//! unrolled LSTM gets its own scale), and lowered by the usual ops.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::attrs::Attrs;
use crate::data::{DType, Data};
use crate::error::NodeError;
use crate::proto::{attribute_type as at, data_type, AttributeProto, NodeProto, TensorProto};

pub(crate) mod attention;
pub(crate) mod ml;
pub(crate) mod rnn;

type Result<T> = std::result::Result<T, NodeError>;

/// The opset at which expanded nodes are read, whatever the model's (the helpers below emit
/// its forms: axes and slice bounds as inputs).
pub(crate) const EXPANSION_OPSET: i64 = 18;

/// What an expansion knows of one input.
#[derive(Clone, Debug)]
pub(crate) struct InputInfo<'a> {
    /// The value's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element kind.
    pub dtype: DType,
    /// Its value, when known at import.
    pub constant: Option<&'a Data>,
}

/// The expansion of one node.
pub(crate) struct ExpandCx<'a> {
    pub attrs: Attrs<'a>,
    /// Inputs in order (`None` for absent optional ones).
    pub inputs: Vec<Option<InputInfo<'a>>>,
    prefix: String,
    counter: usize,
    /// The nodes emitted so far.
    pub nodes: Vec<NodeProto>,
}

/// Expands a node; returns, for each of the node's outputs, the value computing it (`None` if
/// the expansion does not produce it).
pub(crate) type ExpandFn = fn(&mut ExpandCx<'_>) -> Result<Vec<Option<String>>>;

/// An op imported by expansion.
#[derive(Clone, Copy)]
pub(crate) struct Expander {
    pub expand: ExpandFn,
    pub since: i64,
}

/// Every op imported by expansion, by `(domain, op type)`; the default domain is `""`.
pub(crate) fn expanders() -> &'static BTreeMap<(&'static str, &'static str), Expander> {
    static MAP: OnceLock<BTreeMap<(&'static str, &'static str), Expander>> = OnceLock::new();
    MAP.get_or_init(|| {
        let entries: &[(&str, &str, ExpandFn, i64)] = &[
            ("", "LSTM", rnn::lstm, 7),
            ("", "GRU", rnn::gru, 7),
            ("", "RNN", rnn::rnn, 7),
            ("", "Attention", attention::attention, 23),
            ("", "RotaryEmbedding", attention::rotary_embedding, 23),
            (ml::DOMAIN, "TreeEnsembleClassifier", ml::tree_classifier, 1),
            (ml::DOMAIN, "TreeEnsembleRegressor", ml::tree_regressor, 1),
            (ml::DOMAIN, "LinearClassifier", ml::linear_classifier, 1),
            (ml::DOMAIN, "LinearRegressor", ml::linear_regressor, 1),
            (ml::DOMAIN, "Normalizer", ml::normalizer, 1),
            (ml::DOMAIN, "Scaler", ml::scaler, 1),
            (
                ml::DOMAIN,
                "ArrayFeatureExtractor",
                ml::array_feature_extractor,
                1,
            ),
            (ml::DOMAIN, "ZipMap", ml::zipmap, 1),
        ];
        entries
            .iter()
            .map(|&(d, op, expand, since)| ((d, op), Expander { expand, since }))
            .collect()
    })
}

/// The expander of a node, by its domain and op type.
pub(crate) fn expander(domain: &str, op_type: &str) -> Option<&'static Expander> {
    let domain = if domain == "ai.onnx" { "" } else { domain };
    expanders()
        .iter()
        .find(|((d, op), _)| *d == domain && *op == op_type)
        .map(|(_, e)| e)
}

impl<'a> ExpandCx<'a> {
    pub fn new(node: &'a NodeProto, label: &str, inputs: Vec<Option<InputInfo<'a>>>) -> Self {
        Self {
            attrs: Attrs::new(node),
            inputs,
            prefix: label.to_string(),
            counter: 0,
            nodes: Vec::new(),
        }
    }

    /// Input `i`, which must be present.
    pub fn input(&self, i: usize, what: &str) -> Result<&InputInfo<'a>> {
        self.inputs
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| NodeError::Invalid(format!("{what} (input {i}) is missing")))
    }

    /// Input `i` if given.
    pub fn optional(&self, i: usize) -> Option<&InputInfo<'a>> {
        self.inputs.get(i).and_then(Option::as_ref)
    }

    /// The constant value of input `i`.
    pub fn constant(&self, i: usize, what: &str) -> Result<&'a Data> {
        self.input(i, what)?.constant.ok_or_else(|| {
            NodeError::Quantization(format!(
                "{what} (input {i}) must be a constant (an initializer)"
            ))
        })
    }

    /// A fresh value name.
    pub fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{}/{hint}#{}", self.prefix, self.counter)
    }

    /// Emits a node of the default domain; returns its first output's name.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.op_n(op_type, inputs, attrs, 1).remove(0)
    }

    /// Emits a node with `outputs` outputs; returns their names.
    pub fn op_n(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attrs: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let outs: Vec<String> = (0..outputs)
            .map(|_| self.fresh(&op_type.to_ascii_lowercase()))
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outs.clone(),
            name: outs[0].clone(),
            op_type: op_type.to_string(),
            domain: String::new(),
            attribute: attrs,
            doc_string: String::new(),
        });
        outs
    }

    /// Emits a constant; returns its name.
    pub fn constant_value(&mut self, data: &Data) -> String {
        let t = tensor_proto(data);
        self.op("Constant", &[], vec![attr_tensor("value", t)])
    }

    /// A constant 1-D int64 tensor.
    pub fn ints(&mut self, values: &[i64]) -> String {
        self.constant_value(&Data::ints(values))
    }

    /// A constant float scalar.
    pub fn scalar(&mut self, v: f64) -> String {
        self.constant_value(&Data::float(ndarray::ArrayD::from_elem(
            ndarray::IxDyn(&[]),
            v,
        )))
    }

    /// `x[.., start..end, ..]` on `axis`.
    pub fn slice(&mut self, x: &str, axis: i64, start: i64, end: i64) -> String {
        let (s, e, a) = (self.ints(&[start]), self.ints(&[end]), self.ints(&[axis]));
        self.op("Slice", &[x, &s, &e, &a], vec![])
    }

    /// `x` with a new axis of length 1 at `axis`.
    pub fn unsqueeze(&mut self, x: &str, axis: i64) -> String {
        let a = self.ints(&[axis]);
        self.op("Unsqueeze", &[x, &a], vec![])
    }

    /// `x` without its length-1 axis `axis`.
    pub fn squeeze(&mut self, x: &str, axis: i64) -> String {
        let a = self.ints(&[axis]);
        self.op("Squeeze", &[x, &a], vec![])
    }

    /// Concatenation on `axis`.
    pub fn concat(&mut self, xs: &[String], axis: i64) -> String {
        let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
        self.op("Concat", &refs, vec![attr_int("axis", axis)])
    }
}

/// An integer attribute.
pub(crate) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INT,
        i: v,
        ..Default::default()
    }
}

/// A float attribute.
pub(crate) fn attr_float(name: &str, v: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::FLOAT,
        f: v as f32,
        ..Default::default()
    }
}

/// A list-of-integers attribute.
pub(crate) fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: at::TENSOR,
        t: Some(t),
        ..Default::default()
    }
}

/// A tensor proto holding `data`: doubles for reals (exact for every value import computes),
/// int64 for integers and booleans.
pub(crate) fn tensor_proto(data: &Data) -> TensorProto {
    let dims = data.shape().iter().map(|&d| d as i64).collect();
    match data.dtype {
        DType::Float => TensorProto {
            dims,
            data_type: data_type::DOUBLE,
            double_data: data.values.iter().copied().collect(),
            ..Default::default()
        },
        DType::Int => TensorProto {
            dims,
            data_type: data_type::INT64,
            int64_data: data.values.iter().map(|&v| v as i64).collect(),
            ..Default::default()
        },
        DType::Bool => TensorProto {
            dims,
            data_type: data_type::BOOL,
            int32_data: data.values.iter().map(|&v| i32::from(v != 0.0)).collect(),
            ..Default::default()
        },
    }
}

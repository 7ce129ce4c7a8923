//! ONNX import for zkml: parse a model, fold constants and infer shapes, calibrate, and lower
//! it to an exact integer [`zkml_ir::Program`]; run the original model as a float reference.
//!
//! ```no_run
//! use zkml_onnx::{compile, load_model, ImportOptions, QuantConfig};
//! let model = load_model("model.onnx".as_ref(), &ImportOptions::default())?;
//! let input = vec![vec![0.5; 784]];
//! let compiled = compile(&model, &[input], &QuantConfig::default())?;
//! println!("{} nodes", compiled.program.nodes.len());
//! # Ok::<(), zkml_onnx::ImportError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attrs;
mod compile;
mod data;
mod domains;
mod error;
mod expand;
mod fuse;
mod graph;
mod lower;
mod ops;
pub mod proto;
pub mod reference;
mod registry;

use std::path::Path;

use prost::Message;

pub use compile::{CalibrationReport, OutputError};
pub use error::{ImportError, NodeError};
pub use graph::{Graph, ImportOptions};
pub use lower::QuantConfig;
pub use registry::{supported_ops, MAX_OPSET, MIN_OPSET};

/// An imported model: its float graph and where it came from.
#[derive(Debug)]
pub struct Model {
    /// The float graph.
    pub graph: Graph,
    /// The graph's name.
    pub name: String,
    /// The exporting tool.
    pub producer: String,
    /// The original bytes (for the float reference engine).
    pub bytes: Vec<u8>,
}

/// Reads and imports an ONNX file.
pub fn load_model(path: &Path, options: &ImportOptions) -> Result<Model, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_model(bytes, path.parent(), options)
}

/// Imports an ONNX model from bytes; `model_dir` resolves external tensor data.
pub fn parse_model(
    bytes: Vec<u8>,
    model_dir: Option<&Path>,
    options: &ImportOptions,
) -> Result<Model, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Malformed("the file is empty".into()));
    }
    let mut proto = proto::ModelProto::decode(bytes.as_slice()).map_err(|e| {
        ImportError::Malformed(format!(
            "not a valid ONNX protobuf (truncated or corrupt file?): {e}"
        ))
    })?;
    // Weights in external files are copied in, so the model's bytes (kept with the program as
    // its float reference) are self-contained.
    let bytes =
        if data::inline_external_data(&mut proto, model_dir).map_err(ImportError::InvalidGraph)? {
            proto.encode_to_vec()
        } else {
            bytes
        };
    if proto.graph.is_none() {
        return Err(ImportError::Malformed(
            "no graph found; is this an ONNX model file?".into(),
        ));
    }
    let mut graph = Graph::from_proto(&proto, model_dir, options)?;
    fuse::fold_batch_norms(&mut graph)?;
    let name = proto
        .graph
        .as_ref()
        .map(|g| g.name.clone())
        .unwrap_or_default();
    Ok(Model {
        graph,
        name,
        producer: format!("{} {}", proto.producer_name, proto.producer_version)
            .trim()
            .to_string(),
        bytes,
    })
}

/// A decoded ONNX `TensorProto` (as stored in `.pb` test files).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorValue {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f64>,
    /// Whether the element type is floating point.
    pub is_float: bool,
    /// Significand bits of the element type (24 for float, 11 for float16, 8 for bfloat16, 53
    /// for double and integers).
    pub precision_bits: u32,
}

/// Decodes a serialized ONNX `TensorProto`.
pub fn decode_tensor(bytes: &[u8]) -> Result<TensorValue, String> {
    let t = proto::TensorProto::decode(bytes).map_err(|e| format!("not a TensorProto: {e}"))?;
    let d = data::from_tensor_proto(&t, None)?;
    use proto::data_type::{BFLOAT16, FLOAT, FLOAT16};
    Ok(TensorValue {
        shape: d.shape().to_vec(),
        values: d.to_vec(),
        is_float: d.dtype == data::DType::Float,
        precision_bits: match t.data_type {
            FLOAT => 24,
            FLOAT16 => 11,
            BFLOAT16 => 8,
            _ => 53,
        },
    })
}

/// Whether `op_type` (default domain) is supported.
pub fn is_supported_op(op_type: &str) -> bool {
    is_supported(op_type, "")
}

/// Whether `op_type` of `domain` (`""` or `ai.onnx` for the default one, `ai.onnx.ml`) is
/// supported.
pub fn is_supported(op_type: &str, domain: &str) -> bool {
    let default = domain.is_empty() || domain == "ai.onnx";
    (default && registry::registry().contains_key(op_type))
        || expand::expander(domain, op_type).is_some()
}

/// The integer program and how well it matches the float model.
#[derive(Debug)]
pub struct Compiled {
    /// The program.
    pub program: zkml_ir::Program,
    /// Error per output on the calibration inputs.
    pub report: CalibrationReport,
}

/// Rejects calibration values of integer inputs that are fractional or outside the input's
/// domain, naming the input and the element (before the float model would stumble on them).
fn check_domains(
    graph: &Graph,
    domains: &[zkml_ir::InputDomain],
    samples: &[Vec<Vec<f64>>],
) -> Result<(), ImportError> {
    let shapes = graph.input_shapes();
    let specs: Vec<zkml_ir::input::InputSpec<'_>> = shapes
        .iter()
        .zip(domains)
        .map(|((name, shape), domain)| zkml_ir::input::InputSpec {
            name,
            shape,
            scale: 0,
            domain: *domain,
        })
        .collect();
    for sample in samples {
        // Reals are checked against their scales later; here only integer inputs matter.
        let ints: Vec<(usize, &Vec<f64>)> = sample
            .iter()
            .enumerate()
            .filter(|(i, _)| domains.get(*i).is_some_and(|d| d.interval().is_some()))
            .collect();
        for (i, values) in ints {
            zkml_ir::input::quantize_with(
                std::slice::from_ref(&specs[i]),
                63,
                std::slice::from_ref(values),
            )
            .map_err(|e| relabel(e, i))?;
        }
    }
    Ok(())
}

/// An input error about the only input of a one-input check, renumbered to input `i`.
fn relabel(e: zkml_ir::input::InputError, i: usize) -> ImportError {
    use zkml_ir::input::InputError as E;
    ImportError::Input(match e {
        E::NotInteger {
            name,
            position,
            value,
            ..
        } => E::NotInteger {
            input: i,
            name,
            position,
            value,
        },
        E::OutsideDomain {
            name,
            position,
            value,
            domain,
            ..
        } => E::OutsideDomain {
            input: i,
            name,
            position,
            value,
            domain,
        },
        E::WrongLength {
            name,
            shape,
            expected,
            got,
            ..
        } => E::WrongLength {
            input: i,
            name,
            shape,
            expected,
            got,
        },
        E::NonFinite {
            position, value, ..
        } => E::NonFinite {
            input: i,
            position,
            value,
        },
        other => other,
    })
}

/// Number of synthetic inputs used when no calibration data is given.
pub const SYNTHETIC_SAMPLES: usize = 4;

/// Calibrates on `calibration` (each entry one flat list per model input; empty for synthetic
/// standard-normal inputs), lowers to an integer program and measures its error.
pub fn compile(
    model: &Model,
    calibration: &[Vec<Vec<f64>>],
    cfg: &QuantConfig,
) -> Result<Compiled, ImportError> {
    cfg.validate().map_err(ImportError::Calibration)?;
    let synthetic = calibration.is_empty();
    let domains = domains::input_domains(&model.graph, cfg.value_bits)?;
    let samples = if synthetic {
        compile::synthetic_samples(&model.graph, &domains, SYNTHETIC_SAMPLES)
    } else {
        calibration.to_vec()
    };
    check_domains(&model.graph, &domains, &samples)?;
    let data = samples
        .iter()
        .map(|s| model.graph.inputs_from_flat(s))
        .collect::<Result<Vec<_>, _>>()?;
    let stats = compile::collect_stats(&model.graph, &data)?;
    let (mut program, nodes) = compile::lower_graph(&model.graph, &stats, &domains, cfg)?;
    program.metadata.insert("source".into(), model.name.clone());
    program
        .metadata
        .insert("producer".into(), model.producer.clone());
    program
        .metadata
        .insert("opset".into(), model.graph.opset.to_string());
    program.metadata.insert(
        "calibration_samples".into(),
        if synthetic {
            format!("{} synthetic", samples.len())
        } else {
            samples.len().to_string()
        },
    );
    program
        .metadata
        .insert("weight_bits".into(), cfg.weight_bits.to_string());
    program
        .metadata
        .insert("table_bits".into(), cfg.table_bits.to_string());
    program.source = Some(zkml_ir::ModelSource {
        format: "onnx".into(),
        bytes: model.bytes.clone(),
    });
    let report = compile::measure(&model.graph, &program, &nodes, &samples, synthetic)?;
    Ok(Compiled { program, report })
}

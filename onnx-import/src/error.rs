//! Import errors. Every error about a node names the node, its op type and the model's opset.

use thiserror::Error;

/// Why a model could not be imported, quantized or run.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The model file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a valid ONNX model (truncated, corrupt, not protobuf).
    #[error("malformed ONNX model: {0}")]
    Malformed(String),
    /// The model imports an opset zkml does not read.
    #[error(
        "the model uses opset {version} of domain '{domain}'; zkml reads the default domain \
         at opsets {min} to {max}"
    )]
    UnsupportedOpset {
        /// Domain (empty for the default).
        domain: String,
        /// Version requested.
        version: i64,
        /// Oldest supported.
        min: i64,
        /// Newest supported.
        max: i64,
    },
    /// A graph input has a type zkml cannot take.
    #[error("model input '{name}': {reason}")]
    UnsupportedInput {
        /// Input name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A problem with one node.
    #[error("node '{node}' ({op_type}, opset {opset}): {kind}")]
    Node {
        /// Node name (or its first output when unnamed).
        node: String,
        /// ONNX op type.
        op_type: String,
        /// Opset of the node's domain.
        opset: i64,
        /// What is wrong.
        kind: NodeError,
    },
    /// The graph as a whole is inconsistent.
    #[error("invalid graph: {0}")]
    InvalidGraph(String),
    /// Calibration data does not fit the model.
    #[error("calibration: {0}")]
    Calibration(String),
    /// Building the integer program failed.
    #[error(transparent)]
    Ir(#[from] zkml_ir::IrError),
    /// An input file or value was rejected.
    #[error(transparent)]
    Input(#[from] zkml_ir::input::InputError),
    /// The integer program failed on an input.
    #[error(transparent)]
    Eval(#[from] zkml_ir::EvalError),
    /// The float reference engine failed.
    #[error("float reference: {0}")]
    Reference(String),
}

/// What is wrong with a node.
#[derive(Debug, Error)]
pub enum NodeError {
    /// The op type is not supported.
    #[error(
        "unsupported op '{op_type}'{}; supported ops: {supported}",
        domain_note(domain)
    )]
    UnsupportedOp {
        /// The op type.
        op_type: String,
        /// The op's domain.
        domain: String,
        /// Comma-separated supported op types.
        supported: String,
    },
    /// The op exists but not at this opset.
    #[error("op is supported from opset {since}")]
    OpsetTooOld {
        /// First supported opset.
        since: i64,
    },
    /// An attribute value is not supported.
    #[error("attribute '{name}' = {value} is not supported; {supported}")]
    UnsupportedAttribute {
        /// Attribute name.
        name: String,
        /// Its value.
        value: String,
        /// What is supported.
        supported: String,
    },
    /// An attribute the op does not define (or zkml does not read).
    #[error("unknown attribute '{name}'; this op reads: {known}")]
    UnknownAttribute {
        /// Attribute name.
        name: String,
        /// Attributes the op reads.
        known: String,
    },
    /// A step of an op imported by expansion (see the expansion ops) failed.
    #[error("in its expansion, step {step}: {reason}")]
    Expansion {
        /// The expanded node and its op.
        step: String,
        /// What went wrong there.
        reason: Box<NodeError>,
    },
    /// A tensor element type is not supported here.
    #[error("{0}")]
    UnsupportedDtype(String),
    /// Inputs or attributes are inconsistent (wrong arity, shapes that do not fit, ...).
    #[error("{0}")]
    Invalid(String),
    /// The node is valid ONNX but cannot be turned into an integer program.
    #[error("cannot quantize: {0}")]
    Quantization(String),
}

fn domain_note(domain: &str) -> String {
    if domain.is_empty() || domain == "ai.onnx" {
        String::new()
    } else {
        format!(" from domain '{domain}'")
    }
}

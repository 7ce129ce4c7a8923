//! Errors of program construction, evaluation and storage.

use thiserror::Error;

/// A program or node that breaks the IR's rules.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IrError {
    /// A node is malformed: wrong inputs, shapes that do not fit, scales that do not match.
    #[error("node {node} '{name}' ({op}): {reason}")]
    InvalidNode {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// Op name.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A whole-program rule is broken.
    #[error("invalid program: {0}")]
    InvalidProgram(String),
    /// A program cannot be cut into segments where asked.
    #[error("cannot cut the program before node {cut}: {reason}")]
    InvalidCut {
        /// The node the cut was asked before.
        cut: usize,
        /// Why it cannot be cut there.
        reason: String,
    },
}

/// Why evaluating a program on given inputs failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EvalError {
    /// The number of input tensors differs from the program's.
    #[error("the program takes {expected} input(s), {got} were given")]
    WrongInputCount {
        /// Inputs the program declares.
        expected: usize,
        /// Inputs supplied.
        got: usize,
    },
    /// An input tensor has the wrong shape.
    #[error("input {index} '{name}' must have shape {expected:?} ({} values), got {got:?}", expected.iter().product::<usize>())]
    WrongInputShape {
        /// Input position.
        index: usize,
        /// Input name.
        name: String,
        /// Declared shape.
        expected: Vec<usize>,
        /// Supplied shape.
        got: Vec<usize>,
    },
    /// A range-checked value left `[-2^(bits-1), 2^(bits-1))`.
    #[error(
        "value {value} at node {node} '{name}' ({op}) leaves the representable range \
         [-2^{exp}, 2^{exp}) of {bits}-bit values; calibrate with inputs that cover this one, \
         or compile with more value bits",
        exp = bits - 1
    )]
    OutOfRange {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// Op name.
        op: &'static str,
        /// The offending value.
        value: i64,
        /// The program's value bits.
        bits: u32,
    },
    /// A lookup input fell outside its table's domain.
    #[error(
        "value {value} at node {node} '{name}' is outside the domain [{lo}, {hi}] of lookup \
         table {table} ({function}); calibrate with inputs that cover this one"
    )]
    OutsideTableDomain {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// Table index.
        table: usize,
        /// Table function.
        function: String,
        /// The offending value.
        value: i64,
        /// Domain start.
        lo: i64,
        /// Domain end.
        hi: i64,
    },
    /// A divisor was zero or negative.
    #[error("divisor {value} at node {node} '{name}' is not positive")]
    NonPositiveDivisor {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// The divisor.
        value: i64,
    },
    /// A square root of a negative value.
    #[error("square root of negative value {value} at node {node} '{name}'")]
    NegativeSqrt {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// The value.
        value: i64,
    },
    /// An integer or boolean input holds a value outside its domain.
    #[error("input {index} '{name}' element {position} is {value}, outside its domain {domain}")]
    OutsideInputDomain {
        /// Input position.
        index: usize,
        /// Input name.
        name: String,
        /// Element position (flattened).
        position: usize,
        /// The value.
        value: i64,
        /// The domain, described.
        domain: String,
    },
    /// A condition of `Where` was neither 0 nor 1.
    #[error("condition value {value} at node {node} '{name}' is not 0 or 1")]
    NotBoolean {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// The value.
        value: i64,
    },
    /// A runtime index left its axis.
    #[error("index {value} at node {node} '{name}' is outside the axis of length {dim}")]
    IndexOutOfRange {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// The index.
        value: i64,
        /// Length of the indexed axis.
        dim: usize,
    },
    /// A pooling window contained no input element.
    #[error("a pooling window of node {node} '{name}' covers only padding")]
    EmptyWindow {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
    },
}

/// Why a stored program could not be read.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The bytes do not start with the program magic.
    #[error("not a zkml program file (missing the ZKMLPROG header)")]
    NotAProgram,
    /// The file was written by another format version.
    #[error("zkml program format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The payload could not be decoded.
    #[error("corrupt zkml program file: {0}")]
    Corrupt(String),
    /// The payload decoded but breaks the IR's rules.
    #[error("zkml program file holds an invalid program: {0}")]
    Invalid(#[from] IrError),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

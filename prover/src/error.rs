//! Prover errors.

use thiserror::Error;

/// Why setup, proving or reading an artifact failed.
#[derive(Debug, Error)]
pub enum ProverError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An SRS file is unusable.
    #[error("SRS {path}: {reason}")]
    Srs {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The SRS is too small for the circuit.
    #[error("the circuit needs an SRS of at least 2^{needed} points; the SRS has 2^{available}")]
    SrsTooSmall {
        /// k the circuit needs.
        needed: u32,
        /// k of the SRS.
        available: u32,
    },
    /// A proving key file is unusable.
    #[error("proving key {path}: {reason}")]
    ProvingKey {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The program cannot be laid out as a circuit.
    #[error(transparent)]
    Layout(#[from] zkml_circuits::LayoutError),
    /// The program failed on the input.
    #[error(transparent)]
    Eval(#[from] zkml_ir::EvalError),
    /// halo2 rejected the synthesis or proof.
    #[error("proving system: {0}")]
    Halo2(String),
    /// The key and the program do not belong together.
    #[error("{0}")]
    Mismatch(String),
    /// The GPU cannot be used.
    #[error("GPU: {0}")]
    NoGpu(String),
    /// The circuit uses a feature the CUDA prover lacks.
    #[error("GPU: {0}")]
    GpuUnsupported(String),
    /// An internal invariant broke.
    #[error("internal error: {0}")]
    Internal(String),
}

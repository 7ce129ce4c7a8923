//! Why a program cannot be laid out (shared by the visibility rules and the layout engine).

/// Why a program cannot be laid out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// The program uses something the circuit cannot express.
    #[error("node {node} '{name}' ({op}): {reason}")]
    Unsupported {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// Op name.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// The witness does not match the program (wrong input count or shapes).
    #[error("witness: {0}")]
    Witness(String),
    /// The program cannot be proven under the requested visibility.
    #[error("{0}")]
    Program(String),
    /// The circuit's shape has fewer rows than its layout needs.
    #[error("the layout needs 2^{needed} rows and the circuit has 2^{k}: its shape was not sized for this program by this build (run setup again)")]
    TooFewRows {
        /// The shape's `k`.
        k: u32,
        /// The smallest `k` that holds the layout.
        needed: u32,
    },
}

//! Typed verification errors: every rejection says what was wrong and where.

use thiserror::Error;

/// Why a verifying key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not a zkml verifying key.
    #[error("not a zkml verifying key (no ZKMLVK or ZKMLG16V header)")]
    NotAKey,
    /// Another format version.
    #[error("verifying key format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The payload does not decode.
    #[error("corrupt verifying key: {0}")]
    Corrupt(String),
    /// A field element or point in the key is invalid.
    #[error("verifying key holds an invalid {what}")]
    InvalidElement {
        /// Which element.
        what: &'static str,
    },
    /// The key's parts disagree with each other.
    #[error("inconsistent verifying key: {0}")]
    Inconsistent(String),
    /// A well-formed key, but not the one the verifier pinned.
    #[error("the verifying key is not the pinned one: its digest is {found}, expected {expected}")]
    NotPinned {
        /// The pinned digest.
        expected: String,
        /// The key's digest.
        found: String,
    },
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The verifying key is unusable.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Wrong number of public instance values.
    #[error("the key expects {expected} public values, {got} were given")]
    InstanceCount {
        /// Expected.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A public value is not a canonical field element.
    #[error("public value {index} is not a canonical field element")]
    InvalidInstance {
        /// Position.
        index: usize,
    },
    /// The proof ends early.
    #[error("the proof is truncated: {what} needs {needed} bytes at offset {offset}")]
    ProofTooShort {
        /// Byte offset.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// What was being read.
        what: &'static str,
    },
    /// The proof is longer than the protocol.
    #[error("the proof has {} unexpected trailing bytes (read {read} of {len})", len - read)]
    TrailingBytes {
        /// Bytes read.
        read: usize,
        /// Proof length.
        len: usize,
    },
    /// A point in the proof is not on the curve or not canonical.
    #[error("invalid curve point for {what} at offset {offset}")]
    InvalidPoint {
        /// Byte offset.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A scalar in the proof is not canonical.
    #[error("invalid scalar for {what} at offset {offset}")]
    InvalidScalar {
        /// Byte offset.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A degenerate challenge made a denominator vanish (negligible for honest transcripts).
    #[error("degenerate challenge: {0}")]
    Degenerate(&'static str),
    /// The final pairing check failed: the proof is invalid for this key and these values.
    #[error("the proof does not verify against this verifying key and these public values")]
    PairingCheckFailed,
    /// The accumulator in an aggregate's public values is not two points of the curve.
    #[error("public value {index} (the aggregate's accumulator): {what}")]
    InvalidAccumulator {
        /// Position of the first public value at fault.
        index: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The aggregate's accumulator fails its pairing: a proof folded into it is invalid.
    #[error(
        "the aggregate's accumulator fails its pairing check: a proof it folded in does not verify"
    )]
    AccumulatorCheckFailed,
}

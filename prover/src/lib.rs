//! zkml's halo2 prover: structured reference strings, key generation, proving, and the
//! artifacts they read and write.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod export;
pub mod keys;
pub mod prove;
pub mod srs;
pub mod transcript;

pub use error::ProverError;
pub use keys::{generate_keys, ProvingKeyFile, ProvingKeyHeader};
pub use prove::{prove, verify_with_halo2, Proof};

//! zkml's halo2 prover: structured reference strings, key generation, proving, and the
//! artifacts they read and write.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod device;
pub mod error;
pub mod export;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod keys;
mod once;
mod pk_layout;
pub mod prove;
pub mod srs;
pub mod transcript;

pub use device::Device;
pub use error::ProverError;
pub use keys::{
    generate_keys, generate_keys_on, generate_verifying_keys, ProvingKeyFile, ProvingKeyHeader,
};
pub use prove::{prove, prove_on, prove_segment_on, verify_with_halo2, Proof};

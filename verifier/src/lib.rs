//! Verify zkml proofs from bytes.
//!
//! A proof is checked against a verifying key ([`VerifyingKey`], a self-contained file: the
//! circuit description, its commitments and the SRS points verification needs) and the public
//! values. The crate depends on no proving code, no ONNX, no threads, and builds for
//! `wasm32-unknown-unknown`. Malformed or tampered input is a typed [`VerifyError`], never a
//! panic.
//!
//! ```no_run
//! # fn main() -> Result<(), zkml_verifier::VerifyError> {
//! let vk = std::fs::read("vk.bin").unwrap();
//! let proof = std::fs::read("proof.bin").unwrap();
//! zkml_verifier::verify(&vk, &proof, &[3, -1, 7])?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod encoding;
pub mod error;
mod plonk;
mod shplonk;
pub mod transcript;
pub mod vk;

pub use ark_bn254::Fr;
pub use error::{KeyError, VerifyError};
pub use vk::VerifyingKey;

/// Verifies a proof given the verifying key bytes and the public values as signed integers
/// (when inputs and outputs are public and nothing is hashed: the quantized inputs, then
/// outputs). See [`vk::ModelInfo::public`] for what each value means.
pub fn verify(vk_bytes: &[u8], proof: &[u8], public_values: &[i128]) -> Result<(), VerifyError> {
    let vk = VerifyingKey::from_bytes(vk_bytes)?;
    let instances: Vec<Fr> = public_values
        .iter()
        .map(|&v| encoding::fr_from_i128(v))
        .collect();
    verify_with_key(&vk, proof, &instances)
}

/// Verifies a proof given the public instance as 32-byte big-endian field elements (the form
/// proof files and the EVM use; hashes need it). A word that is not a canonical field element
/// is [`VerifyError::InvalidInstance`].
pub fn verify_words(
    vk_bytes: &[u8],
    proof: &[u8],
    instances: &[[u8; 32]],
) -> Result<(), VerifyError> {
    let vk = VerifyingKey::from_bytes(vk_bytes)?;
    let fields = instances
        .iter()
        .enumerate()
        .map(|(index, w)| encoding::fr_from_be(w).ok_or(VerifyError::InvalidInstance { index }))
        .collect::<Result<Vec<Fr>, _>>()?;
    verify_with_key(&vk, proof, &fields)
}

/// Decodes a verifying key and requires it to be the expected one: `expected` is the
/// [`VerifyingKey::key_digest`] of the key the caller trusts (one program, one setup). Any
/// well-formed key verifies the proofs made with it, so a verifier that takes keys from
/// elsewhere pins the one it means.
pub fn pinned_key(vk_bytes: &[u8], expected: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let vk = VerifyingKey::from_bytes(vk_bytes)?;
    let found = vk.key_digest();
    if &found != expected {
        return Err(KeyError::NotPinned {
            expected: encoding::hex0x(expected),
            found: encoding::hex0x(&found),
        });
    }
    Ok(vk)
}

/// Verifies a proof against a decoded key and public values as field elements.
pub fn verify_with_key(
    vk: &VerifyingKey,
    proof: &[u8],
    instances: &[Fr],
) -> Result<(), VerifyError> {
    plonk::verify_proof(vk, proof, instances)
}

//! Verify zkml proofs from bytes.
//!
//! A proof is checked against a verifying key and the public values. Keys come from either
//! backend: a halo2 key ([`VerifyingKey`], a self-contained file: the circuit description,
//! its commitments and the SRS points verification needs) or a Groth16 key
//! ([`groth16::Groth16Key`]); [`Key`] reads either and its proofs. The crate depends on no proving code, no ONNX, no threads, and builds for
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

pub mod accumulator;
pub mod chain;
pub mod encoding;
pub mod error;
pub mod groth16;
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
    let vk = Key::from_bytes(vk_bytes)?;
    let instances: Vec<Fr> = public_values
        .iter()
        .map(|&v| encoding::fr_from_i128(v))
        .collect();
    vk.verify(proof, &instances)
}

/// Verifies a proof given the public instance as 32-byte big-endian field elements (the form
/// proof files and the EVM use; hashes need it). A word that is not a canonical field element
/// is [`VerifyError::InvalidInstance`].
pub fn verify_words(
    vk_bytes: &[u8],
    proof: &[u8],
    instances: &[[u8; 32]],
) -> Result<(), VerifyError> {
    let vk = Key::from_bytes(vk_bytes)?;
    let fields = instances
        .iter()
        .enumerate()
        .map(|(index, w)| encoding::fr_from_be(w).ok_or(VerifyError::InvalidInstance { index }))
        .collect::<Result<Vec<Fr>, _>>()?;
    vk.verify(proof, &fields)
}

/// Decodes a verifying key and requires it to be the expected one: `expected` is the
/// [`VerifyingKey::key_digest`] of the key the caller trusts (one program, one setup). Any
/// well-formed key verifies the proofs made with it, so a verifier that takes keys from
/// elsewhere pins the one it means.
pub fn pinned_key(vk_bytes: &[u8], expected: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let vk = VerifyingKey::from_bytes(vk_bytes)?;
    require_pin(&vk.key_digest(), expected)?;
    Ok(vk)
}

fn require_pin(found: &[u8; 32], expected: &[u8; 32]) -> Result<(), KeyError> {
    if found != expected {
        return Err(KeyError::NotPinned {
            expected: encoding::hex0x(expected),
            found: encoding::hex0x(found),
        });
    }
    Ok(())
}

/// Verifies a proof against a decoded key and public values as field elements.
pub fn verify_with_key(
    vk: &VerifyingKey,
    proof: &[u8],
    instances: &[Fr],
) -> Result<(), VerifyError> {
    plonk::verify_proof(vk, proof, instances)
}

/// The proof system a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// halo2 (PLONK with lookups), KZG commitments, SHPLONK openings.
    Halo2,
    /// Groth16.
    Groth16,
}

impl Backend {
    /// The backend's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Halo2 => "halo2",
            Backend::Groth16 => "groth16",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A verifying key of either backend, told apart by its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A halo2 key.
    Halo2(VerifyingKey),
    /// A Groth16 key.
    Groth16(groth16::Groth16Key),
}

impl Key {
    /// Decodes a key of either backend and checks that it is well formed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.starts_with(groth16::G16_VK_MAGIC) {
            groth16::Groth16Key::from_bytes(bytes).map(Key::Groth16)
        } else {
            VerifyingKey::from_bytes(bytes).map(Key::Halo2)
        }
    }

    /// Decodes a key and requires its digest to be `expected` (see [`pinned_key`]).
    pub fn pinned(bytes: &[u8], expected: &[u8; 32]) -> Result<Self, KeyError> {
        let key = Self::from_bytes(bytes)?;
        require_pin(&key.key_digest(), expected)?;
        Ok(key)
    }

    /// The key file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Key::Halo2(k) => k.to_bytes(),
            Key::Groth16(k) => k.to_bytes(),
        }
    }

    /// Keccak-256 of the key file: the key's identity.
    pub fn key_digest(&self) -> [u8; 32] {
        match self {
            Key::Halo2(k) => k.key_digest(),
            Key::Groth16(k) => k.key_digest(),
        }
    }

    /// What the public values mean.
    pub fn model(&self) -> &vk::ModelInfo {
        match self {
            Key::Halo2(k) => &k.model,
            Key::Groth16(k) => &k.model,
        }
    }

    /// Which proof system the key is for.
    pub fn backend(&self) -> Backend {
        match self {
            Key::Halo2(_) => Backend::Halo2,
            Key::Groth16(_) => Backend::Groth16,
        }
    }

    /// Verifies a proof of this key's backend against public values as field elements.
    pub fn verify(&self, proof: &[u8], instances: &[Fr]) -> Result<(), VerifyError> {
        match self {
            Key::Halo2(k) => verify_with_key(k, proof, instances),
            Key::Groth16(k) => k.verify(proof, instances),
        }
    }
}

//! Groth16 proofs over BN254: the verifying key file, the 256-byte proof encoding and the
//! pairing check.
//!
//! A proof is three points, `A` (G1), `B` (G2) and `C` (G1), in the EVM's encoding:
//!
//! ```text
//! offset  size  content
//! 0       64    A: x || y (32-byte big-endian words)
//! 64      128   B: x.c1 || x.c0 || y.c1 || y.c0
//! 192     64    C: x || y
//! ```
//!
//! It is valid for public values `x_1..x_n` when
//! `e(A, B) = e(alpha, beta) * e(IC_0 + sum x_i IC_i, gamma) * e(C, delta)`.
//! Points are checked to lie on the curve (and `B` in the prime-order subgroup, as the EVM's
//! pairing precompile does) before the equation is evaluated.
//!
//! The key file:
//!
//! ```text
//! offset  size  content
//! 0       8     magic "ZKMLG16V"
//! 8       4     format version, little-endian u32 (currently 1)
//! 12      ...   the key, bincode (fixed-width little-endian integers)
//! ```

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::Zero;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::encoding::{g1_from_bytes, g2_from_bytes};
use crate::error::{KeyError, VerifyError};
use crate::vk::{decode_key, encode_key, G1Bytes, G2Bytes, ModelInfo};

/// First bytes of every Groth16 verifying key file.
pub const G16_VK_MAGIC: &[u8; 8] = b"ZKMLG16V";
/// The Groth16 key format version this build reads and writes.
pub const G16_VK_FORMAT_VERSION: u32 = 1;
/// Length of a Groth16 proof in bytes.
pub const PROOF_LEN: usize = 256;
/// The most public values a key may take (the EVM calldata of a larger instance would not fit
/// a block either).
pub const MAX_PUBLIC_VALUES: usize = 1 << 20;

/// A Groth16 verifying key with what its public values mean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groth16Key {
    /// `alpha * G1`.
    pub alpha_g1: G1Bytes,
    /// `beta * G2`.
    pub beta_g2: G2Bytes,
    /// `gamma * G2`.
    pub gamma_g2: G2Bytes,
    /// `delta * G2`.
    pub delta_g2: G2Bytes,
    /// The public values' bases: `IC_0` for the constant one, then one per public value.
    pub ic: Vec<G1Bytes>,
    /// Meaning of the public values.
    pub model: ModelInfo,
}

/// The key's points, decoded and checked.
struct Points {
    alpha: G1Affine,
    beta: G2Affine,
    gamma: G2Affine,
    delta: G2Affine,
    ic: Vec<G1Affine>,
}

impl Groth16Key {
    /// Serializes the key with its header.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_key(G16_VK_MAGIC, G16_VK_FORMAT_VERSION, self)
    }

    /// Decodes a key and checks that it is well formed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key: Self = decode_key(G16_VK_MAGIC, G16_VK_FORMAT_VERSION, bytes)?;
        key.check()?;
        Ok(key)
    }

    /// Keccak-256 of the serialized key: the key's identity.
    pub fn key_digest(&self) -> [u8; 32] {
        Keccak256::digest(self.to_bytes()).into()
    }

    /// Number of public values the key takes.
    pub fn num_public(&self) -> usize {
        self.ic.len().saturating_sub(1)
    }

    /// Structural checks: every point valid, and as many public bases as the model describes.
    pub fn check(&self) -> Result<(), KeyError> {
        self.points()?;
        // Only a halo2 aggregate's verifier decides an accumulator's pairing.
        if self
            .model
            .public
            .iter()
            .any(|p| matches!(p, crate::vk::PublicPart::Accumulator { .. }))
        {
            return Err(KeyError::Inconsistent(
                "a Groth16 key's public values cannot carry an accumulator".into(),
            ));
        }
        let described = self
            .model
            .public
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.instance_len()));
        if described != self.num_public() as u64 {
            return Err(KeyError::Inconsistent(format!(
                "the key takes {} public values, its model describes {described}",
                self.num_public()
            )));
        }
        Ok(())
    }

    fn points(&self) -> Result<Points, KeyError> {
        let g1 = |p: &G1Bytes, what| {
            g1_from_bytes(&p.to_array()).ok_or(KeyError::InvalidElement { what })
        };
        let g2 = |p: &G2Bytes, what| {
            g2_from_bytes(&p.to_array()).ok_or(KeyError::InvalidElement { what })
        };
        if self.ic.is_empty() || self.ic.len() > MAX_PUBLIC_VALUES + 1 {
            return Err(KeyError::Inconsistent(format!(
                "{} public-value bases (1 to {} expected)",
                self.ic.len(),
                MAX_PUBLIC_VALUES + 1
            )));
        }
        Ok(Points {
            alpha: g1(&self.alpha_g1, "alpha (G1)")?,
            beta: g2(&self.beta_g2, "beta (G2)")?,
            gamma: g2(&self.gamma_g2, "gamma (G2)")?,
            delta: g2(&self.delta_g2, "delta (G2)")?,
            ic: self
                .ic
                .iter()
                .map(|p| g1(p, "public-value base (G1)"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Verifies a 256-byte proof for the public values `instances`.
    pub fn verify(&self, proof: &[u8], instances: &[Fr]) -> Result<(), VerifyError> {
        let keys = self.points()?;
        if instances.len() != self.num_public() {
            return Err(VerifyError::InstanceCount {
                expected: self.num_public(),
                got: instances.len(),
            });
        }
        let (a, b, c) = decode_proof(proof)?;
        let vk_x = keys.ic[0].into_group()
            + G1Projective::msm(&keys.ic[1..], instances)
                .map_err(|_| VerifyError::Degenerate("msm length mismatch"))?;
        let check = Bn254::multi_pairing(
            [
                (-a.into_group()).into_affine(),
                keys.alpha,
                vk_x.into_affine(),
                c,
            ],
            [b, keys.beta, keys.gamma, keys.delta],
        );
        if check.is_zero() {
            Ok(())
        } else {
            Err(VerifyError::PairingCheckFailed)
        }
    }
}

/// The three points of a proof, each checked.
pub fn decode_proof(proof: &[u8]) -> Result<(G1Affine, G2Affine, G1Affine), VerifyError> {
    if proof.len() < PROOF_LEN {
        let (offset, needed, what) = match proof.len() {
            n if n < 64 => (0, 64, "A"),
            n if n < 192 => (64, 128, "B"),
            _ => (192, 64, "C"),
        };
        return Err(VerifyError::ProofTooShort {
            offset,
            needed,
            what,
        });
    }
    if proof.len() > PROOF_LEN {
        return Err(VerifyError::TrailingBytes {
            read: PROOF_LEN,
            len: proof.len(),
        });
    }
    let a =
        g1_from_bytes(proof[..64].try_into().expect("64")).ok_or(VerifyError::InvalidPoint {
            offset: 0,
            what: "A",
        })?;
    let b = g2_from_bytes(proof[64..192].try_into().expect("128")).ok_or(
        VerifyError::InvalidPoint {
            offset: 64,
            what: "B",
        },
    )?;
    let c =
        g1_from_bytes(proof[192..].try_into().expect("64")).ok_or(VerifyError::InvalidPoint {
            offset: 192,
            what: "C",
        })?;
    Ok((a, b, c))
}

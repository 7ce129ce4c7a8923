//! Key and proof files of the Groth16 backend.
//!
//! The verifying key is the verifier crate's [`Groth16Key`] (the key's points and what its
//! public values mean). The proving key file:
//!
//! ```text
//! offset  size  content
//! 0       8     magic "ZKMLG16P"
//! 8       4     format version, little-endian u32 (currently 2)
//! 12      4     QAP layout, little-endian u32: 0 a local setup's (arkworks), 1 a ceremony's
//!               (snarkjs); see `crate::qap`. Version 1 files lack the field and are 0
//! 16      32    Keccak-256 of the compiled program
//! 48      32    Keccak-256 of the constraint system (see `R1cs::digest`)
//! 80      8     length L of the verifying key file, little-endian u64
//! 88      L     the verifying key file
//! 88+L    ...   arkworks' proving key, uncompressed (checked on load: every point on its
//!               curve)
//! ```
//!
//! Loading checks that every point of the proving key is on its curve, not that its G2
//! points are in the prime-order subgroup: that check costs a scalar multiplication per point
//! (most of a minute for a 500,000-constraint model) and protects nothing. The proving key is
//! the prover's own; a bad point in it can only make the prover's proofs invalid, and `zkml
//! prove` verifies every proof it makes against the verifying key (whose points are checked
//! in full, as the embedded copy here is) and fails when it does not verify. Reading the file
//! never panics on any bytes.
//!
//! The proving key is checked against the program it is used with (the program digest) and
//! against the constraint system compiled from it (the R1CS digest), so that a key from
//! another model or another compiler version is a clear error, not an invalid proof.

use std::io::Write;

use ark_bn254::{G1Affine, G2Affine};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use zkml_verifier::encoding::{g1_to_bytes, g2_to_bytes};
use zkml_verifier::groth16::{Groth16Key, PROOF_LEN};
use zkml_verifier::vk::{G1Bytes, G2Bytes, ModelInfo};

use crate::{Groth16Error, Proof, ProvingKey, Reduction, VerifyingKey};

/// First bytes of every Groth16 proving key file.
pub const PK_MAGIC: &[u8; 8] = b"ZKMLG16P";
/// The proving key format version this build reads and writes.
pub const PK_FORMAT_VERSION: u32 = 2;

/// A proving key with what identifies it.
#[derive(Clone, Debug)]
pub struct ProvingKeyFile {
    /// Keccak-256 of the compiled program.
    pub program_digest: [u8; 32],
    /// Keccak-256 of the constraint system.
    pub r1cs_digest: [u8; 32],
    /// The verifying key (as the verifier reads it).
    pub vk: Groth16Key,
    /// arkworks' proving key.
    pub pk: ProvingKey,
    /// The QAP layout the key was made for (where it came from).
    pub reduction: Reduction,
}

fn g1(p: &G1Affine) -> G1Bytes {
    G1Bytes::from_slice(&g1_to_bytes(p))
}

fn g2(p: &G2Affine) -> G2Bytes {
    G2Bytes::from_slice(&g2_to_bytes(p))
}

/// The verifier's form of an arkworks verifying key, with the meaning of its public values.
pub fn export_vk(vk: &VerifyingKey, model: ModelInfo) -> Result<Groth16Key, Groth16Error> {
    let key = Groth16Key {
        alpha_g1: g1(&vk.alpha_g1),
        beta_g2: g2(&vk.beta_g2),
        gamma_g2: g2(&vk.gamma_g2),
        delta_g2: g2(&vk.delta_g2),
        ic: vk.gamma_abc_g1.iter().map(g1).collect(),
        model,
    };
    key.check()
        .map_err(|e| Groth16Error::Key(format!("the exported verifying key: {e}")))?;
    Ok(key)
}

/// A proof in the 256-byte encoding the verifiers and the EVM read.
pub fn proof_bytes(proof: &Proof) -> [u8; PROOF_LEN] {
    let mut out = [0u8; PROOF_LEN];
    out[..64].copy_from_slice(&g1_to_bytes(&proof.a));
    out[64..192].copy_from_slice(&g2_to_bytes(&proof.b));
    out[192..].copy_from_slice(&g1_to_bytes(&proof.c));
    out
}

impl ProvingKeyFile {
    /// Writes the file; returns the bytes written.
    pub fn write_to<W: Write>(&self, out: &mut W) -> std::io::Result<u64> {
        let vk = self.vk.to_bytes();
        let mut head = PK_MAGIC.to_vec();
        head.extend_from_slice(&PK_FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&self.reduction.tag().to_le_bytes());
        head.extend_from_slice(&self.program_digest);
        head.extend_from_slice(&self.r1cs_digest);
        head.extend_from_slice(&(vk.len() as u64).to_le_bytes());
        head.extend_from_slice(&vk);
        out.write_all(&head)?;
        let mut counter = Counter { inner: out, n: 0 };
        self.pk
            .serialize_uncompressed(&mut counter)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(head.len() as u64 + counter.n)
    }

    /// The number of bytes [`ProvingKeyFile::write_to`] writes, counted without writing them.
    pub fn file_len(&self) -> u64 {
        let head = PK_MAGIC.len() + 4 + 4 + 32 + 32 + 8 + self.vk.to_bytes().len();
        (head + self.pk.uncompressed_size()) as u64
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out).expect("writing to memory");
        out
    }

    /// Reads a proving key file, checking every point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Groth16Error> {
        let bad = |m: String| Groth16Error::Key(m);
        if !bytes.starts_with(PK_MAGIC) {
            return Err(bad(
                "not a zkml Groth16 proving key (no ZKMLG16P header)".into()
            ));
        }
        let truncated = || bad("the proving key is truncated (its header ends early)".into());
        let version = u32::from_le_bytes(
            bytes
                .get(8..12)
                .ok_or_else(truncated)?
                .try_into()
                .expect("4"),
        );
        let (reduction, at) = match version {
            1 => (Reduction::Arkworks, 12),
            2 => {
                let tag = bytes.get(12..16).ok_or_else(truncated)?;
                let tag = u32::from_le_bytes(tag.try_into().expect("4"));
                let reduction = Reduction::from_tag(tag)
                    .ok_or_else(|| bad(format!("unknown QAP layout {tag} in the proving key")))?;
                (reduction, 16)
            }
            _ => {
                return Err(bad(format!(
                    "Groth16 proving key format version {version} is not supported (this build \
                     reads versions 1 and {PK_FORMAT_VERSION})"
                )))
            }
        };
        let head = bytes.get(at..at + 72).ok_or_else(truncated)?;
        let program_digest = head[..32].try_into().expect("32");
        let r1cs_digest = head[32..64].try_into().expect("32");
        let vk_len = u64::from_le_bytes(head[64..72].try_into().expect("8"));
        let rest = &bytes[at + 72..];
        let vk_len = usize::try_from(vk_len)
            .ok()
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| bad("the proving key is truncated (in its verifying key)".into()))?;
        let vk = Groth16Key::from_bytes(&rest[..vk_len])
            .map_err(|e| bad(format!("the proving key's verifying key: {e}")))?;
        let mut body = &rest[vk_len..];
        let pk = ProvingKey::deserialize_with_mode(&mut body, Compress::No, Validate::No)
            .map_err(|e| bad(format!("corrupt proving key: {e}")))?;
        if !on_curve(&pk) {
            return Err(bad(
                "corrupt proving key: a point is not on its curve".into()
            ));
        }
        if !body.is_empty() {
            return Err(bad(format!(
                "the proving key has {} unexpected trailing bytes",
                body.len()
            )));
        }
        let file = Self {
            program_digest,
            r1cs_digest,
            vk,
            pk,
            reduction,
        };
        if export_vk(&file.pk.vk, file.vk.model.clone())? != file.vk {
            return Err(bad(
                "inconsistent proving key: its verifying key differs from the one it embeds".into(),
            ));
        }
        Ok(file)
    }
}

/// Whether every point of `pk` is on its curve (the points at infinity included).
fn on_curve(pk: &ProvingKey) -> bool {
    use rayon::prelude::*;
    let g1 = |v: &[G1Affine]| v.par_iter().all(|p| p.is_on_curve());
    [pk.beta_g1, pk.delta_g1].iter().all(|p| p.is_on_curve())
        && g1(&pk.a_query)
        && g1(&pk.b_g1_query)
        && g1(&pk.h_query)
        && g1(&pk.l_query)
        && g1(&pk.vk.gamma_abc_g1)
        && pk.b_g2_query.par_iter().all(|p| p.is_on_curve())
        && [pk.vk.beta_g2, pk.vk.gamma_g2, pk.vk.delta_g2]
            .iter()
            .all(|p| p.is_on_curve())
        && pk.vk.alpha_g1.is_on_curve()
}

/// Counts the bytes passing through a writer.
struct Counter<'a, W> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

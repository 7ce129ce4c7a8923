//! The Fiat-Shamir transcript, shaped for the EVM.
//!
//! The state is a byte buffer. Points are absorbed as `x || y` and scalars as one word, all
//! 32-byte big-endian, exactly as they appear in the proof. A challenge is
//! `h = keccak256(buffer)` (with a single `0x01` byte appended when the buffer holds only the
//! previous challenge, so consecutive challenges differ), read as a big-endian integer modulo the
//! scalar field order; the buffer is then replaced by `h`.

use ark_bn254::{Fr, G1Affine};
use ark_ff::PrimeField;
use sha3::{Digest, Keccak256};

use crate::encoding::{fr_from_be, fr_to_be, g1_from_bytes, g1_to_bytes};
use crate::error::VerifyError;

/// The byte-level transcript state (shared with the prover).
#[derive(Clone, Debug, Default)]
pub struct TranscriptState {
    buf: Vec<u8>,
}

impl TranscriptState {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs raw words.
    pub fn absorb(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Squeezes a challenge hash.
    pub fn squeeze(&mut self) -> [u8; 32] {
        let mut hasher = Keccak256::new();
        hasher.update(&self.buf);
        if self.buf.len() == 32 {
            hasher.update([1u8]);
        }
        let h: [u8; 32] = hasher.finalize().into();
        self.buf = h.to_vec();
        h
    }

    /// Squeezes a challenge scalar.
    pub fn squeeze_scalar(&mut self) -> Fr {
        Fr::from_be_bytes_mod_order(&self.squeeze())
    }
}

/// Reads a proof while replaying its transcript.
pub(crate) struct ProofReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    pub(crate) state: TranscriptState,
}

impl<'a> ProofReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            pos: 0,
            state: TranscriptState::new(),
        }
    }

    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], VerifyError> {
        let end = self.pos + N;
        let chunk = self
            .bytes
            .get(self.pos..end)
            .ok_or(VerifyError::ProofTooShort {
                offset: self.pos,
                needed: N,
                what,
            })?;
        self.pos = end;
        Ok(chunk.try_into().expect("length checked"))
    }

    /// Reads a point and absorbs it.
    pub fn read_point(&mut self, what: &'static str) -> Result<G1Affine, VerifyError> {
        let offset = self.pos;
        let b: [u8; 64] = self.take(what)?;
        let p = g1_from_bytes(&b).ok_or(VerifyError::InvalidPoint { offset, what })?;
        self.state.absorb(&b);
        Ok(p)
    }

    /// Reads `n` points.
    pub fn read_points(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<Vec<G1Affine>, VerifyError> {
        (0..n).map(|_| self.read_point(what)).collect()
    }

    /// Reads a scalar and absorbs it.
    pub fn read_scalar(&mut self, what: &'static str) -> Result<Fr, VerifyError> {
        let offset = self.pos;
        let b: [u8; 32] = self.take(what)?;
        let f = fr_from_be(&b).ok_or(VerifyError::InvalidScalar { offset, what })?;
        self.state.absorb(&b);
        Ok(f)
    }

    /// Reads `n` scalars.
    pub fn read_scalars(&mut self, n: usize, what: &'static str) -> Result<Vec<Fr>, VerifyError> {
        (0..n).map(|_| self.read_scalar(what)).collect()
    }

    /// Absorbs a scalar known to both sides.
    pub fn common_scalar(&mut self, f: &Fr) {
        self.state.absorb(&fr_to_be(f));
    }

    /// Absorbs a point known to both sides.
    #[allow(dead_code)]
    pub fn common_point(&mut self, p: &G1Affine) {
        self.state.absorb(&g1_to_bytes(p));
    }

    /// Squeezes a challenge.
    pub fn challenge(&mut self) -> Fr {
        self.state.squeeze_scalar()
    }

    /// Fails unless the whole proof was read.
    pub fn finish(&self) -> Result<(), VerifyError> {
        if self.pos != self.bytes.len() {
            return Err(VerifyError::TrailingBytes {
                read: self.pos,
                len: self.bytes.len(),
            });
        }
        Ok(())
    }
}

//! The EVM-shaped Keccak transcript as halo2's transcript traits (the byte-level state is the
//! verifier crate's, so prover and verifiers hash identically).

use std::io::{self, Read, Write};

use halo2_proofs::halo2curves::bn256::{Fq, Fr, G1Affine};
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::CurveAffine;
use halo2_proofs::transcript::{
    Challenge255, EncodedChallenge, Transcript, TranscriptRead, TranscriptReadBuffer,
    TranscriptWrite, TranscriptWriterBuffer,
};
use zkml_verifier::transcript::TranscriptState;

/// A scalar as a 32-byte big-endian word.
pub fn scalar_be(f: &Fr) -> [u8; 32] {
    let mut b: [u8; 32] = f.to_repr().as_ref().try_into().expect("32 bytes");
    b.reverse();
    b
}

/// A base-field element as a 32-byte big-endian word.
fn base_be(f: &Fq) -> [u8; 32] {
    let mut b: [u8; 32] = f.to_repr().as_ref().try_into().expect("32 bytes");
    b.reverse();
    b
}

/// A point as `x || y` (the identity as zeros).
pub fn point_bytes(p: &G1Affine) -> [u8; 64] {
    let mut out = [0u8; 64];
    if let Some(c) =
        Option::<halo2_proofs::halo2curves::Coordinates<G1Affine>>::from(p.coordinates())
    {
        out[..32].copy_from_slice(&base_be(c.x()));
        out[32..].copy_from_slice(&base_be(c.y()));
    }
    out
}

fn challenge(state: &mut TranscriptState) -> Challenge255<G1Affine> {
    let h = state.squeeze();
    let mut wide = [0u8; 64];
    for (i, b) in h.iter().rev().enumerate() {
        wide[i] = *b;
    }
    Challenge255::new(&wide)
}

/// Writes a proof.
pub struct EvmTranscriptWrite<W: Write> {
    state: TranscriptState,
    writer: W,
}

impl<W: Write> Transcript<G1Affine, Challenge255<G1Affine>> for EvmTranscriptWrite<W> {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        challenge(&mut self.state)
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.state.absorb(&point_bytes(&point));
        Ok(())
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.state.absorb(&scalar_be(&scalar));
        Ok(())
    }
}

impl<W: Write> TranscriptWrite<G1Affine, Challenge255<G1Affine>> for EvmTranscriptWrite<W> {
    fn write_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.common_point(point)?;
        self.writer.write_all(&point_bytes(&point))
    }

    fn write_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.common_scalar(scalar)?;
        self.writer.write_all(&scalar_be(&scalar))
    }
}

impl<W: Write> TranscriptWriterBuffer<W, G1Affine, Challenge255<G1Affine>>
    for EvmTranscriptWrite<W>
{
    fn init(writer: W) -> Self {
        Self {
            state: TranscriptState::new(),
            writer,
        }
    }

    fn finalize(self) -> W {
        self.writer
    }
}

/// Reads a proof (used to cross-check proofs with halo2's own verifier).
pub struct EvmTranscriptRead<R: Read> {
    state: TranscriptState,
    reader: R,
}

impl<R: Read> Transcript<G1Affine, Challenge255<G1Affine>> for EvmTranscriptRead<R> {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        challenge(&mut self.state)
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.state.absorb(&point_bytes(&point));
        Ok(())
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.state.absorb(&scalar_be(&scalar));
        Ok(())
    }
}

impl<R: Read> TranscriptRead<G1Affine, Challenge255<G1Affine>> for EvmTranscriptRead<R> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let mut b = [0u8; 64];
        self.reader.read_exact(&mut b)?;
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "invalid point");
        let coord = |w: &[u8]| -> io::Result<Fq> {
            let mut le: [u8; 32] = w.try_into().expect("32");
            le.reverse();
            Option::from(Fq::from_repr(le)).ok_or_else(invalid)
        };
        let (x, y) = (coord(&b[..32])?, coord(&b[32..])?);
        let p = if b.iter().all(|&v| v == 0) {
            G1Affine::identity()
        } else {
            Option::from(G1Affine::from_xy(x, y)).ok_or_else(invalid)?
        };
        self.state.absorb(&b);
        Ok(p)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let mut b = [0u8; 32];
        self.reader.read_exact(&mut b)?;
        let mut le = b;
        le.reverse();
        let f = Option::from(Fr::from_repr(le))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "invalid scalar"))?;
        self.state.absorb(&b);
        Ok(f)
    }
}

impl<R: Read> TranscriptReadBuffer<R, G1Affine, Challenge255<G1Affine>> for EvmTranscriptRead<R> {
    fn init(reader: R) -> Self {
        Self {
            state: TranscriptState::new(),
            reader,
        }
    }
}

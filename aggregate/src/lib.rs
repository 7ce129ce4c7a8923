//! Many proofs folded into one: the segments of one inference (a chain), or many inferences,
//! checked by a single proof whose on-chain cost does not grow with their number.
//!
//! Each proof to aggregate is made with the Poseidon transcript ([`prove_segment`]) from the
//! same circuit and key as any segment proof. The aggregation circuit (snark-verifier's, over
//! halo2-base) verifies every proof in-circuit, deferring each one's pairing into a single KZG
//! accumulator, and adds what makes a chain a chain: segment `i`'s output commitment is
//! constrained equal to segment `i + 1`'s input commitment ([`Shape::chain`]). The aggregate's
//! public instance is the accumulator's limbs followed by the values the chain makes public
//! (the first segment's inputs, the last one's outputs, parameter hashes), never the links.
//!
//! The segments' verifying keys are constants of the aggregation circuit: its key pins the
//! chain. The aggregate's own key is exported as a `zkml-verifier` key whose public values
//! start with the accumulator ([`zkml_verifier::vk::PublicPart::Accumulator`]) and whose
//! proofs use zkml's Keccak transcript: the Rust verifier ([`verify`]) and the Solidity
//! verifier `zkml_contracts` generates from that key check the aggregate's proof and decide
//! the accumulator's pairing, in one call.
//!
//! Soundness: each segment proof is verified exactly as its own verifier would, except that
//! its final pairing is folded with the others' by a random linear combination drawn from the
//! transcript after all of them are fixed; a false proof survives the fold with probability
//! at most about (number of proofs) / r, r ≈ 2^254 the group order, on top of each
//! proof's own soundness error.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod circuit;
pub mod cost;
pub mod snark;
pub mod tree;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::create_proof;
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_proofs::transcript::{Challenge255, Transcript, TranscriptWriterBuffer};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::CircuitExt;
use thiserror::Error;
use zkml_prover::transcript::EvmTranscriptWrite;

pub use circuit::{chain_model, keygen, AggregationKey, Link, Shape, ACCUMULATOR_LIMBS};
pub use snark::{check_snark, protocol, prove_segment, resume_segment, resume_segment_under_vk};
pub use snark_verifier_sdk::halo2::aggregation::AggregationConfigParams;
pub use snark_verifier_sdk::Snark;

/// Why aggregation or its verification failed.
#[derive(Debug, Error)]
pub enum AggregateError {
    /// The inputs or keys do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// The program does not run on the input, or cannot be laid out.
    #[error("{0}")]
    Input(String),
    /// A chain's link does not hold: a segment was proven on other values than the one
    /// before passed on.
    #[error(
        "link {link}: proof {proof} was made on other values than proof {} passed on",
        proof.saturating_sub(1)
    )]
    BrokenLink {
        /// The link, counted from 0.
        link: usize,
        /// The proof taking the values.
        proof: usize,
    },
    /// One of the proofs to aggregate does not verify.
    #[error("proof {proof} does not verify: {reason}")]
    BadProof {
        /// The proof, counted from 0.
        proof: usize,
        /// Why.
        reason: String,
    },
    /// The aggregate (or a proof) was rejected.
    #[error("rejected: {0}")]
    Rejected(String),
    /// halo2 failed.
    #[error("halo2: {0}")]
    Halo2(String),
}

/// An aggregate proof and its public instance (accumulator limbs, then the exposed values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateProof {
    /// Proof bytes (zkml's Keccak transcript, as every zkml proof).
    pub proof: Vec<u8>,
    /// The public instance.
    pub instances: Vec<Fr>,
}

impl AggregateProof {
    /// The values the chain makes public (the instance after the accumulator).
    pub fn exposed(&self) -> &[Fr] {
        self.instances.get(ACCUMULATOR_LIMBS..).unwrap_or(&[])
    }
}

/// Proves the aggregate of `snarks` with `key`; `srs` is the one the key was made with.
///
/// Every proof is checked first, against the key's own segment protocols, with its links:
/// a bad proof, a foreign one, one out of order or a broken link is reported, naming it,
/// instead of making a proof that cannot verify.
pub fn prove(
    srs: &ParamsKZG<Bn256>,
    key: &AggregationKey,
    snarks: Vec<Snark>,
) -> Result<AggregateProof, AggregateError> {
    key.shape.check_snarks(&snarks)?;
    prove_unlinked(srs, key, snarks)
}

/// [`prove`] without checking the links natively first: every proof is still checked and
/// verified in-circuit, and the links are still constraints of the circuit, so a broken link
/// gives a proof that does not verify. Soundness tests use it; callers want [`prove`].
#[doc(hidden)]
pub fn prove_unlinked(
    srs: &ParamsKZG<Bn256>,
    key: &AggregationKey,
    snarks: Vec<Snark>,
) -> Result<AggregateProof, AggregateError> {
    check_count(key, &snarks)?;
    for (i, (s, p)) in snarks.iter().zip(&key.protocols).enumerate() {
        if !same_protocol(&s.protocol, p) {
            return Err(AggregateError::Mismatch(format!(
                "proof {i} was made for another key than the aggregate's segment {i}"
            )));
        }
        check_snark(srs, s).map_err(|e| AggregateError::BadProof {
            proof: i,
            reason: e.to_string(),
        })?;
    }
    prove_unchecked(srs, key, snarks)
}

/// [`prove_unlinked`] without checking the proofs natively either: an invalid proof is
/// still verified in-circuit, and folds an accumulator that fails its pairing, so the
/// aggregate does not verify. Soundness tests use it; callers want [`prove`].
#[doc(hidden)]
pub fn prove_unchecked(
    srs: &ParamsKZG<Bn256>,
    key: &AggregationKey,
    snarks: Vec<Snark>,
) -> Result<AggregateProof, AggregateError> {
    check_count(key, &snarks)?;
    let circuit = circuit::for_proving(srs, key.config, &key.break_points, snarks, &key.shape);
    let instances = circuit.instances().concat();
    let digest = zkml_prover::prove::digest_scalar(&key.vk.key_digest());
    let mut transcript = EvmTranscriptWrite::<Vec<u8>>::init(Vec::new());
    transcript
        .common_scalar(digest)
        .map_err(|e| AggregateError::Halo2(e.to_string()))?;
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        _,
        _,
        _,
    >(
        srs,
        &key.pk,
        &[circuit],
        &[&[&instances]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| AggregateError::Halo2(format!("{e:?}")))?;
    Ok(AggregateProof {
        proof: transcript.finalize(),
        instances,
    })
}

fn check_count(key: &AggregationKey, snarks: &[Snark]) -> Result<(), AggregateError> {
    if snarks.len() == key.protocols.len() {
        Ok(())
    } else {
        Err(AggregateError::Mismatch(format!(
            "the aggregate is of {} proofs, {} were given",
            key.protocols.len(),
            snarks.len()
        )))
    }
}

fn same_protocol(a: &PlonkProtocol<G1Affine>, b: &PlonkProtocol<G1Affine>) -> bool {
    match (bincode::serialize(a), bincode::serialize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Verifies an aggregate under its key (the aggregation key's export, [`AggregationKey::vk`]):
/// the proof, then the accumulator it carries (the pairing every aggregated proof deferred).
pub fn verify(
    vk: &zkml_verifier::VerifyingKey,
    proof: &AggregateProof,
) -> Result<(), AggregateError> {
    if vk.accumulator().is_none() {
        return Err(AggregateError::Mismatch(
            "the key is not an aggregate's: its public values carry no accumulator".into(),
        ));
    }
    let instances: Vec<zkml_verifier::Fr> = proof
        .instances
        .iter()
        .map(|f| {
            let w = zkml_prover::prove::fr_to_word(f);
            zkml_verifier::encoding::fr_from_be(&w).expect("a field element is canonical")
        })
        .collect();
    zkml_verifier::Key::Halo2(vk.clone())
        .verify(&proof.proof, &instances)
        .map_err(|e| AggregateError::Rejected(e.to_string()))
}

/// The public instance as the contract and the verifier crate take it: 32-byte big-endian
/// words.
pub fn instance_words(proof: &AggregateProof) -> Vec<[u8; 32]> {
    proof
        .instances
        .iter()
        .map(zkml_prover::prove::fr_to_word)
        .collect()
}

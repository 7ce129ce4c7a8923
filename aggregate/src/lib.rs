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
//! chain. A verifier checks the aggregate's proof and then the accumulator's pairing
//! ([`verify`]); the generated Solidity contract does both in one call ([`solidity`]).
//!
//! Soundness: each segment proof is verified exactly as its own verifier would, except that
//! its final pairing is folded with the others' by a random linear combination drawn from the
//! transcript after all of them are fixed; a false proof survives the fold with probability
//! at most about (number of proofs) / r, r ≈ 2^254 the group order, on top of each
//! proof's own soundness error.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod circuit;
pub mod snark;

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{create_proof, VerifyingKey};
use halo2_proofs::poly::commitment::ParamsProver;
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::halo2::aggregation::AggregationCircuit;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::snark_verifier::pcs::kzg::KzgDecidingKey;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::{CircuitExt, NativeLoader, Snark, SHPLONK};
use thiserror::Error;

pub use circuit::{keygen, AggregationKey, Link, Shape, ACCUMULATOR_LIMBS};
pub use snark::{check_snark, protocol, prove_segment};

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
    /// Proof bytes (EVM transcript).
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
    if snarks.len() != key.protocols.len() {
        return Err(AggregateError::Mismatch(format!(
            "the aggregate is of {} proofs, {} were given",
            key.protocols.len(),
            snarks.len()
        )));
    }
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
    let circuit = circuit::build(
        CircuitBuilderStage::Prover,
        key.config,
        srs,
        snarks,
        &key.shape,
    )
    .use_break_points(key.break_points.clone());
    let instances = circuit.instances().concat();
    let mut transcript = EvmTranscript::<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>::new(Vec::new());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
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

fn same_protocol(a: &PlonkProtocol<G1Affine>, b: &PlonkProtocol<G1Affine>) -> bool {
    match (bincode::serialize(a), bincode::serialize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What verifying an aggregate needs: its protocol (the aggregation circuit's verifying key
/// with its instance length) and the SRS's deciding key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggregateVerifier {
    /// The aggregation circuit's protocol.
    pub protocol: PlonkProtocol<G1Affine>,
    /// `g`, `g2` and `s·g2` of the SRS.
    pub deciding_key: KzgDecidingKey<Bn256>,
    /// The proofs' links and exposed values.
    pub shape: Shape,
}

impl AggregateVerifier {
    /// The verifier for aggregates made with `vk` (the aggregation key's) under `srs`.
    pub fn new(srs: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, shape: Shape) -> Self {
        let protocol = compile(
            srs,
            vk,
            Config::kzg()
                .with_num_instance(vec![shape.aggregate_instance_len()])
                .with_accumulator_indices(AggregationCircuit::accumulator_indices()),
        );
        Self {
            protocol,
            deciding_key: deciding_key(srs),
            shape,
        }
    }
}

fn deciding_key(srs: &ParamsKZG<Bn256>) -> KzgDecidingKey<Bn256> {
    (srs.get_g()[0], srs.g2(), srs.s_g2()).into()
}

/// Verifies an aggregate: its proof under the aggregation key, then the accumulator it
/// carries (the pairing every aggregated proof deferred).
pub fn verify(verifier: &AggregateVerifier, proof: &AggregateProof) -> Result<(), AggregateError> {
    let expected = verifier.shape.aggregate_instance_len();
    if proof.instances.len() != expected {
        return Err(AggregateError::Rejected(format!(
            "the aggregate has {} public values, its key {expected}",
            proof.instances.len()
        )));
    }
    let instances = vec![proof.instances.clone()];
    let mut transcript =
        EvmTranscript::<G1Affine, NativeLoader, &[u8], Vec<u8>>::new(proof.proof.as_slice());
    snark::verify_native(
        &verifier.deciding_key,
        &verifier.protocol,
        &instances,
        &mut transcript,
        "the proof or its accumulator is malformed",
    )
}

/// The Solidity verifier of aggregates made with `verifier`'s key: contract
/// `Halo2Verifier`, whose fallback takes the instance words then the proof and reverts
/// unless both the proof and the accumulator's pairing check.
pub fn solidity(srs: &ParamsKZG<Bn256>, vk: &VerifyingKey<G1Affine>, shape: &Shape) -> String {
    let code = snark_verifier_sdk::evm::gen_evm_verifier_sol_code::<AggregationCircuit, SHPLONK>(
        srs,
        vk,
        vec![shape.aggregate_instance_len()],
    );
    // Generated for solc 0.8.19 exactly; it compiles unchanged with the pinned newer one.
    code.replacen("pragma solidity 0.8.19;", "pragma solidity ^0.8.19;", 1)
}

/// The calldata of a call to the Solidity verifier: instance words, then the proof.
pub fn calldata(proof: &AggregateProof) -> Vec<u8> {
    snark_verifier_sdk::evm::encode_calldata(std::slice::from_ref(&proof.instances), &proof.proof)
}

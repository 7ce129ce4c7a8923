//! Segment proofs made to be aggregated: the same circuits and keys as any segment proof, with
//! the Poseidon transcript the aggregation circuit reads in-circuit.

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use std::panic::{catch_unwind, AssertUnwindSafe};

use halo2_proofs::plonk::{create_proof, Circuit, ProvingKey, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use rand::rngs::OsRng;
use snark_verifier_sdk::halo2::{PoseidonTranscript, POSEIDON_SPEC};
use snark_verifier_sdk::snark_verifier::pcs::kzg::KzgDecidingKey;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::util::transcript::TranscriptRead;
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::snark_verifier::verifier::SnarkVerifier;
use snark_verifier_sdk::{NativeLoader, PlonkVerifier, Snark, SHPLONK};
use zkml_circuits::{Blinding, CircuitParams, ModelCircuit, VisibilityConfig};
use zkml_ir::{Program, Tensor};
use zkml_prover::ProvingKeyFile;

use crate::AggregateError;

/// Proves one segment (or a whole program) on quantized `inputs` for aggregation.
///
/// The proof is checked before it is returned: an aggregation circuit is only ever built over
/// proofs that verify.
pub fn prove_segment(
    program: &Program,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Snark, AggregateError> {
    let (circuit, _) = zkml_prover::prove::segment_circuit(program, inputs, blinding, pk, srs)
        .map_err(|e| match e {
            zkml_prover::ProverError::Mismatch(m) => AggregateError::Mismatch(m),
            e => AggregateError::Input(e.to_string()),
        })?;
    let instances = circuit.instance();
    let proof = prove_poseidon(srs, &pk.pk, circuit, &instances)?;
    let snark = Snark::new(
        protocol(srs, pk.pk.get_vk(), instances.len()),
        vec![instances],
        proof,
    );
    check_snark(srs, &snark).map_err(|_| {
        AggregateError::Halo2("the segment's proof does not verify: its witness is wrong".into())
    })?;
    Ok(snark)
}

/// A proof made earlier by [`prove_segment`] (its bytes and instance column), taken again when
/// its instance is the one `inputs` and `blinding` give now and it verifies under `pk`: the
/// protocol is derived from `pk`, never read with the proof. `None` where it is not such a
/// proof.
pub fn resume_segment(
    program: &Program,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
    proof: Vec<u8>,
    instances: Vec<Fr>,
) -> Option<Snark> {
    let (circuit, _) =
        zkml_prover::prove::segment_circuit(program, inputs, blinding, pk, srs).ok()?;
    if circuit.instance() != instances {
        return None;
    }
    let snark = Snark::new(
        protocol(srs, pk.pk.get_vk(), instances.len()),
        vec![instances],
        proof,
    );
    check_snark(srs, &snark).ok()?;
    Some(snark)
}

/// [`resume_segment`] without a proving key: under halo2's verifying key `vk` of the segment's
/// circuit (`circuit`, `visibility`: [`zkml_prover::generate_verifying_keys`]), made from the
/// program again, so a saved proof is taken without the proving key's time and memory.
pub fn resume_segment_under_vk(
    program: &Program,
    inputs: &[Tensor],
    blinding: Blinding,
    (vk, circuit, visibility): (&VerifyingKey<G1Affine>, CircuitParams, VisibilityConfig),
    srs: &ParamsKZG<Bn256>,
    (proof, instances): (Vec<u8>, Vec<Fr>),
) -> Option<Snark> {
    if vk.get_domain().k() != circuit.k || Params::k(srs) != circuit.k {
        return None;
    }
    let trace = zkml_ir::evaluate(program, inputs).ok()?;
    let layout =
        zkml_circuits::build_segment(program, Some(&trace), circuit, visibility, blinding).ok()?;
    if ModelCircuit::new(layout).instance() != instances {
        return None;
    }
    let snark = Snark::new(protocol(srs, vk, instances.len()), vec![instances], proof);
    check_snark(srs, &snark).ok()?;
    Some(snark)
}

/// Proves `circuit` (one instance column, `instances`) with the Poseidon transcript an
/// aggregation circuit reads in-circuit.
pub(crate) fn prove_poseidon<C: Circuit<Fr>>(
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
) -> Result<Vec<u8>, AggregateError> {
    let mut transcript =
        PoseidonTranscript::<NativeLoader, Vec<u8>>::from_spec(vec![], POSEIDON_SPEC.clone());
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        srs,
        pk,
        &[circuit],
        &[&[instances]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| AggregateError::Halo2(format!("{e:?}")))?;
    Ok(transcript.finalize())
}

/// The protocol description the aggregation circuit verifies a segment's proofs against.
pub fn protocol(
    srs: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instance: usize,
) -> snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol<G1Affine> {
    compile(srs, vk, Config::kzg().with_num_instance(vec![num_instance]))
}

/// Verifies a proof made for aggregation natively against its own protocol, pairing
/// included.
pub fn check_snark(srs: &ParamsKZG<Bn256>, snark: &Snark) -> Result<(), AggregateError> {
    if snark.instances.len() != 1 {
        return Err(AggregateError::Mismatch(
            "a segment proof has exactly one instance column".into(),
        ));
    }
    let dk: KzgDecidingKey<Bn256> = (srs.get_g()[0], srs.g2(), srs.s_g2()).into();
    let mut transcript =
        PoseidonTranscript::<NativeLoader, &[u8]>::from_spec(snark.proof(), POSEIDON_SPEC.clone());
    verify_native(
        &dk,
        &snark.protocol,
        &snark.instances,
        &mut transcript,
        "the proof is malformed",
    )
}

/// Reads a proof from `transcript` and verifies it natively against `protocol`, pairing
/// included. snark-verifier's native verifier assumes well-formed input in places: anything it
/// cannot read is a rejection (`malformed`), not a crash.
pub(crate) fn verify_native<T: TranscriptRead<G1Affine, NativeLoader>>(
    dk: &KzgDecidingKey<Bn256>,
    protocol: &PlonkProtocol<G1Affine>,
    instances: &[Vec<Fr>],
    transcript: &mut T,
    malformed: &str,
) -> Result<(), AggregateError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let read = PlonkVerifier::<SHPLONK>::read_proof(dk, protocol, instances, transcript)
            .map_err(|e| format!("{e:?}"))?;
        PlonkVerifier::<SHPLONK>::verify(dk, protocol, instances, &read)
            .map_err(|e| format!("{e:?}"))
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AggregateError::Rejected(e)),
        Err(_) => Err(AggregateError::Rejected(malformed.into())),
    }
}

/// The number of field elements in a snark's (single) instance column.
pub(crate) fn instance_len(snark: &Snark) -> usize {
    snark.instances.iter().map(Vec::len).sum()
}

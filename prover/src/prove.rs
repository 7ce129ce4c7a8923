//! Proving: evaluate the program, lay out the witness, run the halo2 prover (SHPLONK, EVM
//! transcript).

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::halo2curves::ff::FromUniformBytes;
use halo2_proofs::plonk::{create_proof, verify_proof};
use halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_proofs::transcript::{
    Challenge255, Transcript, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand::rngs::OsRng;
use zkml_circuits::{Blinding, ModelCircuit};
use zkml_ir::{evaluate, Program, Tensor};

use crate::device::Device;
use crate::error::ProverError;
use crate::keys::{program_digest, ProvingKeyFile};
use crate::once::SynthesizeOnce;
use crate::transcript::{EvmTranscriptRead, EvmTranscriptWrite};

/// A proof and the public values it was made for.
#[derive(Clone, Debug, PartialEq)]
pub struct Proof {
    /// Proof bytes.
    pub bytes: Vec<u8>,
    /// The public instance (values and hashes, as the verifying key describes them).
    pub instances: Vec<Fr>,
    /// The program's outputs (integers), whatever their visibility.
    pub outputs: Vec<Tensor>,
}

impl Proof {
    /// The instance as 32-byte big-endian words (proof files, the EVM, [`zkml_verifier`]).
    pub fn instance_words(&self) -> Vec<[u8; 32]> {
        self.instances.iter().map(fr_to_word).collect()
    }
}

/// A field element as a 32-byte big-endian word.
pub fn fr_to_word(f: &Fr) -> [u8; 32] {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let mut w = f.to_repr();
    w.reverse();
    w
}

/// The scalar a 32-byte digest stands for in the transcript (big-endian, reduced).
pub fn digest_scalar(digest: &[u8; 32]) -> Fr {
    let mut wide = [0u8; 64];
    for (i, b) in digest.iter().rev().enumerate() {
        wide[i] = *b;
    }
    Fr::from_uniform_bytes(&wide)
}

fn vk_digest(pk: &ProvingKeyFile) -> Result<[u8; 32], ProverError> {
    hex::decode(&pk.header.vk_digest)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            ProverError::Internal("bad verifying key digest in the proving key header".into())
        })
}

/// Proves `program` on quantized `inputs` with the CPU prover.
pub fn prove(
    program: &Program,
    inputs: &[Tensor],
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Proof, ProverError> {
    prove_on(Device::Cpu, program, inputs, pk, srs)
}

/// Proves `program` on quantized `inputs` on `device` (the proof is the same kind either way).
pub fn prove_on(
    device: Device,
    program: &Program,
    inputs: &[Tensor],
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Proof, ProverError> {
    prove_segment_on(device, program, inputs, Blinding::default(), pk, srs)
}

/// Proves one segment of a cut program (or a whole program, whose blinding is unused) on
/// quantized `inputs`, with the blinding values of its links.
pub fn prove_segment_on(
    device: Device,
    program: &Program,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Proof, ProverError> {
    let (circuit, outputs) = segment_circuit(program, inputs, blinding, pk, srs)?;
    let instances = circuit.instance();
    let bytes = prove_circuit_on(device, circuit, pk, srs)?;
    Ok(Proof {
        bytes,
        instances,
        outputs,
    })
}

/// The circuit of one segment (or a whole program) on quantized `inputs`, laid out for `pk`,
/// and the program's outputs: `pk` must be the program's and `srs` of its size.
pub fn segment_circuit(
    program: &Program,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<(ModelCircuit, Vec<Tensor>), ProverError> {
    if hex::encode(program_digest(program)) != pk.header.program_digest {
        return Err(ProverError::Mismatch(
            "the proving key was generated for a different program; run setup again".into(),
        ));
    }
    if srs_k(srs) != pk.header.circuit.k {
        return Err(ProverError::Mismatch(format!(
            "the SRS has 2^{} points, the key needs 2^{}",
            srs_k(srs),
            pk.header.circuit.k
        )));
    }
    let trace = evaluate(program, inputs)?;
    let layout = zkml_circuits::build_segment(
        program,
        Some(&trace),
        pk.header.circuit,
        pk.header.visibility,
        blinding,
    )?;
    zkml_circuits::sizing::check_rows(&layout)?;
    let outputs = trace.outputs().into_iter().cloned().collect();
    Ok((ModelCircuit::new(layout), outputs))
}

/// Proves a laid-out circuit with `pk` (its public values are the layout's instance). The
/// layout is taken as it is: a witness that breaks a constraint gives a proof that does not
/// verify (soundness tests use this with tampered layouts).
pub fn prove_circuit(
    circuit: ModelCircuit,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Vec<u8>, ProverError> {
    prove_circuit_on(Device::Cpu, circuit, pk, srs)
}

/// [`prove_circuit`] on `device`.
pub fn prove_circuit_on(
    device: Device,
    circuit: ModelCircuit,
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
) -> Result<Vec<u8>, ProverError> {
    let instance_fields = circuit.instance();
    let mut transcript = EvmTranscriptWrite::<Vec<u8>>::init(Vec::new());
    transcript
        .common_scalar(digest_scalar(&vk_digest(pk)?))
        .map_err(|e| ProverError::Internal(e.to_string()))?;
    if device == Device::Gpu {
        crate::device::check_gpu_supports(circuit.layout())?;
        gpu_proof(srs, pk, circuit, &instance_fields, &mut transcript)?;
        return Ok(transcript.finalize());
    }
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        _,
        _,
        _,
    >(
        srs,
        &pk.pk,
        &[SynthesizeOnce::new(circuit)],
        &[&[&instance_fields]],
        OsRng,
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2(format!("{e:?}")))?;
    Ok(transcript.finalize())
}

#[cfg(feature = "gpu")]
fn gpu_proof(
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKeyFile,
    circuit: ModelCircuit,
    instance: &[Fr],
    transcript: &mut EvmTranscriptWrite<Vec<u8>>,
) -> Result<(), ProverError> {
    crate::gpu::create_proof(srs, &pk.pk, circuit, instance, transcript)
}

#[cfg(not(feature = "gpu"))]
fn gpu_proof(
    _: &ParamsKZG<Bn256>,
    _: &ProvingKeyFile,
    _: ModelCircuit,
    _: &[Fr],
    _: &mut EvmTranscriptWrite<Vec<u8>>,
) -> Result<(), ProverError> {
    Err(ProverError::NoGpu(crate::device::NOT_BUILT.into()))
}

fn srs_k(srs: &ParamsKZG<Bn256>) -> u32 {
    use halo2_proofs::poly::commitment::Params;
    srs.k()
}

/// Verifies with halo2's own verifier (a cross-check of the standalone verifier).
pub fn verify_with_halo2(
    pk: &ProvingKeyFile,
    srs: &ParamsKZG<Bn256>,
    proof: &[u8],
    instances: &[Fr],
) -> Result<(), ProverError> {
    let fields = instances.to_vec();
    let mut transcript = EvmTranscriptRead::init(proof);
    transcript
        .common_scalar(digest_scalar(&vk_digest(pk)?))
        .map_err(|e| ProverError::Internal(e.to_string()))?;
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        _,
        _,
    >(
        srs,
        pk.pk.get_vk(),
        SingleStrategy::new(srs),
        &[&[&fields]],
        &mut transcript,
    )
    .map(|_| ())
    .map_err(|e| ProverError::Halo2(format!("{e:?}")))
}

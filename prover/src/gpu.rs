//! The CUDA prover (feature `gpu`): halo2-axiom-gpu's key generation and prover over the same
//! circuit, SRS, transcript and key formats as the CPU path. Its proofs are checked by the same
//! verifiers (Rust and Solidity); its keys are documented to serialize byte for byte as halo2's
//! CPU keys (scripts/gpu-check.sh compares them on a GPU machine).
//!
//! A build with this feature needs an NVIDIA GPU and driver to start: the CUDA runtime claims
//! the device when the program loads. The `zkml` CLI built without the feature hands a run to
//! the GPU build only where a GPU is present (see the CLI's `--device`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use halo2_axiom_gpu::plonk as gpu_plonk;
use halo2_axiom_gpu::poly::kzg::commitment::{
    KZGCommitmentScheme as GpuKzg, ParamsKZG as GpuParams,
};
use halo2_axiom_gpu::poly::kzg::multiopen::ProverSHPLONK as GpuShplonk;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::transcript::Challenge255;
use halo2_proofs::SerdeFormat;
use rand::rngs::OsRng;
use zkml_circuits::ModelCircuit;

use crate::device::GpuInfo;
use crate::error::ProverError;
use crate::transcript::EvmTranscriptWrite;

/// The SRS in the CUDA prover's representation (the same points; the file format is shared).
pub fn params(srs: &ParamsKZG<Bn256>) -> Result<GpuParams<Bn256>, ProverError> {
    let mut bytes = Vec::new();
    srs.write_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
        .map_err(|e| ProverError::Internal(format!("SRS for the GPU: {e}")))?;
    GpuParams::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
        .map_err(|e| ProverError::Internal(format!("SRS for the GPU: {e}")))
}

fn gpu_error(stage: &str, e: impl std::fmt::Debug) -> ProverError {
    ProverError::Halo2(format!("{stage} on the GPU: {e:?}"))
}

/// Runs a call into the CUDA prover, turning a panic in it into an error that names the stage.
fn guarded<T>(stage: &str, f: impl FnOnce() -> Result<T, ProverError>) -> Result<T, ProverError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(ProverError::Halo2(format!(
            "{stage} on the GPU failed: {why}"
        )))
    })
}

/// The verifying and proving keys of `circuit` (laid out without a witness), made on the GPU.
pub fn keygen(
    srs: &ParamsKZG<Bn256>,
    circuit: &ModelCircuit,
) -> Result<ProvingKey<G1Affine>, ProverError> {
    let params = params(srs)?;
    guarded("key generation", || {
        let vk: VerifyingKey<G1Affine> = gpu_plonk::keygen_vk_custom(&params, circuit, true)
            .map_err(|e| gpu_error("verifying key generation", e))?;
        gpu_plonk::keygen_pk(&params, vk, circuit)
            .map_err(|e| gpu_error("proving key generation", e))
    })
}

/// Proves `circuit` on the GPU into `transcript` (which already holds the common prefix).
pub fn create_proof(
    srs: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instance: &[Fr],
    transcript: &mut EvmTranscriptWrite<Vec<u8>>,
) -> Result<(), ProverError> {
    let params = params(srs)?;
    guarded("proving", || {
        gpu_plonk::create_proof::<
            GpuKzg<Bn256>,
            GpuShplonk<'_, Bn256>,
            Challenge255<G1Affine>,
            _,
            _,
            _,
        >(&params, pk, &[circuit], &[&[instance]], OsRng, transcript)
        .map_err(|e| gpu_error("proving", e))
    })
}

/// The GPU proving runs on, or why there is none.
pub fn info() -> Result<GpuInfo, String> {
    let ordinal = openvm_cuda_common::common::get_device()
        .map_err(|e| format!("no usable CUDA device: {e:?}"))?;
    Ok(GpuInfo {
        ordinal,
        memory_used: openvm_cuda_common::memory_manager::device_memory_used() as u64,
    })
}

/// Runs `f` while a thread samples the device memory in use; returns the peak seen.
pub fn with_memory_peak<T: Send>(f: impl FnOnce() -> T + Send) -> (T, u64) {
    let peak = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let sample = || {
        let used = openvm_cuda_common::memory_manager::device_memory_used() as u64;
        peak.fetch_max(used, Ordering::Relaxed);
    };
    // Stops the sampler when `f` returns or unwinds: the scope joins it before either leaves.
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                sample();
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let _stop = Stop(&done);
        let out = f();
        sample();
        out
    });
    (out, peak.load(Ordering::Relaxed))
}

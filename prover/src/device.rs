//! Where key generation and proving run: the CPU prover, or the CUDA prover of a build with the
//! `gpu` feature. Both use the same circuit, SRS, transcript and file formats.

use std::fmt;

/// The device that runs key generation or proving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// halo2's CPU prover (every build).
    #[default]
    Cpu,
    /// The CUDA prover (builds with the `gpu` feature, on a machine with an NVIDIA GPU).
    Gpu,
}

impl Device {
    /// `"cpu"` or `"gpu"`.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether this build has the CUDA prover.
pub const GPU_BUILT: bool = cfg!(feature = "gpu");

/// Why [`Device::Gpu`] cannot be used in a build without the `gpu` feature.
pub const NOT_BUILT: &str =
    "this zkml was built without the CUDA prover (build it with scripts/build-gpu.sh)";

/// Whether the CUDA prover can take a circuit laid out as `layout`: halo2-axiom-gpu proves
/// single-phase circuits only, so a layout that checks products by Freivalds' test (second-phase
/// columns) is refused before any device work.
pub fn check_gpu_supports(layout: &zkml_circuits::Layout) -> Result<(), crate::ProverError> {
    if layout.uses_freivalds() {
        return Err(crate::ProverError::GpuUnsupported(
            "this circuit checks products by Freivalds' test in a second challenge phase, \
             which the CUDA prover does not support; make its keys with `setup --device gpu` \
             or `--single-phase`, or prove with --device cpu"
                .into(),
        ));
    }
    Ok(())
}

/// A GPU that proving can use, or why there is none.
pub fn gpu_status() -> Result<GpuInfo, String> {
    #[cfg(feature = "gpu")]
    {
        crate::gpu::info()
    }
    #[cfg(not(feature = "gpu"))]
    {
        Err(NOT_BUILT.into())
    }
}

/// The GPU proving runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuInfo {
    /// CUDA device ordinal.
    pub ordinal: i32,
    /// Device memory in use (by every process on the device) when asked, bytes.
    pub memory_used: u64,
}

/// Runs `f`, sampling the GPU memory in use every few milliseconds; returns its result and the
/// peak seen (bytes; 0 on a build without the CUDA prover).
pub fn with_gpu_memory_peak<T: Send>(f: impl FnOnce() -> T + Send) -> (T, u64) {
    #[cfg(feature = "gpu")]
    {
        crate::gpu::with_memory_peak(f)
    }
    #[cfg(not(feature = "gpu"))]
    {
        (f(), 0)
    }
}

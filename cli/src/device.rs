//! `--device cpu|gpu|auto`: where `setup` and `prove` generate keys and prove.
//!
//! A build with the `gpu` feature proves on its GPU. The CUDA runtime of such a build claims the
//! device as the program loads, so it cannot start on a machine without one; the plain build
//! therefore stays the one on the path, and hands a `--device gpu|auto` run to the GPU build
//! installed beside it (`zkml-gpu`, made by scripts/build-gpu.sh) only where a GPU is present.
//! Elsewhere `auto` proves on the CPU.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use zkml_prover::Device;

/// The `--device` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// The CPU prover.
    Cpu,
    /// The GPU prover; an error where there is none.
    Gpu,
    /// The GPU where one is present and the GPU prover is installed, else the CPU.
    #[default]
    Auto,
}

/// The name of the GPU build beside the plain one.
pub const GPU_BINARY: &str = "zkml-gpu";

/// The device this process runs on for `arg`. In a plain build, a GPU run is handed to the GPU
/// build (the process is replaced and this never returns).
pub fn resolve(arg: DeviceArg) -> Result<Device> {
    if arg == DeviceArg::Cpu {
        return Ok(Device::Cpu);
    }
    if zkml_prover::device::GPU_BUILT {
        return match zkml_prover::device::gpu_status() {
            Ok(_) => Ok(Device::Gpu),
            Err(why) if arg == DeviceArg::Auto => {
                eprintln!("note: no usable GPU ({why}); proving on the CPU");
                Ok(Device::Cpu)
            }
            Err(why) => bail!("--device gpu: {why}"),
        };
    }
    let helper = gpu_binary();
    let gpu = gpu_present();
    match (&helper, &gpu) {
        (Some(helper), Ok(())) => hand_over(helper),
        _ if arg == DeviceArg::Auto => Ok(Device::Cpu),
        (None, _) => bail!(
            "--device gpu: {} (no {GPU_BINARY} beside this zkml)",
            zkml_prover::device::NOT_BUILT
        ),
        (Some(_), Err(why)) => bail!("--device gpu: {why}"),
    }
}

/// `zkml-gpu` in the directory of this executable, if installed.
fn gpu_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let helper = me.parent()?.join(GPU_BINARY);
    (helper.is_file() && helper != me).then_some(helper)
}

/// Whether an NVIDIA GPU is visible to this process: its device files exist and
/// `CUDA_VISIBLE_DEVICES` does not hide every device.
fn gpu_present() -> Result<(), String> {
    if let Ok(v) = std::env::var("CUDA_VISIBLE_DEVICES") {
        let v = v.trim();
        if v.is_empty() || v.starts_with('-') {
            return Err(format!("CUDA_VISIBLE_DEVICES={v:?} hides every GPU"));
        }
    }
    if !Path::new("/dev/nvidiactl").exists() || !Path::new("/dev/nvidia0").exists() {
        return Err("no NVIDIA GPU on this machine (no /dev/nvidia0)".into());
    }
    Ok(())
}

/// Replaces this process with the GPU build, same arguments.
#[cfg(unix)]
fn hand_over(helper: &Path) -> Result<Device> {
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(helper)
        .args(std::env::args_os().skip(1))
        .exec();
    bail!("cannot start {}: {err}", helper.display())
}

#[cfg(not(unix))]
fn hand_over(helper: &Path) -> Result<Device> {
    let status = std::process::Command::new(helper)
        .args(std::env::args_os().skip(1))
        .status()?;
    std::process::exit(status.code().unwrap_or(1))
}

/// Runs `f` on `device`, raising `peak` to the GPU memory peak seen while it ran.
pub fn run_on<T: Send>(device: Device, peak: &mut u64, f: impl FnOnce() -> T + Send) -> T {
    if device != Device::Gpu {
        return f();
    }
    let (out, seen) = zkml_prover::device::with_gpu_memory_peak(f);
    *peak = (*peak).max(seen);
    out
}

/// The GPU memory line of a run's summary, if it used the GPU.
pub fn memory_note(device: Device, peak: u64) -> Option<String> {
    (device == Device::Gpu).then(|| {
        format!(
            "GPU memory peak: {:.2} GiB (all processes on the device)",
            peak as f64 / (1u64 << 30) as f64
        )
    })
}

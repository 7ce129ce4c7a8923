//! `zkml setup MODEL.zkml` writes the proving and verifying keys.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use crate::common::{print_json, write_output, write_output_with};
use crate::device::{memory_note, run_on, DeviceArg};
use crate::groth16::BackendArg;
use crate::proving::{srs_for, VisibilityArgs};
use crate::stages::Stages;

#[derive(clap::Args)]
pub struct Args {
    /// The compiled program.
    pub program: PathBuf,
    /// KZG parameters in halo2's format (default: the SRS cache, else a locally generated,
    /// insecure SRS).
    #[arg(long, value_name = "FILE")]
    pub srs: Option<PathBuf>,
    /// Directory for pk.bin and vk.bin.
    #[arg(long, value_name = "DIR", default_value = "keys")]
    pub out: PathBuf,
    #[command(flatten)]
    pub visibility: VisibilityArgs,
    /// The proof system the keys are for.
    #[arg(long, value_enum, default_value_t = BackendArg::Halo2)]
    pub backend: BackendArg,
    /// Groth16: write the constraint system as an iden3 .r1cs file (for a ceremony's phase 2
    /// with snarkjs) and stop; no keys are made.
    #[arg(long, value_name = "FILE", conflicts_with = "zkey")]
    pub export_r1cs: Option<PathBuf>,
    /// Groth16: take the keys from a ceremony's final snarkjs .zkey (made from the .r1cs that
    /// --export-r1cs writes, with the same visibility options) instead of a local setup.
    #[arg(long, value_name = "FILE")]
    pub zkey: Option<PathBuf>,
    /// Where to generate the keys: the GPU where one is present and the GPU prover is installed
    /// (auto), or cpu, or gpu.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Cut the program into this many segments and make each one's keys
    /// (DIR/segment-I.pk.bin, DIR/segment-I.vk.bin) and the plan file DIR/segments.json, for
    /// `zkml witness`, `prove --segment` and `zkml chain`.
    #[arg(long, value_name = "N", conflicts_with = "max_logrows")]
    pub segments: Option<usize>,
    /// Cut the program into the fewest segments whose circuits have at most 2^K rows (as
    /// --segments does).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(6..=26))]
    pub max_logrows: Option<u32>,
    /// Cut the program into the fewest segments each estimated to prove within this many
    /// gigabytes of memory (as --segments does; the estimate is `inspect --segments`'
    /// memory column).
    #[arg(long, value_name = "GB", conflicts_with_all = ["segments", "max_logrows"])]
    pub max_memory: Option<f64>,
    /// Replace existing files even if they were not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// How the flags ask for the program to be cut.
    pub(crate) fn request(&self) -> crate::chain::Request {
        crate::chain::Request {
            segments: self.segments,
            max_logrows: self.max_logrows,
            max_memory: self.max_memory,
            whole: None,
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.backend == BackendArg::Groth16 {
        return crate::groth16::setup(&args);
    }
    if args.export_r1cs.is_some() || args.zkey.is_some() {
        anyhow::bail!("--export-r1cs and --zkey are for the groth16 backend (--backend groth16)");
    }
    let device = crate::device::resolve(args.device)?;
    let mut gpu_peak = 0;
    let mut stages = Stages::new(args.json);
    let visibility = args.visibility.config();
    let program = stages
        .run("load program", || zkml_ir::format::load(&args.program))
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    if crate::chain::segmented(&program, args.request())? {
        return crate::jobs::setup(&args, &program, &mut stages);
    }
    // The fastest shape, whatever its size (no budget): kept in the plan cache like one-shot
    // proving's.
    let circuit = stages.run("size circuit", || {
        crate::plan_cache::whole_circuit(
            &program,
            &args.visibility,
            device,
            &crate::chain::Request::default(),
            &|_| true,
        )
    })?;
    let (srs, source) = srs_for(circuit.k, args.srs.as_deref(), &mut stages)?;
    let (pk, vk) = stages.run(&format!("generate keys ({device})"), || {
        run_on(device, &mut gpu_peak, || {
            zkml_prover::generate_keys_on(device, &program, circuit, visibility, &srs)
        })
    })?;
    let pk_path = args.out.join("pk.bin");
    let vk_path = args.out.join("vk.bin");
    let vk_bytes = vk.to_bytes();
    let mut pk_bytes = 0;
    stages.run("write keys", || -> Result<()> {
        write_output_with(
            &pk_path,
            args.force,
            crate::groth16::is_key_file,
            &[&args.program],
            |file| {
                pk_bytes = pk.write_to(file)?;
                Ok(())
            },
        )?;
        write_output(
            &vk_path,
            &vk_bytes,
            args.force,
            crate::groth16::is_key_file,
            &[&args.program],
        )
    })?;
    if args.json {
        return print_json(&json!({
            "pk": pk_path, "vk": vk_path, "pk_bytes": pk_bytes, "vk_bytes": vk_bytes.len(),
            "circuit": circuit, "cost_estimate": zkml_circuits::cost::estimate(&circuit, circuit.k),
            "cost_terms": zkml_circuits::cost::terms(&circuit), "srs": source, "device": device.name(),
            "gpu_memory_peak_bytes": (device == zkml_prover::Device::Gpu).then_some(gpu_peak), "timings": stages.json(),
        }));
    }
    let streams = if circuit.fold > 0 {
        format!(
            "folded into 1 advice and {} coefficient columns (stride {}), range checks by bits, {} table streams",
            circuit.fold, circuit.stride(), circuit.table_streams
        )
    } else {
        format!(
            "{} range + {} table streams{}{}",
            circuit.range_streams,
            circuit.table_streams,
            if circuit.banks() > 1 {
                format!(" over {} table banks", circuit.banks())
            } else {
                String::new()
            },
            if circuit.freivalds {
                ", products checked by Freivalds' test"
            } else {
                ""
            }
        )
    };
    if let Some(note) = memory_note(device, gpu_peak) {
        println!("{note}");
    }
    println!(
        "wrote {} ({} bytes) and {} ({} bytes); circuit 2^{} rows, {} lanes, {} result lanes, {streams}",
        pk_path.display(), pk_bytes, vk_path.display(), vk_bytes.len(), circuit.k, circuit.lanes, circuit.results
    );
    Ok(())
}

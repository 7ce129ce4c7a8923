//! `zkml compile MODEL.onnx [--calibration INPUT.json]... -o MODEL.zkml`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::common::{compile_model, import, print_json, write_output, ModelArgs};
use crate::stages::Stages;

#[derive(clap::Args)]
pub struct Args {
    /// The ONNX model.
    pub model: PathBuf,
    /// Where to write the compiled program.
    #[arg(short, long, value_name = "MODEL.zkml")]
    pub output: PathBuf,
    #[command(flatten)]
    pub model_args: ModelArgs,
    /// Plan the cuts of the program into this many segments now and record them in it:
    /// `setup` and `prove` then prove it as those segments without being asked (see
    /// `prove --segments`). The cuts are planned for the default visibility (public inputs
    /// and outputs, fixed parameters); `setup` names any cut another visibility rules out.
    #[arg(long, value_name = "N", conflicts_with = "max_logrows")]
    pub segments: Option<usize>,
    /// Plan the fewest segments whose circuits have at most 2^K rows, and record them with
    /// the bound (as --segments does): `setup` and `prove` size each segment within it.
    #[arg(long, value_name = "K", conflicts_with = "max_memory")]
    pub max_logrows: Option<u32>,
    /// Plan the fewest segments each estimated to prove within this many gigabytes, and
    /// record them with the budget (as --segments does): `setup` and `prove` size each
    /// segment within it.
    #[arg(long, value_name = "GB", conflicts_with = "segments")]
    pub max_memory: Option<f64>,
    /// The circuit shapes the cuts are planned for (as `prove --optimize`): plan with the
    /// shapes the program will be proven with, since fewer columns take more rows.
    #[arg(long, value_enum, default_value = "proving")]
    pub optimize: crate::proving::OptimizeArg,
    /// Replace the output file even if it was not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let cut_asked =
        args.segments.is_some() || args.max_logrows.is_some() || args.max_memory.is_some();
    if args.optimize != crate::proving::OptimizeArg::Proving && !cut_asked {
        bail!("--optimize chooses the shapes the cuts are planned for: give --segments, --max-logrows or --max-memory with it (the shapes themselves are chosen at setup and prove)");
    }
    let mut stages = Stages::new(args.json);
    let calibration = args.model_args.calibration_inputs()?;
    let model = import(
        &args.model,
        &args.model_args,
        calibration.first().map(Vec::as_slice),
        &mut stages,
    )?;
    let (mut program, report) = compile_model(&model, &calibration, &args.model_args, &mut stages)?;
    let request = crate::chain::Request {
        segments: args.segments,
        max_logrows: args.max_logrows,
        max_memory: args.max_memory,
        whole: None,
    };
    let cuts = if cut_asked {
        let visibility = crate::proving::VisibilityArgs {
            optimize: args.optimize,
            ..Default::default()
        };
        let (cut, circuits) = stages.run("plan segments", || {
            crate::chain::plan(&program, &visibility, zkml_prover::Device::Cpu, request)
        })?;
        zkml_ir::segment::set_cuts(&mut program, &cut.cuts, &request.flags())?;
        Some((cut.cuts, circuits.iter().map(|c| c.k).collect::<Vec<_>>()))
    } else {
        None
    };
    let bytes = zkml_ir::format::to_bytes(&program);
    let mut inputs = vec![args.model.as_path()];
    inputs.extend(args.model_args.calibration.iter().map(|p| p.as_path()));
    stages
        .run("write", || {
            write_output(
                &args.output,
                &bytes,
                args.force,
                zkml_ir::format::is_program,
                &inputs,
            )
        })
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if args.json {
        return print_json(&json!({
            "program": args.output,
            "nodes": program.nodes.len(),
            "parameters": program.parameter_count(),
            "lookup_tables": program.tables.len(),
            "value_bits": program.value_bits,
            "cuts": cuts.as_ref().map(|(c, _)| c),
            "segment_logrows": cuts.as_ref().map(|(_, k)| k),
            "calibration": report,
            "timings": stages.json(),
        }));
    }
    println!(
        "wrote {} ({} nodes, {} parameters, {} lookup tables, {}-bit values)",
        args.output.display(),
        program.nodes.len(),
        program.parameter_count(),
        program.tables.len(),
        program.value_bits
    );
    if let Some((cuts, ks)) = &cuts {
        println!(
            "planned {} segment(s), cut before node(s) {cuts:?}: circuits of 2^{ks:?} rows (setup and prove use them)",
            ks.len()
        );
    }
    if report.synthetic {
        println!("warning: no calibration data given; scales were chosen from {} synthetic standard-normal inputs. Pass --calibration for scales that fit your data.", report.samples);
    }
    println!(
        "error after calibration ({} input{}):",
        report.samples,
        if report.samples == 1 { "" } else { "s" }
    );
    println!(
        "  {:<24} {:>14} {:>14} {:>10}",
        "output", "max abs error", "max |float|", "relative"
    );
    for o in &report.outputs {
        println!(
            "  {:<24} {:>14.6} {:>14.6} {:>9.4}%",
            o.name,
            o.max_abs_error,
            o.max_abs_value,
            100.0 * o.relative_error
        );
    }
    if !report.worst_values.is_empty() {
        println!("Intermediate values with the largest relative error (first calibration input):");
        for o in &report.worst_values {
            println!(
                "  {:<40} {:>9.4}% of {:.6} (scale 2^{})",
                o.name,
                100.0 * o.relative_error,
                o.max_abs_value,
                o.scale
            );
        }
    }
    Ok(())
}

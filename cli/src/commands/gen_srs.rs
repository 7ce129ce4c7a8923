//! `zkml gen-srs (--logrows K | --for MODEL.zkml)`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;
use zkml_prover::srs::{self, SrsCache, INSECURE_SRS_WARNING};

use crate::common::{print_json, write_output};
use crate::proving::VisibilityArgs;
use crate::stages::Stages;

#[derive(clap::Args)]
pub struct Args {
    /// log2 of the number of points (the largest circuit size it serves).
    #[arg(
        long,
        value_name = "K",
        required_unless_present = "for_program",
        conflicts_with = "for_program"
    )]
    pub logrows: Option<u32>,
    /// Size the SRS for this compiled program's circuit (with the visibility flags below).
    #[arg(long = "for", value_name = "MODEL.zkml")]
    pub for_program: Option<PathBuf>,
    #[command(flatten)]
    pub visibility: VisibilityArgs,
    /// Where to write it (default: the SRS cache, where setup and prove look).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Seed for a reproducible SRS (default: operating-system randomness).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replace the output file even if it was not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(mut args: Args) -> Result<()> {
    let mut stages = Stages::new(args.json);
    let mut sized = None;
    if let Some(program) = &args.for_program {
        let loaded = stages
            .run("load program", || zkml_ir::format::load(program))
            .with_context(|| format!("cannot read {}", program.display()))?;
        let circuit = stages.run("size circuit", || args.visibility.circuit(&loaded))?;
        args.logrows = Some(circuit.k);
        sized = Some(circuit);
    }
    let logrows = args.logrows.unwrap_or_default();
    if !(4..=26).contains(&logrows) {
        bail!("--logrows must be between 4 and 26, got {logrows}");
    }
    eprintln!("{INSECURE_SRS_WARNING}");
    let params = stages.run("generate SRS", || {
        Ok::<_, anyhow::Error>(match args.seed {
            Some(s) => srs::generate(logrows, s),
            None => srs::generate_random(logrows),
        })
    })?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| SrsCache::new(SrsCache::default_dir()).path(logrows));
    let tmp = std::env::temp_dir().join(format!("zkml-srs-{}.tmp", std::process::id()));
    srs::save(&params, &tmp)?;
    let bytes = std::fs::read(&tmp)?;
    std::fs::remove_file(&tmp).ok();
    // A file we may replace: an SRS of the same format (it starts with the k word).
    stages.run("write", || {
        write_output(
            &path,
            &bytes,
            args.force,
            |old| old.len() >= 4 && old[..4] == bytes[..4],
            &[],
        )
    })?;
    if args.json {
        return print_json(
            &json!({"srs": path, "logrows": logrows, "circuit": sized, "insecure": true, "warning": INSECURE_SRS_WARNING, "timings": stages.json()}),
        );
    }
    println!(
        "wrote {} (2^{} points, INSECURE: testing only)",
        path.display(),
        logrows
    );
    Ok(())
}

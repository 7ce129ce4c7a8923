//! `zkml verify --proof P --vk VK`: exit 0 when valid, 1 when invalid, 2 on unreadable input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::proving::ProofFile;

#[derive(clap::Args)]
pub struct Args {
    /// The proof file (proof.json).
    #[arg(long, value_name = "PROOF")]
    pub proof: PathBuf,
    /// The verifying key (vk.bin).
    #[arg(long, value_name = "VK")]
    pub vk: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn read(args: &Args) -> Result<(zkml_verifier::VerifyingKey, Vec<u8>, Vec<zkml_verifier::Fr>)> {
    let vk_bytes = std::fs::read(&args.vk).with_context(|| format!("cannot read {}", args.vk.display()))?;
    let vk = zkml_verifier::VerifyingKey::from_bytes(&vk_bytes).with_context(|| format!("verifying key {}", args.vk.display()))?;
    let text = std::fs::read_to_string(&args.proof).with_context(|| format!("cannot read {}", args.proof.display()))?;
    let file: ProofFile = serde_json::from_str(&text).with_context(|| format!("proof file {} is not valid", args.proof.display()))?;
    let (proof, instances) = file.decode().with_context(|| format!("proof file {}", args.proof.display()))?;
    Ok((vk, proof, instances))
}

pub fn run(args: Args) -> ExitCode {
    let (vk, proof, instances) = match read(&args) {
        Ok(v) => v,
        Err(e) => {
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    let start = std::time::Instant::now();
    let result = zkml_verifier::verify_with_key(&vk, &proof, &instances);
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            if args.json {
                println!("{}", json!({"verified": true, "seconds": secs}));
            } else {
                println!("proof is valid ({:.3} s)", secs);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"verified": false, "error": e.to_string()}));
            }
            eprintln!("INVALID: {e}");
            ExitCode::from(1)
        }
    }
}

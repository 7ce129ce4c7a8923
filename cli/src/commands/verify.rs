//! `zkml verify --proof P --vk VK [--input INPUT.json] [--vk-digest HEX]`: exit 0 when valid, 1
//! when invalid (a key other than the pinned one included), 2 on unreadable input.
//!
//! Beyond the proof itself, the outputs listed in the proof file are checked against the proven
//! instance (public outputs must equal it, hashed outputs must hash to it; private outputs are
//! reported as unproven), and so is the input file when one is given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use crate::claims::{self, Binding};
use crate::proving::ProofFile;

#[derive(clap::Args)]
pub struct Args {
    /// The proof file (proof.json).
    #[arg(long, value_name = "PROOF")]
    pub proof: PathBuf,
    /// The verifying key (vk.bin); a chain file names its keys itself.
    #[arg(long, value_name = "VK")]
    pub vk: Option<PathBuf>,
    /// Also check that the proof was made for this input (public or hashed inputs).
    #[arg(long, value_name = "INPUT.json")]
    pub input: Option<PathBuf>,
    /// Require this verifying key: its digest (`zkml inspect vk.bin` prints it), 32 bytes of
    /// hex. Without it any well-formed key is taken, and the output says which one it was.
    #[arg(long, value_name = "HEX", value_parser = parse_digest)]
    pub vk_digest: Option<[u8; 32]>,
    /// Require this chain of verifying keys (a chain file's `chain_digest`), 32 bytes of hex.
    #[arg(long, value_name = "HEX", value_parser = parse_digest)]
    pub chain_digest: Option<[u8; 32]>,
    /// Require a key of this proof system (by default the key file's header decides).
    #[arg(long, value_enum)]
    pub backend: Option<crate::groth16::BackendArg>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_digest(s: &str) -> Result<[u8; 32], String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(digits).map_err(|e| format!("'{s}' is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a key digest is 32 bytes, '{s}' holds {}", b.len()))
}

struct Read {
    vk: zkml_verifier::Key,
    file: ProofFile,
    proof: Vec<u8>,
    instances: Vec<zkml_verifier::Fr>,
    input: Option<Vec<Vec<f64>>>,
}

fn read(args: &Args, text: &str) -> Result<Read> {
    let Some(vk_path) = &args.vk else {
        anyhow::bail!("--vk is required for a proof file (only a chain file names its keys)");
    };
    let vk_bytes =
        std::fs::read(vk_path).with_context(|| format!("cannot read {}", vk_path.display()))?;
    let vk = zkml_verifier::Key::from_bytes(&vk_bytes)
        .with_context(|| format!("verifying key {}", vk_path.display()))?;
    if vk
        .model()
        .public
        .iter()
        .any(|p| matches!(p, zkml_verifier::vk::PublicPart::Link { .. }))
    {
        anyhow::bail!(
            "{} is the key of one segment of a cut program: verify the chain file instead",
            vk_path.display()
        );
    }
    let (file, proof, instances) =
        parse_proof_file(text).with_context(|| format!("proof file {}", args.proof.display()))?;
    let input = args
        .input
        .as_deref()
        .map(crate::common::read_input)
        .transpose()?;
    Ok(Read {
        vk,
        file,
        proof,
        instances,
        input,
    })
}

/// A proof file's text, decoded: the file, its proof bytes and its instance (errors name the
/// broken field).
pub fn parse_proof_file(text: &str) -> Result<(ProofFile, Vec<u8>, Vec<zkml_verifier::Fr>)> {
    let file: ProofFile = serde_json::from_str(text).context("not a valid proof file")?;
    let (proof, instances) = file.decode()?;
    Ok((file, proof, instances))
}

/// Verifies a decoded proof file with `vk`, then checks what the file (and `input`, if given)
/// claims against the proven instance.
pub fn check_proof(
    vk: &zkml_verifier::Key,
    file: &ProofFile,
    proof: &[u8],
    instances: &[zkml_verifier::Fr],
    input: Option<&[Vec<f64>]>,
) -> Result<claims::Claims> {
    if file.backend != vk.backend().name() {
        anyhow::bail!(
            "the proof was made by the {} backend, but the verifying key is a {} key",
            file.backend,
            vk.backend()
        );
    }
    vk.verify(proof, instances)?;
    let words: Vec<[u8; 32]> = instances
        .iter()
        .map(zkml_verifier::encoding::fr_to_be)
        .collect();
    claims::check(vk.model(), &vk.key_digest(), file, &words, input)
}

pub(crate) fn describe(b: Binding, what: &str) -> String {
    match b {
        Binding::Proven => format!("{what}: proven (public values)"),
        Binding::HashMatches => format!("{what}: proven (match the public hash)"),
        Binding::Unproven => format!("{what}: NOT proven (private)"),
        Binding::NotChecked => format!("{what}: not checked"),
    }
}

pub fn run(args: Args) -> ExitCode {
    let text = match std::fs::read_to_string(&args.proof)
        .with_context(|| format!("cannot read {}", args.proof.display()))
    {
        Ok(t) => t,
        Err(e) => {
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    if crate::aggregate::aggregate_file_bytes(text.as_bytes()) {
        if args.chain_digest.is_some() {
            let e = anyhow::anyhow!(
                "{} is an aggregate file: pin its verifier with --vk-digest (--chain-digest pins a chain file's keys)",
                args.proof.display()
            );
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
        return crate::aggregate::verify(
            &args.proof,
            &text,
            args.vk.as_deref(),
            args.vk_digest,
            args.input.as_deref(),
            args.json,
        );
    }
    if crate::chain::chain_file_bytes(text.as_bytes()) {
        if args.vk.is_some() || args.vk_digest.is_some() {
            let e = anyhow::anyhow!(
                "{} is a chain file, which names its keys: pin them with --chain-digest, not --vk or --vk-digest",
                args.proof.display()
            );
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
        return crate::chain::verify(
            &args.proof,
            &text,
            args.chain_digest,
            args.input.as_deref(),
            args.json,
        );
    }
    if args.chain_digest.is_some() {
        let e = anyhow::anyhow!(
            "--chain-digest pins a chain file; {} is a proof file",
            args.proof.display()
        );
        crate::common::report_error(&e, args.json);
        return ExitCode::from(2);
    }
    let r = match read(&args, &text) {
        Ok(v) => v,
        Err(e) => {
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    if let Some(b) = args.backend.filter(|b| b.name() != r.vk.backend().name()) {
        let e = anyhow::anyhow!(
            "--backend {} was given, but {} is a {} key",
            b.name(),
            args.vk.as_deref().unwrap_or(Path::new("")).display(),
            r.vk.backend()
        );
        crate::common::report_error(&e, args.json);
        return ExitCode::from(2);
    }
    let start = std::time::Instant::now();
    let digest = r.vk.key_digest();
    let pinned = match args.vk_digest {
        Some(expected) if expected != digest => {
            Err(anyhow::Error::from(zkml_verifier::KeyError::NotPinned {
                expected: zkml_verifier::encoding::hex0x(&expected),
                found: zkml_verifier::encoding::hex0x(&digest),
            }))
        }
        _ => Ok(()),
    };
    let result = pinned
        .and_then(|()| check_proof(&r.vk, &r.file, &r.proof, &r.instances, r.input.as_deref()));
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(c) => {
            if args.json {
                println!(
                    "{}",
                    json!({
                        "verified": true,
                        "backend": r.vk.backend().name(),
                        "seconds": secs,
                        "outputs": c.outputs,
                        "input": c.input,
                        "parameters_hash": c.parameters_hash,
                        "vk_digest": zkml_verifier::encoding::hex0x(&digest),
                        "vk_pinned": args.vk_digest.is_some(),
                    })
                );
            } else {
                println!("proof is valid ({}, {secs:.3} s)", r.vk.backend());
                let key = zkml_verifier::encoding::hex0x(&digest);
                if args.vk_digest.is_some() {
                    println!("verifying key: {key} (the pinned one)");
                } else {
                    println!("verifying key: {key} (not pinned: pass --vk-digest to require it)");
                }
                println!("{}", describe(c.outputs, "outputs in the proof file"));
                if args.input.is_some() {
                    println!("{}", describe(c.input, "input file"));
                }
                if let Some(h) = &c.parameters_hash {
                    println!("parameter hash: {h}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"verified": false, "error": format!("{e:#}")}));
            }
            eprintln!("INVALID: {e:#}");
            ExitCode::from(1)
        }
    }
}

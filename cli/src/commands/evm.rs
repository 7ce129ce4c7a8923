//! The EVM commands: `create-evm-verifier`, `encode-calldata` and `verify-evm`.
//!
//! `create-evm-verifier --vk VK --out DIR` writes, into `DIR`:
//!
//! | file | contents |
//! |---|---|
//! | `src/ZkmlVerifier.sol` | the generated Solidity verifier (Foundry/Hardhat layout) |
//! | `ZkmlVerifier.abi.json` | its ABI |
//! | `ZkmlVerifier.bin` | creation bytecode, hex (what a deployment transaction carries) |
//! | `ZkmlVerifier.runtime.bin` | deployed bytecode, hex |
//! | `ZkmlVerifierKey0.bin`, ... | creation code of each key contract (deployed first), hex |
//! | `verifier.json` | manifest: key digest, compiler, sizes, ABI and all bytecode |
//! | `vk.bin` | the verifying key the verifier was made from |
//!
//! `verify-evm` deploys the manifest's key contracts and verifier in an in-process EVM, in
//! that order, and calls `verifyProof` with a proof file's calldata. With the directory's
//! `vk.bin` (its digest checked against the manifest's) it then checks the proof file's other
//! fields as `zkml verify` does: the outputs it lists are the proven ones.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zkml_contracts::{abi, evm::Evm, GateCode, VerifierArtifacts, CONTRACT_NAME};

use crate::common::{print_json, write_output};
use crate::proving::ProofFile;
use crate::stages::Stages;

/// The verifying key's copy beside the verifier.
const VK_FILE: &str = "vk.bin";

/// Format tag of `verifier.json`.
const MANIFEST_FORMAT: &str = "zkml-evm-verifier";
const MANIFEST_VERSION: u32 = 2;

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The verifying key (vk.bin).
    #[arg(long, value_name = "VK")]
    pub vk: PathBuf,
    /// Directory for the verifier's files.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "evm-verifier")]
    pub out: PathBuf,
    /// Replace existing files even if zkml did not write them.
    #[arg(long)]
    pub force: bool,
    /// Require this proof system (by default the files' headers decide).
    #[arg(long, value_enum)]
    pub backend: Option<crate::groth16::BackendArg>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct CalldataArgs {
    /// The proof file (proof.json).
    #[arg(long, value_name = "PROOF")]
    pub proof: PathBuf,
    /// Require this proof system (by default the files' headers decide).
    #[arg(long, value_enum)]
    pub backend: Option<crate::groth16::BackendArg>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The proof file (proof.json).
    #[arg(long, value_name = "PROOF")]
    pub proof: PathBuf,
    /// The directory `create-evm-verifier` wrote. Not for a chain file, whose verifiers (one
    /// per segment, and the chain contract over them) are generated from the keys it names.
    #[arg(long, value_name = "DIR")]
    pub verifier: Option<PathBuf>,
    /// Require this proof system (by default the files' headers decide).
    #[arg(long, value_enum)]
    pub backend: Option<crate::groth16::BackendArg>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Whether an existing file's bytes are ones zkml wrote (and may replace).
type Recognizer = fn(&[u8]) -> bool;

/// `verifier.json`.
#[derive(Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    contract: String,
    /// Keccak-256 of the verifying key, hex with `0x` (as in proof files).
    vk_digest: String,
    program_digest: String,
    solc_version: String,
    abi: serde_json::Value,
    /// Creation code of the verifier, without its constructor arguments (the key contracts'
    /// addresses).
    bytecode: String,
    deployed_bytecode: String,
    /// Creation code of each key contract, in constructor-argument order (version 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    key_bytecodes: Vec<String>,
    /// Creation code of the one key contract (version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_bytecode: Option<String>,
    runtime_size: usize,
    num_instances: usize,
    proof_len: usize,
    /// The proof system (manifests without the field are halo2's).
    #[serde(default = "halo2_name")]
    backend: String,
}

fn halo2_name() -> String {
    "halo2".into()
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim().strip_prefix("0x").unwrap_or(s.trim()))
        .with_context(|| format!("{what} is not hex"))
}

fn is_manifest(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v["format"] == MANIFEST_FORMAT)
}

fn is_hex_file(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| {
        let t = s.trim();
        t.strip_prefix("0x")
            .unwrap_or(t)
            .bytes()
            .all(|c| c.is_ascii_hexdigit())
    })
}

fn is_our_abi(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v == abi::abi_json())
}

fn is_generated_source(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| s.contains(zkml_contracts::GENERATED_MARKER))
}

pub fn create(args: CreateArgs) -> Result<()> {
    let mut stages = Stages::new(args.json);
    let vk_bytes =
        std::fs::read(&args.vk).with_context(|| format!("cannot read {}", args.vk.display()))?;
    let vk = zkml_verifier::Key::from_bytes(&vk_bytes)
        .with_context(|| format!("verifying key {}", args.vk.display()))?;
    require_backend(args.backend, vk.backend().name(), &args.vk)?;
    let built: VerifierArtifacts = stages.run("generate + compile (solc)", || {
        zkml_contracts::build_for(&vk).context("cannot build the EVM verifier")
    })?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        version: MANIFEST_VERSION,
        contract: CONTRACT_NAME.into(),
        vk_digest: hex0x(&zkml_prover::keys::keccak(&vk_bytes)),
        program_digest: hex0x(&vk.model().program_digest),
        solc_version: zkml_contracts::solc::SOLC_VERSION.into(),
        abi: built.compiled.abi.clone(),
        bytecode: hex0x(&built.compiled.bytecode),
        deployed_bytecode: hex0x(&built.compiled.runtime),
        key_bytecodes: built.key_parts.iter().map(|k| hex0x(&k.creation)).collect(),
        key_bytecode: None,
        runtime_size: built.compiled.runtime.len(),
        num_instances: vk
            .model()
            .public
            .iter()
            .map(|p| p.instance_len() as usize)
            .sum(),
        proof_len: built.proof_len,
        backend: vk.backend().name().into(),
    };
    let out = &args.out;
    let inputs = [args.vk.as_path()];
    let mut files: Vec<(PathBuf, Vec<u8>, Recognizer)> = vec![
        (
            out.join("src").join(format!("{CONTRACT_NAME}.sol")),
            built.source.clone().into_bytes(),
            is_generated_source,
        ),
        (
            out.join(format!("{CONTRACT_NAME}.abi.json")),
            serde_json::to_vec_pretty(&abi::abi_json())?,
            is_our_abi,
        ),
        (
            out.join(format!("{CONTRACT_NAME}.bin")),
            format!("{}\n", hex::encode(&built.compiled.bytecode)).into_bytes(),
            is_hex_file,
        ),
        (
            out.join(format!("{CONTRACT_NAME}.runtime.bin")),
            format!("{}\n", hex::encode(&built.compiled.runtime)).into_bytes(),
            is_hex_file,
        ),
        (
            out.join("verifier.json"),
            serde_json::to_vec_pretty(&manifest)?,
            is_manifest,
        ),
    ];
    files.push((
        out.join(VK_FILE),
        vk_bytes.clone(),
        crate::groth16::is_key_file,
    ));
    for (i, part) in built.key_parts.iter().enumerate() {
        files.push((
            out.join(format!("{CONTRACT_NAME}Key{i}.bin")),
            format!("{}\n", hex::encode(&part.creation)).into_bytes(),
            is_hex_file,
        ));
    }
    // Check every destination before writing any, so a refusal leaves nothing half written.
    for (path, _, ours) in &files {
        if path.exists() && !args.force {
            let existing = std::fs::read(path)
                .with_context(|| format!("cannot read existing {}", path.display()))?;
            if !ours(&existing) {
                bail!("refusing to overwrite {}: it exists and was not written by zkml (use --force to replace it)", path.display());
            }
        }
    }
    for (path, bytes, ours) in &files {
        write_output(path, bytes, args.force, ours, &inputs)?;
    }
    let paths: Vec<String> = files
        .iter()
        .map(|(p, _, _)| p.display().to_string())
        .collect();
    if args.json {
        print_json(&json!({
            "verifier": out.display().to_string(),
            "files": paths,
            "runtime_size": manifest.runtime_size,
            "creation_size": built.compiled.bytecode.len(),
            "key_size": built.key_size(),
            "key_contracts": built.key_parts.len(),
            "backend": manifest.backend,
            "gates": built.gates.map(|g| match g {
                GateCode::Inline => "inline",
                GateCode::Interpreted => "interpreted",
            }),
            "solc_version": manifest.solc_version,
            "timings": stages.json(),
        }))?;
    } else {
        println!(
            "EVM verifier written to {} (runtime {} bytes of the 24,576 allowed; key data {} bytes in {} key contract{}{}; solc {})",
            out.display(),
            manifest.runtime_size,
            built.key_size(),
            built.key_parts.len(),
            if built.key_parts.len() == 1 { "" } else { "s" },
            if built.gates == Some(GateCode::Interpreted) {
                "; gates interpreted from the key data, as inline code would not fit"
            } else {
                ""
            },
            manifest.solc_version
        );
        for p in &paths {
            println!("  {p}");
        }
    }
    Ok(())
}

fn read_proof(path: &Path) -> Result<(ProofFile, Vec<u8>, Vec<[u8; 32]>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: ProofFile = serde_json::from_str(&text)
        .with_context(|| format!("proof file {} is not valid", path.display()))?;
    let (proof, instances) = file
        .decode()
        .with_context(|| format!("proof file {}", path.display()))?;
    let words = instances
        .iter()
        .map(zkml_verifier::encoding::fr_to_be)
        .collect();
    Ok((file, proof, words))
}

/// Requires `--backend`, when given, to be `found`, the backend of the file at `path`.
fn require_backend(
    given: Option<crate::groth16::BackendArg>,
    found: &str,
    path: &Path,
) -> Result<()> {
    match given {
        Some(b) if b.name() != found => bail!(
            "--backend {} was given, but {} is for the {found} backend",
            b.name(),
            path.display()
        ),
        _ => Ok(()),
    }
}

pub fn calldata(args: CalldataArgs) -> Result<()> {
    let (file, proof, words) = read_proof(&args.proof)?;
    require_backend(args.backend, &file.backend, &args.proof)?;
    let data = abi::calldata(&proof, &words);
    if args.json {
        print_json(&json!({
            "calldata": hex0x(&data),
            "bytes": data.len(),
            "function": abi::SIGNATURE,
            "selector": hex0x(&abi::selector()),
        }))?;
    } else {
        println!("{}", hex0x(&data));
    }
    Ok(())
}

/// The verifying key beside a verifier, if there is one; it must be the manifest's.
fn read_key(dir: &Path, m: &Manifest) -> Result<Option<zkml_verifier::Key>> {
    let path = dir.join(VK_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if !hex0x(&zkml_prover::keys::keccak(&bytes)).eq_ignore_ascii_case(&m.vk_digest) {
        bail!(
            "{} is not the key this verifier was made from (its digest differs from verifier.json's)",
            path.display()
        );
    }
    let vk = zkml_verifier::Key::from_bytes(&bytes)
        .with_context(|| format!("verifying key {}", path.display()))?;
    Ok(Some(vk))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("verifier.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let m: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a zkml verifier manifest", path.display()))?;
    if m.format != MANIFEST_FORMAT {
        bail!("{} is not a zkml verifier manifest", path.display());
    }
    let well_formed = match m.version {
        // Version 1: exactly one key contract, under `key_bytecode`.
        1 => m.key_bytecode.is_some() && m.key_bytecodes.is_empty(),
        // A Groth16 verifier whose bases are inline has no key contract.
        MANIFEST_VERSION => {
            m.key_bytecode.is_none() && (m.backend == "groth16" || !m.key_bytecodes.is_empty())
        }
        _ => bail!(
            "{}: manifest version {} is not supported (this build reads versions 1 and {MANIFEST_VERSION})",
            path.display(),
            m.version
        ),
    };
    if !well_formed {
        bail!(
            "{}: a version {} manifest must list its key contracts under `{}`",
            path.display(),
            m.version,
            if m.version == 1 {
                "key_bytecode"
            } else {
                "key_bytecodes"
            }
        );
    }
    Ok(m)
}

/// `verify-evm`: exit 0 when the contract accepts, 1 when it rejects, 2 on unreadable input.
pub fn verify(args: VerifyArgs) -> ExitCode {
    if std::fs::read(&args.proof).is_ok_and(|b| crate::chain::chain_file_bytes(&b)) {
        return verify_chain(&args);
    }
    if std::fs::read(&args.proof).is_ok_and(|b| crate::aggregate::aggregate_file_bytes(&b)) {
        return crate::aggregate::verify_evm(&args.proof, args.json);
    }
    let Some(verifier_dir) = args.verifier.clone() else {
        let e = anyhow::anyhow!(
            "--verifier (the directory create-evm-verifier wrote) is required for a proof file"
        );
        crate::common::report_error(&e, args.json);
        return ExitCode::from(2);
    };
    let read = read_proof(&args.proof).and_then(|p| {
        let m = read_manifest(&verifier_dir)?;
        let code = unhex(&m.bytecode, "the manifest's bytecode")?;
        let keys = m
            .key_bytecode
            .iter()
            .chain(&m.key_bytecodes)
            .enumerate()
            .map(|(i, k)| unhex(k, &format!("the manifest's key contract {i}")))
            .collect::<Result<Vec<_>>>()?;
        require_backend(args.backend, &m.backend, &verifier_dir)?;
        let vk = read_key(&verifier_dir, &m)?;
        Ok((p, m, code, keys, vk))
    });
    let ((file, proof, words), manifest, code, key_codes, vk) = match read {
        Ok(v) => v,
        Err(e) => {
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    let mut evm = Evm::new();
    let key_codes: Vec<&[u8]> = key_codes.iter().map(Vec::as_slice).collect();
    let outcome = evm
        .deploy_with_keys(&code, &key_codes)
        .and_then(|addr| evm.call(addr, abi::calldata(&proof, &words)));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let e = anyhow::Error::from(e).context("the local EVM could not run the verifier");
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    let accepted = outcome.returned_true();
    // The contract has checked the proof against the instances; the file's readable fields
    // (outputs, public account, digests) are checked against the key like `verify` does.
    let claims = match (&vk, accepted) {
        (Some(vk), true) => Some(crate::claims::check(
            vk.model(),
            &vk.key_digest(),
            &file,
            &words,
            None,
        )),
        _ => None,
    };
    let reason = if let Some(Err(e)) = &claims {
        Some(format!(
            "the contract accepts the proof, but the file does not hold what was proven: {e:#}"
        ))
    } else if accepted {
        None
    } else if file.backend != manifest.backend {
        Some(format!(
            "the proof was made by the {} backend, but this is a {} verifier",
            file.backend, manifest.backend
        ))
    } else if !file.vk_digest.eq_ignore_ascii_case(&manifest.vk_digest) {
        Some("the proof was made for another verifying key than this verifier's".to_string())
    } else if !outcome.success {
        Some("the verifier reverted".to_string())
    } else {
        Some("the verifier returned false".to_string())
    };
    if args.json {
        let v = json!({
            "verified": reason.is_none(),
            "gas_used": outcome.gas_used,
            "calldata_bytes": abi::calldata(&proof, &words).len(),
            "claims_checked": claims.as_ref().is_some_and(Result::is_ok),
            "error": reason,
        });
        println!("{v}");
    } else if reason.is_none() {
        println!(
            "proof accepted by the EVM verifier ({} gas, 21,000 base and calldata included)",
            outcome.gas_used
        );
        if vk.is_none() {
            println!(
                "the file's outputs were not checked: no {VK_FILE} in {} (create-evm-verifier writes it)",
                verifier_dir.display()
            );
        }
    }
    match reason {
        None => ExitCode::SUCCESS,
        Some(r) => {
            eprintln!("INVALID: {r} ({} gas)", outcome.gas_used);
            ExitCode::from(1)
        }
    }
}

/// `verify-evm --proof chain.json`: generates every segment's verifier and the chain contract
/// from the keys the chain file names, deploys them in an in-process EVM and calls
/// `verifyChain` once; then checks the file's claims as `zkml verify` does.
fn verify_chain(args: &VerifyArgs) -> ExitCode {
    let read = || -> Result<_> {
        if args.verifier.is_some() {
            bail!("a chain file's verifiers are generated from the keys it names: drop --verifier");
        }
        let text = std::fs::read_to_string(&args.proof)
            .with_context(|| format!("cannot read {}", args.proof.display()))?;
        let file: crate::chain::ChainFile =
            serde_json::from_str(&text).context("not a valid chain file")?;
        let keys = crate::chain::read_keys(&args.proof, &file)?;
        let vks = keys
            .iter()
            .map(|k| match k {
                zkml_verifier::Key::Halo2(vk) => Ok(vk.clone()),
                zkml_verifier::Key::Groth16(_) => bail!("chains are of halo2 segment proofs"),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut proofs = Vec::with_capacity(file.segments.len());
        let mut instances = Vec::with_capacity(file.segments.len());
        for (i, s) in file.segments.iter().enumerate() {
            let (p, inst) = s.proof.decode().with_context(|| format!("segment {i}"))?;
            proofs.push(p);
            instances.push(
                inst.iter()
                    .map(zkml_verifier::encoding::fr_to_be)
                    .collect::<Vec<_>>(),
            );
        }
        Ok((file, keys, vks, proofs, instances))
    };
    let (file, keys, vks, proofs, instances) = match read() {
        Ok(v) => v,
        Err(e) => {
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    let mut stages = Stages::new(args.json);
    let built = match stages.run("generate and compile the verifiers", || {
        zkml_contracts::chain::build_chain(&vks)
    }) {
        Ok(b) => b,
        Err(e) => {
            crate::common::report_error(&anyhow::Error::from(e), args.json);
            return ExitCode::from(1);
        }
    };
    let calldata = zkml_contracts::chain::chain_calldata(&proofs, &instances);
    let mut evm = Evm::new();
    let outcome = evm
        .deploy_chain(&built)
        .and_then(|addr| evm.call(addr, calldata.clone()));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let e =
                anyhow::Error::from(e).context("the local EVM could not run the chain verifier");
            crate::common::report_error(&e, args.json);
            return ExitCode::from(2);
        }
    };
    // A segment verifier that runs out of gas makes the chain return false with what little
    // gas is left: then what the call would take is measured beyond the cap.
    let limit = zkml_contracts::evm::GAS_LIMIT;
    let out_of_gas = !outcome.returned_true() && outcome.gas_used >= limit - limit / 64;
    let needed = if out_of_gas {
        stages
            .run("measure beyond one transaction's gas", || {
                let mut evm = Evm::beyond_the_cap();
                let addr = evm.deploy_chain(&built)?;
                evm.call(addr, calldata.clone())
            })
            .ok()
            .filter(|o| o.returned_true())
            .map(|o| o.gas_used)
    } else {
        None
    };
    let reason = if !outcome.returned_true() {
        Some(match (out_of_gas, needed) {
            (true, Some(gas)) => format!("the chain verifier needs {gas} gas, more than the {limit} of one transaction (given that much, it accepts the chain). Hashed inputs or outputs instead of many public values, the --optimize evm-gas shapes, or one aggregate proof (prove --aggregate) cost less"),
            (true, None) => format!("the chain verifier ran out of gas: it needs more than the {limit} gas of one transaction (a chain proven with --optimize evm-gas costs less)"),
            (false, _) => "the chain verifier returned false".to_string(),
        })
    } else {
        crate::chain::check_chain(&keys, &file, None).err().map(|e| {
            format!("the contract accepts the chain, but the file does not hold what was proven: {e:#}")
        })
    };
    if args.json {
        println!(
            "{}",
            json!({
                "verified": reason.is_none(),
                "segments": keys.len(),
                "gas_used": outcome.gas_used,
                "gas_needed": needed,
                "calldata_bytes": calldata.len(),
                "error": reason,
            })
        );
    } else if reason.is_none() {
        println!(
            "chain of {} segment proofs accepted by the EVM chain verifier ({} gas in one call, 21,000 base and calldata included)",
            keys.len(),
            outcome.gas_used
        );
    }
    match reason {
        None => ExitCode::SUCCESS,
        Some(r) => {
            eprintln!("INVALID: {r} ({} gas)", outcome.gas_used);
            ExitCode::from(1)
        }
    }
}

//! The Groth16 backend's side of `setup` and `prove` (`--backend groth16`): the program
//! compiled to R1CS, a circuit-specific setup, proofs of three group elements.
//!
//! Keys are files of their own (`ZKMLG16P` proving keys, `ZKMLG16V` verifying keys) and
//! proof files say `"backend": "groth16"`; `zkml verify` reads either backend's key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use zkml_circuits::VisibilityConfig;
use zkml_groth16::{Compiled, ProvingKeyFile};
use zkml_ir::{Program, Trace};
use zkml_verifier::groth16::Groth16Key;

use crate::common::{print_json, write_output, write_output_with};
use crate::proving::{word_hex, ProofFile, VisibilityArgs};
use crate::stages::Stages;

/// Printed whenever keys are generated on this machine.
pub const INSECURE_SETUP_WARNING: &str = "WARNING: these Groth16 keys come from a setup run \
on this machine; whoever knows its randomness can forge proofs for this model. They are for \
testing only. For production, run a multi-party ceremony for this circuit (see the README, \
\"Groth16 setup\").";

/// `--backend`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendArg {
    /// halo2 with KZG commitments (universal SRS, one setup per size).
    Halo2,
    /// Groth16 (three-element proofs, the cheapest on chain; one setup per circuit).
    Groth16,
}

impl BackendArg {
    pub fn name(self) -> &'static str {
        match self {
            BackendArg::Halo2 => "halo2",
            BackendArg::Groth16 => "groth16",
        }
    }
}

/// Whether `bytes` start like any key file zkml writes (either backend).
pub fn is_key_file(b: &[u8]) -> bool {
    b.starts_with(zkml_prover::keys::PK_MAGIC)
        || b.starts_with(zkml_verifier::vk::VK_MAGIC)
        || b.starts_with(zkml_groth16::keys::PK_MAGIC)
        || b.starts_with(zkml_verifier::groth16::G16_VK_MAGIC)
}

/// The backend of a proving key file, by its header.
pub fn pk_backend(path: &Path) -> Result<BackendArg> {
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(if head[..n].starts_with(zkml_groth16::keys::PK_MAGIC) {
        BackendArg::Groth16
    } else {
        BackendArg::Halo2
    })
}

/// The backend to use: `--backend` if given (it must agree with the key's), else the key's,
/// else halo2.
pub fn resolve(given: Option<BackendArg>, pk: Option<&Path>) -> Result<BackendArg> {
    let of_key = pk.map(pk_backend).transpose()?;
    match (given, of_key) {
        (Some(g), Some(k)) if g != k => bail!(
            "--backend {} was given, but the proving key {} is a {} key",
            g.name(),
            pk.expect("a key").display(),
            k.name()
        ),
        (Some(g), _) => Ok(g),
        (None, Some(k)) => Ok(k),
        (None, None) => Ok(BackendArg::Halo2),
    }
}

/// The Groth16 backend takes every visibility, and no SRS.
pub fn require_supported(v: &VisibilityArgs, srs: Option<&Path>) -> Result<VisibilityConfig> {
    if srs.is_some() {
        bail!("the groth16 backend takes no SRS (--srs): its setup is per circuit");
    }
    Ok(v.config())
}

/// The device for Groth16 work: the CPU (`--device gpu` is an error).
pub fn require_cpu(device: crate::device::DeviceArg) -> Result<()> {
    if device == crate::device::DeviceArg::Gpu {
        bail!("the groth16 backend proves on the CPU only (--device gpu is for halo2)");
    }
    Ok(())
}

/// Constraints per op kind, largest first.
pub fn constraints_per_op(program: &Program, compiled: &Compiled) -> Vec<(&'static str, usize)> {
    let mut by_op: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (node, &n) in program.nodes.iter().zip(&compiled.costs.per_node) {
        *by_op.entry(node.op.name()).or_default() += n;
    }
    let mut v: Vec<_> = by_op.into_iter().filter(|&(_, n)| n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// Runs a local (insecure) setup for `compiled`, warning loudly.
pub fn generate_keys(
    program: &Program,
    compiled: &Compiled,
    visibility: VisibilityConfig,
    stages: &mut Stages,
) -> Result<ProvingKeyFile> {
    eprintln!("{INSECURE_SETUP_WARNING}");
    let model = zkml_prover::keys::model_info(program, visibility)?;
    stages.run("generate keys (insecure local setup)", || -> Result<_> {
        let (pk, vk) = zkml_groth16::setup(&compiled.r1cs, &mut rand::rngs::OsRng)?;
        let key = zkml_groth16::export_vk(&vk, model)?;
        Ok(ProvingKeyFile {
            program_digest: zkml_prover::keys::program_digest(program),
            r1cs_digest: compiled.r1cs.digest(),
            vk: key,
            pk,
            reduction: zkml_groth16::Reduction::Arkworks,
        })
    })
}

/// Requires a proving key to be the one for this program and constraint system.
fn check_key_for(pk: &ProvingKeyFile, program: &Program, compiled: &Compiled) -> Result<()> {
    if pk.program_digest != zkml_prover::keys::program_digest(program) {
        bail!(
            "the proving key was made for another program ({}), not this one",
            word_hex(&pk.program_digest)
        );
    }
    if pk.r1cs_digest != compiled.r1cs.digest() {
        let again = match pk.reduction {
            zkml_groth16::Reduction::Arkworks => "run setup again",
            zkml_groth16::Reduction::Snarkjs => {
                "its keys come from a ceremony: export the .r1cs again (setup --export-r1cs) \
                 and rerun the ceremony's phase 2"
            }
        };
        bail!(
            "the proving key was made for another constraint system of this program (a \
             different zkml version, or other visibility options?): {again}"
        );
    }
    Ok(())
}

/// Keys from a ceremony's final `.zkey`, checked against `compiled`.
fn keys_from_zkey(
    path: &Path,
    program: &Program,
    compiled: &Compiled,
    visibility: VisibilityConfig,
    stages: &mut Stages,
) -> Result<(ProvingKeyFile, Option<u32>)> {
    let bytes = stages
        .run("read .zkey", || std::fs::read(path))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let zkey = stages
        .run("check .zkey against the constraint system", || {
            zkml_groth16::ceremony::read_zkey(&bytes, &compiled.r1cs)
        })
        .with_context(|| format!("{}", path.display()))?;
    let model = zkml_prover::keys::model_info(program, visibility)?;
    eprintln!(
        "{}: the sizes and A and B coefficients it records match this constraint system. That \
         its keys were computed from this constraint system is what the ceremony's audit shows: \
         snarkjs zkey verify on the .r1cs from --export-r1cs, the phase-1 file and this .zkey{}",
        path.display(),
        match zkey.contributions {
            Some(n) => format!(" ({n} phase-2 contributions recorded)"),
            None => String::new(),
        }
    );
    Ok((
        ProvingKeyFile {
            program_digest: zkml_prover::keys::program_digest(program),
            r1cs_digest: compiled.r1cs.digest(),
            vk: zkml_groth16::export_vk(&zkey.pk.vk, model)?,
            pk: zkey.pk,
            reduction: zkml_groth16::Reduction::Snarkjs,
        },
        zkey.contributions,
    ))
}

/// log2 of the QAP domain of `r1cs`: the least powers-of-tau size a ceremony needs.
fn domain_log2(r1cs: &zkml_groth16::R1cs) -> u32 {
    (r1cs.constraints.len() + r1cs.num_instance + 1)
        .next_power_of_two()
        .trailing_zeros()
}

/// `zkml setup --backend groth16 --export-r1cs FILE`.
fn export_r1cs(
    args: &crate::commands::setup::Args,
    path: &Path,
    compiled: &Compiled,
    stages: &mut Stages,
) -> Result<()> {
    let r1cs = &compiled.r1cs;
    if path.exists() && !args.force {
        bail!(
            "refusing to overwrite {}: it exists (use --force to replace it)",
            path.display()
        );
    }
    let mut bytes = 0;
    stages.run("write .r1cs", || -> Result<()> {
        write_output_with(
            path,
            true,
            |_| true,
            &[&args.program],
            |f| {
                let mut w = std::io::BufWriter::new(f);
                bytes = zkml_groth16::ceremony::write_r1cs(r1cs, &mut w)?;
                std::io::Write::flush(&mut w)?;
                Ok(())
            },
        )
    })?;
    let power = domain_log2(r1cs);
    if args.json {
        return print_json(&json!({
            "backend": "groth16", "r1cs": path, "r1cs_bytes": bytes,
            "constraints": r1cs.constraints.len(), "wires": r1cs.num_wires(),
            "public_values": r1cs.num_instance, "powers_of_tau": power,
            "timings": stages.json(),
        }));
    }
    println!(
        "wrote {} ({bytes} bytes): {} constraints, {} wires, {} public values",
        path.display(),
        r1cs.constraints.len(),
        r1cs.num_wires(),
        r1cs.num_instance
    );
    println!(
        "a ceremony for it needs powers of tau of size 2^{power} or more; then: snarkjs groth16 \
         setup {} POT.ptau 0.zkey, contributions (snarkjs zkey contribute), snarkjs zkey verify, \
         and zkml setup --backend groth16 --zkey FINAL.zkey with the same visibility options",
        path.display()
    );
    Ok(())
}

/// `zkml setup --backend groth16`.
pub fn setup(args: &crate::commands::setup::Args) -> Result<()> {
    let visibility = require_supported(&args.visibility, args.srs.as_deref())?;
    require_cpu(args.device)?;
    let mut stages = Stages::new(args.json);
    let program = stages
        .run("load program", || zkml_ir::format::load(&args.program))
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    let compiled = stages.run("compile to R1CS", || {
        zkml_groth16::compile_with(&program, None, visibility)
    })?;
    if let Some(path) = &args.export_r1cs {
        return export_r1cs(args, path, &compiled, &mut stages);
    }
    let (file, contributions) = match &args.zkey {
        Some(zkey) => keys_from_zkey(zkey, &program, &compiled, visibility, &mut stages)?,
        None => (
            generate_keys(&program, &compiled, visibility, &mut stages)?,
            None,
        ),
    };
    let inputs: Vec<&Path> = std::iter::once(args.program.as_path())
        .chain(args.zkey.as_deref())
        .collect();
    let pk_path = args.out.join("pk.bin");
    let vk_path = args.out.join("vk.bin");
    let vk_bytes = file.vk.to_bytes();
    let mut pk_bytes = 0;
    stages.run("write keys", || -> Result<()> {
        write_output_with(&pk_path, args.force, is_key_file, &inputs, |f| {
            let mut w = std::io::BufWriter::new(f);
            pk_bytes = file.write_to(&mut w)?;
            std::io::Write::flush(&mut w)?;
            Ok(())
        })?;
        write_output(&vk_path, &vk_bytes, args.force, is_key_file, &inputs)
    })?;
    let per_op = constraints_per_op(&program, &compiled);
    let r1cs = &compiled.r1cs;
    if args.json {
        return print_json(&json!({
            "backend": "groth16",
            "pk": pk_path, "vk": vk_path, "pk_bytes": pk_bytes, "vk_bytes": vk_bytes.len(),
            "constraints": r1cs.constraints.len(), "witnesses": r1cs.num_witness,
            "public_values": r1cs.num_instance, "nonzeros": r1cs.nonzeros(),
            "constraints_per_op": per_op.iter().map(|&(op, n)| json!({"op": op, "constraints": n})).collect::<Vec<_>>(),
            "insecure_setup": args.zkey.is_none(),
            "keys_from": file.reduction.origin(),
            "ceremony_contributions": contributions,
            "timings": stages.json(),
        }));
    }
    println!(
        "wrote {} ({pk_bytes} bytes) and {} ({} bytes) from {}; groth16: {} constraints, {} \
         witnesses, {} public values",
        pk_path.display(),
        vk_path.display(),
        vk_bytes.len(),
        file.reduction.origin(),
        r1cs.constraints.len(),
        r1cs.num_witness,
        r1cs.num_instance
    );
    let shown: Vec<String> = per_op.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("constraints per op: {}", shown.join(", "));
    Ok(())
}

/// Where one-shot `prove --backend groth16` caches the keys of a constraint system.
fn key_cache_dir(program: &Program, compiled: &Compiled) -> PathBuf {
    let mut id = b"groth16".to_vec();
    id.extend(zkml_prover::keys::program_digest(program));
    id.extend(compiled.r1cs.digest());
    let digest = hex::encode(zkml_prover::keys::keccak(&id));
    zkml_prover::srs::SrsCache::default_dir()
        .join("keys")
        .join(&digest[..32])
}

fn load_pk(path: &Path) -> Result<ProvingKeyFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    ProvingKeyFile::from_bytes(&bytes).with_context(|| format!("proving key {}", path.display()))
}

/// The keys for one-shot proving: cached, or generated and cached.
fn cached_keys(
    program: &Program,
    compiled: &Compiled,
    visibility: VisibilityConfig,
    stages: &mut Stages,
) -> Result<(ProvingKeyFile, PathBuf)> {
    let dir = key_cache_dir(program, compiled);
    let cache = crate::key_cache::KeyCache::open()?;
    let path = dir.join("pk.bin");
    if path.exists() {
        match stages.run("load cached keys", || load_pk(&path)) {
            Ok(pk) if check_key_for(&pk, program, compiled).is_ok() => {
                crate::key_cache::KeyCache::touch(&path);
                return Ok((pk, path));
            }
            _ => eprintln!(
                "cached keys in {} are unusable; generating new ones",
                dir.display()
            ),
        }
    }
    let pk = generate_keys(program, compiled, visibility, stages)?;
    let cached = std::fs::create_dir_all(&dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| cache.make_room(&dir, pk.file_len()))
        .and_then(|room| {
            if let Some(line) = room.describe() {
                eprintln!("{line}");
            }
            let tmp = dir.join(format!(".pk.bin.{}.partial", std::process::id()));
            let written = std::fs::File::create(&tmp)
                .map_err(anyhow::Error::from)
                .and_then(|f| {
                    let mut w = std::io::BufWriter::new(f);
                    pk.write_to(&mut w)?;
                    Ok(std::io::Write::flush(&mut w)?)
                })
                .and_then(|()| Ok(std::fs::rename(&tmp, &path)?));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written
        });
    if let Err(e) = cached {
        eprintln!("warning: cannot cache the keys in {}: {e:#}", dir.display());
    }
    Ok((pk, path))
}

/// What `prove` passes on once the program is known.
pub struct ProveJob<'a> {
    pub args: &'a crate::commands::prove::Args,
    pub program: &'a Program,
    pub program_path: &'a Path,
    pub source: Option<crate::programs::ProgramSource>,
    pub input: &'a [Vec<f64>],
}

/// `zkml prove --backend groth16` (one-shot or with `--pk`).
pub fn prove(job: ProveJob<'_>, stages: &mut Stages) -> Result<()> {
    let ProveJob {
        args,
        program,
        program_path,
        source,
        input,
    } = job;
    let visibility = require_supported(&args.visibility, args.srs.as_deref())?;
    require_cpu(args.device)?;
    let q = zkml_ir::input::quantize_inputs(program, input)
        .with_context(|| format!("input file {}", args.input_path().display()))?;
    let trace = stages.run("evaluate", || zkml_ir::eval::evaluate(program, &q))?;
    let compiled = stages.run("compile to R1CS with the witness", || {
        zkml_groth16::compile_with(program, Some(&trace), visibility)
    })?;
    let (pk, pk_path) = match &args.pk {
        Some(p) => {
            let pk = stages.run("load proving key", || load_pk(p))?;
            check_key_for(&pk, program, &compiled)
                .with_context(|| format!("proving key {}", p.display()))?;
            (pk, p.clone())
        }
        None => cached_keys(program, &compiled, visibility, stages)?,
    };
    let assignment = compiled
        .assignment
        .as_ref()
        .context("the compiler returned no witness")?;
    let proof = stages.run("prove (cpu)", || {
        zkml_groth16::prove_with(
            &pk.pk,
            pk.reduction,
            &compiled.r1cs,
            assignment,
            &mut rand::rngs::OsRng,
        )
    })?;
    let bytes = zkml_groth16::proof_bytes(&proof);
    let file = proof_file(program, &trace, &pk.vk, &bytes, &assignment.instance);
    let proof_path = args
        .output
        .clone()
        .unwrap_or_else(|| args.out.join("proof.json"));
    let vk_path = args.out.join("vk.bin");
    let vk_bytes = pk.vk.to_bytes();
    // Verified before anything is written: a proof that does not verify replaces nothing.
    let key = zkml_verifier::Key::Groth16(pk.vk.clone());
    let verified = stages.run("verify", || -> Result<()> {
        let (proof, instances) = file.decode()?;
        Ok(key.verify(&proof, &instances)?)
    });
    let verified_ok = verified.is_ok();
    if verified_ok {
        crate::commands::prove::write_artifacts(
            args,
            &file,
            &proof_path,
            &vk_bytes,
            &vk_path,
            stages,
        )?;
    }
    if args.json {
        print_json(&json!({
            "backend": "groth16",
            "outputs": dequantized(program, &trace.outputs()),
            "verified": verified_ok,
            "verify_error": verified.as_ref().err().map(|e| e.to_string()),
            "proof": verified_ok.then_some(&proof_path),
            "vk": verified_ok.then_some(&vk_path),
            "pk": pk_path,
            "program": program_path,
            "program_source": source,
            "proof_bytes": bytes.len(),
            "public_values": file.instances.len(),
            "public": file.public,
            "constraints": compiled.r1cs.constraints.len(),
            "device": "cpu",
            "timings": stages.json(),
        }))?;
    } else {
        if verified_ok {
            println!(
                "proof: {} ({} bytes, {} public values; groth16, {} constraints)",
                proof_path.display(),
                bytes.len(),
                file.instances.len(),
                compiled.r1cs.constraints.len()
            );
            println!("verifying key: {}", vk_path.display());
        }
        crate::commands::prove::print_outputs(&dequantized(program, &trace.outputs()));
        println!("verified: {}", if verified_ok { "yes" } else { "NO" });
    }
    verified.context("the proof just made does not verify; nothing was written")
}

/// `outputs` (the program's, in order) as reals.
fn dequantized(program: &Program, outputs: &[&zkml_ir::Tensor]) -> Vec<Vec<f64>> {
    outputs
        .iter()
        .zip(&program.outputs)
        .map(|(t, &o)| zkml_ir::input::dequantize_tensor(t, program.nodes[o].scale))
        .collect()
}

/// The proof file of a Groth16 proof.
fn proof_file(
    program: &Program,
    trace: &Trace,
    key: &Groth16Key,
    proof: &[u8],
    instance: &[zkml_verifier::Fr],
) -> ProofFile {
    let words: Vec<[u8; 32]> = instance
        .iter()
        .map(zkml_verifier::encoding::fr_to_be)
        .collect();
    // Private outputs stay out of the file (it is meant to be shared), as with halo2.
    let outputs = if key.model.outputs == zkml_verifier::vk::VisibilityInfo::Private {
        Vec::new()
    } else {
        trace.outputs()
    };
    ProofFile {
        format: crate::proving::PROOF_FORMAT.into(),
        version: 1,
        backend: BackendArg::Groth16.name().into(),
        proof: format!("0x{}", hex::encode(proof)),
        instances: words.iter().map(word_hex).collect(),
        public: crate::proving::public_entries(&key.model, &words),
        outputs: dequantized(program, &outputs),
        quantized_outputs: outputs.iter().map(|t| t.data().to_vec()).collect(),
        vk_digest: word_hex(&key.key_digest()),
        program_digest: word_hex(&key.model.program_digest),
    }
}

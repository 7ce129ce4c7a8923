//! Segments proven as independent jobs, from files alone:
//!
//! ```text
//! zkml setup model.zkml --segments 3 --out keys          # keys/segments.json, segment-I.{pk,vk}.bin
//! zkml witness model.zkml --input in.json --plan keys/segments.json --out jobs
//! zkml prove model.zkml --segment I --witness jobs/segment-I.witness.json \
//!     --pk keys/segment-I.pk.bin -o proofs/segment-I.json          # anywhere, in any order
//! zkml chain --plan keys/segments.json proofs/segment-*.json -o chain.json
//! ```
//!
//! The plan file records the cuts and the visibility the keys were made for; a witness file
//! holds one segment's inputs and the blinding values of its links (secret: a private boundary
//! is only as hidden as these files are).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zkml_circuits::{Blinding, CircuitParams, VisibilityConfig};
use zkml_ir::{Program, Tensor};
use zkml_segments::CutProgram;

use crate::common::{print_json, write_output, write_output_with};
use crate::stages::Stages;

/// The `format` of a plan file.
pub const PLAN_FORMAT: &str = "zkml-segments";
/// The `format` of a segment witness file.
pub const WITNESS_FORMAT: &str = "zkml-segment-witness";

/// A plan file (`segments.json`): how a program is cut and where each segment's keys are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always `zkml-segments`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Keccak-256 of the whole program.
    pub program_digest: String,
    /// The whole program's visibility.
    pub visibility: VisibilityConfig,
    /// The nodes the program is cut before.
    pub cuts: Vec<usize>,
    /// log2 of the size of the SRS every segment's keys were cut from.
    pub srs_k: u32,
    /// Keccak-256 of the segments' verifying key digests, in order.
    pub chain_digest: String,
    /// Each segment's keys (file names beside the plan file) and circuit.
    pub segments: Vec<PlanSegment>,
}

/// One segment of a plan file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanSegment {
    /// Its proving key.
    pub pk: String,
    /// Its verifying key.
    pub vk: String,
    /// Its circuit.
    pub circuit: CircuitParams,
}

/// One segment's witness file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WitnessFile {
    /// Always `zkml-segment-witness`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Keccak-256 of the whole program.
    pub program_digest: String,
    /// The nodes the program is cut before.
    pub cuts: Vec<usize>,
    /// Which segment.
    pub segment: usize,
    /// Of how many.
    pub count: usize,
    /// The whole program's visibility (the plan's).
    pub visibility: VisibilityConfig,
    /// log2 of the size of the SRS the keys were cut from (the plan's).
    pub srs_k: u32,
    /// The segment's inputs, quantized, one flat list per input.
    pub inputs: Vec<Vec<i64>>,
    /// The blinding value shared with the segment before (a 32-byte hex word).
    pub blinding_inputs: String,
    /// The blinding value shared with the segment after.
    pub blinding_outputs: String,
}

fn is_json_format(b: &[u8], format: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["format"] == format)
}

fn digest_hex(program: &Program) -> String {
    zkml_verifier::encoding::hex0x(&zkml_prover::keys::program_digest(program))
}

pub(crate) fn word(f: &zkml_segments::Fr) -> String {
    zkml_verifier::encoding::hex0x(&zkml_segments::field_to_word(f))
}

pub(crate) fn parse_word(s: &str, what: &str) -> Result<zkml_segments::Fr> {
    let bytes: [u8; 32] = hex::decode(s.trim_start_matches("0x"))
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("field '{what}' is not a 32-byte hex word"))?;
    zkml_segments::field_from_word(&bytes)
        .with_context(|| format!("field '{what}' is not a canonical field element"))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, format: &str, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a {what}", path.display()))?;
    if value["format"] != format {
        bail!(
            "{} is not a {what} (format {})",
            path.display(),
            value["format"]
        );
    }
    if value["version"] != 1 {
        bail!(
            "{}: {what} version {} is not supported (this build reads version 1)",
            path.display(),
            value["version"]
        );
    }
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// Reads a plan file.
pub fn read_plan(path: &Path) -> Result<PlanFile> {
    read_json(path, PLAN_FORMAT, "plan file")
}

/// The program cut as `plan` says; the program must be the plan's.
pub fn cut_by(
    program: &Program,
    plan_digest: &str,
    cuts: &[usize],
    visibility: VisibilityConfig,
) -> Result<CutProgram> {
    if !digest_hex(program).eq_ignore_ascii_case(plan_digest) {
        bail!("the program is not the one the segments were planned for (program digest {}, planned for {plan_digest})", digest_hex(program));
    }
    Ok(CutProgram::new(program.clone(), visibility, cuts.to_vec())?)
}

/// `setup --segments N | --max-logrows K`: one key pair per segment and the plan file.
pub fn setup(
    args: &crate::commands::setup::Args,
    program: &Program,
    stages: &mut Stages,
) -> Result<()> {
    let visibility = args.visibility.config();
    let device = crate::device::resolve(args.device)?;
    let (cut, circuits) = stages.run("plan segments", || {
        crate::chain::plan(program, &args.visibility, device, args.request())
    })?;
    let count = cut.len();
    let mut keys = Vec::with_capacity(count);
    let mut segments = Vec::with_capacity(count);
    let mut gpu_peak = 0;
    // One SRS for all segments, cut down to each one's size (see `crate::chain`).
    let srs_k = circuits.iter().map(|c| c.k).max().unwrap_or(0);
    let (full_srs, source) = crate::proving::srs_for(srs_k, args.srs.as_deref(), stages)?;
    let mut sizes = crate::proving::SrsCuts::new(full_srs, &source);
    for (i, (segment, circuit)) in cut.segments.iter().zip(&circuits).enumerate() {
        let label = format!("segment {}/{count}: ", i + 1);
        let srs = stages.run(&format!("{label}SRS of 2^{} rows", circuit.k), || {
            sizes.for_k(circuit.k)
        })?;
        let (pk, vk) = stages.run(&format!("{label}generate keys ({device})"), || {
            crate::device::run_on(device, &mut gpu_peak, || {
                zkml_prover::generate_keys_on(
                    device,
                    &segment.program,
                    *circuit,
                    cut.segment_visibility(i),
                    &srs,
                )
            })
        })?;
        let (pk_name, vk_name) = (format!("segment-{i}.pk.bin"), format!("segment-{i}.vk.bin"));
        stages.run(&format!("{label}write keys"), || -> Result<()> {
            write_output_with(
                &args.out.join(&pk_name),
                args.force,
                crate::groth16::is_key_file,
                &[&args.program],
                |file| {
                    pk.write_to(file)?;
                    Ok(())
                },
            )?;
            write_output(
                &args.out.join(&vk_name),
                &vk.to_bytes(),
                args.force,
                crate::groth16::is_key_file,
                &[&args.program],
            )
        })?;
        keys.push(zkml_verifier::Key::Halo2(vk));
        segments.push(PlanSegment {
            pk: pk_name,
            vk: vk_name,
            circuit: *circuit,
        });
    }
    let plan = PlanFile {
        format: PLAN_FORMAT.into(),
        version: 1,
        program_digest: digest_hex(program),
        visibility,
        cuts: cut.cuts.clone(),
        srs_k,
        chain_digest: zkml_verifier::encoding::hex0x(&zkml_verifier::chain::chain_digest(&keys)),
        segments,
    };
    let plan_path = args.out.join("segments.json");
    write_output(
        &plan_path,
        serde_json::to_string_pretty(&plan)?.as_bytes(),
        args.force,
        |b| is_json_format(b, PLAN_FORMAT),
        &[&args.program],
    )?;
    if args.json {
        return print_json(&json!({
            "plan": plan_path, "segments": count, "cuts": plan.cuts, "chain_digest": plan.chain_digest,
            "circuits": circuits, "device": device.name(), "timings": stages.json(),
        }));
    }
    println!(
        "wrote {} and the keys of {count} segment(s) (cut before node(s) {:?}; circuits of 2^{:?} rows); chain digest {}",
        plan_path.display(),
        plan.cuts,
        circuits.iter().map(|c| c.k).collect::<Vec<_>>(),
        plan.chain_digest
    );
    Ok(())
}

/// `zkml witness`: evaluates the program once and writes each segment's witness file.
#[derive(clap::Args)]
pub struct WitnessArgs {
    /// The compiled program.
    pub program: PathBuf,
    /// The input (EZKL format).
    #[arg(long, value_name = "INPUT.json")]
    pub input: PathBuf,
    /// The plan file `setup --segments` wrote.
    #[arg(long, value_name = "segments.json")]
    pub plan: PathBuf,
    /// Directory for the witness files (segment-I.witness.json).
    #[arg(long, value_name = "DIR", default_value = "zkml-jobs")]
    pub out: PathBuf,
    /// Replace existing files even if they were not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkml witness`.
pub fn witness(args: WitnessArgs) -> Result<()> {
    let mut stages = Stages::new(args.json);
    let program = stages
        .run("load program", || zkml_ir::format::load(&args.program))
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    let plan = read_plan(&args.plan)?;
    let cut = cut_by(&program, &plan.program_digest, &plan.cuts, plan.visibility)?;
    let input = crate::common::read_input(&args.input)?;
    let q = zkml_ir::input::quantize_inputs(&program, &input)
        .with_context(|| format!("input file {}", args.input.display()))?;
    let witness = stages.run("evaluate once", || cut.witness(&q, &mut rand::rngs::OsRng))?;
    let mut paths = Vec::with_capacity(witness.len());
    stages.run("write witness files", || -> Result<()> {
        for (i, w) in witness.iter().enumerate() {
            let file = WitnessFile {
                format: WITNESS_FORMAT.into(),
                version: 1,
                program_digest: plan.program_digest.clone(),
                cuts: plan.cuts.clone(),
                segment: i,
                count: witness.len(),
                visibility: plan.visibility,
                srs_k: plan.srs_k,
                inputs: w.inputs.iter().map(|t| t.data().to_vec()).collect(),
                blinding_inputs: word(&w.blinding.inputs),
                blinding_outputs: word(&w.blinding.outputs),
            };
            let path = args.out.join(format!("segment-{i}.witness.json"));
            write_output(
                &path,
                serde_json::to_string(&file)?.as_bytes(),
                args.force,
                |b| is_json_format(b, WITNESS_FORMAT),
                &[&args.program, &args.input, &args.plan],
            )?;
            paths.push(path);
        }
        Ok(())
    })?;
    if args.json {
        return print_json(&json!({"witness": paths, "timings": stages.json()}));
    }
    for p in &paths {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// `prove --segment I --witness FILE --pk FILE`: proves one segment from files.
pub(crate) fn prove_segment(
    args: &crate::commands::prove::Args,
    program: &Program,
    index: usize,
    stages: &mut Stages,
) -> Result<()> {
    let Some(witness_path) = &args.witness else {
        bail!("--segment needs --witness (the witness file `zkml witness` wrote for it)");
    };
    let Some(pk_path) = &args.pk else {
        bail!("--segment needs --pk (the segment's proving key from `setup --segments`)");
    };
    let w: WitnessFile = read_json(witness_path, WITNESS_FORMAT, "segment witness file")?;
    if w.segment != index {
        bail!(
            "{} is segment {}'s witness, not segment {index}'s",
            witness_path.display(),
            w.segment
        );
    }
    let cut = cut_by(program, &w.program_digest, &w.cuts, w.visibility)?;
    if cut.len() != w.count {
        bail!(
            "the witness file says {} segments, its cuts give {}",
            w.count,
            cut.len()
        );
    }
    let segment = &cut.segments[index];
    let (pk, vk, srs) = crate::commands::prove::given_keys_at(
        &segment.program,
        pk_path,
        args.srs.as_deref(),
        Some(w.srs_k),
        stages,
    )?;
    if pk.header.visibility != cut.segment_visibility(index) {
        bail!(
            "{} is not segment {index}'s proving key for these cuts and visibility options",
            pk_path.display()
        );
    }
    let inputs: Vec<Tensor> = segment
        .program
        .inputs
        .iter()
        .zip(&w.inputs)
        .map(|(&node, data)| Tensor::new(segment.program.nodes[node].shape.clone(), data.clone()))
        .collect::<Option<_>>()
        .context("a witness input has the wrong length")?;
    if inputs.len() != segment.program.inputs.len() {
        bail!(
            "the witness file holds {} inputs, segment {index} takes {}",
            inputs.len(),
            segment.program.inputs.len()
        );
    }
    let blinding = Blinding {
        inputs: parse_word(&w.blinding_inputs, "blinding_inputs")?,
        outputs: parse_word(&w.blinding_outputs, "blinding_outputs")?,
    };
    let proof = stages.run("prove (cpu)", || {
        zkml_prover::prove_segment_on(
            zkml_prover::Device::Cpu,
            &segment.program,
            &inputs,
            blinding,
            &pk,
            &srs,
        )
    })?;
    let file = crate::proving::ProofFile::new(&proof, &segment.program, &pk, &vk);
    stages
        .run("verify", || -> Result<()> {
            let (bytes, instances) = file.decode()?;
            Ok(zkml_verifier::verify_with_key(&vk, &bytes, &instances)?)
        })
        .context("the segment proof just made does not verify; nothing was written")?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.out.join(format!("segment-{index}.proof.json")));
    write_output(
        &out,
        serde_json::to_string_pretty(&file)?.as_bytes(),
        args.force,
        crate::commands::prove::proof_file_bytes,
        &[
            args.model.as_path(),
            witness_path.as_path(),
            pk_path.as_path(),
        ],
    )?;
    if args.json {
        return print_json(
            &json!({"proof": out, "segment": index, "proof_bytes": proof.bytes.len(), "timings": stages.json()}),
        );
    }
    println!(
        "segment {index} proof: {} ({} bytes)",
        out.display(),
        proof.bytes.len()
    );
    Ok(())
}

/// `zkml chain`: assembles segment proofs into a chain file and verifies it.
#[derive(clap::Args)]
pub struct ChainArgs {
    /// The plan file `setup --segments` wrote (its verifying keys lie beside it).
    #[arg(long, value_name = "segments.json")]
    pub plan: PathBuf,
    /// The segments' proof files, in order.
    #[arg(required = true, value_name = "PROOF")]
    pub proofs: Vec<PathBuf>,
    /// The chain file (default: chain.json beside the plan file); the verifying keys are
    /// copied beside it.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace existing files even if they were not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `zkml chain`.
pub fn assemble(args: ChainArgs) -> Result<()> {
    let plan = read_plan(&args.plan)?;
    let folder = args.plan.parent().unwrap_or(Path::new("."));
    let mut keys = Vec::with_capacity(plan.segments.len());
    let mut vk_bytes = Vec::with_capacity(plan.segments.len());
    for (i, s) in plan.segments.iter().enumerate() {
        let path = folder.join(&s.vk);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("segment {i}: cannot read {}", path.display()))?;
        keys.push(
            zkml_verifier::Key::from_bytes(&bytes)
                .with_context(|| format!("segment {i}: verifying key {}", path.display()))?,
        );
        vk_bytes.push(bytes);
    }
    let mut segments = Vec::with_capacity(args.proofs.len());
    for (i, p) in args.proofs.iter().enumerate() {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let proof: crate::proving::ProofFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a proof file", p.display()))?;
        segments.push(crate::chain::ChainSegment {
            vk: format!("segment-{i}.vk.bin"),
            proof,
        });
    }
    let file = crate::chain::ChainFile {
        format: crate::chain::CHAIN_FORMAT.into(),
        version: 1,
        chain_digest: plan.chain_digest.clone(),
        program_digest: plan.program_digest.clone(),
        cuts: plan.cuts.clone(),
        segments,
    };
    crate::chain::check_chain(&keys, &file, None)
        .context("the chain does not verify; nothing was written")?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| folder.join("chain.json"));
    let out_folder = out.parent().unwrap_or(Path::new("."));
    let inputs: Vec<&Path> = args
        .proofs
        .iter()
        .map(PathBuf::as_path)
        .chain([args.plan.as_path()])
        .collect();
    for (i, bytes) in vk_bytes.iter().enumerate() {
        let target = out_folder.join(format!("segment-{i}.vk.bin"));
        if target != folder.join(&plan.segments[i].vk) {
            write_output(
                &target,
                bytes,
                args.force,
                crate::groth16::is_key_file,
                &inputs,
            )?;
        }
    }
    write_output(
        &out,
        serde_json::to_string_pretty(&file)?.as_bytes(),
        args.force,
        crate::chain::chain_file_bytes,
        &inputs,
    )?;
    if args.json {
        return print_json(
            &json!({"chain": out, "segments": keys.len(), "chain_digest": plan.chain_digest}),
        );
    }
    println!(
        "chain: {} ({} segment proofs, verified, digest {})",
        out.display(),
        keys.len(),
        plan.chain_digest
    );
    Ok(())
}

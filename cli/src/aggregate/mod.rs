//! `prove --aggregate`: a program's segments (one or more) folded into one aggregate proof
//! (`zkml_aggregate`), written as `aggregate.json` with its verifying key (`aggregate.vk`, a
//! zkml key whose public values start with the accumulator) beside it; `verify` and
//! `verify-evm` check it, and `create-evm-verifier --vk aggregate.vk` writes its contracts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zkml_aggregate::{AggregateProof, Shape};
use zkml_ir::Program;
use zkml_verifier::vk::ValueClass;

use crate::chain::{plan, Request};
use crate::commands::prove::{cache_keys, cached_keys_for, print_outputs, zkml_file, Args, Run};
use crate::common::{print_json, report_error, write_output};
use crate::stages::Stages;

mod layers;

/// The `format` of an aggregate file.
pub const AGGREGATE_FORMAT: &str = "zkml-aggregate";

/// Rows of the aggregation circuit (2^K): the fewest at which snark-verifier's circuit
/// aggregates small chains in a handful of columns (BENCHMARKS.md, "Aggregation").
pub const AGGREGATION_LOGROWS: u32 = 20;

/// The aggregate file's version: 2 since aggregates are checked by zkml's own verifier and
/// contract (version 1 used snark-verifier's).
const AGGREGATE_VERSION: u32 = 2;

/// An aggregate file (`aggregate.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggregateFile {
    /// Always `zkml-aggregate`.
    pub format: String,
    /// Format version (2).
    pub version: u32,
    /// Keccak-256 of the program, `0x` hex.
    pub program_digest: String,
    /// Segments folded in.
    pub segments: usize,
    /// The aggregate's verifying key file, relative to this file.
    pub vk: String,
    /// Keccak-256 of the verifying key file, `0x` hex.
    pub vk_digest: String,
    /// The proof, `0x` hex.
    pub proof: String,
    /// The public instance, `0x` hex words: the accumulator's limbs, then the exposed values
    /// (the first segment's public inputs, the last one's public outputs, parameter hashes,
    /// as the segments' keys list them).
    pub instances: Vec<String>,
    /// The model's outputs, dequantized, one flat list per output, when the aggregate proves
    /// them (public or hashed outputs; empty when they are private), as in a proof file.
    /// Files written before the field was added lack it: their outputs are left unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<Vec<f64>>>,
    /// The same outputs as the program's integers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantized_outputs: Option<Vec<Vec<i64>>>,
}

impl AggregateFile {
    /// The file for `aggregate` of `segments` segment proofs of `program`, with its verifying
    /// key's bytes `vk_bytes` (written beside it as `aggregate.vk`) and the outputs, dequantized
    /// and as integers, listed where it proves them (`listed`) and left out where they are
    /// private.
    fn new(
        program: &Program,
        segments: usize,
        vk_bytes: &[u8],
        aggregate: &AggregateProof,
        listed: bool,
        outputs: Vec<Vec<f64>>,
        quantized: Vec<Vec<i64>>,
    ) -> Self {
        let (outputs, quantized) = if listed {
            (outputs, quantized)
        } else {
            Default::default()
        };
        Self {
            format: AGGREGATE_FORMAT.into(),
            version: AGGREGATE_VERSION,
            program_digest: zkml_verifier::encoding::hex0x(&zkml_prover::keys::program_digest(
                program,
            )),
            segments,
            vk: "aggregate.vk".into(),
            vk_digest: zkml_verifier::encoding::hex0x(&zkml_prover::keys::keccak(vk_bytes)),
            proof: format!("0x{}", hex::encode(&aggregate.proof)),
            instances: aggregate
                .instances
                .iter()
                .map(|f| crate::proving::word_hex(&zkml_prover::prove::fr_to_word(f)))
                .collect(),
            outputs: Some(outputs),
            quantized_outputs: Some(quantized),
        }
    }
}

/// Whether `b` is an aggregate file.
pub fn aggregate_file_bytes(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["format"] == AGGREGATE_FORMAT)
}

/// Proves `program` as the segments `request` asks for and folds them into one aggregate,
/// verified before anything is written.
pub(crate) fn prove(
    args: &Args,
    request: Request,
    program: &Program,
    input: &[Vec<f64>],
    run: &mut Run,
    stages: &mut Stages,
) -> Result<()> {
    if args.pk.is_some() {
        bail!("--pk names one proving key; --aggregate uses each segment's cached keys");
    }
    if run.device != zkml_prover::Device::Cpu {
        bail!("--aggregate proves on the CPU (--device cpu)");
    }
    // The aggregation circuit verifies each segment's proof in-circuit, at a cost that grows
    // with the segment's columns: segments take the fewest-column shapes.
    let mut flags = args.visibility.clone();
    flags.optimize = crate::proving::OptimizeArg::EvmGas;
    let (cut, circuits) = stages.run("plan segments", || {
        plan(program, &flags, run.device, request)
    })?;
    let count = cut.len();
    let q = zkml_ir::input::quantize_inputs(program, input)
        .with_context(|| format!("input file {}", args.input_path().display()))?;
    let mut witness = stages.run("evaluate once", || cut.witness(&q, &mut rand::rngs::OsRng))?;
    let asked_groups = args.aggregate_groups.map_or(1, |g| g as usize).min(count);
    // The memory budget the segments were planned within (asked, or recorded with the
    // program's cuts): where one applies and no groups are asked, the groups are chosen
    // within it too.
    let budget_gb = Request::effective(program, request).max_memory;
    let planned = budget_gb.filter(|_| args.aggregate_groups.is_none());
    check_root_rows(args, count, asked_groups, planned.is_some())?;
    // Rows of the aggregation circuits: the groups' (or the one layer's) at least the widest
    // segment's, and the root's as asked.
    let widest = circuits.iter().map(|c| c.k).max().unwrap_or(0);
    let group_k = widest.max(args.aggregate_logrows.unwrap_or(AGGREGATION_LOGROWS));
    let root_k = args.aggregate_root_logrows.unwrap_or(group_k);
    // What an earlier run of this aggregate left (see `crate::progress`): its links' blinding
    // values, its segments' proofs and its groups' aggregates.
    let kind = progress_kind(planned, asked_groups, group_k, root_k);
    let progress = crate::progress::Progress::open(
        &args.out.join("progress"),
        &kind,
        program,
        &cut,
        &q,
        &mut witness,
        args.force,
    )?;
    if !args.json {
        progress.announce();
    }
    let trace = zkml_ir::evaluate(program, &q)?;
    let (outputs, quantized) = crate::proving::listed_outputs(trace.outputs(), program);
    drop(trace);
    // One SRS, cut to each size, for the segments and the aggregation circuits: the
    // aggregate's accumulator is decided with the same G2 and s G2 as every proof's.
    let (full, source) = crate::proving::srs_for(group_k.max(root_k), args.srs.as_deref(), stages)?;
    let mut sizes = crate::proving::SrsCuts::new(full.clone(), &source);
    let (snarks, keys, resumed_segments) = prove_segments(
        &Segments {
            cut: &cut,
            circuits: &circuits,
            witness: &witness,
        },
        &mut sizes,
        &progress,
        run,
        stages,
    )?;
    zkml_verifier::chain::check_keys(&keys)?;
    let links: Vec<(usize, usize)> = keys
        .windows(2)
        .map(|w| {
            let out = zkml_verifier::chain::link(&w[0], ValueClass::Outputs);
            let inp = zkml_verifier::chain::link(&w[1], ValueClass::Inputs);
            out.zip(inp).context("the segments' keys do not link")
        })
        .collect::<Result<_>>()?;
    let lens = snarks.iter().map(|s| s.instances[0].len()).collect();
    let shape = Shape::chain(lens, &links).map_err(anyhow::Error::msg)?;
    let vks: Vec<zkml_verifier::VerifyingKey> = keys
        .into_iter()
        .map(|k| match k {
            zkml_verifier::Key::Halo2(vk) => Ok(vk),
            zkml_verifier::Key::Groth16(_) => bail!("a segment's key is not a halo2 key"),
        })
        .collect::<Result<_>>()?;
    let model = zkml_aggregate::chain_model(&vks, zkml_prover::keys::program_digest(program))?;
    // The groups' and the root's sizes, cut from the full SRS where they are smaller.
    let top = group_k.max(root_k);
    let mut cut = |k: u32, what: &str, stages: &mut Stages| {
        if k >= top {
            return Ok(None);
        }
        stages
            .run(&format!("SRS of 2^{k} rows for the {what}"), || {
                sizes.for_k(k)
            })
            .map(Some)
    };
    let group_srs = cut(group_k, "groups", stages)?;
    let root_srs = cut(root_k, "root", stages)?;
    drop(sizes);
    let group_srs = group_srs.as_ref().unwrap_or(&full);
    let root_srs = root_srs.as_ref().unwrap_or(&full);
    let layering = layers::Layering {
        planned,
        budget_gb,
        asked_groups,
        group_k,
        root_k,
        root_rows_asked: args.aggregate_root_logrows.is_some(),
        group_srs,
        root_srs,
        json: args.json,
    };
    let layers::Layered {
        key,
        aggregate,
        layers,
        resumed_layers,
        plans,
        circuits,
    } = layers::prove_layers(&layering, snarks, &shape, model, &progress, stages)?;
    let groups = layers.first().map_or(1, Vec::len);
    if !args.json {
        for c in &circuits {
            eprintln!("{}", c.line());
        }
    }
    let verified = stages.run("verify aggregate", || {
        zkml_aggregate::verify(&key.vk, &aggregate)
    });
    let vk_bytes = key.vk.to_bytes();
    // Private outputs stay out of the file, as they do out of a proof file.
    let listed = crate::proving::lists_outputs(&key.vk.model);
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| args.out.join("aggregate.json"));
    let folder = path.parent().unwrap_or(Path::new("."));
    let file = AggregateFile::new(
        program,
        count,
        &vk_bytes,
        &aggregate,
        listed,
        outputs.clone(),
        quantized,
    );
    if verified.is_ok() {
        stages.run("write artifacts", || -> Result<()> {
            let inputs: [&Path; 2] = [&args.model, args.input_path()];
            write_output(
                &folder.join(&file.vk),
                &vk_bytes,
                args.force,
                crate::groth16::is_key_file,
                &inputs,
            )?;
            write_output(
                &path,
                serde_json::to_string_pretty(&file)?.as_bytes(),
                args.force,
                |b| aggregate_file_bytes(b) || zkml_file(b),
                &inputs,
            )
        })?;
    }
    // Written, or not verified (a rerun then starts afresh): the progress has served.
    progress.finish();
    if args.json {
        print_json(&json!({
            "outputs": outputs,
            "verified": verified.is_ok(),
            "aggregate": verified.is_ok().then_some(&path),
            "segments": count,
            "groups": groups,
            "group_circuits_k": (!layers.is_empty()).then_some(group_k),
            "layers": layers,
            "aggregation_circuit": {
                "k": key.config.degree,
                "advice": key.config.num_advice,
                "lookup_advice": key.config.num_lookup_advice,
                "fixed": key.config.num_fixed,
                "memory_estimate_gb": gb(zkml_aggregate::cost::memory_estimate(&key.config)),
            },
            "memory_budget_gb": budget_gb,
            "groups_planned": plans.first().map(layers::planned_json),
            "layers_planned": plans.iter().map(layers::planned_json).collect::<Vec<_>>(),
            "circuits": circuits.iter().map(layers::Circuit::json).collect::<Vec<_>>(),
            "proof_bytes": aggregate.proof.len(),
            "resumed_segments": resumed_segments,
            "resumed_groups": resumed_layers.first().cloned().unwrap_or_default(),
            "resumed_layers": resumed_layers,
            "public_values": aggregate.instances.len(),
            "vk_digest": file.vk_digest,
            "timings": stages.json(),
        }))?;
    } else {
        if verified.is_ok() {
            println!(
                "aggregate: {} ({count} segment proofs folded into one{}, key digest {})",
                path.display(),
                folded_in(&layers),
                file.vk_digest
            );
        }
        print_outputs(&outputs);
        println!("verified: {}", if verified.is_ok() { "yes" } else { "NO" });
    }
    verified
        .map(|_| ())
        .context("the aggregate just proven does not verify; nothing was written")
}

/// Refuses `--aggregate-root-logrows` where there is no root above a layer of groups: no
/// groups asked for or planned, or a single group.
fn check_root_rows(args: &Args, count: usize, asked_groups: usize, planned: bool) -> Result<()> {
    if args.aggregate_root_logrows.is_none() {
        return Ok(());
    }
    if args.aggregate_groups.is_none() && !planned {
        bail!(
            "--aggregate-root-logrows sizes the root of a two-layer aggregate: give \
             --aggregate-groups N, or a memory budget (--max-memory) for the groups to be \
             planned within"
        );
    }
    if asked_groups < 2 && (args.aggregate_groups.is_some() || count < 2) {
        bail!(
            "--aggregate-root-logrows sizes the root of a two-layer aggregate, but the \
             program has {count} segment(s) in {asked_groups} group: there is one layer \
             (size it with --aggregate-logrows)"
        );
    }
    Ok(())
}

/// The kind of run the progress folder records: a rerun goes on from what it saved only when
/// it asks for the same.
fn progress_kind(planned: Option<f64>, asked_groups: usize, group_k: u32, root_k: u32) -> String {
    if let Some(gb) = planned {
        format!(
            "aggregate in groups planned within {gb} GB of 2^{group_k} rows, root of \
             2^{root_k} rows"
        )
    } else if asked_groups > 1 {
        format!("aggregate in {asked_groups} groups of 2^{group_k} rows, root of 2^{root_k} rows")
    } else {
        format!("aggregate in one group, 2^{group_k} rows")
    }
}

/// How the proofs were folded, for the summary line: nothing for one layer, the groups for
/// two, each layer's groups for more.
fn folded_in(layers: &[Vec<usize>]) -> String {
    match layers {
        [] => String::new(),
        [groups] => format!(" in {} groups", groups.len()),
        layers => {
            let counts: Vec<String> = layers.iter().map(|l| l.len().to_string()).collect();
            format!(
                " in {} layers of {} groups",
                layers.len(),
                counts.join(", ")
            )
        }
    }
}

/// A program's segments as the aggregate proves them: the cut, each segment's circuit, and
/// the witness computed once.
struct Segments<'a> {
    cut: &'a zkml_segments::CutProgram,
    circuits: &'a [zkml_circuits::CircuitParams],
    witness: &'a [zkml_segments::SegmentWitness],
}

/// Proves each segment for aggregation (Poseidon transcript), or takes its proof saved in
/// `progress` where it verifies: under the cached proving key's verifying key, or under the
/// verifying keys alone, made again from the program, where the proving key is no longer
/// cached. Returns the proofs, the segments' exported keys and the segments resumed (from 1).
fn prove_segments(
    s: &Segments<'_>,
    sizes: &mut crate::proving::SrsCuts,
    progress: &crate::progress::Progress,
    run: &mut Run,
    stages: &mut Stages,
) -> Result<(
    Vec<zkml_aggregate::Snark>,
    Vec<zkml_verifier::Key>,
    Vec<usize>,
)> {
    let Segments {
        cut,
        circuits,
        witness,
    } = *s;
    let count = cut.len();
    let mut snarks = Vec::with_capacity(count);
    let mut keys = Vec::with_capacity(count);
    let mut resumed_segments = Vec::new();
    for (i, segment) in cut.segments.iter().enumerate() {
        let label = format!("segment {}/{count}: ", i + 1);
        let srs = stages.run(&format!("{label}SRS of 2^{} rows", circuits[i].k), || {
            sizes.for_k(circuits[i].k)
        })?;
        let w = &witness[i];
        let name = format!("segment-{i}");
        // A saved proof whose proving key is no longer cached is checked under the verifying
        // keys alone, made again from the program (no proving key's time and memory).
        let visibility = cut.segment_visibility(i);
        let cached_pk =
            crate::proving::key_cache_dir(&segment.program, &circuits[i], &visibility, &srs)
                .join("pk.bin");
        if let (Some(saved), false) = (progress.saved_snark(&name), cached_pk.exists()) {
            let resumed = stages.run(
                &format!("{label}verifying key, saved proof checked"),
                || {
                    let (vk, exported) = zkml_prover::generate_verifying_keys(
                        &segment.program,
                        circuits[i],
                        visibility,
                        &srs,
                    )?;
                    anyhow::Ok(
                        zkml_aggregate::resume_segment_under_vk(
                            &segment.program,
                            &w.inputs,
                            w.blinding,
                            (&vk, circuits[i], visibility),
                            &srs,
                            saved,
                        )
                        .map(|snark| (snark, exported)),
                    )
                },
            )?;
            if let Some((snark, exported)) = resumed {
                resumed_segments.push(i + 1);
                snarks.push(snark);
                keys.push(zkml_verifier::Key::Halo2(exported));
                continue;
            }
        }
        let k = cached_keys_for(
            &segment.program,
            visibility,
            circuits[i],
            srs,
            &label,
            run,
            stages,
        )?;
        let resumed = match progress.saved_snark(&name) {
            Some((proof, instances)) => {
                stages.run(&format!("{label}check the saved proof"), || {
                    anyhow::Ok(zkml_aggregate::resume_segment(
                        &segment.program,
                        &w.inputs,
                        w.blinding,
                        &k.pk,
                        &k.srs,
                        proof,
                        instances,
                    ))
                })?
            }
            None => None,
        };
        let snark = match resumed {
            Some(s) => {
                resumed_segments.push(i + 1);
                s
            }
            None => {
                let s = stages.run(&format!("{label}prove for aggregation"), || {
                    zkml_aggregate::prove_segment(
                        &segment.program,
                        &w.inputs,
                        w.blinding,
                        &k.pk,
                        &k.srs,
                    )
                })?;
                progress.save_snark(&name, &s.proof, &s.instances[0]);
                s
            }
        };
        if let Some(dir) = &k.cache {
            if let Err(e) = cache_keys(dir, &k.pk, &k.vk) {
                eprintln!("warning: cannot cache the keys in {}: {e:#}", dir.display());
            }
        }
        snarks.push(snark);
        keys.push(zkml_verifier::Key::Halo2(k.vk));
    }
    Ok((snarks, keys, resumed_segments))
}

/// Bytes in gigabytes, to two decimals.
fn gb(bytes: u64) -> f64 {
    (bytes as f64 / 1e7).round() / 100.0
}

/// What reading an aggregate file and its key gives.
struct Read {
    file: AggregateFile,
    proof: AggregateProof,
    vk: zkml_verifier::VerifyingKey,
    vk_path: PathBuf,
    vk_digest: [u8; 32],
}

fn read(path: &Path, text: &str, vk: Option<&Path>) -> Result<Read> {
    let version = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["version"].as_u64());
    if let Some(v) = version.filter(|&v| v != u64::from(AGGREGATE_VERSION)) {
        bail!(
            "{} is an aggregate file of version {v}, which this zkml does not read (it reads version {AGGREGATE_VERSION}): prove the aggregate again",
            path.display()
        );
    }
    let file: AggregateFile =
        serde_json::from_str(text).with_context(|| format!("{} is malformed", path.display()))?;
    let unhex = |s: &str, what: &str| -> Result<Vec<u8>> {
        hex::decode(s.strip_prefix("0x").unwrap_or(s)).with_context(|| format!("{what} is not hex"))
    };
    let proof = unhex(&file.proof, "the proof")?;
    let instances = file
        .instances
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let bytes: [u8; 32] = unhex(w, "a public value")?
                .try_into()
                .map_err(|_| anyhow::anyhow!("public value {i} is not 32 bytes"))?;
            zkml_segments::field_from_word(&bytes)
                .with_context(|| format!("public value {i} is not a field element"))
        })
        .collect::<Result<Vec<_>>>()?;
    let vk_path = match vk {
        Some(p) => p.to_path_buf(),
        None => path.parent().unwrap_or(Path::new(".")).join(&file.vk),
    };
    let bytes = std::fs::read(&vk_path)
        .with_context(|| format!("cannot read the verifying key {}", vk_path.display()))?;
    let key = zkml_verifier::VerifyingKey::from_bytes(&bytes)
        .with_context(|| format!("{} is not a zkml verifying key", vk_path.display()))?;
    if key.accumulator().is_none() {
        bail!(
            "{} is not an aggregate's verifying key: its public values carry no accumulator",
            vk_path.display()
        );
    }
    Ok(Read {
        file,
        proof: AggregateProof { proof, instances },
        vk: key,
        vk_path,
        vk_digest: zkml_prover::keys::keccak(&bytes),
    })
}

/// `verify` of an aggregate file: exit 0 when valid, 1 when invalid (a verifier other than the
/// pinned one, outputs that are not the proven ones, or a proof made for another input than
/// `input`'s, included), 2 on unreadable input.
pub fn verify(
    path: &Path,
    text: &str,
    vk: Option<&Path>,
    digest: Option<[u8; 32]>,
    input: Option<&Path>,
    json: bool,
) -> ExitCode {
    let read = read(path, text, vk).and_then(|r| {
        let input = input.map(crate::common::read_input).transpose()?;
        Ok((r, input))
    });
    let (r, input) = match read {
        Ok(v) => v,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    let start = std::time::Instant::now();
    let outcome = match digest {
        Some(d) if d != r.vk_digest => Err(anyhow::anyhow!(
            "the verifying key {} is not the one pinned (its digest is {})",
            r.vk_path.display(),
            zkml_verifier::encoding::hex0x(&r.vk_digest)
        )),
        _ => zkml_aggregate::verify(&r.vk, &r.proof)
            .map_err(anyhow::Error::from)
            .and_then(|()| claims(&r, input.as_deref())),
    };
    let secs = start.elapsed().as_secs_f64();
    if json {
        let _ = print_json(&json!({
            "verified": outcome.is_ok(),
            "error": outcome.as_ref().err().map(|e| format!("{e:#}")),
            "seconds": secs,
            "segments": r.file.segments,
            "vk_digest": zkml_verifier::encoding::hex0x(&r.vk_digest),
            "vk_pinned": digest.is_some(),
            "public_values": r.proof.exposed().len(),
            "outputs": outcome.as_ref().ok().map(|c| c.outputs),
            "input": outcome.as_ref().ok().map(|c| c.input),
            "parameters_hash": outcome.as_ref().ok().and_then(|c| c.parameters_hash.clone()),
        }));
    } else {
        match &outcome {
            Ok(c) => {
                println!(
                    "aggregate of {} segment proofs: valid ({secs:.3} s, key digest {}{}, {} public values besides the accumulator)",
                    r.file.segments,
                    zkml_verifier::encoding::hex0x(&r.vk_digest),
                    if digest.is_some() { ", the pinned one" } else { "" },
                    r.proof.exposed().len()
                );
                if let Some(outputs) = r.file.outputs.as_deref().filter(|o| !o.is_empty()) {
                    crate::commands::prove::print_outputs(outputs);
                }
                let describe = crate::commands::verify::describe;
                println!("{}", describe(c.outputs, "outputs in the aggregate file"));
                if input.is_some() {
                    println!("{}", describe(c.input, "input file"));
                }
                if let Some(h) = &c.parameters_hash {
                    println!("parameter hash: {h}");
                }
            }
            Err(e) => println!("aggregate: INVALID ({e:#})"),
        }
    }
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What a verified aggregate says of the outputs its file lists and of `input`: the file's
/// program is the key's, public outputs equal the proven ones, hashed ones hash to the proven
/// hash, and the same for the input file when one is given.
fn claims(r: &Read, input: Option<&[Vec<f64>]>) -> Result<crate::claims::Claims> {
    let program = zkml_verifier::encoding::hex0x(&r.vk.model.program_digest);
    if !r.file.program_digest.eq_ignore_ascii_case(&program) {
        bail!(
            "the aggregate file names program {}, but its verifying key is for program {program}",
            r.file.program_digest
        );
    }
    let listed = match (&r.file.outputs, &r.file.quantized_outputs) {
        (Some(outputs), Some(quantized)) => Some(crate::claims::Listed { outputs, quantized }),
        (None, None) => None,
        _ => bail!("the aggregate file lists outputs without their quantized values"),
    };
    let words = zkml_aggregate::instance_words(&r.proof);
    crate::claims::check_values(&r.vk.model, &words, listed, input)
}

/// `verify-evm` of an aggregate file: the verifier generated from its key, compiled, deployed
/// in the local EVM with its key contracts and called; exit 0 when it accepts, 1 when it
/// rejects, 2 on unreadable input.
pub fn verify_evm(path: &Path, json: bool) -> ExitCode {
    let prepared = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .and_then(|text| read(path, &text, None))
        .and_then(|r| {
            let built = zkml_contracts::build(&r.vk)
                .context("cannot build the aggregate's EVM verifier")?;
            Ok((r, built))
        });
    let (r, built) = match prepared {
        Ok(v) => v,
        Err(e) => {
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    let calldata =
        zkml_contracts::abi::calldata(&r.proof.proof, &zkml_aggregate::instance_words(&r.proof));
    let mut evm = zkml_contracts::evm::Evm::new();
    let outcome = evm
        .deploy_verifier(&built)
        .and_then(|at| evm.call(at, calldata.clone()));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let e = anyhow::Error::from(e).context("the local EVM could not run the verifier");
            report_error(&e, json);
            return ExitCode::from(2);
        }
    };
    let accepted = outcome.returned_true();
    if json {
        let _ = print_json(&json!({
            "verified": accepted,
            "gas_used": outcome.gas_used,
            "calldata_bytes": calldata.len(),
            "runtime_bytes": built.compiled.runtime.len(),
            "key_contracts": built.key_parts.len(),
        }));
    } else if accepted {
        println!(
            "aggregate of {} segment proofs: accepted by the contract, {} gas",
            r.file.segments, outcome.gas_used
        );
    } else {
        println!("aggregate: REJECTED by the contract");
    }
    if accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_layers() {
        assert_eq!(folded_in(&[]), "");
        assert_eq!(folded_in(&[vec![2, 2, 1]]), " in 3 groups");
        assert_eq!(
            folded_in(&[vec![2, 2, 2, 1], vec![2, 2], vec![2]]),
            " in 3 layers of 4, 2, 1 groups"
        );
    }

    #[test]
    fn the_progress_kind_names_what_a_rerun_must_ask_for() {
        // Saved progress is taken only by a run of the same kind: these strings are part of
        // the progress folder's format.
        assert_eq!(
            progress_kind(Some(16.0), 1, 20, 22),
            "aggregate in groups planned within 16 GB of 2^20 rows, root of 2^22 rows"
        );
        assert_eq!(
            progress_kind(None, 4, 21, 22),
            "aggregate in 4 groups of 2^21 rows, root of 2^22 rows"
        );
        assert_eq!(
            progress_kind(None, 1, 20, 20),
            "aggregate in one group, 2^20 rows"
        );
        assert_ne!(
            progress_kind(Some(8.0), 1, 20, 22),
            progress_kind(Some(16.0), 1, 20, 22)
        );
    }
}

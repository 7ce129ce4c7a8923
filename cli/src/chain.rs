//! Chains of segment proofs on the command line: `zkml prove --segments N` (or
//! `--max-logrows K`) cuts the program, proves every segment and writes a chain file;
//! `zkml verify --proof chain.json` checks it.
//!
//! A chain file (`chain.json`) lists, per segment, its verifying key (a file beside the chain
//! file) and its proof file. The first segment's proof file reports on the program's inputs,
//! the last one's lists the program's outputs; the others commit to what they pass on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zkml_ir::Program;
use zkml_segments::plan::{plan_cuts, plan_for, plan_sized, size_segments_fitting, Budget};
use zkml_segments::CutProgram;
use zkml_verifier::chain::{chain_digest, verify_chain, SegmentProof};

use crate::claims::{self, Binding};
use crate::commands::prove::{
    cached_keys_for, print_outputs, prove_and_cache, zkml_file, Args, Run,
};
use crate::common::{print_json, write_output};
use crate::programs::ProgramSource;
use crate::proving::{dequantized_outputs, ProofFile};
use crate::stages::Stages;

/// The `format` of a chain file.
pub const CHAIN_FORMAT: &str = "zkml-chain";

/// A chain file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainFile {
    /// Always `zkml-chain`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Keccak-256 of the segments' verifying key digests, in order: the chain's identity
    /// (`zkml verify --chain-digest` requires it).
    pub chain_digest: String,
    /// Keccak-256 of the whole program.
    pub program_digest: String,
    /// The nodes of the whole program it was cut before.
    pub cuts: Vec<usize>,
    /// The segments, in order.
    pub segments: Vec<ChainSegment>,
}

/// One segment of a chain file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainSegment {
    /// Its verifying key, a path relative to the chain file's folder.
    pub vk: String,
    /// Its proof.
    pub proof: ProofFile,
}

/// Whether bytes are a chain file zkml wrote (and may replace).
pub fn chain_file_bytes(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["format"] == CHAIN_FORMAT)
}

/// Cuts the program as `request` asks, proves every segment (keys cached per segment), verifies
/// the chain and only then writes it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prove(
    args: &Args,
    request: Request,
    program: &Program,
    program_path: &Path,
    source: Option<ProgramSource>,
    input: &[Vec<f64>],
    run: &mut Run,
    stages: &mut Stages,
) -> Result<()> {
    if args.pk.is_some() {
        bail!("--pk names one proving key; a chain of segments uses one key per segment, cached like one-shot keys");
    }
    let (cut, circuits) = stages.run("plan segments", || {
        plan(program, &args.visibility, run.device, request)
    })?;
    let count = cut.len();
    if !args.json {
        eprintln!(
            "{count} segment(s), cut before node(s) {:?}: circuits of 2^{:?} rows, estimated to prove in {} GB",
            cut.cuts,
            circuits.iter().map(|c| c.k).collect::<Vec<_>>(),
            circuits
                .iter()
                .map(|c| format!(
                    "{:.1}",
                    zkml_circuits::cost::memory_estimate(c, c.k) as f64 / 1e9
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let q = zkml_ir::input::quantize_inputs(program, input)
        .with_context(|| format!("input file {}", args.input_path().display()))?;
    let mut witness = stages.run("evaluate once", || cut.witness(&q, &mut rand::rngs::OsRng))?;
    // What an earlier run of this proof left: its links' blinding values and its proofs.
    let progress = crate::progress::Progress::open(
        &args.out.join("progress"),
        crate::progress::CHAIN,
        program,
        &cut,
        &q,
        &mut witness,
        args.force,
    )?;
    if !args.json {
        progress.announce();
    }
    // One SRS for all segments (cut down to each one's size): their keys share G2 and s G2,
    // so that a chain contract checks every segment with one pairing.
    let widest = circuits.iter().map(|c| c.k).max().unwrap_or(0);
    let (full_srs, srs_source) = crate::proving::srs_for(widest, args.srs.as_deref(), stages)?;
    let mut sizes = crate::proving::SrsCuts::new(full_srs, &srs_source);
    let mut srs = std::collections::BTreeMap::new();
    for k in circuits
        .iter()
        .map(|c| c.k)
        .collect::<std::collections::BTreeSet<_>>()
    {
        srs.insert(
            k,
            stages.run(&format!("SRS of 2^{k} rows"), || sizes.for_k(k))?,
        );
    }
    drop(sizes);
    // Segments are proven side by side while their estimates, with what this process
    // already holds, stay within the budget (one at a time on a GPU).
    let asked = Request::effective(program, request);
    let budget = gigabytes(asked.max_memory.unwrap_or(DEFAULT_MEMORY_BUDGET_GB));
    let room = ((budget as f64 * zkml_segments::plan::MEMORY_HEADROOM) as u64)
        .saturating_sub(crate::schedule::resident_now());
    let costs: Vec<u64> = circuits
        .iter()
        .map(|c| zkml_circuits::cost::memory_estimate(c, c.k))
        .collect();
    let width = match run.device {
        zkml_prover::Device::Cpu => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    };
    let device = run.device;
    let forks: Vec<std::sync::Mutex<Option<Stages>>> = (0..count)
        .map(|_| std::sync::Mutex::new(Some(stages.beside())))
        .collect();
    let proven = crate::schedule::within(&costs, room, width, |i| {
        let mut stages = forks[i]
            .lock()
            .expect("one job per segment")
            .take()
            .expect("one job per segment");
        let mut run = Run {
            device,
            gpu_peak: 0,
        };
        let (segment, w) = (&cut.segments[i], &witness[i]);
        let label = format!("segment {}/{count}: ", i + 1);
        let srs_i = &srs[&circuits[i].k];
        let resumed = if progress.has_saved(i) {
            stages.run(&format!("{label}check the saved proof"), || {
                anyhow::Ok(saved_proof(
                    &progress,
                    i,
                    count,
                    &segment.program,
                    circuits[i],
                    cut.segment_visibility(i),
                    srs_i,
                ))
            })?
        } else {
            None
        };
        if let Some((file, vk)) = resumed {
            return Ok(Proven {
                outputs: (i + 1 == count).then(|| file.outputs.clone()),
                file,
                key: zkml_verifier::Key::Halo2(vk),
                stages,
                gpu_peak: 0,
                resumed: true,
            });
        }
        let k = cached_keys_for(
            &segment.program,
            cut.segment_visibility(i),
            circuits[i],
            srs_i.clone(),
            &label,
            &mut run,
            &mut stages,
        )?;
        let proof = prove_and_cache(
            &segment.program,
            &w.inputs,
            w.blinding,
            &k,
            &label,
            &mut run,
            &mut stages,
        )?;
        let file = ProofFile::new(&proof, &segment.program, &k.pk, &k.vk);
        progress.save(i, &file);
        Ok(Proven {
            file,
            outputs: (i + 1 == count).then(|| dequantized_outputs(&proof, &segment.program)),
            key: zkml_verifier::Key::Halo2(k.vk),
            stages,
            gpu_peak: run.gpu_peak,
            resumed: false,
        })
    })?;
    let mut keys = Vec::with_capacity(count);
    let mut files = Vec::with_capacity(count);
    let mut last_outputs = Vec::new();
    let mut resumed = Vec::new();
    for (i, p) in proven.into_iter().enumerate() {
        if p.resumed {
            resumed.push(i);
        }
        stages.absorb(p.stages);
        run.gpu_peak = run.gpu_peak.max(p.gpu_peak);
        files.push(p.file);
        keys.push(p.key);
        if let Some(o) = p.outputs {
            last_outputs = o;
        }
    }
    let file = ChainFile {
        format: CHAIN_FORMAT.into(),
        version: 1,
        chain_digest: zkml_verifier::encoding::hex0x(&chain_digest(&keys)),
        program_digest: zkml_verifier::encoding::hex0x(&zkml_prover::keys::program_digest(program)),
        cuts: cut.cuts.clone(),
        segments: (0..count)
            .map(|i| ChainSegment {
                vk: vk_name(i),
                proof: files[i].clone(),
            })
            .collect(),
    };
    // Verified before anything is written.
    // Against the input too (where the first segment shows it), since proofs of an earlier
    // run may be among them.
    let shown = (cut.visibility.inputs != zkml_circuits::Visibility::Private).then_some(input);
    let verified = stages.run("verify chain", || check_chain(&keys, &file, shown));
    let verified_ok = verified.is_ok();
    let chain_path = args
        .output
        .clone()
        .unwrap_or_else(|| args.out.join("chain.json"));
    if verified_ok {
        stages.run("write artifacts", || -> Result<()> {
            let folder = chain_path.parent().unwrap_or(Path::new("."));
            for (i, key) in keys.iter().enumerate() {
                write_output(
                    &folder.join(vk_name(i)),
                    &key.to_bytes(),
                    args.force,
                    zkml_file,
                    &[&args.model, args.input_path()],
                )?;
            }
            write_output(
                &chain_path,
                serde_json::to_string_pretty(&file)?.as_bytes(),
                args.force,
                chain_file_bytes,
                &[&args.model, args.input_path()],
            )
        })?;
    }
    // Written, or wrong (a later run starts afresh): the progress is of no more use.
    progress.finish();
    if args.json {
        print_json(&json!({
            "outputs": last_outputs,
            "verified": verified_ok,
            "verify_error": verified.as_ref().err().map(|e| format!("{e:#}")),
            "chain": verified_ok.then_some(&chain_path),
            "chain_digest": file.chain_digest,
            "program": program_path,
            "program_source": source,
            "segments": cut.segments.iter().zip(&circuits).zip(&file.segments).map(|((s, c), f)| json!({
                "nodes": [s.nodes.start, s.nodes.end],
                "inputs": s.inputs.len(),
                "outputs": s.outputs.len(),
                "k": c.k,
                "circuit": c,
                "memory_estimate_bytes": zkml_circuits::cost::memory_estimate(c, c.k),
                "proof_bytes": (f.proof.proof.len() - 2) / 2,
                "public_values": f.proof.instances.len(),
            })).collect::<Vec<_>>(),
            "cuts": cut.cuts,
            "resumed_segments": resumed,
            "device": run.device.name(),
            "timings": stages.json(),
        }))?;
    } else {
        if verified_ok {
            println!(
                "chain: {} ({count} segment proofs, digest {})",
                chain_path.display(),
                file.chain_digest
            );
        }
        print_outputs(&last_outputs);
        println!("verified: {}", if verified_ok { "yes" } else { "NO" });
    }
    verified
        .map(|_| ())
        .context("the chain just proven does not verify; nothing was written")
}

/// Segment `i`'s proof saved by an earlier run, with the verifying key it verifies under: the
/// key cached for the segment's circuit (a saved proof without one is proven again). The last
/// segment's is taken only where it lists the outputs, which the run prints.
fn saved_proof(
    progress: &crate::progress::Progress,
    i: usize,
    count: usize,
    program: &Program,
    circuit: zkml_circuits::CircuitParams,
    visibility: zkml_circuits::VisibilityConfig,
    srs: &zkml_prover::srs::Srs,
) -> Option<(ProofFile, zkml_verifier::VerifyingKey)> {
    let dir = crate::proving::key_cache_dir(program, &circuit, &visibility, srs);
    let bytes = std::fs::read(dir.join("vk.bin")).ok()?;
    let vk = zkml_verifier::VerifyingKey::from_bytes(&bytes).ok()?;
    let file = progress.saved(i, program, &vk)?;
    (i + 1 < count || !file.quantized_outputs.is_empty()).then_some((file, vk))
}

/// One segment proven by [`prove`].
struct Proven {
    file: ProofFile,
    key: zkml_verifier::Key,
    /// The program's outputs (the last segment's).
    outputs: Option<Vec<Vec<f64>>>,
    stages: Stages,
    gpu_peak: u64,
    /// Whether the proof is an earlier run's.
    resumed: bool,
}

/// How the user asked for a program to be cut: `--segments N`, `--max-logrows K` or
/// `--max-memory GB` (at most one).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Request {
    pub segments: Option<usize>,
    pub max_logrows: Option<u32>,
    pub max_memory: Option<f64>,
    /// The whole program's circuit, when it was already sized (not sized again).
    pub whole: Option<zkml_circuits::CircuitParams>,
}

impl Request {
    pub fn asked(&self) -> bool {
        self.segments.is_some() || self.max_logrows.is_some() || self.max_memory.is_some()
    }

    /// The request as the flags that make it (`"--max-memory 16"`), recorded with the cuts
    /// planned for it; empty when nothing is asked.
    pub fn flags(&self) -> String {
        match (self.segments, self.max_logrows, self.max_memory) {
            (Some(n), _, _) => format!("--segments {n}"),
            (None, Some(k), _) => format!("--max-logrows {k}"),
            (None, None, Some(gb)) => format!("--max-memory {gb}"),
            (None, None, None) => String::new(),
        }
    }

    /// The budget each segment's shape is chosen within: the one asked, or the default memory
    /// budget for a count of segments or nothing.
    pub fn shape_budget(&self) -> Result<Budget> {
        Ok(match (self.segments, self.max_logrows, self.max_memory) {
            (None, Some(k), _) => Budget::Logrows(k),
            (None, None, Some(gb)) => {
                if !(gb > 0.0 && gb.is_finite()) {
                    bail!("--max-memory takes a positive number of gigabytes, not {gb}");
                }
                Budget::Memory(gigabytes(gb))
            }
            _ => Budget::Memory(gigabytes(DEFAULT_MEMORY_BUDGET_GB)),
        })
    }

    /// What `program` is cut by: `asked`, or the request its planned cuts were planned within
    /// when nothing is asked.
    pub fn effective(program: &Program, asked: Request) -> Request {
        if asked.asked() {
            return asked;
        }
        zkml_ir::segment::planned_request(program)
            .and_then(Request::from_flags)
            .map_or(asked, |recorded| Request {
                whole: asked.whole,
                ..recorded
            })
    }

    /// The request `flags` recorded, where they are one.
    fn from_flags(flags: &str) -> Option<Request> {
        let (flag, value) = flags.split_once(' ')?;
        let mut request = Request::default();
        match flag {
            "--segments" => request.segments = Some(value.parse().ok()?),
            "--max-logrows" => request.max_logrows = Some(value.parse().ok()?),
            "--max-memory" => request.max_memory = Some(value.parse().ok()?),
            _ => return None,
        }
        Some(request)
    }
}

/// Bytes in `gb` gigabytes (10^9 bytes).
pub(crate) fn gigabytes(gb: f64) -> u64 {
    (gb * 1e9) as u64
}

/// One-shot `prove`'s memory budget per segment when none is given: a circuit whose proving is
/// estimated above it is proven as segments within it.
pub(crate) const DEFAULT_MEMORY_BUDGET_GB: f64 = 8.0;

/// Cuts `program` as `request` says (or, asked nothing, as it was compiled to be cut), sized
/// for `device` as the visibility flags say; with the circuits.
///
/// A plan made before for the same program, request and settings by this build is taken from
/// the plan cache ([`crate::plan_cache`]); a new one is kept there.
pub(crate) fn plan(
    program: &Program,
    flags: &crate::proving::VisibilityArgs,
    device: zkml_prover::Device,
    request: Request,
) -> Result<(CutProgram, Vec<zkml_circuits::CircuitParams>)> {
    let visibility = flags.config();
    let (objective, phases) = (flags.objective(), flags.phases(device));
    let key = crate::plan_cache::PlanKey::new(
        program,
        &visibility,
        objective,
        phases,
        &request,
        crate::plan_cache::Planned::Segments,
    );
    if let Some(kept) = key.as_ref().and_then(|k| k.load(program, visibility)) {
        return Ok(kept);
    }
    let (cut, circuits) = plan_afresh(program, visibility, objective, phases, request)?;
    if let Some(key) = key {
        key.store(&cut.cuts, &circuits);
    }
    Ok((cut, circuits))
}

fn plan_afresh(
    program: &Program,
    visibility: zkml_circuits::VisibilityConfig,
    objective: zkml_circuits::cost::Objective,
    phases: zkml_circuits::cost::Phases,
    request: Request,
) -> Result<(CutProgram, Vec<zkml_circuits::CircuitParams>)> {
    // Cuts recorded at compile time are used as they are when nothing is asked or the same
    // request is: each segment then takes the best shape within that request's budget (the
    // default memory budget for a count), where one fits. Another request plans afresh.
    let recorded = zkml_ir::segment::planned_cuts(program)?;
    let planned_for = zkml_ir::segment::planned_request(program).unwrap_or_default();
    let sized = |cuts: Vec<usize>,
                 within: Budget|
     -> Result<(CutProgram, Vec<zkml_circuits::CircuitParams>)> {
        let cut = CutProgram::new(program.clone(), visibility, cuts)?;
        let resident = zkml_segments::plan::resident_bytes(program);
        let circuits = size_segments_fitting(&cut, objective, phases, within, resident)?;
        Ok((cut, circuits))
    };
    match recorded {
        Some(cuts) if !request.asked() || request.flags() == planned_for => {
            let within = Request::effective(program, request).shape_budget()?;
            return sized(cuts, within);
        }
        None if !request.asked() => bail!("neither --segments, --max-logrows nor --max-memory was given, and the program was not compiled with cuts"),
        _ => {}
    }
    if let Some(n) = request.segments {
        return sized(plan_cuts(program, visibility, n)?, request.shape_budget()?);
    }
    let budget = request.shape_budget()?;
    Ok(match request.whole {
        Some(whole) => plan_sized(program, visibility, budget, objective, phases, whole)?,
        None => plan_for(program, visibility, budget, objective, phases)?,
    })
}

/// Whether `program` is proven as segments: when the request asks for it, or the program was
/// compiled with cuts (`compile --segments`) into more than one segment.
pub(crate) fn segmented(program: &Program, request: Request) -> Result<bool> {
    Ok(request.asked()
        || zkml_ir::segment::planned_cuts(program)?.is_some_and(|cuts| !cuts.is_empty()))
}

fn vk_name(i: usize) -> String {
    format!("segment-{i}.vk.bin")
}

/// What a verified chain file claims, checked.
pub struct ChainClaims {
    /// The last segment's outputs listed in the file.
    pub outputs: Binding,
    /// The input file, when one was given.
    pub input: Binding,
    /// Each segment's parameter hash, where parameters are hashed.
    pub parameter_hashes: Vec<Option<String>>,
}

/// Verifies the chain `file` under `keys` (in order), then what its first proof file says of
/// the inputs (and `input`, if given) and what its last one lists as outputs.
pub fn check_chain(
    keys: &[zkml_verifier::Key],
    file: &ChainFile,
    input: Option<&[Vec<f64>]>,
) -> Result<ChainClaims> {
    if file.format != CHAIN_FORMAT {
        bail!("not a chain file (format '{}')", file.format);
    }
    if file.version != 1 {
        bail!(
            "chain format version {} is not supported (this build reads version 1)",
            file.version
        );
    }
    let mut decoded = Vec::with_capacity(file.segments.len());
    for (i, s) in file.segments.iter().enumerate() {
        let (proof, instances) = s.proof.decode().with_context(|| format!("segment {i}"))?;
        let digest: [u8; 32] = hex::decode(s.proof.vk_digest.trim_start_matches("0x"))
            .ok()
            .and_then(|d| d.try_into().ok())
            .with_context(|| {
                format!("segment {i}: field 'vk_digest' is not a 32-byte hex digest")
            })?;
        decoded.push((digest, proof, instances));
    }
    let listed: Vec<SegmentProof<'_>> = decoded
        .iter()
        .map(|(d, p, i)| SegmentProof {
            key_digest: *d,
            proof: p,
            instances: i,
        })
        .collect();
    let verified = verify_chain(keys, &listed)?;
    let words = |i: usize| -> Vec<[u8; 32]> {
        decoded[i]
            .2
            .iter()
            .map(zkml_verifier::encoding::fr_to_be)
            .collect()
    };
    let last = keys.len() - 1;
    let first = claims::check(
        keys[0].model(),
        &keys[0].key_digest(),
        &file.segments[0].proof,
        &words(0),
        input,
    )
    .context("segment 0")?;
    let end = claims::check(
        keys[last].model(),
        &keys[last].key_digest(),
        &file.segments[last].proof,
        &words(last),
        None,
    )
    .with_context(|| format!("segment {last}"))?;
    Ok(ChainClaims {
        outputs: end.outputs,
        input: first.input,
        parameter_hashes: verified
            .parameter_hashes
            .iter()
            .map(|h| {
                h.map(|f| zkml_verifier::encoding::hex0x(&zkml_verifier::encoding::fr_to_be(&f)))
            })
            .collect(),
    })
}

/// Reads the verifying keys a chain file names (beside it).
pub fn read_keys(chain_path: &Path, file: &ChainFile) -> Result<Vec<zkml_verifier::Key>> {
    let folder = chain_path.parent().unwrap_or(Path::new("."));
    file.segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = Path::new(&s.vk);
            if name.is_absolute() || name.components().count() != 1 {
                bail!(
                    "segment {i}: the verifying key '{}' must be a file name beside the chain file",
                    s.vk
                );
            }
            let path: PathBuf = folder.join(name);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("segment {i}: cannot read {}", path.display()))?;
            zkml_verifier::Key::from_bytes(&bytes)
                .with_context(|| format!("segment {i}: verifying key {}", path.display()))
        })
        .collect()
}

/// `zkml verify --proof chain.json`: exit 0 when the chain is valid, 1 when not, 2 on
/// unreadable input.
pub fn verify(
    chain_path: &Path,
    text: &str,
    pinned: Option<[u8; 32]>,
    input: Option<&Path>,
    json_out: bool,
) -> ExitCode {
    let read = || -> Result<_> {
        let file: ChainFile = serde_json::from_str(text).context("not a valid chain file")?;
        let keys = read_keys(chain_path, &file)?;
        let input = input.map(crate::common::read_input).transpose()?;
        Ok((file, keys, input))
    };
    let (file, keys, input_data) = match read() {
        Ok(v) => v,
        Err(e) => {
            crate::common::report_error(&e, json_out);
            return ExitCode::from(2);
        }
    };
    let start = std::time::Instant::now();
    let digest = chain_digest(&keys);
    let result = match pinned {
        Some(expected) if expected != digest => Err(anyhow::anyhow!(
            "the chain's keys have digest {}, not the pinned {}",
            zkml_verifier::encoding::hex0x(&digest),
            zkml_verifier::encoding::hex0x(&expected)
        )),
        _ => check_chain(&keys, &file, input_data.as_deref()),
    };
    let secs = start.elapsed().as_secs_f64();
    let digest_hex = zkml_verifier::encoding::hex0x(&digest);
    match result {
        Ok(c) => {
            if json_out {
                println!(
                    "{}",
                    json!({
                        "verified": true,
                        "segments": keys.len(),
                        "seconds": secs,
                        "outputs": c.outputs,
                        "input": c.input,
                        "parameter_hashes": c.parameter_hashes,
                        "chain_digest": digest_hex,
                        "chain_pinned": pinned.is_some(),
                    })
                );
            } else {
                println!(
                    "chain of {} segment proofs is valid ({secs:.3} s)",
                    keys.len()
                );
                if pinned.is_some() {
                    println!("chain digest: {digest_hex} (the pinned one)");
                } else {
                    println!("chain digest: {digest_hex} (not pinned: pass --chain-digest to require it)");
                }
                println!(
                    "{}",
                    crate::commands::verify::describe(c.outputs, "outputs in the chain file")
                );
                if input.is_some() {
                    println!(
                        "{}",
                        crate::commands::verify::describe(c.input, "input file")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if json_out {
                println!("{}", json!({"verified": false, "error": format!("{e:#}")}));
            }
            eprintln!("INVALID: {e:#}");
            ExitCode::from(1)
        }
    }
}

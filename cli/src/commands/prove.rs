//! `zkml prove`: with a compiled program and `--pk`, proves; with an ONNX model (or no
//! `--pk`), compiles, sets up (keys cached by model hash), proves and verifies in one go.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;
use zkml_ir::Program;
use zkml_prover::{Device, ProvingKeyFile};

use crate::common::{
    compile_model, import, is_program_file, print_json, read_input, write_output, ModelArgs,
};
use crate::device::{memory_note, run_on, DeviceArg};
use crate::groth16::BackendArg;
use crate::programs::{self, ProgramCache, ProgramSource};
use crate::proving::{key_cache_dir, srs_for, ProofFile, VisibilityArgs};
use crate::stages::Stages;

#[derive(clap::Args)]
pub struct Args {
    /// An ONNX model (one-shot: compile, setup, prove, verify) or a compiled program.
    pub model: PathBuf,
    /// The input (EZKL format); not needed with --segment.
    #[arg(long, value_name = "INPUT.json", required_unless_present = "segment")]
    pub input: Option<PathBuf>,
    /// Proving key from `zkml setup` (default: keys cached by model hash, generated on first
    /// use).
    #[arg(long, value_name = "PK")]
    pub pk: Option<PathBuf>,
    /// KZG parameters in halo2's format (default: the SRS cache, else a locally generated,
    /// insecure SRS).
    #[arg(long, value_name = "FILE")]
    pub srs: Option<PathBuf>,
    /// Directory for the artifacts (program, verifying key, proof).
    #[arg(long, value_name = "DIR", default_value = "zkml-out")]
    pub out: PathBuf,
    /// Proof file (default: DIR/proof.json).
    #[arg(short, long, value_name = "PROOF")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub model_args: ModelArgs,
    #[command(flatten)]
    pub visibility: VisibilityArgs,
    /// The proof system (default: the proving key's, else halo2).
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Where to generate keys and prove: the GPU where one is present and the GPU prover is
    /// installed (auto), or cpu, or gpu.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Cut the program into this many segments, each proven as a circuit of its own and
    /// linked to its neighbours by commitments; writes a chain file (DIR/chain.json) with the
    /// segments' verifying keys beside it.
    #[arg(long, value_name = "N", conflicts_with = "max_logrows")]
    pub segments: Option<usize>,
    /// Cut the program into the fewest segments whose circuits have at most 2^K rows (as
    /// --segments does).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(6..=26))]
    pub max_logrows: Option<u32>,
    /// Cut the program into the fewest segments each estimated to prove within this many
    /// gigabytes of memory (as --segments does; the estimate is `inspect --segments`'
    /// memory column). Without any of these flags, a program compiled with cuts is
    /// proven as those segments within the budget they were planned for (as with the same
    /// flags again; other flags plan afresh), and one whose single circuit is estimated above
    /// 8 GB as segments within 8 GB. Segments are proven side by side (up to one per core) while
    /// their estimates and what the process holds fit the budget (8 GB unless given).
    #[arg(long, value_name = "GB", conflicts_with_all = ["segments", "max_logrows"])]
    pub max_memory: Option<f64>,
    /// Prove segment I of a cut program alone, from its witness file (`zkml witness`) and its
    /// proving key (`setup --segments`, given with --pk); writes a proof file
    /// (DIR/segment-I.proof.json) for `zkml chain`.
    #[arg(long, value_name = "I", requires = "witness", conflicts_with_all = ["segments", "max_logrows"])]
    pub segment: Option<usize>,
    /// The segment's witness file (with --segment).
    #[arg(long, value_name = "FILE", requires = "segment")]
    pub witness: Option<PathBuf>,
    /// Fold the segments' proofs (one segment unless cut) into one aggregate proof, checked
    /// on chain at a cost that does not grow with their number: writes DIR/aggregate.json and
    /// its verifying key (aggregate.vk, for verify and create-evm-verifier) beside it, instead
    /// of a chain. Segments take the fewest-column shapes (as with --optimize
    /// evm-gas), which the aggregation circuit verifies most cheaply. Slow: the aggregation
    /// circuit has 2^20 rows or more.
    #[arg(long, conflicts_with = "segment")]
    pub aggregate: bool,
    /// Aggregate in two layers: the segments in N groups of consecutive ones, each group
    /// folded into an aggregate, then the groups' aggregates into one. The final aggregation
    /// circuit then verifies N proofs whatever the number of segments, so its on-chain check
    /// stays as cheap as for a few segments (BENCHMARKS.md, "Aggregation"). Without it, under
    /// a memory budget (--max-memory, or the one the program was compiled with), the fewest
    /// groups whose aggregation circuits are estimated within the budget are chosen; with no
    /// budget, one layer.
    #[arg(long, value_name = "N", requires = "aggregate", value_parser = clap::value_parser!(u64).range(1..))]
    pub aggregate_groups: Option<u64>,
    /// Rows of the aggregation circuits (2^K; default 20, or the widest segment's). More rows
    /// take fewer columns: a cheaper on-chain check, for more proving time and memory.
    #[arg(long, value_name = "K", requires = "aggregate", value_parser = clap::value_parser!(u32).range(18..=26))]
    pub aggregate_logrows: Option<u32>,
    /// Rows of the root of a two-layer aggregate (2^K; default that of the groups' circuits).
    /// The root alone is checked on chain: more rows for it give fewer columns, a cheaper
    /// check, for the memory and time of that one circuit. With --aggregate-groups, or with
    /// groups planned within a memory budget (two at least).
    #[arg(long, value_name = "K", requires = "aggregate", value_parser = clap::value_parser!(u32).range(18..=26))]
    pub aggregate_root_logrows: Option<u32>,
    /// Replace existing files even if they were not written by zkml.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON summary on stdout.
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

    /// The input file (clap requires it unless --segment is given).
    pub fn input_path(&self) -> &Path {
        self.input.as_deref().unwrap_or(Path::new(""))
    }
}

/// Whether an existing file is a program or key zkml wrote (and may replace).
pub fn zkml_file(b: &[u8]) -> bool {
    zkml_ir::format::is_program(b) || crate::groth16::is_key_file(b)
}

/// Whether an existing file is a proof file zkml wrote.
pub fn proof_file_bytes(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b)
        .is_ok_and(|v| v["format"] == crate::proving::PROOF_FORMAT)
}

/// Where this run proves, and the GPU memory peak it has seen.
pub(crate) struct Run {
    pub device: Device,
    pub gpu_peak: u64,
}

/// Keys to prove with; `cache` is where freshly generated keys are to be cached.
pub(crate) struct Keys {
    pub pk: ProvingKeyFile,
    pub vk: zkml_verifier::VerifyingKey,
    pub pk_path: PathBuf,
    pub srs: zkml_prover::srs::Srs,
    pub cache: Option<PathBuf>,
}

/// Loads cached keys, or generates them (to be cached while the proof is made).
fn cached_keys(
    program: &Program,
    circuit: zkml_circuits::CircuitParams,
    args: &Args,
    run: &mut Run,
    stages: &mut Stages,
) -> Result<Keys> {
    let visibility = args.visibility.config();
    let (srs, _) = srs_for(circuit.k, args.srs.as_deref(), stages)?;
    cached_keys_for(program, visibility, circuit, srs, "", run, stages)
}

/// [`cached_keys`] for a sized circuit under `visibility`, with `srs` of its size; stage
/// names start with `label`.
pub(crate) fn cached_keys_for(
    program: &Program,
    visibility: zkml_circuits::VisibilityConfig,
    circuit: zkml_circuits::CircuitParams,
    srs: zkml_prover::srs::Srs,
    label: &str,
    run: &mut Run,
    stages: &mut Stages,
) -> Result<Keys> {
    // A limit that is not a number is refused before any key is made.
    crate::key_cache::KeyCache::open()?;
    let dir = key_cache_dir(program, &circuit, &visibility, &srs);
    let (pk_path, vk_path) = (dir.join("pk.bin"), dir.join("vk.bin"));
    if pk_path.exists() && vk_path.exists() {
        let loaded = stages.run(&format!("{label}load cached keys"), || -> Result<_> {
            let pk = ProvingKeyFile::read_file(&pk_path)?;
            let vk = zkml_verifier::VerifyingKey::from_bytes(&std::fs::read(&vk_path)?)?;
            Ok((pk, vk))
        });
        if let Ok((pk, vk)) = loaded {
            crate::key_cache::KeyCache::touch(&pk_path);
            return Ok(Keys {
                pk,
                vk,
                pk_path,
                srs,
                cache: None,
            });
        }
        eprintln!(
            "cached keys in {} are unusable; generating new ones",
            dir.display()
        );
    }
    let device = run.device;
    let (pk, vk) = stages.run(&format!("{label}generate keys ({device})"), || {
        run_on(device, &mut run.gpu_peak, || {
            zkml_prover::generate_keys_on(device, program, circuit, visibility, &srs)
        })
    })?;
    Ok(Keys {
        pk,
        vk,
        pk_path,
        srs,
        cache: Some(dir),
    })
}

/// Writes keys into the cache directory `dir`, each through a temporary file and a rename (a
/// concurrent run never reads half a key). The proving key is written where the key cache has
/// room for it (least recently used keys removed to make it, [`crate::key_cache`]); where it
/// has none, the verifying key alone is, and the error says why.
pub(crate) fn cache_keys(
    dir: &Path,
    pk: &ProvingKeyFile,
    vk: &zkml_verifier::VerifyingKey,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let put = |name: &str, write: &dyn Fn(&mut std::fs::File) -> std::io::Result<()>| {
        let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| write(&mut f));
        match written.and_then(|()| std::fs::rename(&tmp, dir.join(name))) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    };
    // The verifying key first: a run that goes on from saved proofs needs only it.
    put("vk.bin", &|f| std::io::Write::write_all(f, &vk.to_bytes()))?;
    let room = crate::key_cache::KeyCache::open()?.make_room(dir, pk.file_len())?;
    if let Some(line) = room.describe() {
        eprintln!("{line}");
    }
    put("pk.bin", &|f| pk.write_to(f).map(|_| ()))?;
    Ok(())
}

/// Proves, writing freshly generated keys to the cache at the same time; stage names start
/// with `label`.
pub(crate) fn prove_and_cache(
    program: &Program,
    input: &[zkml_ir::Tensor],
    blinding: zkml_circuits::Blinding,
    keys: &Keys,
    label: &str,
    run: &mut Run,
    stages: &mut Stages,
) -> Result<zkml_prover::Proof> {
    let device = run.device;
    let stage = format!("{label}prove ({device})");
    let mut prove = || {
        run_on(device, &mut run.gpu_peak, || {
            zkml_prover::prove_segment_on(device, program, input, blinding, &keys.pk, &keys.srs)
        })
    };
    let Some(dir) = &keys.cache else {
        return Ok(stages.run(&stage, prove)?);
    };
    let (proof, cached) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let start = std::time::Instant::now();
            cache_keys(dir, &keys.pk, &keys.vk).map(|()| start.elapsed().as_secs_f64())
        });
        let proof = stages.run(&stage, &mut prove);
        let cached = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the writer stopped")));
        (proof, cached)
    });
    match cached {
        Ok(secs) => stages.record(&format!("{label}cache keys (while proving)"), secs),
        // The proof does not depend on the cache: a key that could not be cached is
        // generated again next time.
        Err(e) => eprintln!("warning: cannot cache the keys in {}: {e:#}", dir.display()),
    }
    Ok(proof?)
}

/// Loads `--pk` and re-derives its verifying key (checked against the key's recorded digest).
fn given_keys(
    program: &Program,
    pk_path: &Path,
    args: &Args,
    stages: &mut Stages,
) -> Result<(
    ProvingKeyFile,
    zkml_verifier::VerifyingKey,
    zkml_prover::srs::Srs,
)> {
    given_keys_at(program, pk_path, args.srs.as_deref(), None, stages)
}

/// [`given_keys`] with the SRS file `srs_path` (default: the SRS cache); with `srs_k`, the SRS
/// of that size is taken and cut down to the key's (the segments of a chain share one SRS).
pub(crate) fn given_keys_at(
    program: &Program,
    pk_path: &Path,
    srs_path: Option<&Path>,
    srs_k: Option<u32>,
    stages: &mut Stages,
) -> Result<(
    ProvingKeyFile,
    zkml_verifier::VerifyingKey,
    zkml_prover::srs::Srs,
)> {
    let pk = stages.run("load proving key", || -> Result<_> {
        Ok(ProvingKeyFile::read_file(pk_path)?)
    })?;
    if hex::encode(zkml_prover::keys::program_digest(program)) != pk.header.program_digest {
        anyhow::bail!(
            "{} is a proving key for another program (or another segment of it)",
            pk_path.display()
        );
    }
    let k = pk.header.circuit.k;
    let (srs, _) = srs_for(srs_k.unwrap_or(k).max(k), srs_path, stages)?;
    let srs = zkml_prover::srs::for_k(&srs, k)?;
    let n_public = zkml_circuits::measure(program, pk.header.circuit, pk.header.visibility)?
        .instance
        .len();
    let vk = zkml_prover::export::export_vk(
        pk.pk.get_vk(),
        &srs,
        zkml_prover::keys::model_info(program, pk.header.visibility)?,
        n_public,
    )?;
    if hex::encode(zkml_prover::keys::keccak(&vk.to_bytes())) != pk.header.vk_digest {
        anyhow::bail!("the SRS does not match the one the proving key was generated with (pass the same --srs as at setup)");
    }
    Ok((pk, vk, srs))
}

/// The program one-shot `prove` uses for an ONNX model: compiled for the `--calibration`
/// files when given; else the program this model was compiled to before, if `input` fits it,
/// or a new one calibrated on `input` and the inputs before it (see [`crate::programs`]).
fn model_program(
    model: &zkml_onnx::Model,
    input: &[Vec<f64>],
    args: &Args,
    stages: &mut Stages,
) -> Result<(Program, ProgramSource)> {
    if !args.model_args.calibration.is_empty() {
        let calibration = args.model_args.calibration_inputs()?;
        let (program, _) = compile_model(model, &calibration, &args.model_args, stages)?;
        return Ok((program, ProgramSource::Calibrated));
    }
    let cache = ProgramCache::new(model, &args.model_args, input);
    let cached = stages.run("load cached program", || {
        Ok::<_, anyhow::Error>(cache.load())
    })?;
    let (earlier, reason) = match cached {
        Some((program, calibration)) => match programs::fits(&program, input) {
            Ok(()) => {
                let n = calibration.len();
                if !args.json {
                    eprintln!(
                        "using the program this model was compiled to before (calibrated on \
                         {n} input(s)): proofs of this model share its verifying key"
                    );
                }
                return Ok((
                    program,
                    ProgramSource::Reused {
                        calibration_inputs: n,
                    },
                ));
            }
            Err(why) => (calibration, Some(why)),
        },
        None => (Vec::new(), None),
    };
    let calibration = programs::extended(earlier, input);
    let (program, _) = compile_model(model, &calibration, &args.model_args, stages)?;
    if let Err(e) = cache.store(&program, &calibration) {
        eprintln!("warning: cannot cache the program: {e:#}");
    }
    let source = match reason {
        None => ProgramSource::Compiled,
        Some(reason) => {
            eprintln!(
                "note: this input does not fit the program compiled for this model before \
                 ({reason}); compiled a new one, calibrated on it and {} earlier input(s): \
                 its verifying key differs from the earlier proofs'",
                calibration.len() - 1
            );
            ProgramSource::Recompiled {
                reason,
                calibration_inputs: calibration.len(),
            }
        }
    };
    Ok((program, source))
}

pub fn run(args: Args) -> Result<()> {
    let backend = crate::groth16::resolve(args.backend, args.pk.as_deref())?;
    let mut run = Run {
        device: match backend {
            BackendArg::Halo2 => crate::device::resolve(args.device)?,
            BackendArg::Groth16 => {
                crate::groth16::require_cpu(args.device)?;
                Device::Cpu
            }
        },
        gpu_peak: 0,
    };
    let mut stages = Stages::new(args.json);
    if let Some(index) = args.segment {
        if backend == BackendArg::Groth16 {
            anyhow::bail!(
                "segments are proven with halo2; --backend groth16 proves whole programs"
            );
        }
        if !is_program_file(&args.model)? {
            anyhow::bail!("--segment proves a segment of a compiled program: give the .zkml file the plan was made for");
        }
        let program = stages
            .run("load program", || zkml_ir::format::load(&args.model))
            .with_context(|| format!("cannot read {}", args.model.display()))?;
        return crate::jobs::prove_segment(&args, &program, index, &mut stages);
    }
    let input = read_input(args.input_path())?;
    let (program, program_path, source) = if is_program_file(&args.model)? {
        let p = stages
            .run("load program", || zkml_ir::format::load(&args.model))
            .with_context(|| format!("cannot read {}", args.model.display()))?;
        (p, args.model.clone(), None)
    } else {
        let model = import(&args.model, &args.model_args, Some(&input), &mut stages)?;
        let (program, source) = model_program(&model, &input, &args, &mut stages)?;
        let path = args.out.join("model.zkml");
        write_output(
            &path,
            &zkml_ir::format::to_bytes(&program),
            args.force,
            zkml_file,
            &[&args.model, args.input_path()],
        )?;
        (program, path, Some(source))
    };
    // Segments when asked for (or compiled with cuts), or when one circuit would not prove
    // within the default memory budget (halo2, keys not given).
    let mut request = crate::chain::segmented(&program, args.request())?.then(|| args.request());
    if request.is_some() && backend == BackendArg::Groth16 {
        anyhow::bail!("segments are proven with halo2; --backend groth16 proves whole programs");
    }
    let mut sized = None;
    if request.is_none() && backend != BackendArg::Groth16 && args.pk.is_none() {
        // Within the budget the program was compiled for (`compile --max-memory`, cut into
        // one segment), or the default one.
        let recorded = crate::chain::Request::effective(&program, args.request());
        let over = if recorded.asked() {
            recorded
        } else {
            crate::chain::Request {
                max_memory: Some(crate::chain::DEFAULT_MEMORY_BUDGET_GB),
                ..Default::default()
            }
        };
        let within = over.shape_budget()?;
        let resident = zkml_segments::plan::resident_bytes(&program);
        let fits = |c: &zkml_circuits::CircuitParams| within.fits(c, resident);
        let circuit = stages.run("size circuit", || {
            crate::plan_cache::whole_circuit(&program, &args.visibility, run.device, &over, &fits)
        })?;
        let need = zkml_circuits::cost::memory_estimate(&circuit, circuit.k);
        if !fits(&circuit) {
            if !args.json {
                eprintln!(
                    "one circuit of 2^{} rows would take about {:.1} GB to prove: proving it as segments within {} (--max-memory sets the budget, --segments the count)",
                    circuit.k,
                    need as f64 / 1e9,
                    over.flags()
                );
            }
            request = Some(crate::chain::Request {
                whole: Some(circuit),
                ..over
            });
        } else {
            sized = Some(circuit);
        }
    }
    if args.aggregate {
        if backend == BackendArg::Groth16 {
            anyhow::bail!("--aggregate folds halo2 proofs; --backend groth16 cannot be aggregated");
        }
        let request = request.unwrap_or(crate::chain::Request {
            segments: Some(1),
            ..Default::default()
        });
        return crate::aggregate::prove(&args, request, &program, &input, &mut run, &mut stages);
    }
    if let Some(request) = request {
        return crate::chain::prove(
            &args,
            request,
            &program,
            &program_path,
            source,
            &input,
            &mut run,
            &mut stages,
        );
    }
    if backend == BackendArg::Groth16 {
        let job = crate::groth16::ProveJob {
            args: &args,
            program: &program,
            program_path: &program_path,
            source,
            input: &input,
        };
        return crate::groth16::prove(job, &mut stages);
    }
    let keys = match &args.pk {
        Some(p) => {
            let (pk, vk, srs) = given_keys(&program, p, &args, &mut stages)?;
            Keys {
                pk,
                vk,
                pk_path: p.clone(),
                srs,
                cache: None,
            }
        }
        None => {
            let circuit = sized.expect("sized above for halo2 without --pk");
            cached_keys(&program, circuit, &args, &mut run, &mut stages)?
        }
    };
    let q = zkml_ir::input::quantize_inputs(&program, &input)
        .with_context(|| format!("input file {}", args.input_path().display()))?;
    let proof = prove_and_cache(
        &program,
        &q,
        zkml_circuits::Blinding::default(),
        &keys,
        "",
        &mut run,
        &mut stages,
    )?;
    let Keys {
        pk, vk, pk_path, ..
    } = keys;
    let file = ProofFile::new(&proof, &program, &pk, &vk);
    let proof_path = args
        .output
        .clone()
        .unwrap_or_else(|| args.out.join("proof.json"));
    let vk_path = args.out.join("vk.bin");
    let vk_bytes = vk.to_bytes();
    // Verified before anything is written: a proof that does not verify replaces nothing.
    let verified = stages.run("verify", || -> Result<()> {
        let (bytes, instances) = file.decode()?;
        Ok(zkml_verifier::verify_with_key(&vk, &bytes, &instances)?)
    });
    let verified_ok = verified.is_ok();
    if verified_ok {
        write_artifacts(&args, &file, &proof_path, &vk_bytes, &vk_path, &mut stages)?;
    }
    let outputs = crate::proving::dequantized_outputs(&proof, &program);
    if args.json {
        print_json(&json!({
            "outputs": outputs,
            "verified": verified_ok,
            "verify_error": verified.as_ref().err().map(|e| e.to_string()),
            "proof": verified_ok.then_some(&proof_path),
            "vk": verified_ok.then_some(&vk_path),
            "pk": pk_path,
            "program": program_path,
            "program_source": source,
            "proof_bytes": proof.bytes.len(),
            "public_values": file.instances.len(),
            "public": file.public,
            "circuit": pk.header.circuit,
            "memory_estimate_bytes": zkml_circuits::cost::memory_estimate(&pk.header.circuit, pk.header.circuit.k),
            "device": run.device.name(),
            "gpu_memory_peak_bytes": (run.device == Device::Gpu).then_some(run.gpu_peak),
            "timings": stages.json(),
        }))?;
    } else {
        if verified_ok {
            println!(
                "proof: {} ({} bytes, {} public values)",
                proof_path.display(),
                proof.bytes.len(),
                file.instances.len()
            );
            println!("verifying key: {}", vk_path.display());
        }
        print_outputs(&outputs);
        if let Some(note) = memory_note(run.device, run.gpu_peak) {
            println!("{note}");
        }
        println!("verified: {}", if verified_ok { "yes" } else { "NO" });
    }
    verified.context("the proof just made does not verify; nothing was written")
}

/// Writes a verified proof's file and its verifying key (either backend).
pub fn write_artifacts(
    args: &Args,
    file: &ProofFile,
    proof_path: &Path,
    vk_bytes: &[u8],
    vk_path: &Path,
    stages: &mut Stages,
) -> Result<()> {
    stages.run("write artifacts", || -> Result<()> {
        write_output(
            proof_path,
            serde_json::to_string_pretty(file)?.as_bytes(),
            args.force,
            proof_file_bytes,
            &[&args.model, args.input_path()],
        )?;
        write_output(
            vk_path,
            vk_bytes,
            args.force,
            zkml_file,
            &[&args.model, args.input_path()],
        )
    })
}

/// Prints each output's first values.
pub fn print_outputs(outputs: &[Vec<f64>]) {
    for (k, o) in outputs.iter().enumerate() {
        let shown: Vec<String> = o.iter().take(10).map(|v| format!("{v:.5}")).collect();
        println!(
            "output {k}: [{}{}]",
            shown.join(", "),
            if o.len() > 10 { ", ..." } else { "" }
        );
    }
}

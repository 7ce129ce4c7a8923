//! Pieces shared by the commands: model options, loading, safe writing, error reporting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use zkml_ir::Program;
use zkml_onnx::{CalibrationReport, ImportOptions, Model, QuantConfig};

use crate::stages::Stages;

/// Quantization and import options shared by `compile` and `run`.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelArgs {
    /// Calibration input (EZKL input format); repeat for several. Without one, `run` calibrates
    /// on its input and `compile` on synthetic standard-normal inputs.
    #[arg(long = "calibration", value_name = "INPUT.json")]
    pub calibration: Vec<PathBuf>,
    /// Value bits: range-checked values lie in [-2^(B-1), 2^(B-1)).
    #[arg(long, default_value_t = QuantConfig::default().value_bits, value_name = "B")]
    pub bits: u32,
    /// Bits per constant (weights), sign included.
    #[arg(long, default_value_t = QuantConfig::default().weight_bits, value_name = "W")]
    pub weight_bits: u32,
    /// Each lookup table has at most 2^T entries.
    #[arg(long, default_value_t = QuantConfig::default().table_bits, value_name = "T")]
    pub table_bits: u32,
    /// Bits of headroom above the largest calibrated magnitude.
    #[arg(long, default_value_t = QuantConfig::default().headroom_bits, value_name = "H")]
    pub headroom_bits: u32,
    /// Value of a symbolic input dimension, as NAME=N (a symbolic batch dimension not given
    /// follows the input file, else is 1).
    #[arg(long = "dim", value_name = "NAME=N", value_parser = parse_dim)]
    pub dims: Vec<(String, usize)>,
    /// Domain of an integer input, as NAME=LO:HI (inclusive); overrides the inferred one (token
    /// ids index their embedding, attention masks are 0 or 1, other integers take the value
    /// range).
    #[arg(long = "input-domain", value_name = "NAME=LO:HI", value_parser = parse_domain)]
    pub domains: Vec<(String, (i64, i64))>,
}

fn parse_domain(s: &str) -> Result<(String, (i64, i64)), String> {
    let (name, range) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=LO:HI, got '{s}'"))?;
    let (lo, hi) = range
        .split_once(':')
        .ok_or_else(|| format!("expected LO:HI after '{name}=', got '{range}'"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| format!("'{v}' is not an integer"))
    };
    let (lo, hi) = (parse(lo)?, parse(hi)?);
    if lo > hi {
        return Err(format!("the domain {lo}:{hi} is empty"));
    }
    Ok((name.to_string(), (lo, hi)))
}

fn parse_dim(s: &str) -> Result<(String, usize), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=N, got '{s}'"))?;
    let n: usize = value
        .parse()
        .map_err(|_| format!("'{value}' is not a positive integer"))?;
    if n == 0 {
        return Err("dimensions must be positive".into());
    }
    Ok((name.to_string(), n))
}

impl ModelArgs {
    pub fn quant(&self) -> QuantConfig {
        QuantConfig {
            value_bits: self.bits,
            weight_bits: self.weight_bits,
            table_bits: self.table_bits,
            headroom_bits: self.headroom_bits,
            ..QuantConfig::default()
        }
    }

    /// The `--calibration` input files, read.
    pub fn calibration_inputs(&self) -> Result<Vec<Vec<Vec<f64>>>> {
        self.calibration.iter().map(|p| read_input(p)).collect()
    }

    /// Import options; `input` (the input at hand, if any) sets symbolic batch dimensions.
    pub fn import(&self, input: Option<&[Vec<f64>]>) -> ImportOptions {
        ImportOptions {
            dims: self.dims.iter().cloned().collect::<BTreeMap<_, _>>(),
            domains: self.domains.iter().cloned().collect::<BTreeMap<_, _>>(),
            input_sizes: input.unwrap_or_default().iter().map(Vec::len).collect(),
        }
    }
}

/// Reads an input file (EZKL format).
pub fn read_input(path: &Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read input file {}", path.display()))?;
    zkml_ir::input::parse_input_json(&text)
        .with_context(|| format!("input file {}", path.display()))
}

/// Whether a path names a compiled program (by its magic, else by extension).
pub fn is_program_file(path: &Path) -> Result<bool> {
    let mut head = [0u8; 8];
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let n = std::io::Read::read(&mut f, &mut head)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(zkml_ir::format::is_program(&head[..n]))
}

/// Imports an ONNX model; `input` (the input at hand, if any) sets symbolic batch dimensions.
pub fn import(
    path: &Path,
    args: &ModelArgs,
    input: Option<&[Vec<f64>]>,
    stages: &mut Stages,
) -> Result<Model> {
    stages
        .run("import", || {
            zkml_onnx::load_model(path, &args.import(input))
        })
        .with_context(|| format!("cannot import {}", path.display()))
}

/// Calibrates and lowers a model.
pub fn compile_model(
    model: &Model,
    calibration: &[Vec<Vec<f64>>],
    args: &ModelArgs,
    stages: &mut Stages,
) -> Result<(Program, CalibrationReport)> {
    let compiled = stages.run("calibrate + quantize", || {
        zkml_onnx::compile(model, calibration, &args.quant())
    })?;
    Ok((compiled.program, compiled.report))
}

/// Writes `bytes` to `path` without clobbering anything the user wrote: an existing file is
/// replaced only if `replaceable` says it is one of ours (or `force` is set). The write goes
/// through a temporary file and a rename.
pub fn write_output(
    path: &Path,
    bytes: &[u8],
    force: bool,
    replaceable: impl Fn(&[u8]) -> bool,
    inputs: &[&Path],
) -> Result<()> {
    write_output_with(path, force, replaceable, inputs, |file| {
        Ok(std::io::Write::write_all(file, bytes)?)
    })
}

/// Longest prefix of an existing file that `replaceable` is shown (a larger file that needs
/// more to be recognised is kept).
const RECOGNISED_PREFIX: u64 = 64 << 20;

/// [`write_output`] with the contents streamed by `write` into the temporary file.
pub fn write_output_with(
    path: &Path,
    force: bool,
    replaceable: impl Fn(&[u8]) -> bool,
    inputs: &[&Path],
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    for input in inputs {
        if same_file(path, input) {
            bail!(
                "refusing to write {}: it is an input of this command",
                path.display()
            );
        }
    }
    if path.exists() && !force {
        let mut existing = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| {
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(f, RECOGNISED_PREFIX),
                    &mut existing,
                )
            })
            .with_context(|| format!("cannot read existing {}", path.display()))?;
        if !replaceable(&existing) {
            bail!("refusing to overwrite {}: it exists and was not written by zkml (use --force to replace it)", path.display());
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.partial", file_name.to_string_lossy()));
    let written = std::fs::File::create(&tmp)
        .map_err(anyhow::Error::from)
        .and_then(|mut file| write(&mut file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("cannot write {}", tmp.display())));
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Prints an error (with its causes) to stderr, and as JSON on stdout when `json`.
pub fn report_error(e: &anyhow::Error, json: bool) {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    eprintln!("error: {}", chain.join(": "));
    if json {
        println!("{}", serde_json::json!({ "error": chain.join(": ") }));
    }
}

/// Prints a JSON value on stdout.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

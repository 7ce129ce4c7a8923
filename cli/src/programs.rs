//! One program per model for one-shot `prove`: the program an ONNX model was compiled to is
//! cached with the inputs it was calibrated on, and reused for every later input that fits its
//! ranges, so that proofs of one model share one program and one verifying key.
//!
//! An input fits when it quantizes and the reference evaluator runs the program on it without
//! a value leaving its range (the same checks the circuit makes). An input that does not fit
//! gets a new program, calibrated on it and on the inputs before it (the newest
//! [`MAX_CALIBRATION_INPUTS`]), so the ranges grow and the earlier inputs fit the new program
//! too; the run says so, since the new program has a new verifying key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zkml_ir::Program;
use zkml_onnx::Model;

use crate::common::ModelArgs;

/// Inputs kept per model: beyond them the oldest calibration inputs are dropped.
pub const MAX_CALIBRATION_INPUTS: usize = 64;

/// Where the program of one model (under one set of compile options) is cached.
pub struct ProgramCache {
    program: PathBuf,
    calibration: PathBuf,
}

/// What one-shot `prove` did about the program.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProgramSource {
    /// The cached program of this model; the input fits its ranges.
    Reused {
        /// Inputs it was calibrated on.
        calibration_inputs: usize,
    },
    /// No program was cached: compiled, calibrated on this input.
    Compiled,
    /// The cached program's ranges did not hold this input: compiled again, calibrated on it
    /// and on the earlier inputs.
    Recompiled {
        /// Why the input did not fit.
        reason: String,
        /// Inputs the new program is calibrated on.
        calibration_inputs: usize,
    },
    /// Calibrated on the `--calibration` files given (no cache involved).
    Calibrated,
}

impl ProgramCache {
    /// The cache entry of `model` compiled with `args` for inputs of the sizes of `input`
    /// (symbolic dimensions follow the input).
    pub fn new(model: &Model, args: &ModelArgs, input: &[Vec<f64>]) -> Self {
        let mut id = model.bytes.clone();
        let sizes: Vec<usize> = input.iter().map(Vec::len).collect();
        id.extend(
            format!(
                "{:?}{:?}{:?}{sizes:?}",
                args.quant(),
                args.dims,
                args.domains
            )
            .bytes(),
        );
        let digest = hex::encode(zkml_prover::keys::keccak(&id));
        let dir = zkml_prover::srs::SrsCache::default_dir().join("programs");
        Self {
            program: dir.join(format!("{}.zkml", &digest[..32])),
            calibration: dir.join(format!("{}.calibration.json", &digest[..32])),
        }
    }

    /// The cached program and the inputs it was calibrated on, if both are readable.
    pub fn load(&self) -> Option<(Program, Vec<Vec<Vec<f64>>>)> {
        let program = zkml_ir::format::load(&self.program).ok()?;
        let text = std::fs::read_to_string(&self.calibration).ok()?;
        let calibration = serde_json::from_str(&text).ok()?;
        Some((program, calibration))
    }

    /// Caches `program` with its calibration inputs (each file through a rename).
    pub fn store(&self, program: &Program, calibration: &[Vec<Vec<f64>>]) -> Result<()> {
        let dir = self.program.parent().expect("a cache file has a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        put(&self.calibration, &serde_json::to_vec(calibration)?)?;
        put(&self.program, &zkml_ir::format::to_bytes(program))
    }
}

fn put(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.partial", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Whether `input` fits `program`: it quantizes, and the program runs on it without a value
/// leaving its range. The error says where it does not.
pub fn fits(program: &Program, input: &[Vec<f64>]) -> Result<(), String> {
    let q = zkml_ir::input::quantize_inputs(program, input).map_err(|e| e.to_string())?;
    zkml_ir::evaluate(program, &q)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The calibration set after adding `input` to `earlier` (the oldest dropped past the cap).
pub fn extended(earlier: Vec<Vec<Vec<f64>>>, input: &[Vec<f64>]) -> Vec<Vec<Vec<f64>>> {
    let mut all = earlier;
    all.push(input.to_vec());
    let excess = all.len().saturating_sub(MAX_CALIBRATION_INPUTS);
    all.drain(..excess);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_set_keeps_the_newest_inputs() {
        let mut set = Vec::new();
        for i in 0..MAX_CALIBRATION_INPUTS + 3 {
            set = extended(set, &[vec![i as f64]]);
        }
        assert_eq!(set.len(), MAX_CALIBRATION_INPUTS);
        assert_eq!(set[0], vec![vec![3.0]]);
        assert_eq!(
            set.last().unwrap(),
            &vec![vec![(MAX_CALIBRATION_INPUTS + 2) as f64]]
        );
    }
}

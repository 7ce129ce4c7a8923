//! Shared pieces of the proof commands: SRS resolution, key caching, proof files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkml_circuits::{CircuitParams, Visibility, VisibilityConfig};
use zkml_ir::Program;
use zkml_prover::srs::{self, Srs, SrsCache, INSECURE_SRS_WARNING};
use zkml_prover::ProvingKeyFile;

use crate::stages::Stages;

/// Visibility flags shared by `setup` and `prove`.
#[derive(clap::Args, Clone, Debug)]
pub struct VisibilityArgs {
    /// Visibility of the model inputs.
    #[arg(long, value_enum, default_value = "public")]
    pub input_visibility: VisibilityArg,
    /// Visibility of the model outputs.
    #[arg(long, value_enum, default_value = "public")]
    pub output_visibility: VisibilityArg,
    /// Visibility of the model parameters (weights are fixed columns in the verifying key).
    #[arg(long, value_enum, default_value = "fixed")]
    pub param_visibility: ParamVisibilityArg,
}

/// `--input-visibility` / `--output-visibility`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisibilityArg {
    /// A public instance value.
    Public,
    /// Known only to the prover.
    Private,
    /// Known to the prover; its Poseidon hash is public.
    Hashed,
}

/// `--param-visibility`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamVisibilityArg {
    /// Baked into the verifying key.
    Fixed,
    /// Witness values known only to the prover.
    Private,
    /// Witness values whose Poseidon hash is public.
    Hashed,
}

impl VisibilityArgs {
    pub fn config(&self) -> Result<VisibilityConfig> {
        let map = |v: VisibilityArg, what: &str| -> Result<Visibility> {
            Ok(match v {
                VisibilityArg::Public => Visibility::Public,
                VisibilityArg::Private => Visibility::Private,
                VisibilityArg::Hashed => bail!("{what} visibility 'hashed' is not available in this build"),
            })
        };
        if self.param_visibility != ParamVisibilityArg::Fixed {
            bail!("parameter visibility '{:?}' is not available in this build; parameters are fixed", self.param_visibility);
        }
        Ok(VisibilityConfig { inputs: map(self.input_visibility, "input")?, outputs: map(self.output_visibility, "output")? })
    }
}

/// Where an SRS came from.
#[derive(Clone, Debug, Serialize)]
pub struct SrsSource {
    pub path: Option<PathBuf>,
    pub generated_locally: bool,
}

/// The SRS for size `k`: from `--srs`, else the cache, else generated locally (and cached) with
/// a loud warning.
pub fn srs_for(k: u32, srs_path: Option<&Path>, stages: &mut Stages) -> Result<(Srs, SrsSource)> {
    if let Some(p) = srs_path {
        let full = stages.run("load SRS", || srs::load(p))?;
        let s = srs::for_k(&full, k)?;
        return Ok((s, SrsSource { path: Some(p.to_path_buf()), generated_locally: false }));
    }
    let cache = SrsCache::new(SrsCache::default_dir());
    if let Some(s) = stages.run("load SRS", || cache.find(k))? {
        return Ok((s, SrsSource { path: Some(cache.path(k)), generated_locally: false }));
    }
    eprintln!("{INSECURE_SRS_WARNING}");
    let s = stages.run("generate SRS (insecure)", || Ok::<_, anyhow::Error>(srs::generate_random(k)))?;
    let path = cache.path(k);
    srs::save(&s, &path)?;
    Ok((s, SrsSource { path: Some(path), generated_locally: true }))
}

/// A proof file (`proof.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProofFile {
    /// Always `zkml-proof`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Proof bytes, hex with `0x`.
    pub proof: String,
    /// Public instance values as 32-byte big-endian field elements, hex with `0x` (what the
    /// verifiers hash and the EVM receives).
    pub instances: Vec<String>,
    /// The same values as signed integers (quantized public inputs, then outputs).
    pub public_values: Vec<String>,
    /// The model's outputs, dequantized, one flat list per output.
    pub outputs: Vec<Vec<f64>>,
    /// Keccak-256 of the verifying key the proof is for.
    pub vk_digest: String,
    /// Keccak-256 of the compiled program.
    pub program_digest: String,
}

pub const PROOF_FORMAT: &str = "zkml-proof";

impl ProofFile {
    pub fn new(proof: &zkml_prover::Proof, program: &Program, pk: &ProvingKeyFile) -> Self {
        let outputs = proof
            .outputs
            .iter()
            .zip(&program.outputs)
            .map(|(t, &o)| zkml_ir::input::dequantize_tensor(t, program.nodes[o].scale))
            .collect();
        Self {
            format: PROOF_FORMAT.into(),
            version: 1,
            proof: format!("0x{}", hex::encode(&proof.bytes)),
            instances: proof.instances.iter().map(|&v| format!("0x{}", hex::encode(zkml_verifier::encoding::fr_to_be(&zkml_verifier::encoding::fr_from_i128(v))))).collect(),
            public_values: proof.instances.iter().map(|v| v.to_string()).collect(),
            outputs,
            vk_digest: format!("0x{}", pk.header.vk_digest),
            program_digest: format!("0x{}", pk.header.program_digest),
        }
    }

    /// Proof bytes and instance field elements, with errors naming the broken field.
    pub fn decode(&self) -> Result<(Vec<u8>, Vec<zkml_verifier::Fr>)> {
        if self.format != PROOF_FORMAT {
            bail!("not a zkml proof file (format '{}')", self.format);
        }
        if self.version != 1 {
            bail!("proof format version {} is not supported (this build reads version 1)", self.version);
        }
        let strip = |s: &str| s.strip_prefix("0x").unwrap_or(s).to_string();
        let proof = hex::decode(strip(&self.proof)).context("field 'proof' is not hex")?;
        let mut instances = Vec::with_capacity(self.instances.len());
        for (i, s) in self.instances.iter().enumerate() {
            let bytes: [u8; 32] = hex::decode(strip(s))
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("instance {i} is not a 32-byte hex word"))?;
            instances.push(zkml_verifier::encoding::fr_from_be(&bytes).with_context(|| format!("instance {i} is not a canonical field element"))?);
        }
        Ok((proof, instances))
    }
}

/// Cache directory for the keys of one (program, circuit, visibility, SRS) combination.
pub fn key_cache_dir(program: &Program, circuit: &CircuitParams, visibility: &VisibilityConfig, srs: &Srs) -> PathBuf {
    let mut id = zkml_prover::keys::program_digest(program).to_vec();
    id.extend(serde_json::to_vec(&(circuit, visibility)).expect("serializable"));
    let mut g2 = Vec::new();
    // The SRS identity: its s * G2 point.
    g2.extend(format!("{:?}", srs.s_g2()).into_bytes());
    id.extend(g2);
    let digest = hex::encode(zkml_prover::keys::keccak(&id));
    SrsCache::default_dir().join("keys").join(&digest[..32])
}

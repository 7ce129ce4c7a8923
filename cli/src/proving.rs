//! Shared pieces of the proof commands: SRS resolution, key caching, proof files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkml_circuits::{CircuitParams, ParamVisibility, Visibility, VisibilityConfig};
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
    /// What the circuit shape is chosen for: fast proving, or cheap on-chain verification
    /// (fewer columns: less gas, slower proving).
    #[arg(long, value_enum, default_value = "proving")]
    pub optimize: OptimizeArg,
    /// Size the circuit with one challenge phase: products are checked directly, never by
    /// Freivalds' test. The CUDA prover needs this (`--device gpu` implies it); keys made so
    /// prove on either device.
    #[arg(long)]
    pub single_phase: bool,
}

impl Default for VisibilityArgs {
    /// The flags' defaults: public inputs and outputs, fixed parameters, proving speed.
    fn default() -> Self {
        Self {
            input_visibility: VisibilityArg::Public,
            output_visibility: VisibilityArg::Public,
            param_visibility: ParamVisibilityArg::Fixed,
            optimize: OptimizeArg::Proving,
            single_phase: false,
        }
    }
}

/// `--optimize`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizeArg {
    /// The fastest proving.
    Proving,
    /// The least gas for the Solidity verifier.
    EvmGas,
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
    /// The circuit shape for `program`, chosen for `--optimize`.
    pub fn circuit(&self, program: &Program) -> Result<CircuitParams, zkml_circuits::LayoutError> {
        self.circuit_for(program, zkml_prover::Device::Cpu)
    }

    /// The circuit shape for `program` proven on `device`, chosen for `--optimize`: the CUDA
    /// prover takes single-phase circuits only, so products are then checked directly.
    pub fn circuit_for(
        &self,
        program: &Program,
        device: zkml_prover::Device,
    ) -> Result<CircuitParams, zkml_circuits::LayoutError> {
        zkml_circuits::cost::choose_within(
            program,
            self.config(),
            self.objective(),
            self.phases(device),
        )
    }

    /// [`VisibilityArgs::circuit_for`] among the shapes `fits` accepts, where any does.
    pub fn circuit_fitting(
        &self,
        program: &Program,
        device: zkml_prover::Device,
        fits: &dyn Fn(&CircuitParams) -> bool,
    ) -> Result<CircuitParams, zkml_circuits::LayoutError> {
        zkml_circuits::cost::choose_fitting(
            program,
            self.config(),
            self.objective(),
            self.phases(device),
            fits,
        )
    }

    /// The challenge phases a circuit may use: one on the GPU or with --single-phase.
    pub fn phases(&self, device: zkml_prover::Device) -> zkml_circuits::cost::Phases {
        if self.single_phase || device == zkml_prover::Device::Gpu {
            zkml_circuits::cost::Phases::One
        } else {
            zkml_circuits::cost::Phases::Any
        }
    }

    /// What the circuit sizing optimizes.
    pub fn objective(&self) -> zkml_circuits::cost::Objective {
        match self.optimize {
            OptimizeArg::Proving => zkml_circuits::cost::Objective::Proving,
            OptimizeArg::EvmGas => zkml_circuits::cost::Objective::EvmGas,
        }
    }

    pub fn config(&self) -> VisibilityConfig {
        let map = |v: VisibilityArg| match v {
            VisibilityArg::Public => Visibility::Public,
            VisibilityArg::Private => Visibility::Private,
            VisibilityArg::Hashed => Visibility::Hashed,
        };
        VisibilityConfig {
            inputs: map(self.input_visibility),
            outputs: map(self.output_visibility),
            params: match self.param_visibility {
                ParamVisibilityArg::Fixed => ParamVisibility::Fixed,
                ParamVisibilityArg::Private => ParamVisibility::Private,
                ParamVisibilityArg::Hashed => ParamVisibility::Hashed,
            },
        }
    }
}

/// Where an SRS came from.
#[derive(Clone, Debug, Serialize)]
pub struct SrsSource {
    pub path: Option<PathBuf>,
    pub generated_locally: bool,
    /// The seed of an SRS generated by this run (never written out): its cuts are computed from
    /// the secret ([`SrsCuts`]).
    #[serde(skip)]
    pub seed: Option<srs::LocalSeed>,
}

/// One SRS and its cuts to the smaller sizes a chain's segments need, each cut made once per
/// run and kept in the SRS cache ([`SrsCache::cut`]). Cutting an SRS this run generated takes
/// seconds (its Lagrange points computed from the secret); cutting any other recomputes the
/// Lagrange basis by an FFT over G1, about a minute at 2^17 and a few at 2^19.
pub(crate) struct SrsCuts {
    full: Srs,
    seed: Option<srs::LocalSeed>,
    cuts: std::collections::BTreeMap<u32, Srs>,
}

impl SrsCuts {
    /// The cuts of `full`, with the seed it was generated from when this run generated it.
    pub(crate) fn new(full: Srs, source: &SrsSource) -> Self {
        Self {
            full,
            seed: source.seed.clone(),
            cuts: std::collections::BTreeMap::new(),
        }
    }

    /// The SRS cut to size `k`.
    pub(crate) fn for_k(&mut self, k: u32) -> Result<Srs> {
        if let Some(s) = self.cuts.get(&k) {
            return Ok(s.clone());
        }
        let s =
            SrsCache::new(SrsCache::default_dir()).cut_with(&self.full, k, self.seed.as_ref())?;
        self.cuts.insert(k, s.clone());
        Ok(s)
    }
}

/// The SRS for size `k`: from `--srs`, else the cache, else generated locally (and cached) with
/// a loud warning.
pub fn srs_for(k: u32, srs_path: Option<&Path>, stages: &mut Stages) -> Result<(Srs, SrsSource)> {
    if let Some(p) = srs_path {
        let full = stages.run("load SRS", || srs::load(p))?;
        let s = SrsCache::new(SrsCache::default_dir()).cut(&full, k)?;
        return Ok((
            s,
            SrsSource {
                path: Some(p.to_path_buf()),
                generated_locally: false,
                seed: None,
            },
        ));
    }
    let cache = SrsCache::new(SrsCache::default_dir());
    if let Some(s) = stages.run("load SRS", || cache.find(k))? {
        return Ok((
            s,
            SrsSource {
                path: Some(cache.path(k)),
                generated_locally: false,
                seed: None,
            },
        ));
    }
    eprintln!("{INSECURE_SRS_WARNING}");
    let seed = srs::LocalSeed::random();
    let s = stages.run("generate SRS (insecure)", || {
        Ok::<_, anyhow::Error>(seed.generate(k))
    })?;
    let path = cache.path(k);
    srs::save(&s, &path)?;
    Ok((
        s,
        SrsSource {
            path: Some(path),
            generated_locally: true,
            seed: Some(seed),
        },
    ))
}

/// A proof file (`proof.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProofFile {
    /// Always `zkml-proof`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The proof system: `halo2` or `groth16` (files without the field are halo2's).
    #[serde(default = "halo2_name")]
    pub backend: String,
    /// Proof bytes, hex with `0x`.
    pub proof: String,
    /// The public instance as 32-byte big-endian field elements, hex with `0x` (what the
    /// verifiers hash and the EVM receives).
    pub instances: Vec<String>,
    /// What the instance holds, part by part (as the verifying key describes it).
    pub public: Vec<PublicEntry>,
    /// The model's outputs, dequantized, one flat list per output (empty when outputs are
    /// private). Whether the proof binds them depends on the output visibility (`zkml verify`
    /// checks and reports it).
    pub outputs: Vec<Vec<f64>>,
    /// The same outputs as the program's integers.
    pub quantized_outputs: Vec<Vec<i64>>,
    /// Keccak-256 of the verifying key the proof is for.
    pub vk_digest: String,
    /// Keccak-256 of the compiled program.
    pub program_digest: String,
}

/// One part of the public instance, readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PublicEntry {
    /// A tensor's values (quantized integers), one instance value each.
    Values {
        class: String,
        name: String,
        values: Vec<i64>,
    },
    /// The Poseidon hash of a class of values.
    Hash { class: String, hash: String },
    /// The commitment linking a class of values to the neighbouring segment.
    Link { class: String, commitment: String },
    /// An aggregate's KZG accumulator: its limbs, `0x` hex words.
    Accumulator { limbs: Vec<String> },
}

pub const PROOF_FORMAT: &str = "zkml-proof";

fn halo2_name() -> String {
    "halo2".into()
}

/// The proof's outputs as reals.
pub fn dequantized_outputs(proof: &zkml_prover::Proof, program: &Program) -> Vec<Vec<f64>> {
    listed_outputs(&proof.outputs, program).0
}

/// Whether a shared file (proof or aggregate) lists the outputs: when the key proves them,
/// public or hashed, so that a recipient can check them against the proven values or hash.
/// Private outputs stay out of the file.
pub fn lists_outputs(model: &zkml_verifier::vk::ModelInfo) -> bool {
    matches!(
        model.outputs,
        zkml_verifier::vk::VisibilityInfo::Public | zkml_verifier::vk::VisibilityInfo::Hashed
    )
}

/// `outputs` dequantized at the program's output scales, and as integers.
pub(crate) fn listed_outputs<'t>(
    outputs: impl IntoIterator<Item = &'t zkml_ir::Tensor>,
    program: &Program,
) -> (Vec<Vec<f64>>, Vec<Vec<i64>>) {
    outputs
        .into_iter()
        .zip(&program.outputs)
        .map(|(t, &o)| {
            (
                zkml_ir::input::dequantize_tensor(t, program.nodes[o].scale),
                t.data().to_vec(),
            )
        })
        .unzip()
}

/// `0x`-prefixed hex of a 32-byte word.
pub fn word_hex(w: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(w))
}

pub fn class_name(c: zkml_verifier::vk::ValueClass) -> &'static str {
    match c {
        zkml_verifier::vk::ValueClass::Inputs => "inputs",
        zkml_verifier::vk::ValueClass::Outputs => "outputs",
        zkml_verifier::vk::ValueClass::Parameters => "parameters",
    }
}

impl ProofFile {
    pub fn new(
        proof: &zkml_prover::Proof,
        program: &Program,
        pk: &ProvingKeyFile,
        vk: &zkml_verifier::VerifyingKey,
    ) -> Self {
        let (outputs, quantized_outputs) = if lists_outputs(&vk.model) {
            listed_outputs(&proof.outputs, program)
        } else {
            Default::default()
        };
        let words = proof.instance_words();
        let public = public_entries(&vk.model, &words);
        Self {
            format: PROOF_FORMAT.into(),
            version: 1,
            backend: halo2_name(),
            proof: format!("0x{}", hex::encode(&proof.bytes)),
            instances: words.iter().map(word_hex).collect(),
            public,
            outputs,
            quantized_outputs,
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
            bail!(
                "proof format version {} is not supported (this build reads version 1)",
                self.version
            );
        }
        if self.backend != "halo2" && self.backend != "groth16" {
            bail!(
                "the proof file names backend '{}' (this build reads halo2 and groth16)",
                self.backend
            );
        }
        let strip = |s: &str| s.strip_prefix("0x").unwrap_or(s).to_string();
        let proof = hex::decode(strip(&self.proof)).context("field 'proof' is not hex")?;
        let mut instances = Vec::with_capacity(self.instances.len());
        for (i, s) in self.instances.iter().enumerate() {
            let bytes: [u8; 32] = hex::decode(strip(s))
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("instance {i} is not a 32-byte hex word"))?;
            instances.push(
                zkml_verifier::encoding::fr_from_be(&bytes)
                    .with_context(|| format!("instance {i} is not a canonical field element"))?,
            );
        }
        Ok((proof, instances))
    }
}

/// The readable account of an instance, part by part, as the key describes it.
pub fn public_entries(
    model: &zkml_verifier::vk::ModelInfo,
    words: &[[u8; 32]],
) -> Vec<PublicEntry> {
    let mut at = 0usize;
    let mut public = Vec::new();
    for part in &model.public {
        let n = part.instance_len() as usize;
        let slice = &words[at.min(words.len())..at.saturating_add(n).min(words.len())];
        at = at.saturating_add(n);
        public.push(match part {
            zkml_verifier::vk::PublicPart::Values { class, tensor } => PublicEntry::Values {
                class: class_name(*class).into(),
                name: tensor.name.clone(),
                values: slice.iter().map(word_to_i64).collect(),
            },
            zkml_verifier::vk::PublicPart::Hash { class, .. } => PublicEntry::Hash {
                class: class_name(*class).into(),
                hash: slice.first().map(word_hex).unwrap_or_default(),
            },
            zkml_verifier::vk::PublicPart::Link { class, .. } => PublicEntry::Link {
                class: class_name(*class).into(),
                commitment: slice.first().map(word_hex).unwrap_or_default(),
            },
            zkml_verifier::vk::PublicPart::Accumulator { .. } => PublicEntry::Accumulator {
                limbs: slice.iter().map(word_hex).collect(),
            },
        });
    }
    public
}

/// A small signed integer held in a field word (values are far below 2^63 in magnitude).
pub fn word_to_i64(w: &[u8; 32]) -> i64 {
    zkml_verifier::encoding::fr_from_be(w)
        .and_then(|f| zkml_verifier::encoding::fr_to_i128(&f))
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(i64::MIN)
}

/// Cache directory for the keys of one (program, circuit, visibility, SRS) combination.
pub fn key_cache_dir(
    program: &Program,
    circuit: &CircuitParams,
    visibility: &VisibilityConfig,
    srs: &Srs,
) -> PathBuf {
    let mut id = zkml_prover::keys::program_digest(program).to_vec();
    id.extend(serde_json::to_vec(&(circuit, visibility)).expect("serializable"));
    id.extend(zkml_circuits::LAYOUT_REVISION.to_le_bytes());
    let mut g2 = Vec::new();
    // The SRS identity: its s * G2 point.
    g2.extend(format!("{:?}", srs.s_g2()).into_bytes());
    id.extend(g2);
    let digest = hex::encode(zkml_prover::keys::keccak(&id));
    SrsCache::default_dir().join("keys").join(&digest[..32])
}

//! What a one-shot chain proof has done so far, kept in its output folder so that a run that
//! stops (killed, out of memory, the machine restarted) goes on where it stopped when the
//! same command is run again.
//!
//! `DIR/progress/state.json` names what the run proves (the program, the quantized input, the
//! cuts and the visibility) and holds the blinding values of its links. Each segment's proof
//! is written beside it (`segment-I.proof.json`) as soon as it is made. A later run of the
//! same program on the same input, cut the same way, takes the same blinding values and every
//! saved proof that verifies under its segment's verifying key, and proves only the rest. The
//! folder is removed once the chain has been verified and written.
//!
//! The state file holds secrets: a link's blinding value is what keeps a private boundary
//! hidden, as in the witness files of `zkml witness`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkml_circuits::VisibilityConfig;
use zkml_ir::{Program, Tensor};
use zkml_segments::{CutProgram, SegmentWitness};

use crate::common::write_output;
use crate::jobs::{parse_word, word};
use crate::proving::ProofFile;

/// The `format` of a progress state file.
pub const PROGRESS_FORMAT: &str = "zkml-chain-progress";

const STATE: &str = "state.json";

/// `DIR/progress/state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    /// Always `zkml-chain-progress`.
    format: String,
    /// Format version (1).
    version: u32,
    /// Keccak-256 of the whole program.
    program_digest: String,
    /// Keccak-256 of the quantized inputs (shapes and values).
    input_digest: String,
    /// The nodes the program is cut before.
    cuts: Vec<usize>,
    /// The whole program's visibility.
    visibility: VisibilityConfig,
    /// The blinding value of each link, in order (32-byte hex words).
    links: Vec<String>,
}

impl State {
    /// Whether it describes the same proof as `other` (the links aside).
    fn same_run(&self, other: &State) -> bool {
        (
            &self.program_digest,
            &self.input_digest,
            &self.cuts,
            &self.visibility,
            self.links.len(),
        ) == (
            &other.program_digest,
            &other.input_digest,
            &other.cuts,
            &other.visibility,
            other.links.len(),
        )
    }
}

/// The progress of one chain proof.
pub struct Progress {
    dir: PathBuf,
    force: bool,
    /// Proofs an earlier run saved, by segment (not yet checked).
    saved: Vec<Option<ProofFile>>,
}

fn is_state(b: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["format"] == PROGRESS_FORMAT)
}

fn proof_name(i: usize) -> String {
    format!("segment-{i}.proof.json")
}

/// Keccak-256 of quantized inputs, shapes and values.
fn input_digest(inputs: &[Tensor]) -> String {
    let mut bytes = Vec::new();
    for t in inputs {
        bytes.extend((t.shape().len() as u64).to_le_bytes());
        for &d in t.shape() {
            bytes.extend((d as u64).to_le_bytes());
        }
        for &v in t.data() {
            bytes.extend(v.to_le_bytes());
        }
    }
    zkml_verifier::encoding::hex0x(&zkml_prover::keys::keccak(&bytes))
}

impl Progress {
    /// The progress of proving `cut` on `inputs` in `dir`: an earlier run's when it proved the
    /// same (its links' blinding values then replace those of `witness`), else a new one
    /// (written now, with `witness`'s). An earlier run's files for anything else are replaced.
    pub fn open(
        dir: &Path,
        program: &Program,
        cut: &CutProgram,
        inputs: &[Tensor],
        witness: &mut [SegmentWitness],
        force: bool,
    ) -> Result<Progress> {
        if dir.exists() && !dir.is_dir() {
            bail!(
                "{} is in the way: a chain proof keeps its progress in this folder",
                dir.display()
            );
        }
        let count = witness.len();
        let fresh = State {
            format: PROGRESS_FORMAT.into(),
            version: 1,
            program_digest: zkml_verifier::encoding::hex0x(&zkml_prover::keys::program_digest(
                program,
            )),
            input_digest: input_digest(inputs),
            cuts: cut.cuts.clone(),
            visibility: cut.visibility,
            links: witness[..count.saturating_sub(1)]
                .iter()
                .map(|w| word(&w.blinding.outputs))
                .collect(),
        };
        let state_path = dir.join(STATE);
        let earlier = std::fs::read(&state_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<State>(&b).ok())
            .filter(|s| s.format == PROGRESS_FORMAT && s.version == 1 && s.same_run(&fresh));
        let mut progress = Progress {
            dir: dir.to_path_buf(),
            force,
            saved: vec![None; count],
        };
        match earlier {
            Some(state) => {
                let links = state
                    .links
                    .iter()
                    .enumerate()
                    .map(|(i, l)| parse_word(l, &format!("links[{i}]")))
                    .collect::<Result<Vec<_>>>()
                    .with_context(|| format!("{} is damaged", state_path.display()))?;
                for (i, w) in witness.iter_mut().enumerate() {
                    if i > 0 {
                        w.blinding.inputs = links[i - 1];
                    }
                    if i + 1 < count {
                        w.blinding.outputs = links[i];
                    }
                }
                for (i, slot) in progress.saved.iter_mut().enumerate() {
                    *slot = std::fs::read(dir.join(proof_name(i)))
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok());
                }
            }
            None => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                // Proofs of another run are of no use to this one.
                progress.remove_proofs(count.max(earlier_count(&state_path)));
                write_output(
                    &state_path,
                    serde_json::to_string_pretty(&fresh)?.as_bytes(),
                    force,
                    is_state,
                    &[],
                )?;
                keep_private(&state_path)?;
            }
        }
        Ok(progress)
    }

    /// How many segments an earlier run has proven (to be checked before use).
    pub fn saved_count(&self) -> usize {
        self.saved.iter().flatten().count()
    }

    /// Whether an earlier run saved segment `i`'s proof (to be checked before use).
    pub fn has_saved(&self, i: usize) -> bool {
        self.saved.get(i).is_some_and(Option::is_some)
    }

    /// Segment `i`'s saved proof, when it verifies under `vk` as a proof of `program`.
    pub fn saved(
        &self,
        i: usize,
        program: &Program,
        vk: &zkml_verifier::VerifyingKey,
    ) -> Option<ProofFile> {
        let file = self.saved.get(i)?.as_ref()?;
        let digest = zkml_verifier::encoding::hex0x(&zkml_prover::keys::program_digest(program));
        if !file.program_digest.eq_ignore_ascii_case(&digest) {
            return None;
        }
        let (bytes, instances) = file.decode().ok()?;
        zkml_verifier::verify_with_key(vk, &bytes, &instances).ok()?;
        Some(file.clone())
    }

    /// Saves segment `i`'s proof; a proof that cannot be saved is only proven again by a
    /// later run, so this warns instead of failing.
    pub fn save(&self, i: usize, file: &ProofFile) {
        let written = serde_json::to_string_pretty(file)
            .map_err(anyhow::Error::from)
            .and_then(|text| {
                write_output(
                    &self.dir.join(proof_name(i)),
                    text.as_bytes(),
                    self.force,
                    crate::commands::prove::proof_file_bytes,
                    &[],
                )
            });
        if let Err(e) = written {
            eprintln!("warning: cannot save segment {}'s proof: {e:#}", i + 1);
        }
    }

    /// Removes the progress (its own files only, then the folder if nothing else is in it).
    pub fn finish(self) -> Result<()> {
        self.remove_proofs(self.saved.len());
        let state = self.dir.join(STATE);
        if state.exists() {
            std::fs::remove_file(&state)
                .with_context(|| format!("cannot remove {}", state.display()))?;
        }
        let _ = std::fs::remove_dir(&self.dir);
        Ok(())
    }

    /// Removes the proof files of segments `0..count` that zkml wrote.
    fn remove_proofs(&self, count: usize) {
        for i in 0..count {
            let path = self.dir.join(proof_name(i));
            let ours =
                std::fs::read(&path).is_ok_and(|b| crate::commands::prove::proof_file_bytes(&b));
            if ours {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The number of segments of the run a state file describes (0 when there is none).
fn earlier_count(state: &Path) -> usize {
    std::fs::read(state)
        .ok()
        .and_then(|b| serde_json::from_slice::<State>(&b).ok())
        .map_or(0, |s| s.links.len() + 1)
}

/// Makes a file of secrets readable by its owner only.
#[cfg(unix)]
fn keep_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {} private", path.display()))
}

#[cfg(not(unix))]
fn keep_private(_: &Path) -> Result<()> {
    Ok(())
}

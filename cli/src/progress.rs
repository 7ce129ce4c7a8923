//! What a one-shot chain proof has done so far, kept in its output folder so that a run that
//! stops (killed, out of memory, the machine restarted) goes on where it stopped when the
//! same command is run again.
//!
//! `DIR/progress/state.json` names what the run proves (the program, the quantized input, the
//! cuts and the visibility), a random run identifier, and the blinding values of its links.
//! Each segment's proof is saved beside it with the run identifier
//! (`segment-I.saved.json`) as soon as it is made. A later run of the same program on the same
//! input, cut the same way, takes the same blinding values and every proof saved by that run
//! that verifies under its segment's verifying key and reads as it would be written now, and
//! proves only the rest. The folder is removed once the chain has been verified and written.
//!
//! An aggregate (`prove --aggregate`) keeps its progress the same way: each segment's proof for
//! aggregation (`segment-I.snark.json`) and each group's aggregate (`group-G.snark.json`), used
//! again only where their public values are what this run's witness gives and they verify.
//! The state names which of the two a run makes, so one never takes the other's proofs.
//!
//! One run at a time: `lock` holds the process id of the run using the folder, and a second run
//! into the same folder is refused while that process lives.
//!
//! The state file holds secrets (a link's blinding value is what keeps a private boundary
//! hidden, as in the witness files of `zkml witness`): the folder and the file are readable by
//! their owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zkml_circuits::VisibilityConfig;
use zkml_ir::{Program, Tensor};
use zkml_segments::{CutProgram, SegmentWitness};

use crate::jobs::{parse_word, word};
use crate::proving::ProofFile;

/// The `format` of a progress state file.
pub const PROGRESS_FORMAT: &str = "zkml-chain-progress";
/// The `format` of a saved segment proof.
pub const SAVED_FORMAT: &str = "zkml-chain-progress-proof";

const STATE: &str = "state.json";

/// The kind of a chain proof's progress.
pub const CHAIN: &str = "chain";

fn chain_kind() -> String {
    CHAIN.into()
}
const LOCK: &str = "lock";

/// `DIR/progress/state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    /// Always `zkml-chain-progress`.
    format: String,
    /// Format version (1).
    version: u32,
    /// Random, drawn when the run starts: the saved proofs carry it.
    run: String,
    /// What the run makes: [`CHAIN`], or an aggregate and its grouping.
    #[serde(default = "chain_kind")]
    kind: String,
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
    /// Whether it describes the same proof as `other` (run and links aside).
    fn same_proof(&self, other: &State) -> bool {
        (
            &self.kind,
            &self.program_digest,
            &self.input_digest,
            &self.cuts,
            &self.visibility,
            self.links.len(),
        ) == (
            &other.kind,
            &other.program_digest,
            &other.input_digest,
            &other.cuts,
            &other.visibility,
            other.links.len(),
        )
    }
}

/// `DIR/progress/segment-I.saved.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Saved {
    /// Always `zkml-chain-progress-proof`.
    format: String,
    /// Format version (1).
    version: u32,
    /// The run that made it.
    run: String,
    /// The proof, as the chain file will hold it.
    proof: ProofFile,
}

/// `DIR/progress/NAME.snark.json`: a proof made for aggregation (a segment's, or a group's
/// aggregate), without its protocol, which the run derives from its own keys.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedSnark {
    /// Always `zkml-chain-progress-proof`.
    format: String,
    /// Format version (1).
    version: u32,
    /// The run that made it.
    run: String,
    /// The proof, `0x` hex.
    proof: String,
    /// Its one instance column, 32-byte hex words.
    instances: Vec<String>,
}

fn snark_name(name: &str) -> String {
    format!("{name}.snark.json")
}

/// The progress of one chain proof; the folder stays locked until it is dropped.
pub struct Progress {
    dir: PathBuf,
    run: String,
    /// Proofs the same run saved earlier, by segment (not yet checked).
    saved: Vec<Option<ProofFile>>,
    _lock: Lock,
}

fn has_format(b: &[u8], format: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["format"] == format)
}

fn saved_name(i: usize) -> String {
    format!("segment-{i}.saved.json")
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

/// The links' blinding values a state file holds (`None` when one does not parse).
fn links_of(state: &State) -> Option<Vec<zkml_segments::Fr>> {
    state
        .links
        .iter()
        .map(|l| parse_word(l, "link").ok())
        .collect()
}

impl Progress {
    /// The progress of proving `cut` on `inputs` in `dir`, making `kind` ([`CHAIN`] or an
    /// aggregate's description): an earlier run's when it proved the same (its links' blinding
    /// values then replace those of `witness`), else a new one (written now, with
    /// `witness`'s). Files an earlier run left for anything else are removed; a state file
    /// zkml did not write is kept, and refused unless `force`.
    pub fn open(
        dir: &Path,
        kind: &str,
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
        create_private_dir(dir)?;
        let lock = Lock::take(dir)?;
        let count = witness.len();
        let mut run = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut run);
        let fresh = State {
            format: PROGRESS_FORMAT.into(),
            version: 1,
            run: hex::encode(run),
            kind: kind.into(),
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
        let existing = std::fs::read(&state_path).ok();
        if let Some(b) = &existing {
            if !has_format(b, PROGRESS_FORMAT) && !force {
                bail!(
                    "refusing to overwrite {}: zkml did not write it (use --force to replace it)",
                    state_path.display()
                );
            }
        }
        let earlier = existing
            .and_then(|b| serde_json::from_slice::<State>(&b).ok())
            .filter(|s| s.version == 1 && s.same_proof(&fresh))
            .and_then(|s| links_of(&s).map(|links| (s, links)));
        let mut progress = Progress {
            dir: dir.to_path_buf(),
            run: fresh.run.clone(),
            saved: vec![None; count],
            _lock: lock,
        };
        match earlier {
            Some((state, links)) => {
                for (i, w) in witness.iter_mut().enumerate() {
                    if i > 0 {
                        w.blinding.inputs = links[i - 1];
                    }
                    if i + 1 < count {
                        w.blinding.outputs = links[i];
                    }
                }
                // Proof files are a chain's; an aggregate's proofs are read when asked for.
                if state.kind == CHAIN {
                    for (i, slot) in progress.saved.iter_mut().enumerate() {
                        *slot = std::fs::read(dir.join(saved_name(i)))
                            .ok()
                            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
                            .filter(|s| s.format == SAVED_FORMAT && s.run == state.run)
                            .map(|s| s.proof)
                            // The last proof is taken only where it lists the outputs, which the
                            // run prints (private outputs are not in a proof file).
                            .filter(|p| i + 1 < count || !p.quantized_outputs.is_empty());
                    }
                }
                progress.run = state.run;
                // Written by an earlier build, perhaps readable by others.
                keep_private(&state_path)?;
            }
            None => {
                // Proofs of another run are of no use to this one.
                progress.remove_saved();
                write_private(&state_path, &serde_json::to_vec_pretty(&fresh)?)?;
            }
        }
        Ok(progress)
    }

    /// How many segments the same run proved before (to be checked before use).
    pub fn saved_count(&self) -> usize {
        self.saved.iter().flatten().count()
    }

    /// Says on stderr how many proofs an earlier run saved, where there are any.
    pub fn announce(&self) {
        let saved = self.saved_count() + self.saved_snark_count();
        if saved > 0 {
            eprintln!(
                "going on from an earlier run: {saved} proof(s) saved in {} (each used once it verifies)",
                self.dir.display()
            );
        }
    }

    /// Whether the same run proved segment `i` before (to be checked before use).
    pub fn has_saved(&self, i: usize) -> bool {
        self.saved.get(i).is_some_and(Option::is_some)
    }

    /// Segment `i`'s saved proof, when it verifies under `vk` as a proof of `program` and its
    /// readable parts are what a new proof file would say.
    pub fn saved(
        &self,
        i: usize,
        program: &Program,
        vk: &zkml_verifier::VerifyingKey,
    ) -> Option<ProofFile> {
        let file = self.saved.get(i)?.as_ref()?;
        let hex = zkml_verifier::encoding::hex0x;
        if !file
            .program_digest
            .eq_ignore_ascii_case(&hex(&zkml_prover::keys::program_digest(program)))
            || !file.vk_digest.eq_ignore_ascii_case(&hex(&vk.key_digest()))
        {
            return None;
        }
        let (bytes, instances) = file.decode().ok()?;
        let words: Vec<[u8; 32]> = instances
            .iter()
            .map(zkml_verifier::encoding::fr_to_be)
            .collect();
        if file.public != crate::proving::public_entries(&vk.model, &words) {
            return None;
        }
        zkml_verifier::verify_with_key(vk, &bytes, &instances).ok()?;
        Some(file.clone())
    }

    /// The proof saved as `name` by the same run (its bytes and instance column), to be checked
    /// before use.
    pub fn saved_snark(&self, name: &str) -> Option<(Vec<u8>, Vec<zkml_segments::Fr>)> {
        let b = std::fs::read(self.dir.join(snark_name(name))).ok()?;
        let saved: SavedSnark = serde_json::from_slice(&b).ok()?;
        if saved.format != SAVED_FORMAT || saved.version != 1 || saved.run != self.run {
            return None;
        }
        let proof = hex::decode(saved.proof.strip_prefix("0x")?).ok()?;
        let instances = saved
            .instances
            .iter()
            .map(|w| parse_word(w, "instance").ok())
            .collect::<Option<Vec<_>>>()?;
        Some((proof, instances))
    }

    /// How many proofs for aggregation the same run saved (to be checked before use).
    pub fn saved_snark_count(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".snark.json").map(str::to_string)
            })
            .filter(|name| self.saved_snark(name).is_some())
            .count()
    }

    /// Saves a proof for aggregation as `name` (warning where it cannot, as [`Progress::save`]).
    pub fn save_snark(&self, name: &str, proof: &[u8], instances: &[zkml_segments::Fr]) {
        let saved = SavedSnark {
            format: SAVED_FORMAT.into(),
            version: 1,
            run: self.run.clone(),
            proof: format!("0x{}", hex::encode(proof)),
            instances: instances.iter().map(word).collect(),
        };
        self.keep(&snark_name(name), &saved, name);
    }

    /// Saves segment `i`'s proof; a proof that cannot be saved is only proven again by a
    /// later run, so this warns instead of failing.
    pub fn save(&self, i: usize, file: &ProofFile) {
        let saved = Saved {
            format: SAVED_FORMAT.into(),
            version: 1,
            run: self.run.clone(),
            proof: file.clone(),
        };
        self.keep(&saved_name(i), &saved, &format!("segment {}", i + 1));
    }

    /// Writes `saved` as the new file `file` of the progress folder, warning (about `what`'s
    /// proof) where it cannot: an unsaved proof is only proven again by a later run.
    fn keep(&self, file: &str, saved: &impl Serialize, what: &str) {
        let written = serde_json::to_vec(saved)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| write_new(&self.dir.join(file), &bytes, 0o644));
        if let Err(e) = written {
            eprintln!("warning: cannot save {what}'s proof: {e:#}");
        }
    }

    /// Removes the progress: its own files, then the folder if nothing else is in it. What
    /// cannot be removed is named in a warning.
    pub fn finish(self) {
        self.remove_saved();
        let state = self.dir.join(STATE);
        if let Err(e) = std::fs::remove_file(&state) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!(
                    "warning: cannot remove {} (it holds the links' blinding values): {e}",
                    state.display()
                );
            }
        }
        let dir = self.dir.clone();
        drop(self);
        let _ = std::fs::remove_dir(&dir);
    }

    /// Removes the saved proofs (files of that name and format only).
    fn remove_saved(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if (name.ends_with(".saved.json") || name.ends_with(".snark.json"))
                && std::fs::read(entry.path()).is_ok_and(|b| has_format(&b, SAVED_FORMAT))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The folder's lock: a file holding the process id of the run using it, removed when dropped.
struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock of `dir`, or says which living process holds it; the lock of a process
    /// that ended without removing it is taken over.
    fn take(dir: &Path) -> Result<Lock> {
        let path = dir.join(LOCK);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    if let Some(pid) = holder.filter(|&p| alive(p)) {
                        bail!(
                            "another zkml run (process {pid}) is proving a chain into {}: wait for it to end, or give another --out (if no such run is going on, remove {})",
                            dir.display(),
                            path.display()
                        );
                    }
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove the stale {}", path.display()))?;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        bail!("cannot take the lock {}", path.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` is running. Where that cannot be told (no `/proc`), it is taken to
/// be, so a stale lock is removed by hand.
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Creates `dir` (its parents as usual), readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return keep_private(dir);
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `bytes` to `path` through a temporary file created readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_new(path, bytes, 0o600)
}

/// Writes `bytes` to `path` through a temporary file (created with `mode` where there are
/// modes) and a rename.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Makes a file or folder of secrets readable by its owner only.
#[cfg(unix)]
fn keep_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot make {} private", path.display()))
}

#[cfg(not(unix))]
fn keep_private(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkml_segments::Fr;

    fn opened(dir: &Path, kind: &str) -> (Progress, Vec<SegmentWitness>) {
        let program = zkml_test_support::deep_program(4, 3);
        let cut =
            CutProgram::new(program.clone(), VisibilityConfig::default(), vec![5, 9]).unwrap();
        let inputs = [Tensor::new(vec![1, 4], vec![1, -2, 3, 4]).unwrap()];
        let mut witness = cut.witness(&inputs, &mut rand::rngs::OsRng).unwrap();
        let progress =
            Progress::open(dir, kind, &program, &cut, &inputs, &mut witness, false).unwrap();
        (progress, witness)
    }

    /// Proofs saved for aggregation come back to the same run's progress only: the same kind
    /// of run takes them with the links' blinding values, another kind starts afresh.
    #[test]
    fn saved_proofs_serve_the_same_kind_of_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("progress");
        let aggregate = "aggregate in 2 group(s), 2^20 rows";
        let (first, before) = opened(&dir, aggregate);
        let instances = vec![Fr::from(5), Fr::from(7)];
        first.save_snark("segment-1", &[1, 2, 3], &instances);
        assert_eq!(first.saved_snark_count(), 1);
        // A chain's proof file in an aggregate's progress is not taken for a segment's proof.
        let file: ProofFile = serde_json::from_value(serde_json::json!({
            "format": "zkml-proof", "version": 1, "proof": "0x01", "instances": [],
            "public": [], "outputs": [], "quantized_outputs": [[1]],
            "vk_digest": "0x00", "program_digest": "0x00",
        }))
        .unwrap();
        first.save(0, &file);
        assert!(dir.join(saved_name(0)).exists());
        drop(first);

        let (again, witness) = opened(&dir, aggregate);
        assert_eq!(
            again.saved_snark("segment-1"),
            Some((vec![1, 2, 3], instances.clone()))
        );
        assert_eq!(again.saved_snark("segment-0"), None);
        assert!(!again.has_saved(0));
        let links =
            |w: &[SegmentWitness]| -> Vec<Fr> { w.iter().map(|s| s.blinding.outputs).collect() };
        assert_eq!(links(&witness), links(&before));
        drop(again);

        // A proof another run saved (its run id) is not taken.
        let path = dir.join(snark_name("segment-1"));
        let mut file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        file["run"] = serde_json::Value::String("another run".into());
        std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
        let (foreign, _) = opened(&dir, aggregate);
        assert_eq!(foreign.saved_snark("segment-1"), None);
        assert_eq!(foreign.saved_snark_count(), 0);
        foreign.save_snark("segment-1", &[1, 2, 3], &instances);
        assert!(foreign.saved_snark("segment-1").is_some(), "saved over");
        drop(foreign);

        // A chain (or an aggregate grouped otherwise) starts afresh and removes them.
        let (chain, witness) = opened(&dir, CHAIN);
        assert_eq!(chain.saved_snark("segment-1"), None);
        assert!(!path.exists());
        assert_ne!(links(&witness), links(&before));
        chain.finish();
        assert!(!dir.exists(), "the progress is removed when it has served");
    }
}

//! The plan cache: `<cache>/plans/<id>.json` keeps the segments one run planned (the cuts and
//! each segment's circuit), or the one circuit it sized for a whole program, for one (program,
//! request, visibility, objective, phases) combination, so that a rerun of the same proof (one
//! that goes on from saved proofs, or a node proving the same model for every request) does not
//! plan and size them again (minutes for a large model).
//!
//! A plan is a pure function of those inputs and of the planner's code, so the id covers the
//! inputs, the layout revision and the running binary itself (its size and modification
//! time): a plan made by another build is never taken. What the cache holds is only trusted
//! to be a plan: an entry that cannot be read, or whose cuts do not cut the program into as
//! many segments as it lists circuits, is ignored and planned afresh. The circuits a plan
//! names make the keys, so an edited entry can make a proof fail, never a wrong one verify.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::{CircuitParams, VisibilityConfig};
use zkml_ir::Program;
use zkml_segments::CutProgram;

use crate::chain::Request;

/// The `format` of a plan cache entry.
const FORMAT: &str = "zkml-plan";

/// What a plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planned {
    /// A program cut into segments ([`crate::chain::plan`]).
    Segments,
    /// One circuit for the whole program, within a budget.
    Whole,
}

/// One cached plan.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    format: String,
    cuts: Vec<usize>,
    circuits: Vec<CircuitParams>,
}

/// Where one combination's plan is kept.
#[derive(Clone, Debug)]
pub struct PlanKey {
    path: PathBuf,
}

impl PlanKey {
    /// The entry for planning `program` as `request` asks, with these settings, under the
    /// default cache directory; `None` where the running binary cannot be identified (then
    /// nothing is cached).
    pub(crate) fn new(
        program: &Program,
        visibility: &VisibilityConfig,
        objective: Objective,
        phases: Phases,
        request: &Request,
        planned: Planned,
    ) -> Option<Self> {
        let dir = zkml_prover::srs::SrsCache::default_dir().join("plans");
        let exe = std::env::current_exe().ok()?.metadata().ok()?;
        let built = exe
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        let mut id = zkml_prover::keys::program_digest(program).to_vec();
        let settings = serde_json::json!({
            "planned": planned,
            "visibility": visibility,
            "objective": objective,
            "phases": format!("{phases:?}"),
            "segments": request.segments,
            "max_logrows": request.max_logrows,
            "max_memory": request.max_memory,
            "whole": request.whole,
            "layout_revision": zkml_circuits::LAYOUT_REVISION,
            "version": env!("CARGO_PKG_VERSION"),
            "binary": [exe.len(), built.as_secs(), u64::from(built.subsec_nanos())],
        });
        id.extend(settings.to_string().into_bytes());
        let digest = hex::encode(zkml_prover::keys::keccak(&id));
        Some(Self {
            path: dir.join(format!("{}.json", &digest[..32])),
        })
    }

    /// The entry's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plan kept for this combination, where there is a usable one.
    pub(crate) fn load(
        &self,
        program: &Program,
        visibility: VisibilityConfig,
    ) -> Option<(CutProgram, Vec<CircuitParams>)> {
        let bytes = std::fs::read(&self.path).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        if entry.format != FORMAT {
            return None;
        }
        let cut = CutProgram::new(program.clone(), visibility, entry.cuts).ok()?;
        (cut.len() == entry.circuits.len()).then_some((cut, entry.circuits))
    }

    /// The whole program's circuit kept for this combination, where there is one.
    pub(crate) fn load_whole(&self) -> Option<CircuitParams> {
        let bytes = std::fs::read(&self.path).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        match (entry.format == FORMAT, &entry.cuts[..], &entry.circuits[..]) {
            (true, [], [circuit]) => Some(*circuit),
            _ => None,
        }
    }

    /// Keeps `plan` for the next run. A cache that cannot be written only costs that run the
    /// planning again, so failures are not errors.
    pub(crate) fn store(&self, cuts: &[usize], circuits: &[CircuitParams]) {
        let entry = Entry {
            format: FORMAT.into(),
            cuts: cuts.to_vec(),
            circuits: circuits.to_vec(),
        };
        let Some(dir) = self.path.parent() else {
            return;
        };
        let Ok(bytes) = serde_json::to_vec_pretty(&entry) else {
            return;
        };
        // Written beside its place and renamed over it, so that a reader never sees half.
        let partial = self
            .path
            .with_extension(format!("partial-{}", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&partial, bytes))
            .and_then(|()| std::fs::rename(&partial, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
    }
}

/// The whole program's circuit among the shapes `fits` accepts (where any does), as
/// [`crate::proving::VisibilityArgs::circuit_fitting`] sizes it for the budget `within`: taken
/// from the cache where this build sized it before, sized and kept otherwise.
pub(crate) fn whole_circuit(
    program: &Program,
    flags: &crate::proving::VisibilityArgs,
    device: zkml_prover::Device,
    within: &Request,
    fits: &dyn Fn(&CircuitParams) -> bool,
) -> Result<CircuitParams, zkml_circuits::LayoutError> {
    let key = PlanKey::new(
        program,
        &flags.config(),
        flags.objective(),
        flags.phases(device),
        within,
        Planned::Whole,
    );
    if let Some(circuit) = key.as_ref().and_then(PlanKey::load_whole) {
        return Ok(circuit);
    }
    let circuit = flags.circuit_fitting(program, device, fits)?;
    if let Some(key) = key {
        key.store(&[], &[circuit]);
    }
    Ok(circuit)
}

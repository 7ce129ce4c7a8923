//! Choosing where to cut: segments of balanced cost whose boundaries are small.
//!
//! A node's weight is what its lowering takes in one layout of the whole program (main-region
//! rows, range checks and table lookups: the rows a circuit pays for). For `n` segments the
//! planner aims each cut at `i/n` of the total weight and, among the allowed cuts within an
//! eighth of a segment's weight of that aim, takes the one with the fewest values crossing
//! it (the link commitments hash them, and the next segment range-checks them again). A cut
//! is only taken if the cuts still to come can follow it: where a tensor too wide to hand over
//! lives from some node to the end (a model output of wider values), every cut falls before
//! it: the last segment then holds what follows the last allowed cut, and the cuts before it
//! share the weight before that evenly.

use std::collections::HashMap;
use std::ops::Range;

use zkml_circuits::cost::{choose_fitting, memory_estimate, Objective, Phases};
use zkml_circuits::{measure, CircuitParams, VisibilityConfig};
use zkml_ir::segment::{boundary, cut_problem};
use zkml_ir::tensor::numel;
use zkml_ir::{Op, Program};

use crate::{segment_visibility, CutProgram, SegmentError};

/// Each node's weight: rows, range checks and table lookups its lowering takes in a 16-lane
/// layout of the whole program.
pub fn node_weights(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<Vec<u64>, SegmentError> {
    let params = CircuitParams {
        k: 26,
        lanes: 16,
        results: 4,
        range_streams: 1,
        table_streams: 1,
        range_bits: 14,
        degree: 4,
        poseidon: visibility.hashes(),
        fold: 0,
        freivalds: true,
        table_banks: 0,
    };
    let layout = measure(program, params, visibility)
        .map_err(|source| SegmentError::Layout { segment: 0, source })?;
    Ok(layout
        .node_usage
        .iter()
        .map(|u| (u.rows + u.range_checks + u.table_checks) as u64)
        .collect())
}

/// Whether a node computes (is neither an input nor a constant).
fn computes(program: &Program, j: usize) -> bool {
    !matches!(program.nodes[j].op, Op::Input { .. } | Op::Const { .. })
}

/// Cuts for `segments` segments of balanced weight (see the module documentation).
pub fn plan_cuts(
    program: &Program,
    visibility: VisibilityConfig,
    segments: usize,
) -> Result<Vec<usize>, SegmentError> {
    if segments <= 1 {
        return Cutter::cuts_trivial(segments);
    }
    Cutter::new(program, visibility)?.cuts(segments)
}

/// What cutting a program into any number of segments needs, computed once: each node's
/// weight and the cuts the program allows.
pub struct Cutter {
    /// cum[c]: weight of the nodes before c.
    cum: Vec<u64>,
    /// computing[c]: computing nodes before c.
    computing: Vec<usize>,
    /// Allowed cuts, with the values crossing each.
    allowed: Vec<(usize, u64)>,
    /// room[i]: how many more cuts can follow `allowed[i]`, each segment computing (`None`:
    /// not even the segment after it computes).
    room: Vec<Option<usize>>,
}

impl Cutter {
    /// Weighs `program`'s nodes (one measuring layout) and lists its allowed cuts.
    pub fn new(program: &Program, visibility: VisibilityConfig) -> Result<Self, SegmentError> {
        let n = program.nodes.len();
        let weights = node_weights(program, visibility)?;
        let bounds = program.bounds_with(visibility.param_bounds())?;
        let mut cum = vec![0u64; n + 1];
        let mut computing = vec![0usize; n + 1];
        for j in 0..n {
            cum[j + 1] = cum[j] + weights[j];
            computing[j + 1] = computing[j] + usize::from(computes(program, j));
        }
        let allowed: Vec<(usize, u64)> = (1..n)
            .filter(|&c| cut_problem(program, &bounds, c).is_none())
            .map(|c| {
                let crossing = boundary(program, c)
                    .iter()
                    .map(|&j| numel(&program.nodes[j].shape) as u64)
                    .sum();
                (c, crossing)
            })
            .collect();
        let room = room_after(&computing, &allowed);
        Ok(Self {
            cum,
            computing,
            allowed,
            room,
        })
    }

    /// The weight of the nodes in `nodes` (a segment's, of the program weighed).
    pub fn weight(&self, nodes: &Range<usize>) -> u64 {
        self.cum[nodes.end] - self.cum[nodes.start]
    }

    fn cuts_trivial(segments: usize) -> Result<Vec<usize>, SegmentError> {
        if segments == 0 {
            return Err(SegmentError::Plan(
                "a program is cut into at least one segment".into(),
            ));
        }
        Ok(Vec::new())
    }

    /// The most segments the allowed cuts make, each computing something.
    pub fn most_segments(&self) -> usize {
        let cuts = self
            .allowed
            .iter()
            .zip(&self.room)
            .filter(|&(&(c, _), _)| self.computing[c] > 0)
            .filter_map(|(_, room)| room.map(|r| r + 1))
            .max()
            .unwrap_or(0);
        cuts + 1
    }

    /// Cuts for `segments` segments of balanced weight.
    pub fn cuts(&self, segments: usize) -> Result<Vec<usize>, SegmentError> {
        if segments <= 1 {
            return Self::cuts_trivial(segments);
        }
        let (cum, computing) = (&self.cum, &self.computing);
        let n = cum.len() - 1;
        let total = cum[n].max(1);
        let share = total as f64 / segments as f64;
        // Where the last cut can fall at the latest: when that is before (segments - 1) shares,
        // the last segment holds more than a share whatever the cuts, and the others share
        // the weight before it evenly.
        let reach = self
            .allowed
            .iter()
            .zip(&self.room)
            .filter(|&(_, room)| room.is_some())
            .map(|(&(c, _), _)| cum[c])
            .max()
            .unwrap_or(total) as f64;
        // The weight between consecutive aims.
        let step = share.min(reach / (segments - 1) as f64);
        let mut cuts: Vec<usize> = Vec::with_capacity(segments - 1);
        for k in 1..segments {
            let prev = cuts.last().copied().unwrap_or(0);
            let aim = step * k as f64;
            // A cut must leave computing nodes before it (after the previous cut), and room
            // after it for the cuts still to come.
            let feasible: Vec<&(usize, u64)> = self
                .allowed
                .iter()
                .zip(&self.room)
                .filter(|&(&(c, _), &room)| {
                    c > prev
                        && computing[c] > computing[prev]
                        && room.is_some_and(|r| r >= segments - 1 - k)
                })
                .map(|(a, _)| a)
                .collect();
            let distance = |c: usize| (cum[c] as f64 - aim).abs();
            let near: Vec<&&(usize, u64)> = feasible
                .iter()
                .filter(|&&&(c, _)| distance(c) <= step / 8.0)
                .collect();
            let pick = if near.is_empty() {
                feasible
                    .iter()
                    .min_by(|a, b| distance(a.0).total_cmp(&distance(b.0)))
                    .map(|&&(c, _)| c)
            } else {
                near.iter()
                    .min_by(|a, b| a.1.cmp(&b.1).then(distance(a.0).total_cmp(&distance(b.0))))
                    .map(|&&&(c, _)| c)
            };
            let Some(c) = pick else {
                return Err(SegmentError::Plan(format!(
                    "the program cannot be cut into {segments} segments: its allowed cuts \
                     leave at most {} segments each computing something",
                    self.most_segments()
                )));
            };
            cuts.push(c);
        }
        Ok(cuts)
    }
}

/// For each allowed cut (in order), how many more allowed cuts can follow it with every
/// segment computing something, the last one included; `None` where even the segment after
/// it computes nothing. Taking the earliest cut that leaves its segment computing is never
/// worse, so each cut's room follows from the first such cut after it.
fn room_after(computing: &[usize], allowed: &[(usize, u64)]) -> Vec<Option<usize>> {
    let end = computing[computing.len() - 1];
    let mut room: Vec<Option<usize>> = vec![None; allowed.len()];
    let mut next = allowed.len();
    for i in (0..allowed.len()).rev() {
        let c = allowed[i].0;
        // The first allowed cut after c with a computing node between them.
        while next > i + 1 && computing[allowed[next - 1].0] > computing[c] {
            next -= 1;
        }
        let follow = (next < allowed.len() && computing[allowed[next].0] > computing[c])
            .then(|| room[next].map(|r| r + 1))
            .flatten();
        room[i] = follow.or((end > computing[c]).then_some(0));
    }
    room
}

/// The sized circuit of every segment of `cut`, for `objective`.
pub fn size_segments(
    cut: &CutProgram,
    objective: Objective,
    phases: Phases,
) -> Result<Vec<CircuitParams>, SegmentError> {
    size_with(cut, objective, phases, &|_| true)
}

/// Sizes every segment of `cut` among the shapes `fits` accepts (where any does).
fn size_with(
    cut: &CutProgram,
    objective: Objective,
    phases: Phases,
    fits: &dyn Fn(&CircuitParams) -> bool,
) -> Result<Vec<CircuitParams>, SegmentError> {
    (0..cut.len())
        .map(|i| size_one(cut, i, objective, phases, fits))
        .collect()
}

/// Segment `i`'s circuit: the best shape for `objective` that `fits`, where one does.
fn size_one(
    cut: &CutProgram,
    i: usize,
    objective: Objective,
    phases: Phases,
    fits: &dyn Fn(&CircuitParams) -> bool,
) -> Result<CircuitParams, SegmentError> {
    choose_fitting(
        &cut.segments[i].program,
        cut.segment_visibility(i),
        objective,
        phases,
        fits,
    )
    .map_err(|source| SegmentError::Layout { segment: i, source })
}

/// What a segment's circuit must fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// At most `2^k` rows.
    Logrows(u32),
    /// At most this many bytes of proving memory: a segment's estimate
    /// ([`zkml_circuits::cost::memory_estimate`]) and the program the process holds
    /// ([`resident_bytes`]) within [`MEMORY_HEADROOM`] of it.
    Memory(u64),
}

/// Share of a memory budget one segment's estimate may take: the memory model matches measured
/// peaks within about 10%, and the budget bounds the measured peak.
pub const MEMORY_HEADROOM: f64 = 0.9;

/// Bytes a proving process holds besides the circuit it proves: the whole program and one
/// value of every node (its trace), eight bytes each. A chain keeps them while each of its
/// segments is proven.
pub fn resident_bytes(program: &Program) -> u64 {
    program
        .nodes
        .iter()
        .map(|n| 8 * numel(&n.shape) as u64)
        .sum()
}

impl Budget {
    /// Whether a circuit `c` of a program holding `resident` bytes ([`resident_bytes`]) fits:
    /// its estimate within [`MEMORY_HEADROOM`] of the budget, less `resident`.
    pub fn fits(&self, c: &CircuitParams, resident: u64) -> bool {
        match *self {
            Budget::Logrows(k) => c.k <= k,
            Budget::Memory(bytes) => {
                memory_estimate(c, c.k) + resident <= (bytes as f64 * MEMORY_HEADROOM) as u64
            }
        }
    }

    /// How many segments the whole program's circuit suggests at least (halving the rows
    /// per segment halves its memory, roughly).
    fn first_count(&self, whole: &CircuitParams) -> usize {
        match *self {
            Budget::Logrows(k) => 1usize << (whole.k.saturating_sub(k)).min(16),
            Budget::Memory(bytes) => {
                let need = memory_estimate(whole, whole.k);
                let room = (bytes as f64 * MEMORY_HEADROOM) as u64;
                (need.div_ceil(room.max(1)) as usize).clamp(1, 1 << 16)
            }
        }
    }

    /// By how much `c` exceeds the budget (1 or less: it fits), as the factor its rows (or
    /// memory) would have to shrink by.
    fn excess(&self, c: &CircuitParams, resident: u64) -> f64 {
        match *self {
            Budget::Logrows(k) => 2f64.powi(c.k as i32 - k as i32),
            Budget::Memory(bytes) => {
                let room = (bytes as f64 * MEMORY_HEADROOM - resident as f64).max(1.0);
                memory_estimate(c, c.k) as f64 / room
            }
        }
    }

    fn describe(&self) -> String {
        match *self {
            Budget::Logrows(k) => format!("circuits of at most 2^{k} rows"),
            Budget::Memory(bytes) => format!(
                "circuits whose proving takes at most {:.1} GB",
                bytes as f64 / 1e9
            ),
        }
    }

    fn widest(&self, circuits: &[CircuitParams]) -> String {
        match *self {
            Budget::Logrows(_) => {
                format!("2^{} rows", circuits.iter().map(|c| c.k).max().unwrap_or(0))
            }
            Budget::Memory(_) => format!(
                "{:.1} GB",
                circuits
                    .iter()
                    .map(|c| memory_estimate(c, c.k))
                    .max()
                    .unwrap_or(0) as f64
                    / 1e9
            ),
        }
    }
}

/// The fewest segments (balanced as [`plan_cuts`] does) whose circuits all fit `2^max_k`
/// rows, with their circuits (see [`plan_for`]).
pub fn plan_within(
    program: &Program,
    visibility: VisibilityConfig,
    max_k: u32,
    objective: Objective,
    phases: Phases,
) -> Result<(CutProgram, Vec<CircuitParams>), SegmentError> {
    plan_for(
        program,
        visibility,
        Budget::Logrows(max_k),
        objective,
        phases,
    )
}

/// The fewest segments whose circuits fit `budget` (a program whose circuit fits is one
/// segment), with their circuits: each segment takes the best shape for `objective` among
/// those that fit.
///
/// Each count tried costs a sizing of the whole program, so the count is searched, not
/// stepped: it starts where the whole circuit's excess suggests, grows by the widest
/// segment's excess over the budget (at least by one) until every segment fits, then is
/// bisected down to the fewest that fit. Fails naming the widest segment when no more cuts
/// can be made.
pub fn plan_for(
    program: &Program,
    visibility: VisibilityConfig,
    budget: Budget,
    objective: Objective,
    phases: Phases,
) -> Result<(CutProgram, Vec<CircuitParams>), SegmentError> {
    let resident = resident_bytes(program);
    let whole = choose_fitting(program, visibility, objective, phases, &|c| {
        budget.fits(c, resident)
    })
    .map_err(|source| SegmentError::Layout { segment: 0, source })?;
    plan_sized(program, visibility, budget, objective, phases, whole)
}

/// [`plan_for`], given the whole program's circuit (`whole`, sized for `objective` and
/// `phases`).
///
/// A segment is the same program wherever the same nodes are cut out, so each is sized once
/// for all the counts tried ([`Sizer`]). While the count is bisected, a count is abandoned at
/// its first segment that does not fit, the heaviest (by [`node_weights`]) sized first.
pub fn plan_sized(
    program: &Program,
    visibility: VisibilityConfig,
    budget: Budget,
    objective: Objective,
    phases: Phases,
    whole: CircuitParams,
) -> Result<(CutProgram, Vec<CircuitParams>), SegmentError> {
    let resident = resident_bytes(program);
    if budget.fits(&whole, resident) {
        let cut = CutProgram::new(program.clone(), visibility, Vec::new())?;
        return Ok((cut, vec![whole]));
    }
    let cutter = Cutter::new(program, visibility)?;
    let mut sizer = Sizer::new(objective, phases, budget, resident);
    let mut most = program.nodes.len().max(2);
    // The fewest segments that could fit, but no more than the program has places to cut.
    let mut count = budget.first_count(&whole).clamp(2, most);
    while count > 2 && matches!(cutter.cuts(count), Err(SegmentError::Plan(_))) {
        count -= 1;
    }
    let cut_into = |count: usize| -> Result<Option<CutProgram>, SegmentError> {
        match cutter.cuts(count) {
            Ok(cuts) => Ok(Some(CutProgram::new(program.clone(), visibility, cuts)?)),
            Err(SegmentError::Plan(_)) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let no_cut = |below: usize, widest: &str| {
        SegmentError::Plan(format!(
            "no cut of the program into {}: cut into {below} segments (as many as it allows), \
             the widest needs {widest}",
            budget.describe(),
        ))
    };
    // Grow until every segment fits; `below` is the largest count seen not to.
    let mut below = 1;
    let mut failed: Vec<(usize, f64)> = Vec::new();
    let mut widest = budget.widest(&[whole]);
    let mut found = loop {
        let Some(cut) = cut_into(count)? else {
            // No cut into `count` segments: try fewer, above those known not to fit.
            if count > below + 1 {
                most = count - 1;
                count = below + (most - below).div_ceil(2);
                continue;
            }
            return Err(no_cut(below, &widest));
        };
        // Every segment is sized here: growing needs the widest one's excess.
        let circuits = sizer.all(&cut)?;
        if circuits.iter().all(|c| budget.fits(c, resident)) {
            break (cut, circuits);
        }
        widest = budget.widest(&circuits);
        below = count;
        let excess = circuits
            .iter()
            .map(|c| budget.excess(c, resident))
            .fold(1.0, f64::max);
        // A segment that needs as much at twice the count holds a node (a large lookup
        // table, say) that no cut makes smaller: more segments will not help.
        if let Some(&(before, _)) = failed.iter().find(|&&(c, e)| 2 * c <= count && e <= excess) {
            let (i, c) = circuits
                .iter()
                .enumerate()
                .max_by(|a, b| {
                    budget
                        .excess(a.1, resident)
                        .total_cmp(&budget.excess(b.1, resident))
                })
                .expect("segments");
            let nodes = &cut.segments[i].nodes;
            let need = match budget {
                Budget::Memory(_) => {
                    format!(
                        "{} at 2^{} rows",
                        budget.widest(std::slice::from_ref(c)),
                        c.k
                    )
                }
                Budget::Logrows(_) => budget.widest(std::slice::from_ref(c)),
            };
            return Err(SegmentError::Plan(format!(
                "no cut of the program into {}: segment {i} of {count} (nodes {}..{}) still \
                 needs {need}, as much as the widest of {before} segments; a node in it does \
                 not fit the budget at any cut",
                budget.describe(),
                nodes.start,
                nodes.end,
            )));
        }
        failed.push((count, excess));
        if below >= most {
            return Err(no_cut(below, &widest));
        }
        count = ((count as f64 * excess).ceil() as usize).clamp(count + 1, most);
    };
    // Bisect between the largest count that did not fit and the smallest that did.
    let mut above = found.0.len();
    while above - below > 1 {
        let mid = below + (above - below) / 2;
        let fitting = match cut_into(mid)? {
            Some(cut) => sizer
                .fitting(&cut, &cutter)?
                .map(|circuits| (cut, circuits)),
            None => None,
        };
        match fitting {
            Some(plan) => {
                above = mid;
                found = plan;
            }
            None => below = mid,
        }
    }
    Ok(found)
}

/// Sizes segments for a budget, remembering each segment's circuit by the nodes it computes
/// and its place (first, middle, last: the visibility it is proven under).
struct Sizer {
    objective: Objective,
    phases: Phases,
    budget: Budget,
    resident: u64,
    known: HashMap<(usize, usize, bool, bool), CircuitParams>,
}

impl Sizer {
    fn new(objective: Objective, phases: Phases, budget: Budget, resident: u64) -> Self {
        Self {
            objective,
            phases,
            budget,
            resident,
            known: HashMap::new(),
        }
    }

    /// Segment `i`'s circuit: the best shape that fits the budget where one does.
    fn one(&mut self, cut: &CutProgram, i: usize) -> Result<CircuitParams, SegmentError> {
        let s = &cut.segments[i];
        let key = (s.nodes.start, s.nodes.end, i == 0, i + 1 == cut.len());
        if let Some(&c) = self.known.get(&key) {
            return Ok(c);
        }
        let (budget, resident) = (self.budget, self.resident);
        let c = size_one(cut, i, self.objective, self.phases, &|c| {
            budget.fits(c, resident)
        })?;
        self.known.insert(key, c);
        Ok(c)
    }

    /// Every segment's circuit.
    fn all(&mut self, cut: &CutProgram) -> Result<Vec<CircuitParams>, SegmentError> {
        (0..cut.len()).map(|i| self.one(cut, i)).collect()
    }

    /// Every segment's circuit if all fit the budget; `None` at the first that does not,
    /// sizing the heaviest segments first (the likeliest not to fit).
    fn fitting(
        &mut self,
        cut: &CutProgram,
        cutter: &Cutter,
    ) -> Result<Option<Vec<CircuitParams>>, SegmentError> {
        let mut order: Vec<usize> = (0..cut.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(cutter.weight(&cut.segments[i].nodes)));
        let mut circuits = vec![None; cut.len()];
        for i in order {
            let c = self.one(cut, i)?;
            if !self.budget.fits(&c, self.resident) {
                return Ok(None);
            }
            circuits[i] = Some(c);
        }
        Ok(Some(circuits.into_iter().flatten().collect()))
    }
}

/// [`size_segments`], each segment taking the best shape that fits `budget` where one does.
pub fn size_segments_fitting(
    cut: &CutProgram,
    objective: Objective,
    phases: Phases,
    budget: Budget,
    resident: u64,
) -> Result<Vec<CircuitParams>, SegmentError> {
    size_with(cut, objective, phases, &|c| budget.fits(c, resident))
}

/// The visibility of each of `count` segments (see [`segment_visibility`]).
pub fn visibilities(whole: VisibilityConfig, count: usize) -> Vec<VisibilityConfig> {
    (0..count)
        .map(|i| segment_visibility(whole, i, count))
        .collect()
}

//! The aggregation circuits above the segments' proofs: groups of them in layers, planned
//! within a memory budget or asked for, and the root over the last layer (or over the
//! segments' proofs at once).

use anyhow::{bail, Result};
use serde_json::json;
use zkml_aggregate::cost::ProofCells;
use zkml_aggregate::tree::{GroupPlan, Layer, NoLayer};
use zkml_aggregate::{AggregateProof, AggregationKey, Shape, Snark};
use zkml_prover::srs::Srs;
use zkml_verifier::vk::ModelInfo;

use super::gb;
use crate::progress::Progress;
use crate::stages::Stages;

/// The most layers of groups below the root a planned aggregate makes (each at least halves
/// the proofs above the first: 2^8 aggregates of the first layer reach one root).
const MAX_LAYERS: usize = 9;

/// How the layers are chosen, and the SRS of each kind of circuit.
pub(super) struct Layering<'a> {
    /// The memory budget the layers are planned within, in gigabytes (where no groups are
    /// asked).
    pub planned: Option<f64>,
    /// The budget each circuit made is flagged against, in gigabytes.
    pub budget_gb: Option<f64>,
    /// The groups asked for (`--aggregate-groups`): one layer of them below the root.
    pub asked_groups: usize,
    /// The groups' rows, 2^`group_k`.
    pub group_k: u32,
    /// The root's rows, 2^`root_k`.
    pub root_k: u32,
    /// Whether the root's rows were asked for (two layers at least).
    pub root_rows_asked: bool,
    pub group_srs: &'a Srs,
    pub root_srs: &'a Srs,
    /// Whether the run prints JSON (no plan lines then).
    pub json: bool,
}

/// What the layers made.
pub(super) struct Layered {
    /// The root's key (the one-layer aggregate's, where no layer was made below it).
    pub key: AggregationKey,
    pub aggregate: AggregateProof,
    /// Each layer made below the root: its groups' sizes.
    pub layers: Vec<Vec<usize>>,
    /// Each layer's groups taken from the progress folder (from 1).
    pub resumed_layers: Vec<Vec<usize>>,
    /// Each layer's plan where planned, the root's last.
    pub plans: Vec<GroupPlan>,
    /// Every aggregation circuit made, in order.
    pub circuits: Vec<Circuit>,
}

/// Proves the layers over the segments' proofs `snarks` of `shape` and the root over the last
/// one; `model` describes the values the root exposes. Each layer is planned once the layer
/// below is made, proven group by group (one aggregation key held at a time), and each group's
/// aggregate saved in `progress` as soon as it is made.
pub(super) fn prove_layers(
    l: &Layering<'_>,
    snarks: Vec<Snark>,
    shape: &Shape,
    model: ModelInfo,
    progress: &Progress,
    stages: &mut Stages,
) -> Result<Layered> {
    let budget = l.budget_gb.map(crate::chain::gigabytes);
    let count = snarks.len();
    let mut circuits = Vec::new();
    // Each layer made below the root: its groups' sizes, the groups resumed (from 1), and
    // its plan where planned. The root's plan comes last among the plans.
    let mut layers: Vec<Vec<usize>> = Vec::new();
    let mut resumed_layers: Vec<Vec<usize>> = Vec::new();
    let mut plans: Vec<GroupPlan> = Vec::new();
    // The proofs the next layer takes, and their shape: the segments', then each layer's
    // aggregates.
    let mut proofs = snarks;
    let mut layer_shape = shape.clone();
    loop {
        let n = layers.len() + 1;
        let sizes = match l.planned {
            Some(gb) => {
                // A root sized by the user makes two layers at least.
                let least = if n == 1 && l.root_rows_asked { 2 } else { 1 };
                let label = if n == 1 {
                    format!("plan the aggregation within {gb} GB")
                } else {
                    format!("plan layer {n} within {gb} GB")
                };
                let layer = stages.run(&label, || {
                    plan_layer(l.group_srs, &proofs, (l.group_k, l.root_k), gb, least, n)
                })?;
                if !l.json {
                    eprintln!("{}", describe_layer(&layer, n, gb));
                }
                match layer {
                    Layer::Root(p) => {
                        plans.push(p);
                        None
                    }
                    Layer::Groups(p) => {
                        let sizes = p.sizes.clone();
                        plans.push(p);
                        Some(sizes)
                    }
                }
            }
            None => (n == 1 && l.asked_groups > 1)
                .then(|| zkml_aggregate::tree::Split::even(count, l.asked_groups)),
        };
        let Some(sizes) = sizes else { break };
        if n > MAX_LAYERS {
            bail!("the aggregation needs more than {MAX_LAYERS} layers below its root");
        }
        // Group by group, each group's key let go once its aggregate is proven: one
        // aggregation key is held at a time. Each group's time (its key and aggregate proof;
        // the first also checks every proof natively) is reported after the stage.
        let what = if n == 1 { "segment" } else { "aggregate" };
        let prefix = if n == 1 {
            String::new()
        } else {
            format!("layer {n} ")
        };
        let saved_name = |g: usize| {
            if n == 1 {
                format!("group-{g}")
            } else {
                format!("layer-{n}-group-{g}")
            }
        };
        let groups = sizes.len();
        let mut group_times = Vec::with_capacity(groups);
        let mut resumed = Vec::new();
        let mut since = std::time::Instant::now();
        let (split, aggregates) = stages.run(
            &format!("{prefix}group aggregates (keys and proofs)"),
            || {
                zkml_aggregate::tree::key_and_prove_groups(
                    l.group_srs,
                    proofs,
                    &layer_shape,
                    &sizes,
                    |g| progress.saved_snark(&saved_name(g)),
                    |g, config, aggregate, saved| {
                        group_times.push(since.elapsed().as_secs_f64());
                        since = std::time::Instant::now();
                        circuits.push(Circuit::new(
                            format!("{prefix}group {}/{groups}", g + 1),
                            *config,
                            budget,
                        ));
                        if saved {
                            resumed.push(g + 1);
                        } else {
                            progress.save_snark(
                                &saved_name(g),
                                &aggregate.proof,
                                &aggregate.instances[0],
                            );
                        }
                    },
                )
            },
        )?;
        for (g, (secs, size)) in group_times.iter().zip(&sizes).enumerate() {
            let done = if resumed.contains(&(g + 1)) {
                "verifying key, saved aggregate checked"
            } else {
                "key and aggregate proof"
            };
            let plural = if *size == 1 { "" } else { "s" };
            stages.record(
                &format!(
                    "{prefix}group {}/{groups} of {size} {what}{plural}: {done}",
                    g + 1
                ),
                *secs,
            );
        }
        layers.push(sizes);
        resumed_layers.push(resumed);
        layer_shape = split.root;
        proofs = aggregates;
    }
    let (key, aggregate) = if layers.is_empty() {
        let key = stages.run("aggregation keys", || {
            zkml_aggregate::keygen(l.root_srs, proofs.clone(), shape.clone(), model)
        })?;
        circuits.push(Circuit::new("aggregate".into(), key.config, budget));
        let aggregate = stages.run("aggregate proof", || {
            zkml_aggregate::prove(l.root_srs, &key, proofs)
        })?;
        (key, aggregate)
    } else {
        let protocols: Vec<_> = proofs.iter().map(|a| a.protocol.clone()).collect();
        let root = stages.run("root aggregation keys", || {
            zkml_aggregate::tree::keygen_root(l.root_srs, &protocols, layer_shape, model)
        })?;
        circuits.push(Circuit::new("root".into(), root.config, budget));
        let aggregate = stages.run("aggregate proof", || {
            zkml_aggregate::prove(l.root_srs, &root, proofs)
        })?;
        (root, aggregate)
    };
    Ok(Layered {
        key,
        aggregate,
        layers,
        resumed_layers,
        plans,
        circuits,
    })
}

/// The next layer over `proofs` (segment proofs in layer 1, aggregates above), planned
/// within `gb` gigabytes from each proof laid out alone: the root in 2^`root_k` rows, or
/// groups in 2^`group_k` rows (at least `min_groups`) ([`Layer::plan`]).
fn plan_layer(
    srs: &zkml_prover::srs::Srs,
    proofs: &[zkml_aggregate::Snark],
    (group_k, root_k): (u32, u32),
    gb: f64,
    min_groups: usize,
    layer: usize,
) -> Result<Layer> {
    let cells = ProofCells::measure(srs, proofs)?;
    let budget = crate::chain::gigabytes(gb);
    Layer::plan(&cells, group_k, root_k, budget, min_groups, layer == 1).or_else(|why| {
        let ways = "choose the groups with --aggregate-groups to go over the budget, fewer rows \
                    with --aggregate-logrows, or a larger --max-memory";
        match why {
            NoLayer::OverBudget(least) => bail!(
                "the aggregation does not fit the {gb} GB memory budget: an aggregation circuit \
                 of one {} is estimated at {} GB ({}); {ways}",
                if layer == 1 { "segment" } else { "aggregate" },
                self::gb(least.peak()),
                zkml_aggregate::cost::describe(&least.configs[least.peak_group()])
            ),
            NoLayer::NoFewer(pairs) => bail!(
                "the aggregation does not fit the {gb} GB memory budget: layer {layer} would \
                 take its {} aggregates one per circuit, which does not lessen their number \
                 (two in one circuit are estimated at {} GB, {}); {ways}",
                proofs.len(),
                self::gb(pairs.peak()),
                zkml_aggregate::cost::describe(&pairs.configs[pairs.peak_group()])
            ),
        }
    })
}

/// A layer's plan in words: "aggregation within 16 GB: one layer over 3 segments, estimated
/// at ...", "aggregation within 16 GB, layer 1: 8 groups (3, 3, ... segments); the largest
/// estimated at 12.3 GB (2^20 rows, ...)", "aggregation within 16 GB: the root over 3
/// aggregates, estimated at ...".
fn describe_layer(layer: &Layer, n: usize, gb: f64) -> String {
    let (Layer::Root(p) | Layer::Groups(p)) = layer;
    let largest = format!(
        "{} GB ({})",
        self::gb(p.peak()),
        zkml_aggregate::cost::describe(&p.configs[p.peak_group()])
    );
    let what = if n == 1 { "segment" } else { "aggregate" };
    let plural = |count: usize| if count == 1 { "" } else { "s" };
    match (layer, p.sizes.as_slice()) {
        (Layer::Root(_), &[count]) if n == 1 => format!(
            "aggregation within {gb} GB: one layer over {count} {what}{}, estimated at {largest}",
            plural(count)
        ),
        (Layer::Root(_), sizes) => {
            let count: usize = sizes.iter().sum();
            format!(
                "aggregation within {gb} GB: the root over {count} {what}{}, estimated at \
                 {largest}",
                plural(count)
            )
        }
        (Layer::Groups(_), sizes) => {
            let listed: Vec<String> = sizes.iter().map(usize::to_string).collect();
            format!(
                "aggregation within {gb} GB, layer {n}: {} groups ({} {what}s); the largest \
                 estimated at {largest}",
                sizes.len(),
                listed.join(", ")
            )
        }
    }
}

/// A planned layer in `--json`: its groups' sizes and estimates (the root's: one group).
pub(super) fn planned_json(p: &GroupPlan) -> serde_json::Value {
    json!({
        "sizes": p.sizes,
        "memory_estimates_gb": p.estimates.iter().map(|&e| gb(e)).collect::<Vec<_>>(),
    })
}

/// One aggregation circuit made: its shape and estimated memory, against the budget.
pub(super) struct Circuit {
    name: String,
    config: zkml_aggregate::AggregationConfigParams,
    estimate: u64,
    over: bool,
}

impl Circuit {
    fn new(
        name: String,
        config: zkml_aggregate::AggregationConfigParams,
        budget: Option<u64>,
    ) -> Self {
        let estimate = zkml_aggregate::cost::memory_estimate(&config);
        Self {
            name,
            config,
            estimate,
            over: budget.is_some_and(|b| estimate > b),
        }
    }

    pub(super) fn line(&self) -> String {
        format!(
            "{}: {}, estimated {} GB{}",
            self.name,
            zkml_aggregate::cost::describe(&self.config),
            gb(self.estimate),
            if self.over {
                " (over the memory budget)"
            } else {
                ""
            }
        )
    }

    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "k": self.config.degree,
            "advice": self.config.num_advice,
            "lookup_advice": self.config.num_lookup_advice,
            "fixed": self.config.num_fixed,
            "memory_estimate_gb": gb(self.estimate),
            "over_budget": self.over,
        })
    }
}

//! Aggregation in layers: consecutive groups of proofs are aggregated first, and the
//! groups' aggregates are then folded into one root aggregate, or, where they are too many for
//! one circuit, grouped again the same way ([`key_and_prove_groups`] takes aggregates as it
//! takes segment proofs; [`Layer::plan`] chooses each layer within a memory budget).
//!
//! One aggregation circuit verifies every proof it folds, so its size grows with their
//! number, and the root's on-chain cost grows with its columns: more proofs in the same
//! rows take more columns. In two layers the root only verifies the groups' aggregates, each
//! of one fixed shape, so it stays small (few columns, cheap to check on chain) whatever the
//! number of proofs, and each layer's circuit fits a machine that one circuit for all of them
//! would not.
//!
//! A group's aggregate is proven with the Poseidon transcript, like a segment proof made for
//! aggregation, and its protocol names its accumulator ([`group_protocol`]): the root
//! verifies each group's proof in-circuit and folds the group's accumulator (the pairing its
//! own proofs deferred) into its own, so the root's accumulator decides every proof below
//! it. A link inside a group is constrained by the group's circuit; a link between groups
//! stays public in both groups' aggregates and is constrained by the root. The root's public
//! values are those of the one-layer aggregate of the same shape, in the same order, so the
//! root's key describes the same model and its proofs are verified the same way
//! ([`crate::verify`], the generated contract).
//!
//! Soundness: every proof is verified in-circuit by its group and every group's proof by
//! the root; each fold of pairings is a random linear combination drawn after what it folds
//! is fixed, so a false proof survives with probability at most about (number of proofs +
//! number of aggregates in every layer) / r, r ≈ 2^254, on top of each proof's own soundness
//! error. A layer above the first verifies aggregates as the root does, and folds their
//! accumulators into its own in turn.

use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::halo2::aggregation::{AggregationCircuit, AggregationConfigParams};
use snark_verifier_sdk::halo2::gen_dummy_snark_from_protocol;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use snark_verifier_sdk::snark_verifier::system::halo2::{compile, Config};
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::{CircuitExt, Snark, SHPLONK};
use zkml_verifier::vk::ModelInfo;

use crate::circuit::{self, lay_out, AggregationKey, Link, Shape, ACCUMULATOR_LIMBS};
use crate::cost::ProofCells;
use crate::{check_snark, same_protocol, AggregateError, AggregateProof};

/// The shapes of a two-layer aggregate: each group's, and the root's over the groups'
/// aggregates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// How many consecutive proofs each group takes.
    pub sizes: Vec<usize>,
    /// Each group's shape: its own links inside, every other value of its proofs exposed.
    pub groups: Vec<Shape>,
    /// The root's shape: each group aggregate's instance (accumulator, then its exposed
    /// values), the links between groups, and the one-layer shape's exposed values in order.
    pub root: Shape,
}

impl Split {
    /// Splits `shape` into consecutive groups of `sizes` proofs (each at least one, summing to
    /// the shape's proof count).
    pub fn new(shape: &Shape, sizes: &[usize]) -> Result<Self, String> {
        shape.check()?;
        let count = shape.instance_lens.len();
        if sizes.is_empty() || sizes.contains(&0) || sizes.iter().sum::<usize>() != count {
            return Err(format!(
                "groups of {sizes:?} proofs do not divide {count} proofs"
            ));
        }
        // The group of each proof, and the first proof of each group.
        let group_of: Vec<usize> = sizes
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| std::iter::repeat_n(g, n))
            .collect();
        let starts: Vec<usize> = sizes
            .iter()
            .scan(0, |at, &n| {
                let start = *at;
                *at += n;
                Some(start)
            })
            .collect();
        let internal = |l: &Link| group_of[l.from.0] == group_of[l.to.0];
        let mut groups = Vec::with_capacity(sizes.len());
        // Where each (proof, position) not linked inside its group sits in its group's
        // aggregate instance.
        let mut placed = std::collections::HashMap::new();
        for (g, (&start, &n)) in starts.iter().zip(sizes).enumerate() {
            let local = |(p, i): (usize, usize)| (p - start, i);
            let links: Vec<Link> = shape
                .links
                .iter()
                .filter(|l| internal(l) && group_of[l.from.0] == g)
                .map(|l| Link {
                    from: local(l.from),
                    to: local(l.to),
                })
                .collect();
            let linked =
                |p: usize, i: usize| links.iter().any(|l| l.from == (p, i) || l.to == (p, i));
            let lens = shape.instance_lens[start..start + n].to_vec();
            let exposed: Vec<(usize, usize)> = lens
                .iter()
                .enumerate()
                .flat_map(|(p, &len)| (0..len).map(move |i| (p, i)))
                .filter(|&(p, i)| !linked(p, i))
                .collect();
            for (k, &(p, i)) in exposed.iter().enumerate() {
                placed.insert((p + start, i), (g, ACCUMULATOR_LIMBS + k));
            }
            let group = Shape {
                instance_lens: lens,
                links,
                exposed,
            };
            group.check()?;
            groups.push(group);
        }
        let at = |v: (usize, usize)| {
            placed
                .get(&v)
                .copied()
                .ok_or_else(|| format!("value {v:?} is linked inside its group"))
        };
        let mut links = Vec::new();
        for l in shape.links.iter().filter(|l| !internal(l)) {
            links.push(Link {
                from: at(l.from)?,
                to: at(l.to)?,
            });
        }
        let exposed = shape
            .exposed
            .iter()
            .map(|&e| at(e))
            .collect::<Result<Vec<_>, _>>()?;
        let root = Shape {
            instance_lens: groups.iter().map(Shape::aggregate_instance_len).collect(),
            links,
            exposed,
        };
        root.check()?;
        Ok(Self {
            sizes: sizes.to_vec(),
            groups,
            root,
        })
    }

    /// `count` proofs in `groups` groups as even as can be (the first ones one larger).
    pub fn even(count: usize, groups: usize) -> Vec<usize> {
        let groups = groups.clamp(1, count.max(1));
        (0..groups)
            .map(|g| count / groups + usize::from(g < count % groups))
            .collect()
    }
}

/// Consecutive groups of proofs and what their aggregation circuits are estimated to take.
#[derive(Clone, Debug)]
pub struct GroupPlan {
    /// How many consecutive proofs each group takes ([`Split::even`]).
    pub sizes: Vec<usize>,
    /// Each group's circuit, as its cells lay out at the rows asked.
    pub configs: Vec<AggregationConfigParams>,
    /// Each group's estimated proving memory, in bytes ([`crate::cost::memory_estimate`]).
    pub estimates: Vec<u64>,
}

impl GroupPlan {
    /// The proofs of `cells` in `groups` even groups, each circuit in 2^`k` rows.
    pub fn even(cells: &ProofCells, groups: usize, k: u32) -> Self {
        let sizes = Split::even(cells.len(), groups);
        let mut configs = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &n in &sizes {
            configs.push(cells.group(start..start + n).config(k));
            start += n;
        }
        let estimates = configs.iter().map(crate::cost::memory_estimate).collect();
        Self {
            sizes,
            configs,
            estimates,
        }
    }

    /// The largest group's estimate.
    pub fn peak(&self) -> u64 {
        self.estimates.iter().copied().max().unwrap_or(0)
    }

    /// The group with the largest estimate (the first of equals).
    pub fn peak_group(&self) -> usize {
        let peak = self.peak();
        self.estimates.iter().position(|&e| e == peak).unwrap_or(0)
    }

    /// The fewest even groups, at least `min_groups`, whose circuits of 2^`k` rows are each
    /// estimated within `budget` bytes; or, where none are, the plan of one proof per group
    /// (the least any grouping takes), as the error.
    pub fn fewest(
        cells: &ProofCells,
        k: u32,
        budget: u64,
        min_groups: usize,
    ) -> Result<Self, Self> {
        let count = cells.len().max(1);
        let mut plan = Self::even(cells, min_groups.clamp(1, count), k);
        while plan.peak() > budget {
            if plan.sizes.len() >= count {
                return Err(plan);
            }
            plan = Self::even(cells, plan.sizes.len() + 1, k);
        }
        Ok(plan)
    }
}

/// What the next layer of a planned aggregate is.
#[derive(Clone, Debug)]
pub enum Layer {
    /// One circuit over every proof left: the root, in the root's rows.
    Root(GroupPlan),
    /// Groups whose aggregates the layer above takes.
    Groups(GroupPlan),
}

/// Why no next layer fits the budget.
#[derive(Clone, Debug)]
pub enum NoLayer {
    /// Even one proof per circuit is over the budget: the plan of one per group.
    OverBudget(GroupPlan),
    /// Proofs that are aggregates already fit one per circuit but not two: another layer
    /// would not lessen their number. The plan of the fewest groups, some of two.
    NoFewer(GroupPlan),
}

impl Layer {
    /// The next layer over proofs of `cells` within `budget` bytes: the root, in 2^`root_k`
    /// rows, where one circuit takes them all (and `min_groups` is at most 1); else the
    /// fewest groups (at least two and `min_groups`) in 2^`group_k` rows. Groups of one
    /// proof each serve the first layer only (`first`): they turn segment proofs into
    /// aggregates of one shape; above it they would not lessen the proofs' number.
    pub fn plan(
        cells: &ProofCells,
        group_k: u32,
        root_k: u32,
        budget: u64,
        min_groups: usize,
        first: bool,
    ) -> Result<Self, NoLayer> {
        let count = cells.len();
        if min_groups <= 1 || count < 2 {
            let root = GroupPlan::even(cells, 1, root_k);
            if root.peak() <= budget || count < 2 {
                return if root.peak() <= budget {
                    Ok(Self::Root(root))
                } else {
                    Err(NoLayer::OverBudget(root))
                };
            }
        }
        let groups = GroupPlan::fewest(cells, group_k, budget, min_groups.max(2))
            .map_err(NoLayer::OverBudget)?;
        if !first && groups.sizes.len() >= count {
            let fewer = GroupPlan::even(cells, count.div_ceil(2), group_k);
            return Err(NoLayer::NoFewer(fewer));
        }
        Ok(Self::Groups(groups))
    }
}

/// The protocol of a group's aggregate as the root verifies it: its instance starts with the
/// accumulator, which the root folds into its own.
pub fn group_protocol(
    srs: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instance: usize,
) -> PlonkProtocol<G1Affine> {
    compile(
        srs,
        vk,
        Config::kzg()
            .with_num_instance(vec![num_instance])
            .with_accumulator_indices(AggregationCircuit::accumulator_indices()),
    )
}

/// A group's aggregation circuit: its proving key and what rebuilding its witness needs.
pub struct GroupKey {
    /// halo2's proving key.
    pub pk: ProvingKey<G1Affine>,
    /// The circuit's configuration.
    pub config: AggregationConfigParams,
    /// Where the builder's threads break into columns.
    pub break_points: MultiPhaseThreadBreakPoints,
    /// The group's links and exposed values.
    pub shape: Shape,
    /// The protocols of the proofs the group aggregates.
    pub protocols: Vec<PlonkProtocol<G1Affine>>,
    /// The group aggregate's own protocol, as the root verifies it.
    pub protocol: PlonkProtocol<G1Affine>,
}

/// The keys of a two-layer aggregate.
pub struct TreeKey {
    /// The one-layer shape the tree proves.
    pub shape: Shape,
    /// How the proofs are grouped.
    pub split: Split,
    /// Each group's key.
    pub groups: Vec<GroupKey>,
    /// The root's key; its exported key ([`AggregationKey::vk`]) verifies the tree's proofs.
    pub root: AggregationKey,
}

/// Generates the keys of a two-layer aggregate over proofs like `snarks` (checked natively
/// first) grouped by `sizes`: the groups' circuits in `group_srs`'s rows, the root's in
/// `root_srs`'s (both cut from one SRS). `model` describes the values the root exposes, as
/// for [`circuit::keygen`]. [`keygen_groups`] and [`keygen_root`] do the same in two steps,
/// for callers that prove the groups before making the root's key.
pub fn keygen(
    group_srs: &ParamsKZG<Bn256>,
    root_srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: Shape,
    sizes: &[usize],
    model: ModelInfo,
) -> Result<TreeKey, AggregateError> {
    let (split, groups) = keygen_groups(group_srs, snarks, &shape, sizes)?;
    let protocols: Vec<_> = groups.iter().map(|g| g.protocol.clone()).collect();
    let root = keygen_root(root_srs, &protocols, split.root.clone(), model)?;
    Ok(TreeKey {
        shape,
        split,
        groups,
        root,
    })
}

/// The groups' keys of a two-layer aggregate (see [`keygen`]).
pub fn keygen_groups(
    group_srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
    sizes: &[usize],
) -> Result<(Split, Vec<GroupKey>), AggregateError> {
    let split = Split::new(shape, sizes).map_err(AggregateError::Mismatch)?;
    check_proofs(group_srs, shape, &snarks)?;
    let mut groups = Vec::with_capacity(split.sizes.len());
    let mut rest = snarks;
    for group in &split.groups {
        let tail = rest.split_off(group.instance_lens.len());
        groups.push(group_key(group_srs, rest, group)?);
        rest = tail;
    }
    Ok((split, groups))
}

/// Keys and proves each group's aggregate in turn, letting each group's proving key go once
/// its aggregate is proven: one group's key is held at a time, where [`keygen`] holds them
/// all. Every proof and link is checked natively first, naming the proof at fault.
///
/// `saved` may give a group's aggregate made earlier (its proof and instance column): it is
/// taken instead of proving the group again when it verifies under the group's verifying key
/// made now (its protocol is never read with it) and exposes the values the group's proofs
/// expose; the group's proving key is then not made. `progress` is told each group done, with
/// its circuit's shape, its aggregate and whether it was saved. Returns the split and the
/// groups' aggregates, whose protocols key the root ([`keygen_root`]).
pub fn key_and_prove_groups(
    group_srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
    sizes: &[usize],
    saved: impl Fn(usize) -> Option<(Vec<u8>, Vec<Fr>)>,
    mut progress: impl FnMut(usize, &AggregationConfigParams, &Snark, bool),
) -> Result<(Split, Vec<Snark>), AggregateError> {
    let split = Split::new(shape, sizes).map_err(AggregateError::Mismatch)?;
    check_proofs(group_srs, shape, &snarks)?;
    let mut aggregates = Vec::with_capacity(split.sizes.len());
    let mut rest = snarks;
    for (g, group) in split.groups.iter().enumerate() {
        let tail = rest.split_off(group.instance_lens.len());
        // The layout needs the proofs' protocols and sizes only; the proof takes them.
        let layout = circuit::layout(group_srs, rest.clone(), group);
        let config = layout.config;
        let exposed: Vec<Fr> = group
            .exposed
            .iter()
            .map(|&(p, i)| rest[p].instances[0][i])
            .collect();
        let saved = saved(g)
            .filter(|(_, instances)| instances.get(ACCUMULATOR_LIMBS..) == Some(&exposed[..]));
        let (aggregate, was_saved) = match saved {
            Some((proof, instances)) => {
                let vk = layout.vk(group_srs)?;
                let protocol = group_protocol(group_srs, &vk, group.aggregate_instance_len());
                let resumed = Snark::new(protocol, vec![instances], proof);
                if check_snark(group_srs, &resumed).is_ok() {
                    (resumed, true)
                } else {
                    let key = GroupKey::new(group_srs, layout.keys_from(group_srs, vk)?, group);
                    (prove_group(group_srs, &key, rest)?, false)
                }
            }
            None => {
                let key = GroupKey::new(group_srs, layout.keys(group_srs)?, group);
                (prove_group(group_srs, &key, rest)?, false)
            }
        };
        progress(g, &config, &aggregate, was_saved);
        aggregates.push(aggregate);
        rest = tail;
    }
    Ok((split, aggregates))
}

/// Checks the proofs' links against `shape`, and each proof natively, naming the one at fault
/// by its place among all of them.
fn check_proofs(
    srs: &ParamsKZG<Bn256>,
    shape: &Shape,
    snarks: &[Snark],
) -> Result<(), AggregateError> {
    shape.check_snarks(snarks)?;
    for (proof, s) in snarks.iter().enumerate() {
        check_snark(srs, s).map_err(|e| AggregateError::BadProof {
            proof,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// One group's key, laid out over proofs like `snarks`.
fn group_key(
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
) -> Result<GroupKey, AggregateError> {
    Ok(GroupKey::new(srs, lay_out(srs, snarks, shape)?, shape))
}

impl GroupKey {
    fn new(srs: &ParamsKZG<Bn256>, laid: circuit::Laid, shape: &Shape) -> Self {
        let protocol = group_protocol(srs, laid.pk.get_vk(), shape.aggregate_instance_len());
        Self {
            pk: laid.pk,
            config: laid.config,
            break_points: laid.break_points,
            shape: shape.clone(),
            protocols: laid.protocols,
            protocol,
        }
    }
}

/// The root's key of a two-layer aggregate over groups of `protocols` ([`GroupKey::protocol`])
/// with the root shape of their [`Split`] (see [`keygen`]). The root's circuit depends on the
/// groups' protocols only: placeholders of their shape lay it out.
pub fn keygen_root(
    root_srs: &ParamsKZG<Bn256>,
    protocols: &[PlonkProtocol<G1Affine>],
    root: Shape,
    model: ModelInfo,
) -> Result<AggregationKey, AggregateError> {
    if protocols.len() != root.instance_lens.len()
        || protocols
            .iter()
            .zip(&root.instance_lens)
            .any(|(p, &n)| p.num_instance != [n] || p.accumulator_indices.len() != 1)
    {
        return Err(AggregateError::Mismatch(
            "the groups' protocols do not match the root's shape".into(),
        ));
    }
    let placeholders = protocols
        .iter()
        .map(|p| gen_dummy_snark_from_protocol::<SHPLONK>(p.clone()))
        .collect();
    circuit::keygen_laid_out(root_srs, placeholders, root, model)
}

/// Proves a two-layer aggregate: each group's aggregate ([`prove_groups`]), then the root over
/// them. `progress` is told each group proven.
pub fn prove(
    group_srs: &ParamsKZG<Bn256>,
    root_srs: &ParamsKZG<Bn256>,
    key: &TreeKey,
    snarks: Vec<Snark>,
    progress: impl FnMut(usize),
) -> Result<AggregateProof, AggregateError> {
    let aggregates = prove_groups(group_srs, key, snarks, progress)?;
    crate::prove(root_srs, &key.root, aggregates)
}

/// Proves every group's aggregate. Every proof and link is checked natively first, as
/// [`crate::prove`] does, naming the proof at fault by its place among all of them.
pub fn prove_groups(
    group_srs: &ParamsKZG<Bn256>,
    key: &TreeKey,
    snarks: Vec<Snark>,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Snark>, AggregateError> {
    for (proof, s) in snarks.iter().enumerate() {
        let expected = key
            .groups
            .iter()
            .flat_map(|g| &g.protocols)
            .nth(proof)
            .ok_or_else(|| AggregateError::Mismatch("more proofs than the key's".into()))?;
        if !same_protocol(&s.protocol, expected) {
            return Err(AggregateError::Mismatch(format!(
                "proof {proof} was made for another key than the aggregate's segment {proof}"
            )));
        }
    }
    check_proofs(group_srs, &key.shape, &snarks)?;
    let mut rest = snarks;
    let mut aggregates = Vec::with_capacity(key.groups.len());
    for (g, group) in key.groups.iter().enumerate() {
        let tail = rest.split_off(group.protocols.len());
        aggregates.push(prove_group(group_srs, group, rest)?);
        progress(g);
        rest = tail;
    }
    Ok(aggregates)
}

/// Proves one group's aggregate with the Poseidon transcript, without checking its proofs
/// natively: an invalid one is verified in-circuit all the same and folds an accumulator
/// that fails its pairing. [`prove`] checks them first.
pub fn prove_group(
    srs: &ParamsKZG<Bn256>,
    key: &GroupKey,
    snarks: Vec<Snark>,
) -> Result<Snark, AggregateError> {
    if snarks.len() != key.protocols.len() {
        return Err(AggregateError::Mismatch(format!(
            "the group is of {} proofs, {} were given",
            key.protocols.len(),
            snarks.len()
        )));
    }
    let circuit = circuit::for_proving(srs, key.config, &key.break_points, snarks, &key.shape);
    let instances = circuit.instances().concat();
    let proof = crate::snark::prove_poseidon(srs, &key.pk, circuit, &instances)?;
    Ok(Snark::new(key.protocol.clone(), vec![instances], proof))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cost::Cells;

    /// Proofs that each take `columns` advice columns of 2^20 rows alone, and fold for free.
    fn proofs(columns: &[u64]) -> ProofCells {
        let rows = (1u64 << 20) - crate::circuit::MINIMUM_ROWS as u64;
        ProofCells {
            alone: columns
                .iter()
                .map(|&c| Cells {
                    advice: c * rows,
                    lookup: rows / 2,
                    constants: 100,
                })
                .collect(),
            fold: Cells::default(),
        }
    }

    #[test]
    fn groups_sum_their_proofs_cells() {
        let plan = GroupPlan::even(&proofs(&[4, 5, 6, 7, 8]), 2, 20);
        assert_eq!(plan.sizes, vec![3, 2]);
        assert_eq!(plan.configs[0].num_advice, 15);
        assert_eq!(plan.configs[1].num_advice, 15);
        // Two halves of a lookup column each: one column, then a whole one.
        assert_eq!(plan.configs[0].num_lookup_advice, 2);
        assert_eq!(plan.configs[1].num_lookup_advice, 1);
        assert!(plan.estimates[0] > plan.estimates[1]);
        assert_eq!(plan.peak(), plan.estimates[0]);
        // The same cells in twice the rows take about half the columns.
        let wide = GroupPlan::even(&proofs(&[4, 5, 6, 7, 8]), 2, 21);
        assert_eq!(wide.configs[0].num_advice, 8);
        // Folding adds to every proof of a group of two or more, not to a group of one.
        let mut folded = proofs(&[4, 5, 6]);
        let rows = (1u64 << 20) - crate::circuit::MINIMUM_ROWS as u64;
        folded.fold.advice = rows;
        let plan = GroupPlan::even(&folded, 2, 20);
        assert_eq!(plan.sizes, vec![2, 1]);
        assert_eq!(plan.configs[0].num_advice, 4 + 5 + 2);
        assert_eq!(plan.configs[1].num_advice, 6);
    }

    #[test]
    fn layers_are_planned_until_one_circuit_takes_every_proof() {
        let cells = proofs(&[4; 7]);
        let all = GroupPlan::even(&cells, 1, 20).peak();
        let pairs = GroupPlan::even(&cells, 4, 20).peak();
        let ones = GroupPlan::even(&cells, 7, 20).peak();
        // The whole chain fits: the root at once, unless two layers are asked for.
        assert!(matches!(
            Layer::plan(&cells, 20, 20, all, 1, true),
            Ok(Layer::Root(_))
        ));
        match Layer::plan(&cells, 20, 20, all, 2, true) {
            Ok(Layer::Groups(g)) => assert_eq!(g.sizes, vec![4, 3]),
            other => panic!("{other:?}"),
        }
        // The root is planned in its own rows (more rows, fewer columns: more memory).
        let wide = GroupPlan::even(&cells, 1, 21).peak();
        assert!(wide > all);
        match Layer::plan(&cells, 20, 21, wide, 1, true) {
            Ok(Layer::Root(r)) => assert_eq!(r.configs[0].degree, 21),
            other => panic!("{other:?}"),
        }
        // Pairs fit: groups of two.
        match Layer::plan(&cells, 20, 20, pairs, 1, false) {
            Ok(Layer::Groups(g)) => assert_eq!(g.sizes, vec![2, 2, 2, 1]),
            other => panic!("{other:?}"),
        }
        // Single proofs alone fit: a first layer of them, but not a later one.
        match Layer::plan(&cells, 20, 20, ones, 1, true) {
            Ok(Layer::Groups(g)) => assert_eq!(g.sizes, vec![1; 7]),
            other => panic!("{other:?}"),
        }
        match Layer::plan(&cells, 20, 20, ones, 1, false) {
            Err(NoLayer::NoFewer(g)) => assert_eq!(g.sizes, vec![2, 2, 2, 1]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Layer::plan(&cells, 20, 20, ones - 1, 1, true),
            Err(NoLayer::OverBudget(_))
        ));
        // One proof left: it is the root, or nothing fits.
        let one = proofs(&[4]);
        let alone = GroupPlan::even(&one, 1, 20).peak();
        assert!(matches!(
            Layer::plan(&one, 20, 20, alone, 1, false),
            Ok(Layer::Root(_))
        ));
        assert!(matches!(
            Layer::plan(&one, 20, 20, alone - 1, 1, false),
            Err(NoLayer::OverBudget(_))
        ));
    }

    #[test]
    fn the_fewest_groups_within_the_budget_are_chosen() {
        let cells = proofs(&[4; 7]);
        let all = GroupPlan::even(&cells, 1, 20);
        // A budget the whole chain fits: one group.
        assert_eq!(
            GroupPlan::fewest(&cells, 20, all.peak(), 1).unwrap().sizes,
            vec![7]
        );
        // Unless two layers are asked for.
        assert_eq!(
            GroupPlan::fewest(&cells, 20, all.peak(), 2).unwrap().sizes,
            vec![4, 3]
        );
        // Just under it: two groups.
        let two = GroupPlan::fewest(&cells, 20, all.peak() - 1, 1).unwrap();
        assert_eq!(two.sizes, vec![4, 3]);
        assert!(two.peak() < all.peak());
        // A budget that fits groups of two proofs at most.
        let pairs = GroupPlan::even(&cells, 4, 20);
        let plan = GroupPlan::fewest(&cells, 20, pairs.peak(), 1).unwrap();
        assert_eq!(plan.sizes, vec![2, 2, 2, 1]);
        assert!(plan.estimates.iter().all(|&e| e <= pairs.peak()));
        // Under what one proof takes: no grouping fits, and the least one is the error.
        let ones = GroupPlan::even(&cells, 7, 20);
        let err = GroupPlan::fewest(&cells, 20, ones.peak() - 1, 1).unwrap_err();
        assert_eq!(err.sizes, vec![1; 7]);
        assert_eq!(err.peak(), ones.peak());
    }
}

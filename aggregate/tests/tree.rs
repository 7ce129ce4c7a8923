//! Aggregates in layers: how a chain's shape splits into groups and a root, and a root
//! over group aggregates verified natively and on chain, deciding the pairings of every proof
//! below it.

mod common;

use common::{chain, rejected, Contract};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use zkml_aggregate::cost;
use zkml_aggregate::tree::{self, GroupPlan, Split};
use zkml_aggregate::{chain_model, verify, AggregateError, Link, Shape, ACCUMULATOR_LIMBS};
use zkml_test_support::Fixture;
use zkml_verifier::VerifyError;

const A: usize = ACCUMULATOR_LIMBS;

/// Four proofs: the first takes two inputs, the middle two a parameter hash pair each, the
/// last makes two outputs; each passes one link commitment on.
fn four() -> Shape {
    Shape::chain(vec![3, 4, 4, 3], &[(2, 0), (3, 0), (3, 0)]).unwrap()
}

#[test]
fn a_chain_splits_into_groups_and_a_root_exposing_the_same_values() {
    let shape = four();
    let split = Split::new(&shape, &[2, 2]).unwrap();
    let link = |from, to| Link { from, to };
    // Each group keeps its own link inside and exposes the rest, links to other groups
    // included.
    assert_eq!(split.groups[0].links, vec![link((0, 2), (1, 0))]);
    assert_eq!(
        split.groups[0].exposed,
        vec![(0, 0), (0, 1), (1, 1), (1, 2), (1, 3)]
    );
    assert_eq!(split.groups[1].links, vec![link((0, 3), (1, 0))]);
    assert_eq!(
        split.groups[1].exposed,
        vec![(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]
    );
    // The root links the groups' aggregates where the chain crosses from one to the next,
    // past each one's accumulator, and exposes the chain's values in the chain's order.
    assert_eq!(split.root.instance_lens, vec![A + 5, A + 5]);
    assert_eq!(split.root.links, vec![link((0, A + 4), (1, A))]);
    let values = |g: usize, at: &[usize]| at.iter().map(move |&i| (g, A + i)).collect::<Vec<_>>();
    let expected = [values(0, &[0, 1, 2, 3]), values(1, &[1, 2, 3, 4])].concat();
    assert_eq!(split.root.exposed, expected);
    assert_eq!(split.root.exposed.len(), shape.exposed.len());

    // Uneven groups, and one group for all.
    let split = Split::new(&shape, &[1, 3]).unwrap();
    assert_eq!(split.groups[0].exposed, vec![(0, 0), (0, 1), (0, 2)]);
    assert_eq!(split.root.links, vec![link((0, A + 2), (1, A))]);
    let split = Split::new(&shape, &[4]).unwrap();
    assert!(split.root.links.is_empty());
    assert_eq!(split.root.exposed.len(), shape.exposed.len());

    // Groups that do not divide the proofs are refused.
    for sizes in [&[3, 2][..], &[4, 0], &[], &[1, 1, 1]] {
        assert!(Split::new(&shape, sizes).is_err(), "{sizes:?}");
    }
    assert_eq!(Split::even(12, 2), vec![6, 6]);
    assert_eq!(Split::even(5, 2), vec![3, 2]);
    assert_eq!(Split::even(3, 5), vec![1, 1, 1]);
}

/// A group's cells, planned from each proof's layout alone and the fold measured on the
/// first two (`ProofCells`), are those of the group's own layout.
#[test]
fn a_group_is_planned_from_its_proofs_laid_out_alone() {
    let f = Fixture::load("mlp_small");
    let c = chain(&f, 3, 11);
    let t = std::time::Instant::now();
    let each = cost::ProofCells::measure(&c.srs, &c.snarks).unwrap();
    eprintln!(
        "proofs laid out alone and two together: {:.1?} ({each:?})",
        t.elapsed()
    );
    assert_eq!(each.len(), 3);
    assert!(each.alone.iter().all(|e| e.advice > 0 && e.lookup > 0));
    assert!(each.fold.advice > 0);
    // Three proofs together, against the plan from two.
    let whole = cost::cells(&c.srs, c.snarks.clone(), &c.shape()).unwrap();
    let planned = each.group(0..3);
    eprintln!("together: {whole:?}, planned {planned:?}");
    // Within 5% above and 1% below: the fold measured on two also pays, per proof, what a
    // circuit of two or more pays once.
    let close = |p: u64, w: u64| p + w / 100 >= w && p <= w + w / 20;
    assert!(close(planned.advice, whole.advice), "{planned:?} {whole:?}");
    assert!(close(planned.lookup, whole.lookup), "{planned:?} {whole:?}");
    // A proof alone is planned as laid out alone.
    assert_eq!(each.group(1..2), each.alone[1]);
    // The plan's columns are those of the circuit's own layout, or a column more.
    let plan = GroupPlan::even(&each, 1, common::K);
    let laid = whole.config(common::K);
    assert!(plan.configs[0].num_advice.abs_diff(laid.num_advice) <= 1);
    // A shape that does not fit the proofs is refused.
    let wrong = Shape::batch(vec![1, 1, 1]);
    assert!(cost::cells(&c.srs, c.snarks.clone(), &wrong).is_err());
}

/// Two segments in two groups of one: the link between them is the root's to constrain. The
/// groups' accumulators are folded into the root's: a group aggregate of a proof that does
/// not verify makes a root that does not verify.
#[test]
#[ignore = "proves seven aggregates (about 15 minutes on 2 cores)"]
fn a_two_layer_aggregate_verifies_and_decides_every_proof_below_it() {
    let f = Fixture::load("mlp_small");
    let c = chain(&f, 2, 11);
    let shape = c.shape();
    let model = chain_model(&c.vks, c.digest).unwrap();
    let key = tree::keygen(
        &c.srs,
        &c.srs,
        c.snarks.clone(),
        shape.clone(),
        &[1, 1],
        model,
    )
    .unwrap();
    for g in &key.groups {
        assert_eq!(
            g.protocol.accumulator_indices,
            vec![(0..A).map(|i| (0, i)).collect::<Vec<_>>()],
            "the root folds each group's accumulator"
        );
    }
    assert_eq!(key.split.root.links.len(), 1);
    let groups = tree::prove_groups(&c.srs, &key, c.snarks.clone(), |_| {}).unwrap();
    let agg = zkml_aggregate::prove(&c.srs, &key.root, groups.clone()).unwrap();
    verify(&key.root.vk, &agg).unwrap();
    // The same public values as a one-layer aggregate: the evaluator's outputs end them.
    assert_eq!(agg.exposed().len(), shape.exposed.len());
    let outputs = f.output_fields();
    let exposed = agg.exposed();
    assert_eq!(
        &exposed[exposed.len() - outputs.len()..],
        outputs.as_slice()
    );

    // Keyed and proven group by group (one group's key held at a time), the groups'
    // aggregates have the protocols the tree's root key was made for.
    let none = |_: usize| -> Option<(Vec<u8>, Vec<Fr>)> { None };
    let (split, in_turn) = tree::key_and_prove_groups(
        &c.srs,
        c.snarks.clone(),
        &shape,
        &[1, 1],
        none,
        |_, _, _, saved| assert!(!saved),
    )
    .unwrap();
    assert_eq!(split, key.split);
    for (a, g) in in_turn.iter().zip(&key.groups) {
        assert_eq!(
            bincode::serialize(&a.protocol).unwrap(),
            bincode::serialize(&g.protocol).unwrap(),
            "a group keyed alone has the tree's protocol"
        );
        zkml_aggregate::check_snark(&c.srs, a).expect("a group aggregate keyed alone verifies");
    }

    // Saved group aggregates are taken again where they verify under the group's key and
    // expose its proofs' values; a damaged one (a flipped proof byte, or a changed exposed
    // value) is proven again.
    let saved_as = |damage: Option<usize>| {
        let in_turn = in_turn.clone();
        move |g: usize| -> Option<(Vec<u8>, Vec<Fr>)> {
            let mut proof = in_turn[g].proof.clone();
            let middle = proof.len() / 2;
            let mut instances = in_turn[g].instances[0].clone();
            match damage {
                Some(0) if g == 0 => proof[middle] ^= 1,
                Some(1) if g == 1 => *instances.last_mut().unwrap() += Fr::ONE,
                _ => {}
            }
            Some((proof, instances))
        }
    };
    for (damage, expected) in [
        (None, [true, true]),
        (Some(0), [false, true]),
        (Some(1), [true, false]),
    ] {
        let mut taken = Vec::new();
        let (_, again) = tree::key_and_prove_groups(
            &c.srs,
            c.snarks.clone(),
            &shape,
            &[1, 1],
            saved_as(damage),
            |_, _, _, saved| taken.push(saved),
        )
        .unwrap();
        assert_eq!(taken, expected, "damage {damage:?}");
        for (g, a) in again.iter().enumerate() {
            zkml_aggregate::check_snark(&c.srs, a).expect("each group aggregate verifies");
            assert_eq!(a.proof == in_turn[g].proof, expected[g], "group {g}");
        }
    }

    let mut contract = Contract::deploy(&key.root.vk);
    let (ok, gas) = contract.accepts(&agg);
    assert!(ok, "the contract accepts the root aggregate");
    eprintln!("on-chain verification of the root: {gas} gas");
    let mut bad = agg.clone();
    *bad.instances.last_mut().unwrap() += Fr::ONE;
    assert!(rejected(&key.root.vk, &bad), "changed output");
    assert!(
        !contract.accepts(&bad).0,
        "changed output accepted on chain"
    );

    // A group aggregate over a proof that does not verify (a public input changed after it
    // was proven) is a valid proof with a failing accumulator. The root refuses it when
    // checked natively; proven over it all the same, the root's accumulator fails.
    let mut wrong = c.snarks[0].clone();
    wrong.instances[0][0] += Fr::ONE;
    match tree::key_and_prove_groups(
        &c.srs,
        vec![wrong.clone(), c.snarks[1].clone()],
        &shape,
        &[1, 1],
        none,
        |_, _, _, _| {},
    ) {
        Err(AggregateError::BadProof { proof: 0, .. }) => {}
        other => panic!(
            "a bad proof was keyed and aggregated: {:?}",
            other.map(|_| ())
        ),
    }
    let bad_group = tree::prove_group(&c.srs, &key.groups[0], vec![wrong]).unwrap();
    let mixed = vec![bad_group, groups[1].clone()];
    match zkml_aggregate::prove(&c.srs, &key.root, mixed.clone()) {
        Err(AggregateError::BadProof { proof: 0, .. }) => {}
        other => panic!("a bad group aggregate was not refused: {other:?}"),
    }
    let bad = zkml_aggregate::prove_unchecked(&c.srs, &key.root, mixed)
        .expect("halo2 proves whatever witness it is given");
    match verify(&key.root.vk, &bad) {
        Err(AggregateError::Rejected(m)) => assert!(
            m.contains(&VerifyError::AccumulatorCheckFailed.to_string()),
            "{m}"
        ),
        other => panic!("a root over an invalid proof was not refused: {other:?}"),
    }
    assert!(
        !contract.accepts(&bad).0,
        "the contract accepts a root over an invalid proof"
    );
}

/// Three segments in three layers: groups of two and one, a group over the two group
/// aggregates (a layer that verifies aggregates and folds their accumulators), and the root
/// over it. The root exposes the one-layer aggregate's values in order and is checked the
/// same way, natively and on chain.
#[test]
#[ignore = "proves four aggregates in three layers (about 15 minutes on 2 cores)"]
fn an_aggregate_of_aggregates_takes_another_layer() {
    let f = Fixture::load("mlp_small");
    let c = chain(&f, 3, 12);
    let shape = c.shape();
    let model = chain_model(&c.vks, c.digest).unwrap();
    // The first layer keyed up front (its keys kept for the tampering below).
    let (first, first_keys) =
        tree::keygen_groups(&c.srs, c.snarks.clone(), &shape, &[2, 1]).unwrap();
    let groups: Vec<_> = first_keys
        .iter()
        .zip([&c.snarks[..2], &c.snarks[2..]])
        .map(|(k, proofs)| tree::prove_group(&c.srs, k, proofs.to_vec()).unwrap())
        .collect();
    let none = |_: usize| -> Option<(Vec<u8>, Vec<Fr>)> { None };
    // The second layer takes the first's aggregates with the first's root shape: the link
    // between the two groups is now inside one group.
    assert_eq!(first.root.links.len(), 1);
    let (second, upper) = tree::key_and_prove_groups(
        &c.srs,
        groups.clone(),
        &first.root,
        &[2],
        none,
        |_, _, _, _| {},
    )
    .unwrap();
    assert_eq!(upper.len(), 1);
    assert!(second.root.links.is_empty());
    assert_eq!(second.groups[0].links.len(), 1);
    zkml_aggregate::check_snark(&c.srs, &upper[0]).expect("an aggregate of aggregates verifies");
    let protocols: Vec<_> = upper.iter().map(|a| a.protocol.clone()).collect();
    let root = tree::keygen_root(&c.srs, &protocols, second.root.clone(), model).unwrap();
    let agg = zkml_aggregate::prove(&c.srs, &root, upper.clone()).unwrap();
    verify(&root.vk, &agg).unwrap();
    assert_eq!(agg.exposed().len(), shape.exposed.len());
    let outputs = f.output_fields();
    let exposed = agg.exposed();
    assert_eq!(
        &exposed[exposed.len() - outputs.len()..],
        outputs.as_slice()
    );
    let mut contract = Contract::deploy(&root.vk);
    let (ok, gas) = contract.accepts(&agg);
    assert!(ok, "the contract accepts a root of three layers");
    eprintln!("on-chain verification of a root of three layers: {gas} gas");
    let mut bad = agg.clone();
    *bad.instances.last_mut().unwrap() += Fr::ONE;
    assert!(rejected(&root.vk, &bad), "changed output");
    assert!(
        !contract.accepts(&bad).0,
        "changed output accepted on chain"
    );

    // A first-layer aggregate over a proof that does not verify, taken by the second layer
    // all the same: the second layer's aggregate carries the failing accumulator up, and the
    // root's fails.
    let mut wrong = c.snarks[2].clone();
    wrong.instances[0][0] += Fr::ONE;
    let bad_group = tree::prove_group(&c.srs, &first_keys[1], vec![wrong]).unwrap();
    let second_keys = tree::keygen_groups(&c.srs, groups.clone(), &first.root, &[2])
        .unwrap()
        .1;
    let bad_upper =
        tree::prove_group(&c.srs, &second_keys[0], vec![groups[0].clone(), bad_group]).unwrap();
    assert!(
        zkml_aggregate::check_snark(&c.srs, &bad_upper).is_err(),
        "an aggregate over a failing accumulator is refused natively"
    );
    let bad = zkml_aggregate::prove_unchecked(&c.srs, &root, vec![bad_upper])
        .expect("halo2 proves whatever witness it is given");
    match verify(&root.vk, &bad) {
        Err(AggregateError::Rejected(m)) => assert!(
            m.contains(&VerifyError::AccumulatorCheckFailed.to_string()),
            "{m}"
        ),
        other => panic!("a root over an invalid proof was not refused: {other:?}"),
    }
    assert!(
        !contract.accepts(&bad).0,
        "a root over an invalid proof accepted on chain"
    );
}

//! A chain of segments folded into one aggregate proof: verified natively and by the
//! generated Solidity contract, with the links held inside, and every tampering rejected.

mod common;

use std::time::Instant;

use common::{chain, rejected, Contract};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use zkml_aggregate::{prove, prove_segment, verify, AggregateError, ACCUMULATOR_LIMBS};
use zkml_test_support::Fixture;
use zkml_verifier::{Key, VerifyError, VerifyingKey};

#[test]
fn a_chain_aggregates_into_one_proof_checked_natively_and_on_chain() {
    let f = Fixture::load("mlp_small");
    let t = Instant::now();
    let c = chain(&f, 2, 5);
    let shape = c.shape();
    eprintln!("segments proven: {:.1?}", t.elapsed());

    let t = Instant::now();
    let key = c.keygen();
    eprintln!("aggregation keys: {:.1?} ({:?})", t.elapsed(), key.config);
    let t = Instant::now();
    let agg = prove(&c.srs, &key, c.snarks.clone()).unwrap();
    eprintln!(
        "aggregate proof: {:.1?}, {} bytes, {} public values",
        t.elapsed(),
        agg.proof.len(),
        agg.instances.len()
    );
    let verifier = &key.vk;
    let t = Instant::now();
    verify(verifier, &agg).unwrap();
    eprintln!("native verification: {:.1?}", t.elapsed());
    // The key file round-trips and keeps the accumulator.
    let reread = VerifyingKey::from_bytes(&key.vk.to_bytes()).unwrap();
    assert_eq!(reread.accumulator(), key.vk.accumulator());
    assert_eq!(reread.accumulator().unwrap().offset, 0);

    // The exposed values are the first segment's inputs and the last one's outputs: the
    // evaluator's outputs end the instance.
    let outputs = f.output_fields();
    let exposed = agg.exposed();
    assert_eq!(exposed.len(), shape.exposed.len());
    assert_eq!(
        &exposed[exposed.len() - outputs.len()..],
        outputs.as_slice()
    );

    // Tampering with the proof or any public value is rejected.
    let mut bad = agg.clone();
    bad.proof[100] ^= 1;
    assert!(rejected(verifier, &bad), "flipped proof byte");
    let mut bad = agg.clone();
    *bad.instances.last_mut().unwrap() += Fr::ONE;
    assert!(rejected(verifier, &bad), "changed output");
    let mut bad = agg.clone();
    bad.instances[ACCUMULATOR_LIMBS] += Fr::ONE;
    assert!(rejected(verifier, &bad), "changed input");
    let mut bad = agg.clone();
    bad.instances[0] += Fr::ONE;
    assert!(rejected(verifier, &bad), "changed accumulator limb");
    let mut bad = agg.clone();
    bad.instances.pop();
    assert!(rejected(verifier, &bad), "missing public value");
    let mut bad = agg.clone();
    bad.proof.truncate(bad.proof.len() / 2);
    assert!(rejected(verifier, &bad), "truncated proof");

    // The contract accepts the aggregate and rejects the same tamperings.
    let mut contract = Contract::deploy(verifier);
    let (ok, gas) = contract.accepts(&agg);
    assert!(ok, "the contract accepts the aggregate");
    eprintln!("on-chain verification: {gas} gas");
    for (what, bad) in [
        ("flipped proof byte", {
            let mut b = agg.clone();
            b.proof[100] ^= 1;
            b
        }),
        ("changed output", {
            let mut b = agg.clone();
            *b.instances.last_mut().unwrap() += Fr::ONE;
            b
        }),
        ("changed accumulator limb", {
            let mut b = agg.clone();
            b.instances[0] += Fr::ONE;
            b
        }),
    ] {
        assert!(!contract.accepts(&bad).0, "the contract accepts a {what}");
    }
    // An aggregate's key is refused as a chain's segment, natively and by the chain
    // contract's generator.
    assert!(zkml_verifier::chain::check_keys(&[Key::Halo2(key.vk.clone())]).is_err());
    assert!(zkml_contracts::chain::chain_solidity(std::slice::from_ref(&key.vk)).is_err());

    // A proof folded in that does not verify (a segment's public input changed after it
    // was proven) still gives an aggregate proof, since the aggregation circuit does not
    // make the pairing: its accumulator fails, and the verifier and the contract say so.
    let mut wrong = c.snarks.clone();
    wrong[0].instances[0][0] += Fr::ONE;
    let bad = zkml_aggregate::prove_unchecked(&c.srs, &key, wrong)
        .expect("halo2 proves whatever witness it is given");
    match verify(verifier, &bad) {
        Err(AggregateError::Rejected(m)) => assert!(
            m.contains(&VerifyError::AccumulatorCheckFailed.to_string()),
            "{m}"
        ),
        other => panic!("an aggregate of an invalid proof was not refused: {other:?}"),
    }
    assert!(
        !contract.accepts(&bad).0,
        "the contract accepts an aggregate of an invalid proof"
    );

    // A segment proven on other values than the one before passed on (another blinding:
    // the link commitments differ) is refused before anything is proven.
    let mut w = c.witness[1].clone();
    w.blinding.inputs += Fr::ONE;
    let (pk, srs) = &c.pks[1];
    let other = prove_segment(&c.cut.segments[1].program, &w.inputs, w.blinding, pk, srs).unwrap();
    let mixed = vec![c.snarks[0].clone(), other];
    match prove(&c.srs, &key, mixed) {
        Err(AggregateError::BrokenLink { link: 0, proof: 1 }) => {}
        other => panic!("a broken link was not refused: {other:?}"),
    }
    // Proofs out of order are refused.
    let swapped = vec![c.snarks[1].clone(), c.snarks[0].clone()];
    assert!(prove(&c.srs, &key, swapped).is_err());
    // A proof under a foreign key for the same segment (another SRS) is refused, naming it.
    let (pk, _) = &c.pks[1];
    let foreign_srs = zkml_prover::srs::generate(pk.header.circuit.k, 99);
    let program = &c.cut.segments[1].program;
    let (foreign_pk, _) = zkml_prover::generate_keys(
        program,
        pk.header.circuit,
        c.cut.segment_visibility(1),
        &foreign_srs,
    )
    .unwrap();
    let w = &c.witness[1];
    let foreign = prove_segment(program, &w.inputs, w.blinding, &foreign_pk, &foreign_srs).unwrap();
    match prove(&c.srs, &key, vec![c.snarks[0].clone(), foreign]) {
        Err(AggregateError::Mismatch(m)) => assert!(m.contains("proof 1"), "{m}"),
        other => panic!("a foreign proof was not refused: {other:?}"),
    }
    // A proof whose bytes were changed is refused, naming it.
    let mut bad = c.snarks.clone();
    bad[0].proof[40] ^= 1;
    match prove(&c.srs, &key, bad) {
        Err(AggregateError::BadProof { proof: 0, .. }) => {}
        other => panic!("a bad proof was not refused: {other:?}"),
    }
}

/// The links are constraints of the aggregation circuit, not only a check before proving:
/// an aggregate proven over a broken link does not verify, natively or on chain.
#[test]
#[ignore = "proves a second aggregate (about 4 minutes on 2 cores)"]
fn an_aggregate_over_a_broken_link_is_rejected() {
    let f = Fixture::load("mlp_small");
    let c = chain(&f, 2, 7);
    let key = c.keygen();
    let mut w = c.witness[1].clone();
    w.blinding.inputs += Fr::ONE;
    let (pk, srs) = &c.pks[1];
    let other = prove_segment(&c.cut.segments[1].program, &w.inputs, w.blinding, pk, srs).unwrap();
    let agg = zkml_aggregate::prove_unlinked(&c.srs, &key, vec![c.snarks[0].clone(), other])
        .expect("halo2 proves whatever witness it is given");
    assert!(rejected(&key.vk, &agg), "broken link accepted natively");
    let mut contract = Contract::deploy(&key.vk);
    assert!(!contract.accepts(&agg).0, "broken link accepted on chain");
}

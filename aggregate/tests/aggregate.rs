//! A chain of segments folded into one aggregate proof: verified natively and by the
//! generated Solidity contract, with the links held inside, and every tampering rejected.

use std::time::Instant;

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use snark_verifier_sdk::Snark;
use zkml_aggregate::{
    keygen, prove, prove_segment, solidity, verify, AggregateError, AggregateProof,
    AggregateVerifier, Shape, ACCUMULATOR_LIMBS,
};
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::VisibilityConfig;
use zkml_segments::plan::{plan_cuts, size_segments};
use zkml_segments::CutProgram;
use zkml_test_support::Fixture;
use zkml_verifier::chain::link;
use zkml_verifier::vk::ValueClass;
use zkml_verifier::Key;

/// Rows of the aggregation circuit (2^K).
const K: u32 = 20;

type Srs = halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_proofs::halo2curves::bn256::Bn256>;

struct Chain {
    cut: CutProgram,
    witness: Vec<zkml_segments::SegmentWitness>,
    pks: Vec<(zkml_prover::ProvingKeyFile, Srs)>,
    snarks: Vec<Snark>,
    links: Vec<(usize, usize)>,
    srs: Srs,
}

fn chain(f: &Fixture, n: usize, seed: u64) -> Chain {
    let vis = VisibilityConfig::default();
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, n).unwrap(),
    )
    .unwrap();
    let circuits = size_segments(&cut, Objective::EvmGas, Phases::Any).unwrap();
    let witness = cut
        .witness(&f.inputs, &mut ChaCha20Rng::seed_from_u64(seed))
        .unwrap();
    let srs = zkml_prover::srs::generate(K, seed);
    let mut snarks = Vec::new();
    let mut keys = Vec::new();
    let mut pks = Vec::new();
    for (i, params) in circuits.into_iter().enumerate() {
        let seg_srs = zkml_prover::srs::for_k(&srs, params.k).unwrap();
        let program = &cut.segments[i].program;
        let (pk, vk) =
            zkml_prover::generate_keys(program, params, cut.segment_visibility(i), &seg_srs)
                .unwrap();
        let w = &witness[i];
        snarks.push(prove_segment(program, &w.inputs, w.blinding, &pk, &seg_srs).unwrap());
        keys.push(Key::Halo2(vk));
        pks.push((pk, seg_srs));
    }
    let links = keys
        .windows(2)
        .map(|w| {
            (
                link(&w[0], ValueClass::Outputs).unwrap(),
                link(&w[1], ValueClass::Inputs).unwrap(),
            )
        })
        .collect();
    Chain {
        cut,
        witness,
        pks,
        snarks,
        links,
        srs,
    }
}

fn rejected(v: &AggregateVerifier, p: &AggregateProof) -> bool {
    matches!(verify(v, p), Err(AggregateError::Rejected(_)))
}

#[test]
fn a_chain_aggregates_into_one_proof_checked_natively_and_on_chain() {
    let f = Fixture::load("mlp_small");
    let t = Instant::now();
    let c = chain(&f, 2, 5);
    let lens = c.snarks.iter().map(|s| s.instances[0].len()).collect();
    let shape = Shape::chain(lens, &c.links).unwrap();
    eprintln!("segments proven: {:.1?}", t.elapsed());

    let t = Instant::now();
    let key = keygen(&c.srs, c.snarks.clone(), shape.clone()).unwrap();
    eprintln!("aggregation keys: {:.1?} ({:?})", t.elapsed(), key.config);
    let t = Instant::now();
    let agg = prove(&c.srs, &key, c.snarks.clone()).unwrap();
    eprintln!(
        "aggregate proof: {:.1?}, {} bytes, {} public values",
        t.elapsed(),
        agg.proof.len(),
        agg.instances.len()
    );
    let verifier = AggregateVerifier::new(&c.srs, key.pk.get_vk(), shape.clone());
    let t = Instant::now();
    verify(&verifier, &agg).unwrap();
    eprintln!("native verification: {:.1?}", t.elapsed());

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
    assert!(rejected(&verifier, &bad), "flipped proof byte");
    let mut bad = agg.clone();
    *bad.instances.last_mut().unwrap() += Fr::ONE;
    assert!(rejected(&verifier, &bad), "changed output");
    let mut bad = agg.clone();
    bad.instances[ACCUMULATOR_LIMBS] += Fr::ONE;
    assert!(rejected(&verifier, &bad), "changed input");
    let mut bad = agg.clone();
    bad.instances[0] += Fr::ONE;
    assert!(rejected(&verifier, &bad), "changed accumulator limb");
    let mut bad = agg.clone();
    bad.instances.pop();
    assert!(rejected(&verifier, &bad), "missing public value");
    let mut bad = agg.clone();
    bad.proof.truncate(bad.proof.len() / 2);
    assert!(rejected(&verifier, &bad), "truncated proof");

    // The contract accepts the aggregate and rejects the same tamperings.
    let t = Instant::now();
    let source = solidity(&c.srs, key.pk.get_vk(), &shape);
    let compiled = zkml_contracts::solc::compile_with(&source, "Halo2Verifier", false).unwrap();
    eprintln!(
        "contract: {:.1?}, {} bytes of runtime code",
        t.elapsed(),
        compiled.runtime.len()
    );
    let mut evm = zkml_contracts::evm::Evm::new();
    let at = evm.deploy(&compiled.bytecode).unwrap();
    let ok = evm.call(at, zkml_aggregate::calldata(&agg)).unwrap();
    assert!(ok.success, "the contract accepts the aggregate");
    eprintln!("on-chain verification: {} gas", ok.gas_used);
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
        let out = evm.call(at, zkml_aggregate::calldata(&bad)).unwrap();
        assert!(!out.success, "the contract accepts a {what}");
    }

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
    let lens = c.snarks.iter().map(|s| s.instances[0].len()).collect();
    let shape = Shape::chain(lens, &c.links).unwrap();
    let key = keygen(&c.srs, c.snarks.clone(), shape.clone()).unwrap();
    let mut w = c.witness[1].clone();
    w.blinding.inputs += Fr::ONE;
    let (pk, srs) = &c.pks[1];
    let other = prove_segment(&c.cut.segments[1].program, &w.inputs, w.blinding, pk, srs).unwrap();
    let agg = zkml_aggregate::prove_unlinked(&c.srs, &key, vec![c.snarks[0].clone(), other])
        .expect("halo2 proves whatever witness it is given");
    let verifier = AggregateVerifier::new(&c.srs, key.pk.get_vk(), shape.clone());
    assert!(rejected(&verifier, &agg), "broken link accepted natively");
    let source = solidity(&c.srs, key.pk.get_vk(), &shape);
    let compiled = zkml_contracts::solc::compile_with(&source, "Halo2Verifier", false).unwrap();
    let mut evm = zkml_contracts::evm::Evm::new();
    let at = evm.deploy(&compiled.bytecode).unwrap();
    let out = evm.call(at, zkml_aggregate::calldata(&agg)).unwrap();
    assert!(!out.success, "broken link accepted on chain");
}

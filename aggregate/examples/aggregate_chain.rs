//! Measures aggregation: a fixture cut into N segments (gas-optimized shapes), each proven for
//! aggregation, then folded into one aggregate proof, verified natively and in the EVM.
//!
//! `cargo run -p zkml-aggregate --example aggregate_chain -- FIXTURE SEGMENTS [K [GROUPS
//! [ROOT_K]]]` prints each stage's time, the aggregation circuit's shape, the process's peak memory, the
//! proof's size and the gas of verifying it on chain. FIXTURE `deep` is twelve dense layers of
//! width 16 (the program of the chain-contract gas benchmark in `segments/tests/chain.rs`).
//! With GROUPS over 1 the aggregate is made in two layers: GROUPS groups of consecutive
//! segments aggregated in 2^K rows each, then folded by a root of 2^ROOT_K rows (default K).

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_aggregate::tree::{self, Split};
use zkml_aggregate::{
    chain_model, keygen, prove, prove_segment, verify, AggregateProof, AggregationKey, Shape,
};
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::VisibilityConfig;
use zkml_segments::plan::{plan_cuts, size_segments};
use zkml_segments::CutProgram;
use zkml_test_support::Fixture;
use zkml_verifier::chain::link;
use zkml_verifier::vk::ValueClass;
use zkml_verifier::Key;

fn peak_gb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(n)) = (args.first(), args.get(1).and_then(|s| s.parse().ok())) else {
        eprintln!("usage: aggregate_chain FIXTURE SEGMENTS [K [GROUPS [ROOT_K]]]");
        std::process::exit(2);
    };
    let k: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let groups: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let root_k: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(k);
    let (program, inputs) = if name == "deep" {
        let input = (0..16).map(|i| (i - 8) * 20).collect();
        let input = zkml_ir::Tensor::new(vec![1, 16], input).expect("input");
        (zkml_test_support::deep_program(16, 12), vec![input])
    } else {
        let f = Fixture::load(name);
        (f.program, f.inputs)
    };
    let vis = VisibilityConfig::default();
    let digest = zkml_prover::keys::program_digest(&program);
    let cuts = plan_cuts(&program, vis, n).expect("cut");
    let cut = CutProgram::new(program, vis, cuts).expect("cut");
    let circuits = size_segments(&cut, Objective::EvmGas, Phases::Any).expect("size");
    let witness = cut
        .witness(&inputs, &mut ChaCha20Rng::seed_from_u64(1))
        .expect("witness");

    let t = Instant::now();
    // The seed draws the secret first, so both sizes share it (generating each size is much
    // faster than cutting a larger SRS down, which recomputes its Lagrange basis).
    let srs = zkml_prover::srs::generate(k, 1);
    let root_srs = if root_k == k {
        srs.clone()
    } else {
        zkml_prover::srs::generate(root_k, 1)
    };
    assert_eq!(srs.s_g2(), root_srs.s_g2(), "one secret for both sizes");
    println!("SRS 2^{k}: {:.1} s", t.elapsed().as_secs_f64());

    let mut snarks = Vec::new();
    let mut keys = Vec::new();
    let (mut key_s, mut prove_s) = (0.0, 0.0);
    for (i, params) in circuits.into_iter().enumerate() {
        let seg_srs = zkml_prover::srs::for_k(&srs, params.k).expect("srs");
        let program = &cut.segments[i].program;
        let t = Instant::now();
        let (pk, vk) =
            zkml_prover::generate_keys(program, params, cut.segment_visibility(i), &seg_srs)
                .expect("keys");
        key_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let w = &witness[i];
        let snark = prove_segment(program, &w.inputs, w.blinding, &pk, &seg_srs).expect("prove");
        prove_s += t.elapsed().as_secs_f64();
        println!(
            "segment {}: 2^{} rows, {} advice, {} fixed columns, proof {} bytes",
            i + 1,
            params.k,
            pk.pk.get_vk().cs().num_advice_columns(),
            pk.pk.get_vk().cs().num_fixed_columns(),
            snark.proof.len()
        );
        snarks.push(snark);
        keys.push(Key::Halo2(vk));
    }
    println!("segments: keys {key_s:.1} s, proofs {prove_s:.1} s");

    let links: Vec<(usize, usize)> = keys
        .windows(2)
        .map(|w| {
            (
                link(&w[0], ValueClass::Outputs).expect("a link"),
                link(&w[1], ValueClass::Inputs).expect("a link"),
            )
        })
        .collect();
    let lens = snarks.iter().map(|s| s.instances[0].len()).collect();
    let shape = Shape::chain(lens, &links).expect("shape");

    let t = Instant::now();
    let vks: Vec<_> = keys
        .iter()
        .map(|k| match k {
            Key::Halo2(vk) => vk.clone(),
            Key::Groth16(_) => unreachable!("segments are halo2 proofs"),
        })
        .collect();
    let model = chain_model(&vks, digest).expect("a chain");
    if groups > 1 {
        // The groups are keyed and proven first and their keys let go before the root's
        // stage, so the peak is the larger of the two stages', not their sum.
        let sizes = Split::even(snarks.len(), groups);
        let (split, group_keys) =
            tree::keygen_groups(&srs, snarks.clone(), &shape, &sizes).expect("group keys");
        for (g, group) in group_keys.iter().enumerate() {
            println!(
                "group {} ({} segments): 2^{} rows, {} advice, {} lookup advice, {} fixed columns",
                g + 1,
                sizes[g],
                group.config.degree,
                group.config.num_advice,
                group.config.num_lookup_advice,
                group.config.num_fixed
            );
        }
        println!(
            "group keys: {:.1} s (peak so far {:.2} GB)",
            t.elapsed().as_secs_f64(),
            peak_gb()
        );
        let t = Instant::now();
        let mut rest = snarks;
        let mut aggregates = Vec::new();
        for (g, group) in group_keys.iter().enumerate() {
            let tail = rest.split_off(sizes[g]);
            aggregates.push(tree::prove_group(&srs, group, rest).expect("group aggregate"));
            zkml_aggregate::check_snark(&srs, &aggregates[g])
                .expect("the group aggregate verifies");
            rest = tail;
        }
        println!(
            "group proofs: {:.1} s (peak so far {:.2} GB)",
            t.elapsed().as_secs_f64(),
            peak_gb()
        );
        let protocols: Vec<_> = group_keys.iter().map(|g| g.protocol.clone()).collect();
        drop(group_keys);
        let t = Instant::now();
        let root = tree::keygen_root(&root_srs, &protocols, split.root, model).expect("root keys");
        print_key("root keys", t, &root);
        let t = Instant::now();
        let agg = prove(&root_srs, &root, aggregates).expect("aggregate");
        print_proof(t, &agg);
        check(&root, &agg);
    } else {
        let key = keygen(&srs, snarks.clone(), shape, model).expect("aggregation keys");
        print_key("aggregation keys", t, &key);
        let t = Instant::now();
        let agg = prove(&srs, &key, snarks).expect("aggregate");
        print_proof(t, &agg);
        check(&key, &agg);
    }
}

fn print_key(what: &str, t: Instant, key: &AggregationKey) {
    println!(
        "{what}: {:.1} s (root: 2^{} rows, {} advice, {} lookup advice, {} fixed columns; peak so far {:.2} GB)",
        t.elapsed().as_secs_f64(),
        key.config.degree,
        key.config.num_advice,
        key.config.num_lookup_advice,
        key.config.num_fixed,
        peak_gb()
    );
}

fn print_proof(t: Instant, agg: &AggregateProof) {
    println!(
        "aggregate proof: {:.1} s, {} bytes, {} public values (peak so far {:.2} GB)",
        t.elapsed().as_secs_f64(),
        agg.proof.len(),
        agg.instances.len(),
        peak_gb()
    );
}

fn check(key: &AggregationKey, agg: &AggregateProof) {
    let t = Instant::now();
    verify(&key.vk, agg).expect("verifies");
    println!(
        "native verification: {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let t = Instant::now();
    let built = zkml_contracts::build(&key.vk).expect("the contract builds");
    println!(
        "contract: {:.1} s to generate and compile; {} bytes of runtime code, {} key contract(s), {} bytes of key data, gates {:?}",
        t.elapsed().as_secs_f64(),
        built.compiled.runtime.len(),
        built.key_parts.len(),
        built.key_size(),
        built.gates
    );
    let mut evm = zkml_contracts::evm::Evm::new();
    let at = evm.deploy_verifier(&built).expect("deploys");
    let calldata = zkml_contracts::abi::calldata(&agg.proof, &zkml_aggregate::instance_words(agg));
    let (out, profile) = evm.call_profiled(at, calldata.clone()).expect("calls");
    assert!(out.returned_true(), "the contract rejects the aggregate");
    println!(
        "on-chain verification: {} gas ({} bytes of calldata); execution gas by instruction:",
        out.gas_used,
        calldata.len()
    );
    for (name, count, gas) in profile.rows.iter().take(10) {
        println!("  {name}: {count} times, {gas} gas");
    }
}

//! Every fixture proven as one, two and three segments: the chain's outputs are the reference
//! evaluator's, value for value, and the chain verifies with the standalone verifier and in the
//! EVM (one call to its chain contract), which rejects it with a segment's public value
//! changed.
//!
//! The dense and attention fixtures run with the tests. The convolutional ones and the
//! exported ones take a minute (LeNet, the tree ensembles, LSTM and GRU) to many minutes
//! (BERT, GPT-2, LLaMA, the ViT) per chain on two cores; they run with
//! `cargo test -p zkml-segments --test fixtures -- --ignored` (BENCHMARKS.md, "Segments",
//! lists the last run).

mod common;

use common::{call_chain, halo2_keys, listed, prove_chain, reference_outputs};
use zkml_circuits::VisibilityConfig;
use zkml_test_support::Fixture;
use zkml_verifier::chain::verify_chain;
use zkml_verifier::encoding::fr_from_i128;
use zkml_verifier::Fr;

/// Proves `name` as 1, 2 and 3 segments and checks each chain.
fn one_two_and_three_segments(name: &str) {
    let f = Fixture::load(name);
    for n in [1, 2, 3] {
        let what = format!("{name} as {n} segment(s)");
        let start = std::time::Instant::now();
        let chain = prove_chain(&f, VisibilityConfig::default(), n, 40 + n as u64);
        let proven = start.elapsed().as_secs_f64();
        assert_eq!(chain.keys.len(), n, "{what}");
        let verified = verify_chain(&chain.keys, &listed(&chain.keys, &chain.proofs))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let outputs: Vec<Fr> = verified
            .outputs
            .iter()
            .flat_map(|(_, v)| v.clone())
            .collect();
        assert_eq!(outputs, reference_outputs(&f), "{what}: outputs");
        let inputs: Vec<Fr> = verified
            .inputs
            .iter()
            .flat_map(|(_, v)| v.clone())
            .collect();
        let expected: Vec<Fr> = f
            .inputs
            .iter()
            .flat_map(|t| t.data().iter().map(|&v| fr_from_i128(v.into())))
            .collect();
        assert_eq!(inputs, expected, "{what}: inputs");

        let start = std::time::Instant::now();
        let built = zkml_contracts::chain::build_chain(&halo2_keys(&chain.keys))
            .unwrap_or_else(|e| panic!("{what}: chain contract: {e}"));
        let compiled = start.elapsed().as_secs_f64();
        let mut evm = zkml_contracts::evm::Evm::new();
        let at = evm
            .deploy_chain(&built)
            .unwrap_or_else(|e| panic!("{what}: deploy: {e}"));
        let (ok, gas) = call_chain(&mut evm, at, &chain.proofs);
        assert!(ok, "{what}: the chain contract rejects it ({gas} gas)");
        let mut changed = chain.proofs.clone();
        let last = changed.len() - 1;
        let at_end = changed[last].1.len() - 1;
        changed[last].1[at_end] += Fr::from(1u64);
        assert!(
            !call_chain(&mut evm, at, &changed).0,
            "{what}: an output changed is accepted"
        );
        eprintln!(
            "{what}: proven in {proven:.1} s, contracts compiled in {compiled:.1} s, verified in {gas} gas"
        );
    }
}

#[test]
fn dense_and_attention_fixtures_prove_as_one_two_and_three_segments() {
    for name in ["mlp_small", "mlp", "pytorch_style", "transformer"] {
        one_two_and_three_segments(name);
    }
}

#[test]
#[ignore = "a minute per chain on two cores: run with --ignored"]
fn convolutional_fixtures_prove_as_one_two_and_three_segments() {
    for name in ["lenet", "depthwise_separable"] {
        one_two_and_three_segments(name);
    }
}

#[test]
#[ignore = "a minute or more per chain on two cores: run with --ignored"]
fn exported_small_fixtures_prove_as_one_two_and_three_segments() {
    for name in [
        "exported/random_forest",
        "exported/gradient_boosting",
        "exported/lstm",
        "exported/gru",
    ] {
        one_two_and_three_segments(name);
    }
}

// The large exported fixtures, one test each: a failure in one leaves the others' results.

#[test]
#[ignore = "minutes per chain on two cores: run with --ignored"]
fn exported_bert_proves_as_one_two_and_three_segments() {
    one_two_and_three_segments("exported/bert");
}

#[test]
#[ignore = "minutes per chain on two cores: run with --ignored"]
fn exported_gpt2_proves_as_one_two_and_three_segments() {
    one_two_and_three_segments("exported/gpt2");
}

#[test]
#[ignore = "minutes per chain on two cores: run with --ignored"]
fn exported_llama_proves_as_one_two_and_three_segments() {
    one_two_and_three_segments("exported/llama");
}

#[test]
#[ignore = "minutes per chain on two cores: run with --ignored"]
fn exported_llama_decode_proves_as_one_two_and_three_segments() {
    one_two_and_three_segments("exported/llama_decode");
}

#[test]
#[ignore = "minutes per chain on two cores: run with --ignored"]
fn exported_vit_proves_as_one_two_and_three_segments() {
    one_two_and_three_segments("exported/vit");
}

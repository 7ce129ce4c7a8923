//! The Groth16 backend against the halo2 backend on fixtures, in one run: constraints,
//! setup, prove and verify times, proof sizes. Markdown table on stdout.
//!
//!     cargo run --release -p zkml-groth16 --example compare -- [FIXTURE ...]

use std::time::Instant;

use ark_serialize::CanonicalSerialize;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::cost::choose;
use zkml_circuits::VisibilityConfig;
use zkml_groth16::{compile, prove, setup, verify};
use zkml_test_support::Fixture;

fn main() {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = ["mlp_small", "mlp"].map(String::from).to_vec();
    }
    println!(
        "| fixture | constraints | witnesses | Groth16 setup | Groth16 prove | Groth16 verify | \
         proof | halo2 k | halo2 keys | halo2 prove | halo2 proof | prove, Groth16 / halo2 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for name in names {
        let f = Fixture::load(&name);
        let compiled = compile(&f.program, Some(&f.trace)).expect("compiles");
        let a = compiled.assignment.as_ref().expect("assignment");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let t = Instant::now();
        let (pk, vk) = setup(&compiled.r1cs, &mut rng).expect("setup");
        let g_setup = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let proof = prove(&pk, &compiled.r1cs, a, &mut rng).expect("prove");
        let g_prove = t.elapsed().as_secs_f64();
        let t = Instant::now();
        assert!(verify(&vk, &a.instance, &proof).expect("verify"));
        let g_verify = t.elapsed().as_secs_f64();
        let mut bytes = Vec::new();
        proof.serialize_uncompressed(&mut bytes).expect("serialize");

        let params = choose(&f.program, VisibilityConfig::default()).expect("sizing");
        let srs = zkml_prover::srs::generate(params.k, 1);
        let t = Instant::now();
        let (hpk, _) =
            zkml_prover::generate_keys(&f.program, params, VisibilityConfig::default(), &srs)
                .expect("halo2 keys");
        let h_keys = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let hproof = zkml_prover::prove(&f.program, &f.inputs, &hpk, &srs).expect("halo2 prove");
        let h_prove = t.elapsed().as_secs_f64();
        println!(
            "| {name} | {} | {} | {:.3} s | {:.3} s | {:.1} ms | {} B | {} | {:.3} s | {:.3} s | \
             {} B | {:.2} |",
            compiled.r1cs.constraints.len(),
            compiled.r1cs.num_witness,
            g_setup,
            g_prove,
            g_verify * 1e3,
            bytes.len(),
            params.k,
            h_keys,
            h_prove,
            hproof.bytes.len(),
            g_prove / h_prove
        );
    }
}

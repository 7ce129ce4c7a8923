//! Proving with a ceremony's keys against proving with a local setup's, in one run: the same
//! constraint system proven with keys of both QAP layouts (arkworks' and snarkjs', which
//! `setup --zkey` keys have; see `zkml_groth16::qap`). Markdown table on stdout; each prove
//! time is the least of three runs.
//!
//!     cargo run --release -p zkml-groth16 --example layouts -- [FIXTURE ...]

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::VisibilityConfig;
use zkml_groth16::{compile_with, prove_with, setup, setup_snarkjs_layout, verify, Reduction};
use zkml_test_support::Fixture;

fn main() {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = ["mlp_small", "mlp", "pytorch_style", "lenet"]
            .map(String::from)
            .to_vec();
    }
    println!(
        "| fixture | constraints | domain | prove, local keys (arkworks layout) | prove, ceremony \
         keys (snarkjs layout) | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for name in names {
        let f = Fixture::load(&name);
        let c = compile_with(&f.program, Some(&f.trace), VisibilityConfig::default())
            .expect("compiles");
        let a = c.assignment.as_ref().expect("assignment");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut times = Vec::new();
        for reduction in [Reduction::Arkworks, Reduction::Snarkjs] {
            let (pk, vk) = match reduction {
                Reduction::Arkworks => setup(&c.r1cs, &mut rng),
                Reduction::Snarkjs => setup_snarkjs_layout(&c.r1cs, &mut rng),
            }
            .expect("setup");
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let t = Instant::now();
                let proof = prove_with(&pk, reduction, &c.r1cs, a, &mut rng).expect("prove");
                best = best.min(t.elapsed().as_secs_f64());
                assert!(verify(&vk, &a.instance, &proof).expect("verify"), "{name}");
            }
            times.push(best);
        }
        let domain = (c.r1cs.constraints.len() + c.r1cs.num_instance + 1).next_power_of_two();
        println!(
            "| {name} | {} | 2^{} | {:.3} s | {:.3} s | {:.2} |",
            c.r1cs.constraints.len(),
            domain.trailing_zeros(),
            times[0],
            times[1],
            times[1] / times[0]
        );
    }
}

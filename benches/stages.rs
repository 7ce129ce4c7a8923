//! Per-stage micro-benchmarks of the prover: witness generation, key generation, SRS
//! generation, MSM, FFT and proving, on the bundled fixtures.
//!
//! ```sh
//! cargo bench -p zkml-benches              # measure
//! cargo test -p zkml-benches --benches     # run every benchmark once (what CI does)
//! ```

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::poly::EvaluationDomain;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::cost::Objective;
use zkml_circuits::{CircuitParams, VisibilityConfig};
use zkml_ir::{Program, Tensor};
use zkml_prover::{generate_keys, prove, srs};

/// A fixture compiled to its program, its quantized input and the circuit shape setup picks.
struct Fixture {
    program: Program,
    inputs: Vec<Tensor>,
    params: CircuitParams,
}

fn fixture(name: &str) -> Fixture {
    let f = zkml_test_support::Fixture::load(name);
    let params = zkml_circuits::cost::choose_for(
        &f.program,
        VisibilityConfig::default(),
        Objective::Proving,
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    Fixture {
        program: f.program,
        inputs: f.inputs,
        params,
    }
}

/// Reference evaluation plus the circuit layout: every cell the prover will commit to.
fn witness(c: &mut Criterion) {
    let mut group = c.benchmark_group("witness");
    group.sample_size(10);
    for name in ["mlp", "lenet"] {
        let f = fixture(name);
        group.bench_function(name, |b| {
            b.iter(|| {
                let trace = zkml_ir::evaluate(&f.program, &f.inputs).unwrap();
                zkml_circuits::build(
                    &f.program,
                    Some(&trace),
                    f.params,
                    VisibilityConfig::default(),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn keygen(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen");
    group.sample_size(10);
    for name in ["mlp_small", "mlp"] {
        let f = fixture(name);
        let srs = srs::generate(f.params.k, 1);
        group.bench_function(name, |b| {
            b.iter(|| {
                generate_keys(&f.program, f.params, VisibilityConfig::default(), &srs).unwrap()
            })
        });
    }
    group.finish();
}

fn prove_stage(c: &mut Criterion) {
    let mut group = c.benchmark_group("prove");
    group.sample_size(10);
    for name in ["mlp_small", "mlp"] {
        let f = fixture(name);
        let srs = srs::generate(f.params.k, 1);
        let (pk, _) =
            generate_keys(&f.program, f.params, VisibilityConfig::default(), &srs).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| prove(&f.program, &f.inputs, &pk, &srs).unwrap())
        });
    }
    group.finish();
}

/// Multi-scalar multiplication over the SRS bases, the cost of every commitment.
fn msm(c: &mut Criterion) {
    let mut group = c.benchmark_group("msm");
    group.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for k in [12u32, 16] {
        let params = srs::generate(k, 1);
        let bases: Vec<G1Affine> = params.get_g().to_vec();
        let scalars: Vec<Fr> = (0..bases.len()).map(|_| Fr::random(&mut rng)).collect();
        group.bench_function(format!("2^{k}"), |b| {
            b.iter(|| best_multiexp(&scalars, &bases))
        });
    }
    group.finish();
}

/// A locally generated SRS: zkml's fixed-base generator against the library's own setup, which
/// makes the same parameters from the same seed.
fn srs_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("srs");
    group.sample_size(10);
    for k in [12u32, 14] {
        group.bench_function(format!("zkml 2^{k}"), |b| b.iter(|| srs::generate(k, 1)));
        group.bench_function(format!("library 2^{k}"), |b| {
            b.iter(|| ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(1)))
        });
    }
    // An SRS cut to half its size, as a chain's smaller segments take it: by an FFT over G1
    // for the Lagrange points (the library's downsizing, with its constant-time point
    // multiplications, and zkml's, which splits the twiddles along the endomorphism and
    // multiplies in variable time), and from the secret of an SRS this process generated.
    let seed = srs::LocalSeed::random();
    for k in [12u32, 14] {
        let full = seed.generate(k + 1);
        group.bench_function(format!("cut to 2^{k}, library FFT"), |b| {
            b.iter(|| {
                let mut p = full.clone();
                p.downsize(k);
                p
            })
        });
        group.bench_function(format!("cut to 2^{k}, zkml FFT"), |b| {
            b.iter(|| srs::for_k(&full, k).unwrap())
        });
        group.bench_function(format!("cut to 2^{k}, from the secret"), |b| {
            b.iter(|| seed.cut(&full, k).unwrap())
        });
    }
    group.finish();
}

/// The prover's polynomial conversions: an inverse FFT to coefficients, then an FFT onto the
/// extended domain the quotient is computed on (degree-5 gates: 4x).
fn fft(c: &mut Criterion) {
    let mut group = c.benchmark_group("fft");
    group.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    for k in [12u32, 16] {
        let domain = EvaluationDomain::<Fr>::new(5, k);
        let values: Vec<Fr> = (0..1usize << k).map(|_| Fr::random(&mut rng)).collect();
        group.bench_function(format!("2^{k}"), |b| {
            b.iter_batched(
                || domain.lagrange_from_vec(values.clone()),
                |poly| domain.coeff_to_extended(&domain.lagrange_to_coeff(poly)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(stages, witness, keygen, srs_setup, msm, fft, prove_stage);
criterion_main!(stages);

//! MSM and NTT over BN254 on the GPU against the CPU (every core), at the sizes given
//! (default 2^20 and 2^22). Each result is checked against the CPU's before it is timed.
//!
//! ```text
//! cargo run --release -p zkml-prover --features gpu --example gpu_kernels -- 20 22
//! ```
//!
//! Prints one JSON object per line: `{"kernel", "log_n", "cpu_s", "gpu_s", "gpu_resident_s"}`,
//! times the best of three runs after one warm-up. `gpu_s` includes the transfers from host
//! memory; `gpu_resident_s` is the MSM with scalars and points already on the device.

use std::time::Instant;

use halo2_axiom_gpu::cuda::funcs::{
    multiexp_gpu, multiexp_gpu_device_scalars_device_bases_chunked,
};
use halo2_axiom_gpu::cuda::utils::HALO2_GPU_CTX;
use halo2_axiom_gpu::poly::{DevicePolyExt, EvaluationDomain as GpuDomain};
use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::halo2curves::bn256::{Fr, G1Affine, G1};
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_proofs::poly::EvaluationDomain;
use openvm_cuda_common::copy::MemCopyH2D;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn best_of<T>(mut f: impl FnMut() -> T) -> (T, f64) {
    let _ = f();
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..3 {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed().as_secs_f64());
        out = Some(r);
    }
    (out.expect("ran"), best)
}

/// `n` distinct points: consecutive multiples of a random point, one chunk per thread.
fn points(n: usize, rng: &mut ChaCha20Rng) -> Vec<G1Affine> {
    let step = G1::random(&mut *rng);
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let chunk = n.div_ceil(threads);
    let mut out = vec![G1Affine::default(); n];
    std::thread::scope(|s| {
        for (c, part) in out.chunks_mut(chunk).enumerate() {
            s.spawn(move || {
                let mut p = step * Fr::from((c * chunk + 1) as u64);
                let mut proj = Vec::with_capacity(part.len());
                for _ in 0..part.len() {
                    proj.push(p);
                    p += step;
                }
                G1::batch_normalize(&proj, part);
            });
        }
    });
    out
}

fn main() {
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a size is log2 of a length"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![20, 22]
    } else {
        sizes
    };
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for log_n in sizes {
        let n = 1usize << log_n;
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::random(&mut rng)).collect();
        let bases = points(n, &mut rng);

        let (cpu, cpu_s) = best_of(|| best_multiexp(&scalars, &bases));
        let (gpu, gpu_s) = best_of(|| multiexp_gpu(&scalars, &bases).expect("GPU MSM"));
        assert_eq!(
            cpu.to_affine(),
            gpu.to_affine(),
            "GPU MSM differs at 2^{log_n}"
        );
        let d_scalars = scalars
            .to_device_on(&HALO2_GPU_CTX)
            .expect("upload scalars");
        let d_bases = bases.to_device_on(&HALO2_GPU_CTX).expect("upload points");
        let (resident, resident_s) = best_of(|| {
            multiexp_gpu_device_scalars_device_bases_chunked(&d_scalars, &d_bases, n)
                .expect("GPU MSM on device buffers")
        });
        assert_eq!(
            cpu.to_affine(),
            resident.to_affine(),
            "GPU MSM differs at 2^{log_n}"
        );
        drop((d_scalars, d_bases));
        println!(
            "{{\"kernel\": \"msm\", \"log_n\": {log_n}, \"cpu_s\": {cpu_s:.6}, \"gpu_s\": {gpu_s:.6}, \"gpu_resident_s\": {resident_s:.6}}}"
        );

        let domain = EvaluationDomain::<Fr>::new(1, log_n);
        let values = scalars.clone();
        let (cpu, cpu_s) =
            best_of(|| domain.lagrange_to_coeff(domain.lagrange_from_vec(values.clone())));
        let gpu_domain = GpuDomain::from_host_domain(&domain);
        let (gpu, gpu_s) = best_of(|| {
            let poly = domain.lagrange_from_vec(values.clone());
            gpu_domain
                .lagrange_to_coeff_device(poly)
                .expect("GPU NTT")
                .to_host()
        });
        assert!(cpu.iter().eq(gpu.iter()), "GPU NTT differs at 2^{log_n}");
        println!(
            "{{\"kernel\": \"ntt\", \"log_n\": {log_n}, \"cpu_s\": {cpu_s:.6}, \"gpu_s\": {gpu_s:.6}, \"gpu_resident_s\": null}}"
        );
    }
}

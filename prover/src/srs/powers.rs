//! A locally generated KZG setup, computed with fixed-base tables.
//!
//! The setup is `[s^i] G1` and the Lagrange points `[L_i(s)] G1` for `i < 2^k`, with
//! `L_i(s) = (s^n - 1) / n * w^i / (s - w^i)` over the `n = 2^k`-th roots of unity `w^i`, and
//! `[s] G2`. Every point is a multiple of the one generator `G1`, so instead of one full scalar
//! multiplication per point (256 doublings and about 128 additions, what the library's own
//! `ParamsKZG::setup` does), the multiples `d 2^(8j) G1` for every byte position `j` and byte
//! value `d` are tabulated once (32 x 255 points) and each point costs at most 32 additions of
//! table entries. The Lagrange denominators are inverted in one batch.
//!
//! The secret is drawn exactly as the library draws it, and the points are the same, so a seed
//! gives the same parameters byte for byte as `ParamsKZG::setup` (tested below); only about
//! ten times faster.

use halo2_proofs::arithmetic::parallelize;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G2Affine, G1};
use halo2_proofs::halo2curves::ff::{BatchInvert, Field, PrimeField};
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;

/// Bits per table window.
const WINDOW: usize = 8;
/// Windows in a 256-bit scalar.
const WINDOWS: usize = 256 / WINDOW;

/// The multiples `d 2^(8j) G1` (`d` in `1..256`) of the generator, as affine points.
struct FixedBase {
    table: Vec<G1Affine>,
}

impl FixedBase {
    fn generator() -> Self {
        let per = (1 << WINDOW) - 1;
        let mut projective = Vec::with_capacity(WINDOWS * per);
        let mut base = G1::generator();
        for _ in 0..WINDOWS {
            let mut multiple = base;
            for _ in 0..per {
                projective.push(multiple);
                multiple += base;
            }
            base = multiple; // 2^8 times the window's base
        }
        let mut table = vec![G1Affine::identity(); projective.len()];
        G1::batch_normalize(&projective, &mut table);
        FixedBase { table }
    }

    /// `scalar * G1`.
    fn mul(&self, scalar: &Fr) -> G1 {
        let per = (1 << WINDOW) - 1;
        let repr = scalar.to_repr();
        let mut acc = G1::identity();
        for (j, &byte) in repr.as_ref().iter().enumerate() {
            if byte != 0 {
                acc += self.table[j * per + usize::from(byte) - 1];
            }
        }
        acc
    }

    /// Each scalar times `G1`, in affine form.
    fn mul_all(&self, scalars: &[Fr]) -> Vec<G1Affine> {
        let mut out = vec![G1Affine::identity(); scalars.len()];
        parallelize(&mut out, |chunk, start| {
            let projective: Vec<G1> = scalars[start..start + chunk.len()]
                .iter()
                .map(|s| self.mul(s))
                .collect();
            G1::batch_normalize(&projective, chunk);
        });
        out
    }
}

/// The setup of `2^k` points for a secret drawn from `rng`, as `ParamsKZG::setup(k, rng)`
/// computes it.
pub(crate) fn setup(k: u32, rng: impl RngCore) -> ParamsKZG<Bn256> {
    assert!(
        k <= Fr::S,
        "an SRS of 2^{k} points exceeds the field's roots of unity"
    );
    let n = 1usize << k;
    let s = Fr::random(rng);
    let base = FixedBase::generator();

    // s^i, computed in chunks from s^start.
    let mut powers = vec![Fr::ZERO; n];
    parallelize(&mut powers, |chunk, start| {
        let mut p = s.pow_vartime([start as u64]);
        for v in chunk.iter_mut() {
            *v = p;
            p *= s;
        }
    });
    let g = base.mul_all(&powers);
    let g_lagrange = lagrange(&base, k, s);
    from_points(k, g, g_lagrange, s)
}

/// `larger`, a setup for the secret that `rng` draws, at `2^k` points: its first `2^k` powers
/// kept and the Lagrange points of the smaller domain computed from the secret, which costs
/// half a setup of that size where downsizing (`ParamsKZG::downsize`) recomputes them by an FFT
/// over G1. `None` when `larger` is not that secret's (its `[s] G2` differs) or is smaller.
pub(crate) fn cut(
    k: u32,
    rng: impl RngCore,
    larger: &ParamsKZG<Bn256>,
) -> Option<ParamsKZG<Bn256>> {
    let s = Fr::random(rng);
    if larger.k() < k
        || larger.g2() != G2Affine::generator()
        || larger.s_g2() != (G2Affine::generator() * s).to_affine()
    {
        return None;
    }
    let g = larger.get_g()[..1usize << k].to_vec();
    let g_lagrange = lagrange(&FixedBase::generator(), k, s);
    Some(from_points(k, g, g_lagrange, s))
}

/// The Lagrange points `[L_i(s)] G1` over the `2^k`-th roots of unity.
fn lagrange(base: &FixedBase, k: u32, s: Fr) -> Vec<G1Affine> {
    let n = 1usize << k;
    // L_i(s) = (s^n - 1) / n * w^i / (s - w^i), with w the n-th root of unity.
    let mut w = Fr::ROOT_OF_UNITY;
    for _ in k..Fr::S {
        w = w.square();
    }
    let multiplier = (s.pow_vartime([n as u64]) - Fr::ONE)
        * Fr::from(n as u64)
            .invert()
            .expect("n is not a multiple of the field's characteristic");
    let mut roots = vec![Fr::ZERO; n];
    parallelize(&mut roots, |chunk, start| {
        let mut r = w.pow_vartime([start as u64]);
        for v in chunk.iter_mut() {
            *v = r;
            r *= w;
        }
    });
    let mut lagrange: Vec<Fr> = roots.iter().map(|r| s - r).collect();
    assert!(
        lagrange.iter().all(|d| !bool::from(d.is_zero())),
        "the secret is a root of unity"
    );
    lagrange.iter_mut().batch_invert();
    for (l, r) in lagrange.iter_mut().zip(&roots) {
        *l *= multiplier * r;
    }
    base.mul_all(&lagrange)
}

/// The parameters of `2^k` points from their G1 points and the secret.
fn from_points(k: u32, g: Vec<G1Affine>, g_lagrange: Vec<G1Affine>, s: Fr) -> ParamsKZG<Bn256> {
    let g2 = G2Affine::generator();
    let s_g2 = (g2 * s).to_affine();
    // `from_parts` builds the parameters from their points (the receiver is not read).
    let shell = ParamsKZG::<Bn256>::setup(0, rand_chacha::ChaCha20Rng::from_seed([0; 32]));
    shell.from_parts(k, g, Some(g_lagrange), g2, s_g2)
}

#[cfg(test)]
mod tests {
    use halo2_proofs::SerdeFormat;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    fn bytes(p: &ParamsKZG<Bn256>) -> Vec<u8> {
        let mut out = Vec::new();
        p.write_custom(&mut out, SerdeFormat::RawBytes).unwrap();
        out
    }

    #[test]
    fn the_same_parameters_as_the_library_setup() {
        for (k, seed) in [(0, 1), (1, 2), (3, 5), (6, 7), (9, 1234)] {
            let ours = setup(k, ChaCha20Rng::seed_from_u64(seed));
            let library = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::seed_from_u64(seed));
            assert!(bytes(&ours) == bytes(&library), "k = {k}, seed {seed}");
        }
    }

    #[test]
    fn a_cut_from_the_secret_is_the_downsized_setup() {
        let larger = setup(7, ChaCha20Rng::seed_from_u64(21));
        for k in [0, 3, 6, 7] {
            let cut = cut(k, ChaCha20Rng::seed_from_u64(21), &larger).unwrap();
            let mut downsized = larger.clone();
            downsized.downsize(k);
            assert!(bytes(&cut) == bytes(&downsized), "k = {k}");
        }
        // Another secret, or a size the setup does not have, gives nothing.
        assert!(cut(3, ChaCha20Rng::seed_from_u64(22), &larger).is_none());
        assert!(cut(8, ChaCha20Rng::seed_from_u64(21), &larger).is_none());
    }

    #[test]
    fn table_multiples_are_scalar_multiples() {
        let base = FixedBase::generator();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let scalars = [Fr::ZERO, Fr::ONE, -Fr::ONE, Fr::from(255), Fr::from(256)]
            .into_iter()
            .chain((0..8).map(|_| Fr::random(&mut rng)));
        for s in scalars {
            assert_eq!(base.mul(&s), G1::generator() * s);
        }
    }
}

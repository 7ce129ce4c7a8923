//! The Lagrange points of an SRS cut to a smaller size, by an inverse FFT over G1.
//!
//! A KZG setup of `2^K` points serves every circuit of `2^k <= 2^K` rows with its first `2^k`
//! powers `[s^i] G1`, but halo2 also commits in Lagrange form, with the points
//! `[L_i(s)] G1 = 1/n sum_j w^(-ij) [s^j] G1` over the `n = 2^k`-th roots of unity `w`. Without
//! the secret they are the inverse DFT of the powers: about `n/2 log n` multiplications of a
//! point by a twiddle factor `w^(-j)`, which is nearly all of the work.
//!
//! The library's own downsizing (`ParamsKZG::downsize`) multiplies with its constant-time
//! double-and-add (256 doublings and 256 additions for every scalar). The SRS is public, so
//! this module multiplies in variable time: the scalar is split by BN254's endomorphism
//! `(x, y) -> (zeta x, y)`, which multiplies a point by the cube root of unity `lambda` in the
//! scalar field, into two halves of about 128 bits (`k = k1 + k2 lambda`), and both halves are
//! written in width-5 non-adjacent form and run together: 128 doublings and about 43 additions
//! of table points. The points are the same as the library's, byte for byte (tested below).

use halo2_proofs::arithmetic::parallelize;
use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine, G1};
use halo2_proofs::halo2curves::ff::{Field, PrimeField, WithSmallOrderMulGroup};
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_proofs::halo2curves::CurveExt;
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rayon::prelude::*;

/// `params` cut to `2^k` points (`k` at most its size): its first `2^k` powers and G2 points,
/// and the Lagrange points of the smaller domain.
pub(crate) fn downsize(params: &ParamsKZG<Bn256>, k: u32) -> ParamsKZG<Bn256> {
    assert!(
        k <= params.k(),
        "an SRS of 2^{} points cut to 2^{k}",
        params.k()
    );
    let g = params.get_g()[..1usize << k].to_vec();
    let g_lagrange = lagrange_points(&g);
    params.from_parts(k, g, Some(g_lagrange), params.g2(), params.s_g2())
}

/// `[L_i(s)] G1` for `i < n` from the powers `[s^j] G1`, `j < n` (`n` a power of two).
pub(crate) fn lagrange_points(powers: &[G1Affine]) -> Vec<G1Affine> {
    let n = powers.len();
    assert!(n.is_power_of_two(), "an SRS has a power of two points");
    let k = n.trailing_zeros();
    assert!(k <= Fr::S, "2^{k} points exceed the field's roots of unity");
    let mut omega_inv = Fr::ROOT_OF_UNITY_INV;
    for _ in k..Fr::S {
        omega_inv = omega_inv.square();
    }
    // The inverse DFT: the powers in bit-reversed order, then log n rounds of butterflies.
    let mut a: Vec<G1> = vec![G1::identity(); n];
    parallelize(&mut a, |chunk, start| {
        for (i, p) in chunk.iter_mut().enumerate() {
            *p = powers[reverse_bits(start + i, k)].to_curve();
        }
    });
    let twiddles = powers_of(omega_inv, n / 2);
    let mut half = 1;
    while half < n {
        let stride = n / (2 * half);
        let butterfly = |lo: &mut G1, hi: &mut G1, j: usize| {
            let t = if j == 0 {
                *hi
            } else {
                mul_vartime(hi, &twiddles[j * stride])
            };
            *hi = *lo - t;
            *lo += t;
        };
        if stride >= rayon::current_num_threads() {
            // Many blocks: one task each.
            a.par_chunks_mut(2 * half).for_each(|block| {
                let (lo, hi) = block.split_at_mut(half);
                for (j, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                    butterfly(l, h, j);
                }
            });
        } else {
            // Few large blocks: their butterflies in parallel.
            for block in a.chunks_mut(2 * half) {
                let (lo, hi) = block.split_at_mut(half);
                lo.par_iter_mut()
                    .zip(hi.par_iter_mut())
                    .enumerate()
                    .for_each(|(j, (l, h))| butterfly(l, h, j));
            }
        }
        half *= 2;
    }
    let n_inv = Fr::from(n as u64)
        .invert()
        .expect("n is not a multiple of the field's characteristic");
    let mut out = vec![G1Affine::identity(); n];
    parallelize(&mut out, |chunk, start| {
        let scaled: Vec<G1> = a[start..start + chunk.len()]
            .iter()
            .map(|p| mul_vartime(p, &n_inv))
            .collect();
        G1::batch_normalize(&scaled, chunk);
    });
    out
}

/// `i` with its low `bits` bits reversed.
fn reverse_bits(i: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - bits)
    }
}

/// `x^0, ..., x^(count - 1)`.
fn powers_of(x: Fr, count: usize) -> Vec<Fr> {
    let mut out = vec![Fr::ONE; count];
    parallelize(&mut out, |chunk, start| {
        let mut p = x.pow_vartime([start as u64]);
        for v in chunk.iter_mut() {
            *v = p;
            p *= x;
        }
    });
    out
}

/// Width of the non-adjacent form: digits are odd and below `2^(WIDTH - 1)` in magnitude.
const WIDTH: u32 = 5;
/// Odd multiples `P, 3P, ..., (2^(WIDTH-1) - 1) P` kept per point.
const TABLE: usize = 1 << (WIDTH - 2);

/// `p * k` in variable time (for public values only).
pub(crate) fn mul_vartime(p: &G1, k: &Fr) -> G1 {
    let Some(((k1, neg1), (k2, neg2))) = split(k) else {
        return p * k;
    };
    // k = ±k1 ± k2 lambda: the halves multiply P and endo(P) = lambda P.
    let mut t1 = [G1::identity(); TABLE];
    let double = p.double();
    t1[0] = if neg1 { -p } else { *p };
    let step = if neg1 { -double } else { double };
    for i in 1..TABLE {
        t1[i] = t1[i - 1] + step;
    }
    let mut t2 = [G1::identity(); TABLE];
    for (e, t) in t2.iter_mut().zip(&t1) {
        // endo(±P) carries P's sign; flip it where the two halves' signs differ.
        let e_t = t.endo();
        *e = if neg1 == neg2 { e_t } else { -e_t };
    }
    let (d1, d2) = (naf(k1), naf(k2));
    let top = d1.len().max(d2.len());
    let mut acc = G1::identity();
    for i in (0..top).rev() {
        acc = acc.double();
        for (digits, table) in [(&d1, &t1), (&d2, &t2)] {
            match digits.get(i).copied().unwrap_or(0) {
                0 => {}
                d if d > 0 => acc += table[(d / 2) as usize],
                d => acc -= table[(-d / 2) as usize],
            }
        }
    }
    acc
}

/// The width-[`WIDTH`] non-adjacent form of `k`, least significant digit first.
fn naf(mut k: u128) -> Vec<i8> {
    let mut digits = Vec::with_capacity(130);
    let window = 1i32 << WIDTH;
    // `carry` is bit 128 of the running value, set when adding a negative digit's magnitude
    // back overflows.
    let mut carry = false;
    while k != 0 || carry {
        let mut d = 0;
        if k & 1 == 1 {
            let m = (k & (window as u128 - 1)) as i32;
            d = if m >= window / 2 { m - window } else { m };
            if d >= 0 {
                k -= d as u128;
            } else {
                let (sum, over) = k.overflowing_add((-d) as u128);
                k = sum;
                carry |= over;
            }
        }
        digits.push(d as i8);
        k = (k >> 1) | (u128::from(carry) << 127);
        carry = false;
    }
    digits
}

/// The constants that split a scalar `k` along BN254's endomorphism (`endo(P) = [zeta] P`,
/// `zeta` the scalar field's cube root of unity [`Fr::ZETA`]): a short basis of the lattice
/// `{(a, b) : a + b zeta = 0 mod r}` (`B1`, `B2`) and `2^256 / r` times its entries, rounded
/// (`GAMMA1`, `GAMMA2`), so that rounding `k B / r` takes two multiplications.
mod glv {
    pub(super) const B1: u128 = 0x89d3256894d213e3;
    pub(super) const B2: u128 = 0x6f4d8248eeb859fd_0be4e1541221250b;
    pub(super) const GAMMA1: [u64; 4] = [0xd91d232ec7e0b3d7, 0x2, 0, 0];
    pub(super) const GAMMA2: [u64; 4] = [0x5398fd0300ff6565, 0x4ccef014a773d2d2, 0x02, 0];
}

/// `k = a + b zeta (mod r)` with `|a|, |b| < 2^128`, as magnitudes and signs (`true` for
/// negative); `None` when a half does not fit (not expected: the caller then multiplies
/// directly). Whatever the rounding, `a + b zeta = k` holds by construction.
fn split(k: &Fr) -> Option<((u128, bool), (u128, bool))> {
    let limbs = to_limbs(k);
    let c1 = high_256(glv::GAMMA2, limbs);
    let c2 = high_256(glv::GAMMA1, limbs);
    let q1 = Fr::from_raw(low_256(c1, [glv::B1 as u64, 0, 0, 0]));
    let q2 = Fr::from_raw(low_256(c2, [glv::B2 as u64, (glv::B2 >> 64) as u64, 0, 0]));
    let b = q1 - q2;
    let a = *k - b * Fr::ZETA;
    Some((small(&a)?, small(&b)?))
}

/// A field element as a magnitude below 2^128 and a sign.
fn small(x: &Fr) -> Option<(u128, bool)> {
    let fits = |l: [u64; 4]| (l[2] == 0 && l[3] == 0).then(|| l[0] as u128 | (l[1] as u128) << 64);
    fits(to_limbs(x))
        .map(|m| (m, false))
        .or_else(|| fits(to_limbs(&-*x)).map(|m| (m, true)))
}

fn to_limbs(x: &Fr) -> [u64; 4] {
    let repr = x.to_repr();
    let bytes = repr.as_ref();
    std::array::from_fn(|i| {
        u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    })
}

/// The 512-bit product of two 256-bit integers, little-endian limbs.
fn product(a: [u64; 4], b: [u64; 4]) -> [u64; 8] {
    let mut out = [0u64; 8];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &y) in b.iter().enumerate() {
            let t = out[i + j] as u128 + (x as u128) * (y as u128) + carry;
            out[i + j] = t as u64;
            carry = t >> 64;
        }
        out[i + 4] = carry as u64;
    }
    out
}

fn high_256(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    let p = product(a, b);
    [p[4], p[5], p[6], p[7]]
}

fn low_256(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
    let p = product(a, b);
    [p[0], p[1], p[2], p[3]]
}

#[cfg(test)]
mod tests {
    use halo2_proofs::SerdeFormat;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    #[test]
    fn lambda_is_the_endomorphism() {
        let g = G1::generator();
        assert_eq!(g.endo(), g * Fr::ZETA);
        assert_eq!(Fr::ZETA * Fr::ZETA * Fr::ZETA, Fr::ONE);
    }

    #[test]
    fn scalars_split_into_halves_of_128_bits() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let edge = [
            Fr::ZERO,
            Fr::ONE,
            -Fr::ONE,
            Fr::ZETA,
            -Fr::ZETA,
            Fr::from(u64::MAX),
        ];
        let random = (0..20_000).map(|_| Fr::random(&mut rng));
        for k in edge.into_iter().chain(random) {
            let ((a, na), (b, nb)) = split(&k).expect("both halves below 2^128");
            let signed = |m: u128, neg: bool| {
                let x = Fr::from_u128(m);
                if neg {
                    -x
                } else {
                    x
                }
            };
            assert_eq!(signed(a, na) + signed(b, nb) * Fr::ZETA, k);
        }
    }

    #[test]
    fn variable_time_multiplication_is_the_library_s() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let p = G1::random(&mut rng);
        let edge = [
            Fr::ZERO,
            Fr::ONE,
            -Fr::ONE,
            Fr::from(15),
            Fr::from(16),
            Fr::ZETA,
        ];
        let random = (0..300).map(|_| Fr::random(&mut rng));
        for k in edge.into_iter().chain(random) {
            assert_eq!(mul_vartime(&p, &k), p * k, "k = {k:?}");
        }
        assert_eq!(mul_vartime(&G1::identity(), &Fr::from(7)), G1::identity());
    }

    #[test]
    fn non_adjacent_forms_sum_back() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        use rand::RngCore;
        let edge = [0, 1, 15, 16, 31, u128::MAX, u128::MAX - 7, 1 << 127];
        let random = (0..2_000).map(|_| {
            let k = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
            k >> (rng.next_u32() % 128)
        });
        for k in edge.into_iter().chain(random) {
            let digits = naf(k);
            // Summed modulo 2^128, which holds k.
            let mut back: u128 = 0;
            for &d in digits.iter().rev() {
                back = back.wrapping_mul(2).wrapping_add(i128::from(d) as u128);
            }
            assert_eq!(back, k);
            // Odd digits below 16 in magnitude, at least WIDTH - 1 zeros after each.
            for (i, &d) in digits.iter().enumerate() {
                if d != 0 {
                    assert!(d % 2 != 0 && d.abs() < 16);
                    assert!(digits[i + 1..].iter().take(4).all(|&e| e == 0));
                }
            }
        }
    }

    #[test]
    fn the_library_s_downsizing() {
        let bytes = |p: &ParamsKZG<Bn256>| {
            let mut out = Vec::new();
            p.write_custom(&mut out, SerdeFormat::RawBytes).unwrap();
            out
        };
        let larger = ParamsKZG::<Bn256>::setup(8, ChaCha20Rng::seed_from_u64(9));
        for k in [0, 1, 2, 5, 7, 8] {
            let mut downsized = larger.clone();
            downsized.downsize(k);
            let ours = downsize(&larger, k);
            assert!(bytes(&ours) == bytes(&downsized), "k = {k}");
        }
    }
}

//! Byte encodings of field elements and curve points (32-byte big-endian words, as the EVM
//! reads them).

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField, Zero};

/// A 32-byte big-endian word as limbs (least significant first).
fn limbs(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        out[3 - i] = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
    }
    out
}

fn to_be(l: [u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..4 {
        out[i * 8..i * 8 + 8].copy_from_slice(&l[3 - i].to_be_bytes());
    }
    out
}

/// A canonical scalar (`< r`) from 32 big-endian bytes.
pub fn fr_from_be(bytes: &[u8; 32]) -> Option<Fr> {
    Fr::from_bigint(BigInt::new(limbs(bytes)))
}

/// A scalar as 32 big-endian bytes.
pub fn fr_to_be(f: &Fr) -> [u8; 32] {
    to_be(f.into_bigint().0)
}

/// A canonical base-field element (`< q`) from 32 big-endian bytes.
pub fn fq_from_be(bytes: &[u8; 32]) -> Option<Fq> {
    Fq::from_bigint(BigInt::new(limbs(bytes)))
}

/// A base-field element as 32 big-endian bytes.
pub fn fq_to_be(f: &Fq) -> [u8; 32] {
    to_be(f.into_bigint().0)
}

/// A G1 point from `x || y` (64 bytes); `(0, 0)` is the point at infinity. Rejects
/// non-canonical coordinates and points off the curve.
pub fn g1_from_bytes(bytes: &[u8; 64]) -> Option<G1Affine> {
    let x = fq_from_be(bytes[..32].try_into().expect("32"))?;
    let y = fq_from_be(bytes[32..].try_into().expect("32"))?;
    if x.is_zero() && y.is_zero() {
        return Some(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    p.is_on_curve().then_some(p)
}

/// A G1 point as `x || y`; the point at infinity is `(0, 0)`.
pub fn g1_to_bytes(p: &G1Affine) -> [u8; 64] {
    let mut out = [0u8; 64];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_to_be(&x));
        out[32..].copy_from_slice(&fq_to_be(&y));
    }
    out
}

/// A G2 point from `x.c1 || x.c0 || y.c1 || y.c0` (the EVM pairing precompile's order), in the
/// prime-order subgroup.
pub fn g2_from_bytes(bytes: &[u8; 128]) -> Option<G2Affine> {
    let w = |i: usize| fq_from_be(bytes[i * 32..i * 32 + 32].try_into().expect("32"));
    let x = Fq2::new(w(1)?, w(0)?);
    let y = Fq2::new(w(3)?, w(2)?);
    let p = G2Affine::new_unchecked(x, y);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

/// A G2 point as `x.c1 || x.c0 || y.c1 || y.c0`.
pub fn g2_to_bytes(p: &G2Affine) -> [u8; 128] {
    let mut out = [0u8; 128];
    if let Some((x, y)) = p.xy() {
        for (i, f) in [x.c1, x.c0, y.c1, y.c0].iter().enumerate() {
            out[i * 32..i * 32 + 32].copy_from_slice(&fq_to_be(f));
        }
    }
    out
}

/// Bytes as lowercase hex with a `0x` prefix.
pub fn hex0x(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// A signed integer as a scalar (negative values wrap to `r - |v|`).
pub fn fr_from_i128(v: i128) -> Fr {
    let f = Fr::from(v.unsigned_abs());
    if v < 0 {
        -f
    } else {
        f
    }
}

/// The scalar as a signed integer when it lies within `2^126` of zero.
pub fn fr_to_i128(f: &Fr) -> Option<i128> {
    let pos = f.into_bigint();
    let neg = (-*f).into_bigint();
    let small = |b: &BigInt<4>| b.0[2] == 0 && b.0[3] == 0 && b.0[1] < (1 << 62);
    if small(&pos) {
        Some((u128::from(pos.0[1]) << 64 | u128::from(pos.0[0])) as i128)
    } else if small(&neg) {
        Some(-((u128::from(neg.0[1]) << 64 | u128::from(neg.0[0])) as i128))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;

    #[test]
    fn round_trips() {
        for v in [0i128, 1, -1, 123456789, -(1 << 100)] {
            let f = fr_from_i128(v);
            assert_eq!(fr_from_be(&fr_to_be(&f)), Some(f));
            assert_eq!(fr_to_i128(&f), Some(v));
        }
        let g = G1Affine::generator();
        assert_eq!(g1_from_bytes(&g1_to_bytes(&g)), Some(g));
        let p = (g * Fr::from(5u64)).into_affine();
        assert_eq!(g1_from_bytes(&g1_to_bytes(&p)), Some(p));
        assert_eq!(g1_from_bytes(&[0; 64]), Some(G1Affine::zero()));
        let h = G2Affine::generator();
        assert_eq!(g2_from_bytes(&g2_to_bytes(&h)), Some(h));
    }

    #[test]
    fn non_canonical_and_off_curve_values_are_rejected() {
        assert_eq!(fr_from_be(&[0xff; 32]), None);
        let mut b = g1_to_bytes(&G1Affine::generator());
        b[63] ^= 1;
        assert_eq!(g1_from_bytes(&b), None);
        let mut q = [0u8; 64];
        q[..32].copy_from_slice(&[0xff; 32]);
        assert_eq!(g1_from_bytes(&q), None);
    }
}

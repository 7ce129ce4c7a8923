//! The KZG accumulator an aggregate proof carries in its public values.
//!
//! A proof that verified other proofs in its circuit (an aggregate) could not make their final
//! pairings there: it folded them into two points `(lhs, rhs)` that all of those proofs are
//! valid only if `e(lhs, G2) = e(rhs, s G2)`. The points are public values of the aggregate
//! ([`PublicPart::Accumulator`]); deciding that pairing is the verifier's part. Each
//! coordinate is written in `limbs` little-endian limbs of `bits` bits, in the order `lhs.x`,
//! `lhs.y`, `rhs.x`, `rhs.y`.

use ark_bn254::{Bn254, Fq, Fr, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};

use crate::error::VerifyError;
use crate::vk::{Decoded, PublicPart, VerifyingKey};

/// Where a key's accumulator sits in the public values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccumulatorAt {
    /// Index of its first public value.
    pub offset: usize,
    /// Limbs per coordinate.
    pub limbs: u32,
    /// Bits per limb.
    pub bits: u32,
}

impl AccumulatorAt {
    /// Public values the accumulator takes.
    pub fn len(&self) -> usize {
        4 * self.limbs as usize
    }

    /// Whether it takes none (never, for a checked key).
    pub fn is_empty(&self) -> bool {
        self.limbs == 0
    }
}

impl VerifyingKey {
    /// The accumulator the key's public values carry, if it is an aggregate's key.
    pub fn accumulator(&self) -> Option<AccumulatorAt> {
        let mut offset = 0usize;
        for part in &self.model.public {
            if let PublicPart::Accumulator { limbs, bits } = *part {
                return Some(AccumulatorAt {
                    offset,
                    limbs,
                    bits,
                });
            }
            offset = offset.saturating_add(part.instance_len() as usize);
        }
        None
    }
}

/// One coordinate from its limbs: every limb below `2^bits`, the sum below the base field's
/// modulus.
fn coordinate(limbs: &[Fr], bits: u32, first: usize) -> Result<Fq, VerifyError> {
    // Little-endian 64-bit words, wide enough for any checked key (limbs * bits <= 512).
    let mut words = [0u64; 9];
    for (i, limb) in limbs.iter().enumerate() {
        let v = limb.into_bigint();
        if v.num_bits() > bits {
            return Err(VerifyError::InvalidAccumulator {
                index: first + i,
                what: "a limb is wider than the key's limb size",
            });
        }
        let shift = i * bits as usize;
        let (word, bit) = (shift / 64, shift % 64);
        let mut carry = 0u128;
        for (j, &w) in v.0.iter().enumerate() {
            let at = word + j;
            let add = (u128::from(w) << bit) + carry;
            let sum = u128::from(words[at]) + (add & u128::from(u64::MAX));
            words[at] = sum as u64;
            carry = (add >> 64) + (sum >> 64);
        }
        let mut at = word + 4;
        while carry != 0 && at < words.len() {
            let sum = u128::from(words[at]) + carry;
            words[at] = sum as u64;
            carry = sum >> 64;
            at += 1;
        }
    }
    let out_of_range = || VerifyError::InvalidAccumulator {
        index: first,
        what: "a coordinate is not below the base field's modulus",
    };
    if words[4..].iter().any(|&w| w != 0) {
        return Err(out_of_range());
    }
    let mut be = [0u8; 32];
    for (i, w) in words[..4].iter().enumerate() {
        be[32 - 8 * (i + 1)..32 - 8 * i].copy_from_slice(&w.to_be_bytes());
    }
    crate::encoding::fq_from_be(&be).ok_or_else(out_of_range)
}

/// The accumulator's two points `(lhs, rhs)` from the public values.
pub fn decode(instances: &[Fr], at: AccumulatorAt) -> Result<(G1Affine, G1Affine), VerifyError> {
    let n = at.limbs as usize;
    let values =
        instances
            .get(at.offset..at.offset + at.len())
            .ok_or(VerifyError::InstanceCount {
                expected: at.offset + at.len(),
                got: instances.len(),
            })?;
    let point = |c: usize| -> Result<G1Affine, VerifyError> {
        let first = at.offset + 2 * c * n;
        let x = coordinate(&values[2 * c * n..(2 * c + 1) * n], at.bits, first)?;
        let y = coordinate(
            &values[(2 * c + 1) * n..(2 * c + 2) * n],
            at.bits,
            first + n,
        )?;
        if x.is_zero() && y.is_zero() {
            return Ok(G1Affine::zero());
        }
        let p = G1Affine::new_unchecked(x, y);
        if p.is_on_curve() {
            Ok(p)
        } else {
            Err(VerifyError::InvalidAccumulator {
                index: first,
                what: "a point is not on the curve",
            })
        }
    };
    Ok((point(0)?, point(1)?))
}

/// Decides the accumulator: `e(lhs, G2) = e(rhs, s G2)`.
pub(crate) fn decide(d: &Decoded, instances: &[Fr], at: AccumulatorAt) -> Result<(), VerifyError> {
    let (lhs, rhs) = decode(instances, at)?;
    if pairing_holds(lhs, rhs, d.g2, d.s_g2) {
        Ok(())
    } else {
        Err(VerifyError::AccumulatorCheckFailed)
    }
}

/// `e(lhs, g2) = e(rhs, s_g2)`.
fn pairing_holds(lhs: G1Affine, rhs: G1Affine, g2: G2Affine, s_g2: G2Affine) -> bool {
    Bn254::multi_pairing([lhs, (-rhs.into_group()).into()], [g2, s_g2]).is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;

    fn limbs_of(c: &Fq, n: usize, bits: u32) -> Vec<Fr> {
        limbs_of_int(c.into_bigint(), n, bits)
    }

    fn limbs_of_int(big: ark_ff::BigInt<4>, n: usize, bits: u32) -> Vec<Fr> {
        (0..n)
            .map(|i| {
                let mut v = Fr::zero();
                for b in (0..bits as usize).rev() {
                    v += v;
                    let at = i * bits as usize + b;
                    if at < 256 && big.get_bit(at) {
                        v += Fr::from(1u64);
                    }
                }
                v
            })
            .collect()
    }

    fn encode(points: [G1Affine; 2], n: usize, bits: u32) -> Vec<Fr> {
        points
            .iter()
            .flat_map(|p| {
                let (x, y) = p.xy().expect("not infinity");
                let mut v = limbs_of(&x, n, bits);
                v.extend(limbs_of(&y, n, bits));
                v
            })
            .collect()
    }

    const AT: AccumulatorAt = AccumulatorAt {
        offset: 1,
        limbs: 3,
        bits: 88,
    };

    #[test]
    fn the_pairing_holds_only_for_a_valid_accumulator() {
        let s = Fr::from(5u64);
        let (g, h) = (G1Affine::generator(), G2Affine::generator());
        let s_h = (h.into_group() * s).into_affine();
        let times = |p: G1Affine, k: u64| (p.into_group() * Fr::from(k)).into_affine();
        // e(s P, H) = e(P, s H), for P the generator and another point.
        assert!(pairing_holds(times(g, 5), g, h, s_h));
        assert!(pairing_holds(times(g, 35), times(g, 7), h, s_h));
        assert!(pairing_holds(G1Affine::zero(), G1Affine::zero(), h, s_h));
        // Off by one multiple, swapped, or one side at infinity: refused.
        assert!(!pairing_holds(times(g, 6), g, h, s_h));
        assert!(!pairing_holds(g, times(g, 5), h, s_h));
        assert!(!pairing_holds(G1Affine::zero(), g, h, s_h));
        assert!(!pairing_holds(g, G1Affine::zero(), h, s_h));
    }

    #[test]
    fn limbs_decode_to_the_points_they_encode() {
        let g = G1Affine::generator();
        let p = (g.into_group() * Fr::from(12345u64)).into_affine();
        let mut inst = vec![Fr::from(7u64)];
        inst.extend(encode([g, p], 3, 88));
        inst.push(Fr::from(9u64));
        assert_eq!(decode(&inst, AT).unwrap(), (g, p));
        // Other limb sizes decode the same way.
        let wide = AccumulatorAt {
            offset: 0,
            limbs: 2,
            bits: 128,
        };
        assert_eq!(decode(&encode([p, g], 2, 128), wide).unwrap(), (p, g));
    }

    #[test]
    fn wide_limbs_coordinates_off_the_field_and_off_the_curve_are_refused() {
        // A point whose coordinates fill every limb.
        let g = (G1Affine::generator().into_group() * Fr::from(987_654_321u64)).into_affine();
        let base = {
            let mut v = vec![Fr::zero()];
            v.extend(encode([g, g], 3, 88));
            v
        };
        // A limb of 89 bits, with the coordinate's value unchanged (the carry moved down).
        let mut wide = base.clone();
        wide[1] += Fr::from(1u64 << 44) * Fr::from(1u64 << 44);
        wide[2] -= Fr::from(1u64);
        assert!(matches!(
            decode(&wide, AT),
            Err(VerifyError::InvalidAccumulator { index: 1, .. })
        ));
        // A coordinate at the modulus: x + q has limbs in range but is not canonical.
        let x_plus_q = {
            let (x, _) = g.xy().unwrap();
            let mut big = x.into_bigint();
            big.add_with_carry(&Fq::MODULUS);
            limbs_of_int(big, 3, 88)
        };
        let mut off = base.clone();
        off[1..4].copy_from_slice(&x_plus_q);
        assert!(matches!(
            decode(&off, AT),
            Err(VerifyError::InvalidAccumulator { .. })
        ));
        // y changed: off the curve.
        let mut bent = base.clone();
        bent[4] += Fr::from(1u64);
        assert!(matches!(
            decode(&bent, AT),
            Err(VerifyError::InvalidAccumulator { index: 1, .. })
        ));
        // Too few values.
        assert!(matches!(
            decode(&base[..12], AT),
            Err(VerifyError::InstanceCount { .. })
        ));
    }
}

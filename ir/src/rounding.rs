//! The integer rounding rules every backend must reproduce bit for bit.
//!
//! All three rules work on exact integers (no floating point):
//!
//! * [`rescale`]: divide by `2^shift`, rounding half toward positive infinity.
//! * [`div_round`]: `a * 2^shift / b` for `b > 0`, rounding half toward positive infinity.
//! * [`isqrt`]: `floor(sqrt(v))` for `v >= 0`.
//!
//! "Half toward positive infinity" means `floor(x + 1/2)`: `2.5 -> 3`, `-2.5 -> -2`. It is the rule
//! a circuit can prove with one quotient/remainder pair and one range check, which is why it was
//! chosen over banker's rounding.

/// `floor((x + 2^(shift-1)) / 2^shift)`, i.e. `x / 2^shift` rounded half toward positive infinity.
///
/// `shift == 0` returns `x` unchanged.
pub fn rescale(x: i64, shift: u32) -> i64 {
    if shift == 0 {
        return x;
    }
    let x = i128::from(x);
    let half = 1i128 << (shift - 1);
    // `>>` on signed integers is an arithmetic shift, which is floor division by a power of two.
    ((x + half) >> shift) as i64
}

/// The remainder of [`rescale`]: `x + 2^(shift-1) - rescale(x) * 2^shift`, in `[0, 2^shift)`.
pub fn rescale_remainder(x: i64, shift: u32) -> i64 {
    if shift == 0 {
        return 0;
    }
    let q = i128::from(rescale(x, shift));
    (i128::from(x) + (1i128 << (shift - 1)) - (q << shift)) as i64
}

/// `floor((a * 2^(shift+1) + b) / (2b))`, i.e. `a * 2^shift / b` rounded half toward positive
/// infinity. Returns `None` when `b <= 0` or the result does not fit an `i64`.
pub fn div_round(a: i64, b: i64, shift: u32) -> Option<i64> {
    if b <= 0 || shift > 62 {
        return None;
    }
    let num = (i128::from(a) << (shift + 1)) + i128::from(b);
    let den = 2 * i128::from(b);
    i64::try_from(num.div_euclid(den)).ok()
}

/// `floor(sqrt(v))` for `v >= 0`; `None` for negative `v`.
pub fn isqrt(v: i128) -> Option<i64> {
    if v < 0 {
        return None;
    }
    let v = v as u128;
    // Start from the float estimate and correct it; exact for every u128 input.
    let mut r = (v as f64).sqrt() as u128;
    while r * r > v {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= v {
        r += 1;
    }
    i64::try_from(r).ok()
}

/// Quantizes a real number at `scale` (value = integer / 2^scale): `floor(x * 2^scale + 1/2)`.
///
/// Returns `None` for non-finite inputs or results that do not fit an `i64`.
pub fn quantize(x: f64, scale: i32) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let y = (x * 2f64.powi(scale) + 0.5).floor();
    // 2^62 keeps every quantized value comfortably inside i64 and the field.
    (y.abs() < 2f64.powi(62)).then_some(y as i64)
}

/// The real number an integer stands for at `scale`.
pub fn dequantize(q: i64, scale: i32) -> f64 {
    q as f64 * 2f64.powi(-scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rescale_rounds_half_up() {
        assert_eq!(rescale(5, 1), 3); // 2.5 -> 3
        assert_eq!(rescale(-5, 1), -2); // -2.5 -> -2
        assert_eq!(rescale(-6, 1), -3);
        assert_eq!(rescale(7, 2), 2); // 1.75 -> 2
        assert_eq!(rescale(-7, 2), -2); // -1.75 -> -2
        assert_eq!(rescale(6, 2), 2); // 1.5 -> 2
        assert_eq!(rescale(-6, 2), -1); // -1.5 -> -1
        assert_eq!(rescale(42, 0), 42);
    }

    #[test]
    fn div_round_matches_rescale_for_powers_of_two() {
        for a in -100..100 {
            for s in 0..6u32 {
                assert_eq!(div_round(a, 1 << s, 0), Some(rescale(a, s)), "a={a} s={s}");
            }
        }
        assert_eq!(div_round(1, 0, 0), None);
        assert_eq!(div_round(1, -3, 0), None);
    }

    #[test]
    fn isqrt_edges() {
        assert_eq!(isqrt(0), Some(0));
        assert_eq!(isqrt(1), Some(1));
        assert_eq!(isqrt(3), Some(1));
        assert_eq!(isqrt(4), Some(2));
        assert_eq!(isqrt(-1), None);
        let big = (1i128 << 62) - 1;
        let r = i128::from(isqrt(big).unwrap());
        assert!(r * r <= big && (r + 1) * (r + 1) > big);
    }

    #[test]
    fn quantize_rejects_non_finite() {
        assert_eq!(quantize(f64::NAN, 4), None);
        assert_eq!(quantize(f64::INFINITY, 4), None);
        assert_eq!(quantize(1e30, 8), None);
        assert_eq!(quantize(0.5, 1), Some(1));
        assert_eq!(quantize(-0.25, 1), Some(0)); // -0.5 rounds half up to 0
    }

    proptest! {
        #[test]
        fn rescale_is_floor_of_x_plus_half(x in -(1i64 << 50)..(1i64 << 50), shift in 0u32..40) {
            let q = rescale(x, shift);
            let r = rescale_remainder(x, shift);
            // Definition: x + half = q * 2^shift + r with 0 <= r < 2^shift.
            let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
            prop_assert!(r >= 0 && (r as i128) < (1i128 << shift));
            prop_assert_eq!(i128::from(x) + half, (i128::from(q) << shift) + i128::from(r));
            // And it is the nearest integer to x / 2^shift (ties up).
            let exact = x as f64 / 2f64.powi(shift as i32);
            prop_assert!((q as f64 - exact).abs() <= 0.5 + 1e-9);
        }

        #[test]
        fn rescale_at_boundaries(k in 1u32..40, shift in 1u32..20) {
            // 2^k - 1, 2^k, 2^k + 1 and their negatives.
            for x in [(1i64 << k) - 1, 1i64 << k, (1i64 << k) + 1] {
                for x in [x, -x] {
                    let q = rescale(x, shift);
                    let lhs = 2 * (i128::from(x)) + (1i128 << shift);
                    // q = floor((2x + 2^shift) / 2^(shift+1))
                    prop_assert_eq!(i128::from(q), lhs.div_euclid(1i128 << (shift + 1)));
                }
            }
        }

        #[test]
        fn div_round_is_nearest_ties_up(a in -(1i64 << 40)..(1i64 << 40), b in 1i64..(1i64 << 20), shift in 0u32..12) {
            let q = div_round(a, b, shift).unwrap();
            // 2b*q <= 2a*2^shift + b < 2b*(q+1)
            let lhs = (i128::from(a) << (shift + 1)) + i128::from(b);
            prop_assert!(2 * i128::from(b) * i128::from(q) <= lhs);
            prop_assert!(lhs < 2 * i128::from(b) * (i128::from(q) + 1));
        }

        #[test]
        fn isqrt_brackets(v in 0i128..(1i128 << 100)) {
            let r = i128::from(isqrt(v).unwrap());
            prop_assert!(r * r <= v && (r + 1) * (r + 1) > v);
        }

        #[test]
        fn quantize_round_trips_within_half_step(x in -1e6f64..1e6, scale in -4i32..20) {
            let q = quantize(x, scale).unwrap();
            let back = dequantize(q, scale);
            prop_assert!((back - x).abs() <= 0.5 * 2f64.powi(-scale) + 1e-9);
        }
    }
}

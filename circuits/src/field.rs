//! Integers as field elements: the one conversion every layer below the circuit shares.

use halo2_proofs::halo2curves::bn256::Fr;

/// An integer as a field element (negative values wrap to `p - |v|`).
pub fn field(v: i128) -> Fr {
    let u = v.unsigned_abs();
    let f = Fr::from((u >> 64) as u64) * Fr::from(1u64 << 32).square() + Fr::from(u as u64);
    if v < 0 {
        -f
    } else {
        f
    }
}

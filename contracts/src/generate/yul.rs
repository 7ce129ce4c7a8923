//! Yul text helpers: literals, memory reads and batch inversion.

use std::fmt::Write;

use ark_bn254::Fr;
use ark_ff::Field;
use zkml_verifier::encoding::{fr_from_be, fr_to_be};
use zkml_verifier::vk::G1Bytes;

use crate::GenerateError;

/// Batch inversions of at most this many values are unrolled (larger ones loop, keeping the
/// code small).
const MAX_UNROLLED_INVERSIONS: usize = 64;

pub(crate) fn hex(w: &[u8; 32]) -> String {
    let s = ::hex::encode(w);
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        format!("0x{t}")
    }
}

pub(super) fn fr_hex(f: &Fr) -> String {
    hex(&fr_to_be(f))
}

pub(crate) fn word(w: &[u8; 32]) -> Result<Fr, GenerateError> {
    fr_from_be(w).ok_or_else(|| GenerateError::Unsupported("a non-canonical scalar".into()))
}

pub(super) fn rotate(omega: Fr, rotation: i32) -> Fr {
    if rotation >= 0 {
        omega.pow([rotation as u64])
    } else {
        omega
            .inverse()
            .expect("omega is a unit")
            .pow([u64::from(rotation.unsigned_abs())])
    }
}

/// Yul that inverts the `count` words at `arr` in place (Montgomery's trick, `tmp` holding
/// the prefix products), failing the verification if any is zero: straight-line code for a
/// few words, the `batchInvert` loop for many.
pub(super) fn batch_inversion(arr: usize, count: usize, tmp: usize) -> String {
    if count > MAX_UNROLLED_INVERSIONS {
        return format!(
            "            if iszero(batchInvert({arr:#x}, {count}, {tmp:#x}, r)) {{ fail() }}"
        );
    }
    let mut code = "            {\n                let prefix := 1\n".to_string();
    for i in 0..count {
        writeln!(
            code,
            "                mstore({:#x}, prefix)\n                prefix := mulmod(prefix, mload({:#x}), r)",
            tmp + 32 * i,
            arr + 32 * i
        )
        .expect("string");
    }
    code.push_str(
        "                if iszero(prefix) { fail() }\n                let inv := invert(prefix, r)\n",
    );
    for i in (0..count).rev() {
        let at = arr + 32 * i;
        writeln!(
            code,
            "                {{ let v := mload({at:#x}) mstore({at:#x}, mulmod(inv, mload({:#x}), r)) inv := mulmod(inv, v, r) }}",
            tmp + 32 * i
        )
        .expect("string");
    }
    code.push_str("            }");
    code
}

pub(super) fn m(addr: usize) -> String {
    format!("mload({addr:#x})")
}

pub(super) fn point_literals(p: &G1Bytes) -> (String, String) {
    (hex(&p.x), hex(&p.y))
}

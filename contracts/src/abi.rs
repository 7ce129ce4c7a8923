//! ABI encoding of `verifyProof(bytes,uint256[])`.

use sha3::{Digest, Keccak256};

/// The function signature.
pub const SIGNATURE: &str = "verifyProof(bytes,uint256[])";

/// The 4-byte function selector.
pub fn selector() -> [u8; 4] {
    let h = Keccak256::digest(SIGNATURE.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

/// Calldata for `verifyProof(proof, instances)`: selector, two head offsets, the proof
/// (length, bytes padded to a word), the instances (length, words).
pub fn calldata(proof: &[u8], instances: &[[u8; 32]]) -> Vec<u8> {
    let padded = proof.len().div_ceil(32) * 32;
    let mut out = Vec::with_capacity(4 + 32 * 4 + padded + 32 * instances.len());
    out.extend_from_slice(&selector());
    out.extend_from_slice(&word(0x40));
    out.extend_from_slice(&word(0x40 + 32 + padded));
    out.extend_from_slice(&word(proof.len()));
    out.extend_from_slice(proof);
    out.resize(out.len() + padded - proof.len(), 0);
    out.extend_from_slice(&word(instances.len()));
    for w in instances {
        out.extend_from_slice(w);
    }
    out
}

/// Why calldata does not decode as a `verifyProof(bytes,uint256[])` call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// Shorter than a selector, or another function's selector.
    #[error("not a verifyProof call (selector)")]
    Selector,
    /// The head (two offsets) is cut short.
    #[error("calldata too short for the head")]
    ShortHead,
    /// An offset or length does not fit 64 bits, or points past the end.
    #[error("{0} is out of bounds")]
    OutOfBounds(&'static str),
}

/// The 32-byte word at `at` with calldata's zero padding past the end.
fn word_at(data: &[u8], at: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    for (i, b) in w.iter_mut().enumerate() {
        if let Some(&v) = usize::try_from(at + i as u128)
            .ok()
            .and_then(|j| data.get(j))
        {
            *b = v;
        }
    }
    w
}

/// A word that fits 64 bits (the decoder's bound on offsets and lengths).
fn small(w: [u8; 32], what: &'static str) -> Result<u128, AbiError> {
    if w[..24].iter().any(|&b| b != 0) {
        return Err(AbiError::OutOfBounds(what));
    }
    Ok(u128::from(u64::from_be_bytes(
        w[24..].try_into().expect("8 bytes"),
    )))
}

/// Decodes calldata of `verifyProof(bytes proof, uint256[] instances)` exactly as the
/// generated contract's ABI decoder (Solidity's, for calldata parameters) does: each head
/// offset (relative to the end of the selector) and each length must fit 64 bits, an array's
/// length word must start before the end, and its elements must end at or before it. Offsets
/// need not be canonical, padding is not read, and trailing bytes are allowed, as there.
pub fn decode_calldata(data: &[u8]) -> Result<(Vec<u8>, Vec<[u8; 32]>), AbiError> {
    if data.len() < 4 || data[..4] != selector() {
        return Err(AbiError::Selector);
    }
    let end = data.len() as u128;
    if end - 4 < 64 {
        return Err(AbiError::ShortHead);
    }
    // (offset word, element size) of each parameter: where its length word and elements are.
    let array = |head: u128, unit: u128, what: &'static str| -> Result<(u128, u128), AbiError> {
        let at = 4 + small(word_at(data, head), what)?;
        if at + 31 >= end {
            return Err(AbiError::OutOfBounds(what));
        }
        let len = small(word_at(data, at), what)?;
        if at + 32 + len * unit > end {
            return Err(AbiError::OutOfBounds(what));
        }
        Ok((at + 32, len))
    };
    let (p, plen) = array(4, 1, "the proof")?;
    let (q, n) = array(36, 32, "the instances")?;
    // Both ranges lie inside `data` (checked above), so these conversions hold.
    let proof = data[p as usize..(p + plen) as usize].to_vec();
    let instances = (0..n).map(|i| word_at(data, q + 32 * i)).collect();
    Ok((proof, instances))
}

/// The contract's ABI as JSON.
pub fn abi_json() -> serde_json::Value {
    serde_json::json!([{
        "type": "function",
        "name": "verifyProof",
        "stateMutability": "view",
        "inputs": [
            {"name": "proof", "type": "bytes", "internalType": "bytes"},
            {"name": "instances", "type": "uint256[]", "internalType": "uint256[]"}
        ],
        "outputs": [{"name": "", "type": "bool", "internalType": "bool"}]
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_inverts_encoding_and_follows_the_offsets() {
        let proof: Vec<u8> = (0..45).collect();
        let words = [[7u8; 32], [9u8; 32]];
        let c = calldata(&proof, &words);
        assert_eq!(decode_calldata(&c), Ok((proof.clone(), words.to_vec())));
        // Trailing bytes are allowed.
        let mut longer = c.clone();
        longer.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            decode_calldata(&longer),
            Ok((proof.clone(), words.to_vec()))
        );
        // Swapped parts with their offsets swapped decode to the same call.
        let mut swapped = c[..4].to_vec();
        let inst_part = &c[4 + 64 + 32 + 64..];
        let proof_part = &c[4 + 64..4 + 64 + 32 + 64];
        swapped.extend_from_slice(&word(64 + inst_part.len()));
        swapped.extend_from_slice(&word(64));
        swapped.extend_from_slice(inst_part);
        swapped.extend_from_slice(proof_part);
        assert_eq!(decode_calldata(&swapped), Ok((proof, words.to_vec())));
    }

    #[test]
    fn decoding_rejects_what_the_contract_rejects() {
        let c = calldata(&[5u8; 40], &[[3u8; 32]]);
        assert_eq!(decode_calldata(&c[..3]), Err(AbiError::Selector));
        let mut other = c.clone();
        other[0] ^= 1;
        assert_eq!(decode_calldata(&other), Err(AbiError::Selector));
        assert_eq!(decode_calldata(&c[..4 + 63]), Err(AbiError::ShortHead));
        // The last instance cut off.
        assert!(decode_calldata(&c[..c.len() - 1]).is_err());
        // An offset over 64 bits, and one past the end.
        let mut wide = c.clone();
        wide[4 + 23] = 1;
        assert_eq!(
            decode_calldata(&wide),
            Err(AbiError::OutOfBounds("the proof"))
        );
        let mut past = c.clone();
        past[4 + 32 + 31] = 0xff;
        past[4 + 32 + 30] = 0xff;
        assert_eq!(
            decode_calldata(&past),
            Err(AbiError::OutOfBounds("the instances"))
        );
        // A proof length running past the end.
        let mut long = c.clone();
        long[4 + 64 + 30] = 1;
        assert_eq!(
            decode_calldata(&long),
            Err(AbiError::OutOfBounds("the proof"))
        );
    }

    #[test]
    fn selector_and_layout() {
        assert_eq!(hex::encode(selector()), "1e8e1e13");
        let c = calldata(&[1, 2, 3], &[[9u8; 32]]);
        assert_eq!(c.len(), 4 + 32 * 2 + 32 + 32 + 32 + 32);
        assert_eq!(c[4 + 31], 0x40);
        assert_eq!(c[4 + 63], 0x80);
        assert_eq!(c[4 + 64 + 31], 3);
        assert_eq!(&c[4 + 96..4 + 99], &[1, 2, 3]);
        assert_eq!(c[4 + 128 + 31], 1);
        assert_eq!(&c[4 + 160..], &[9u8; 32]);
    }
}

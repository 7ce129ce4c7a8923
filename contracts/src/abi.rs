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

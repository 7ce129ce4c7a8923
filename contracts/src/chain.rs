//! The Solidity verifier of a chain of segment proofs (see `zkml_verifier::chain`): one call
//! checks every segment and every link, with one pairing for all segments.
//!
//! The chain contract holds the addresses of the segments' verifiers (each generated as for a
//! single proof, and checked at deployment to be for the expected key). `verifyChain(bytes[]
//! proofs, uint256[][] instances)` requires one proof per segment and the instance lengths the
//! keys take, checks that each segment's output commitment equals the next one's input
//! commitment, and asks each segment's verifier for everything but its final pairing
//! (`pairingInputs`): the verdict of its checks and two points `(h_i, a_i)` that a valid proof
//! satisfies as `e(h_i, s G2) = e(a_i, G2)`. With `rho` the Keccak-256 hash of all the points
//! (reduced into the scalar field), it then checks the single pairing equation
//! `e(sum rho^i h_i, s G2) = e(sum rho^i a_i, G2)`. The segments' keys share the SRS, hence
//! `G2` and `s G2`. If any segment's own equation fails, the combined one holds only if `rho`
//! is a root of a nonzero polynomial of degree below the number of segments `N`: as `rho` is
//! drawn by hashing the points after they are fixed, that has probability at most
//! `(N - 1) / r < 2^-245`.

use std::fmt::Write;

use sha3::{Digest, Keccak256};
use zkml_verifier::vk::ValueClass;
use zkml_verifier::{Key, VerifyingKey};

use crate::generate::yul::hex;
use crate::{BuildError, GenerateError, VerifierArtifacts};

/// The chain contract's name.
pub const CHAIN_CONTRACT_NAME: &str = "ZkmlChainVerifier";

/// The chain function's signature.
pub const CHAIN_SIGNATURE: &str = "verifyChain(bytes[],uint256[][])";

/// The segment verifiers' pairing-inputs function.
pub const PAIRING_INPUTS_SIGNATURE: &str = "pairingInputs(bytes,uint256[])";

fn selector(signature: &str) -> [u8; 4] {
    let h = Keccak256::digest(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// A built chain verifier: each segment's verifier, and the chain contract over them.
#[derive(Clone, Debug)]
pub struct ChainArtifacts {
    /// Each segment's verifier, in order.
    pub segments: Vec<VerifierArtifacts>,
    /// Solidity source of the chain contract.
    pub source: String,
    /// solc's output for the chain contract.
    pub compiled: crate::solc::Compiled,
}

impl ChainArtifacts {
    /// The chain contract's creation code with its constructor arguments: the segment
    /// verifiers' addresses, in order.
    pub fn chain_creation(&self, segments: &[[u8; 20]]) -> Vec<u8> {
        crate::verifier_creation(&self.compiled.bytecode, segments)
    }
}

/// The Solidity source of the chain contract for the segments' verifying keys `vks`, in order.
pub fn chain_solidity(vks: &[VerifyingKey]) -> Result<String, GenerateError> {
    let n = vks.len();
    if n == 0 {
        return Err(GenerateError::Unsupported(
            "a chain has at least one segment".into(),
        ));
    }
    let keys: Vec<Key> = vks.iter().cloned().map(Key::Halo2).collect();
    zkml_verifier::chain::check_keys(&keys)
        .map_err(|e| GenerateError::Unsupported(e.to_string()))?;
    if vks
        .iter()
        .any(|v| v.g2 != vks[0].g2 || v.s_g2 != vks[0].s_g2)
    {
        return Err(GenerateError::Unsupported(
            "the segments' keys come from different SRS: one pairing cannot check them".into(),
        ));
    }
    let mut decls = String::new();
    let mut params = Vec::new();
    let mut assigns = String::new();
    let mut checks = String::new();
    for (i, vk) in vks.iter().enumerate() {
        writeln!(decls, "    address private immutable segment{i};").expect("string");
        writeln!(
            decls,
            "    bytes32 private constant KEY{i} = 0x{};",
            ::hex::encode(vk.key_digest())
        )
        .expect("string");
        params.push(format!("address s{i}"));
        writeln!(
            assigns,
            "        require(ISegmentVerifier(s{i}).keyDigest() == KEY{i}, \"zkml: segment {i}'s verifier is for another key\");\n        segment{i} = s{i};"
        )
        .expect("string");
        writeln!(
            checks,
            "        if (instances[{i}].length != {}) return false;",
            vk.num_instance_values
        )
        .expect("string");
    }
    for i in 1..n {
        let out = zkml_verifier::chain::link(&keys[i - 1], ValueClass::Outputs).expect("checked");
        let inp = zkml_verifier::chain::link(&keys[i], ValueClass::Inputs).expect("checked");
        writeln!(
            checks,
            "        if (instances[{}][{out}] != instances[{i}][{inp}]) return false;",
            i - 1
        )
        .expect("string");
    }
    let segments = (0..n)
        .map(|i| format!("segment{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let g2 = &vks[0].g2;
    let s_g2 = &vks[0].s_g2;
    let (r_hex, q_hex) = (crate::generate::R_HEX, crate::generate::Q_HEX);
    let pairing_selector = format!("0x{}", ::hex::encode(selector(PAIRING_INPUTS_SIGNATURE)));
    Ok(format!(
        r#"// SPDX-License-Identifier: MIT
// {marker}: regenerate it rather than edit it.
pragma solidity ^0.8.19;

interface ISegmentVerifier {{
    function keyDigest() external pure returns (bytes32);
}}

/// @title zkml chain verifier
/// @notice Verifies a chain of {n} segment proofs of one cut program in one call: every
/// segment's proof, the links between neighbours, and one pairing for all of them.
contract {CHAIN_CONTRACT_NAME} {{
    uint256 private constant R = {r_hex};
    uint256 private constant Q = {q_hex};
    bytes4 private constant PAIRING_INPUTS = {pairing_selector};
{decls}
    /// @param s0 The segments' verifiers, in order; each must be for its segment's key.
    constructor({params}) {{
{assigns}    }}

    /// @notice Returns true when `proofs[i]` is a valid proof of segment i for `instances[i]`
    /// for every segment, and each segment's output commitment is the next one's input
    /// commitment; false otherwise.
    function verifyChain(bytes[] calldata proofs, uint256[][] calldata instances) external view returns (bool) {{
        if (proofs.length != {n} || instances.length != {n}) return false;
{checks}        address[{n}] memory segments = [{segments}];
        uint256[{points}] memory pts;
        for (uint256 i = 0; i < {n}; i++) {{
            (bool ok, bytes memory ret) = segments[i].staticcall(
                abi.encodeWithSelector(PAIRING_INPUTS, proofs[i], instances[i])
            );
            if (!ok || ret.length != 160) return false;
            (uint256 valid, uint256[4] memory p) = abi.decode(ret, (uint256, uint256[4]));
            if (valid != 1) return false;
            for (uint256 j = 0; j < 4; j++) pts[4 * i + j] = p[j];
        }}
        uint256 rho = uint256(keccak256(abi.encodePacked(pts))) % R;
        if (rho == 0) return false;
        uint256[2] memory h;
        uint256[2] memory a;
        uint256 power = 1;
        bool good = true;
        for (uint256 i = 0; i < {n}; i++) {{
            good = good && mulAdd(h, pts[4 * i], pts[4 * i + 1], power);
            good = good && mulAdd(a, pts[4 * i + 2], pts[4 * i + 3], power);
            power = mulmod(power, rho, R);
        }}
        if (!good) return false;
        // e(h, s G2) * e(-a, G2) == 1
        uint256[12] memory input = [
            h[0], h[1],
            {s_x1}, {s_x0}, {s_y1}, {s_y0},
            a[0], a[1] == 0 ? 0 : Q - a[1],
            {g_x1}, {g_x0}, {g_y1}, {g_y0}
        ];
        uint256[1] memory out;
        assembly {{
            good := and(good, staticcall(gas(), 8, input, 0x180, out, 0x20))
        }}
        return good && out[0] == 1;
    }}

    /// @dev acc += s * (x, y), by the ecMul and ecAdd precompiles.
    function mulAdd(uint256[2] memory acc, uint256 x, uint256 y, uint256 s) private view returns (bool ok) {{
        uint256[4] memory buf;
        buf[0] = x;
        buf[1] = y;
        buf[2] = s;
        assembly {{
            ok := staticcall(gas(), 7, buf, 0x60, buf, 0x40)
            mstore(add(buf, 0x40), mload(acc))
            mstore(add(buf, 0x60), mload(add(acc, 0x20)))
            ok := and(ok, staticcall(gas(), 6, buf, 0x80, acc, 0x40))
        }}
    }}
}}
"#,
        marker = crate::GENERATED_MARKER,
        params = params.join(", "),
        points = 4 * n,
        s_x1 = hex(&s_g2.x1),
        s_x0 = hex(&s_g2.x0),
        s_y1 = hex(&s_g2.y1),
        s_y0 = hex(&s_g2.y0),
        g_x1 = hex(&g2.x1),
        g_x0 = hex(&g2.x0),
        g_y1 = hex(&g2.y1),
        g_y0 = hex(&g2.y0),
    ))
}

/// Generates and compiles every segment's verifier and the chain contract.
pub fn build_chain(vks: &[VerifyingKey]) -> Result<ChainArtifacts, BuildError> {
    let source = chain_solidity(vks)?;
    let compiled = crate::solc::compile(&source, CHAIN_CONTRACT_NAME)?;
    let segments = vks
        .iter()
        .map(crate::build)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChainArtifacts {
        segments,
        source,
        compiled,
    })
}

fn word(v: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&(v as u64).to_be_bytes());
    w
}

/// Calldata for `verifyChain(proofs, instances)`.
pub fn chain_calldata(proofs: &[Vec<u8>], instances: &[Vec<[u8; 32]>]) -> Vec<u8> {
    // Each array: its length, one offset per element (from just after the length), then
    // the elements.
    fn array(elements: &[Vec<u8>]) -> Vec<u8> {
        let mut out = word(elements.len()).to_vec();
        let mut at = 32 * elements.len();
        for e in elements {
            out.extend_from_slice(&word(at));
            at += e.len();
        }
        for e in elements {
            out.extend_from_slice(e);
        }
        out
    }
    let bytes: Vec<Vec<u8>> = proofs
        .iter()
        .map(|p| {
            let mut e = word(p.len()).to_vec();
            e.extend_from_slice(p);
            e.resize(32 + p.len().div_ceil(32) * 32, 0);
            e
        })
        .collect();
    let words: Vec<Vec<u8>> = instances
        .iter()
        .map(|ws| {
            let mut e = word(ws.len()).to_vec();
            for w in ws {
                e.extend_from_slice(w);
            }
            e
        })
        .collect();
    let (a, b) = (array(&bytes), array(&words));
    let mut out = selector(CHAIN_SIGNATURE).to_vec();
    out.extend_from_slice(&word(0x40));
    out.extend_from_slice(&word(0x40 + a.len()));
    out.extend(a);
    out.extend(b);
    out
}

//! The Solidity verifier of a chain of segment proofs (see `zkml_verifier::chain`): one call
//! checks every segment and every link, with one pairing for all segments.
//!
//! The chain contract holds the addresses of the segments' verifiers (each generated as for a
//! single proof, and checked at deployment to be for the expected key). `verifyChain(bytes[]
//! proofs, uint256[][] instances)` requires one proof per segment and the instance lengths the
//! keys take, checks that each segment's output commitment equals the next one's input
//! commitment, and asks each segment's verifier for everything but its final pairing
//! (`pairingInputs`): the verdict of its checks and two points `(h_i, a_i)` that a valid proof
//! satisfies as `e(h_i, s G2) = e(a_i, G2)`. With `rho` the Keccak-256 hash of the call's data
//! (reduced into the scalar field), it then checks the single pairing equation
//! `e(sum rho^i h_i, s G2) = e(sum rho^i a_i, G2)`. The segments' keys share the SRS, hence
//! `G2` and `s G2`. Segment i's verifier returns `a_i` already multiplied by `rho^i` (it scales
//! the scalars of its multi-scalar multiplication, which costs field multiplications where the
//! chain would pay a point multiplication), so the chain multiplies only the `h_i`, and nothing
//! for the first segment.
//!
//! Soundness: the points are functions of the proofs, the instances and the keys, and the call's
//! data holds every proof and instance, so `rho` is drawn after the points are fixed. If any
//! segment's own equation fails, the combined one holds only if `rho` is a root of a nonzero
//! polynomial of degree below the number of segments `N`: probability at most
//! `(N - 1) / r < 2^-245` for each chain tried.

use std::fmt::Write;

use sha3::{Digest, Keccak256};
use zkml_verifier::vk::{G1Bytes, ValueClass};
use zkml_verifier::{Key, VerifyingKey};

use crate::generate::yul::hex;
use crate::{BuildError, GenerateError, VerifierArtifacts};

/// The chain contract's name.
pub const CHAIN_CONTRACT_NAME: &str = "ZkmlChainVerifier";

/// The chain function's signature.
pub const CHAIN_SIGNATURE: &str = "verifyChain(bytes[],uint256[][])";

/// The segment verifiers' pairing-inputs function.
pub const PAIRING_INPUTS_SIGNATURE: &str = "pairingInputs(bytes,uint256[],uint256)";

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
    /// The data contracts (the points and which segment uses which), when that data does not
    /// fit in the chain contract's code; deployed before it.
    pub data_parts: Vec<crate::KeyPart>,
}

impl ChainArtifacts {
    /// The chain contract's creation code with its constructor arguments: the segment
    /// verifiers' addresses, in order, then the data contracts', in order.
    pub fn chain_creation(&self, segments: &[[u8; 20]], data: &[[u8; 20]]) -> Vec<u8> {
        let all: Vec<[u8; 20]> = segments.iter().chain(data).copied().collect();
        crate::verifier_creation(&self.compiled.bytecode, &all)
    }
}

fn too_many() -> GenerateError {
    GenerateError::Unsupported("a chain's keys hold more than 65,535 points".into())
}

/// The Solidity source of the chain contract for the segments' verifying keys `vks`, in order.
pub fn chain_solidity(vks: &[VerifyingKey]) -> Result<String, GenerateError> {
    chain_solidity_with(vks, true).map(|(source, _)| source)
}

/// The chain contract's source, with its data (the points and which segment uses which) in
/// its own code when `inline`, or else in data contracts, as a verifier's key data; and that
/// data.
fn chain_solidity_with(
    vks: &[VerifyingKey],
    inline: bool,
) -> Result<(String, Vec<u8>), GenerateError> {
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
        .any(|v| v.g1 != vks[0].g1 || v.g2 != vks[0].g2 || v.s_g2 != vks[0].s_g2)
    {
        return Err(GenerateError::Unsupported(
            "the segments' keys come from different SRS: one pairing cannot check them".into(),
        ));
    }
    let mut decls = String::new();
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
        writeln!(
            assigns,
            "        require(ISegmentVerifier(s[{i}]).keyDigest() == KEY{i}, \"zkml: segment {i}'s verifier is for another key\");\n        segment{i} = s[{i}];"
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
    // The distinct points: the generator, then every key point not seen before.
    let mut distinct: Vec<&G1Bytes> = vec![&vks[0].g1];
    let mut map: Vec<u16> = Vec::new();
    let mut table: Vec<u8> = Vec::new();
    for vk in vks {
        let start = map.len();
        for pt in vk
            .fixed_commitments
            .iter()
            .chain(&vk.permutation_commitments)
        {
            let d = match distinct.iter().position(|q| *q == pt) {
                Some(d) => d,
                None => {
                    distinct.push(pt);
                    distinct.len() - 1
                }
            };
            map.push(u16::try_from(d).map_err(|_| too_many())?);
        }
        let count = map.len() - start;
        table.extend(u16::try_from(start).map_err(|_| too_many())?.to_be_bytes());
        table.extend(u16::try_from(count).map_err(|_| too_many())?.to_be_bytes());
    }
    let map_at = table.len();
    table.extend(map.iter().flat_map(|d| d.to_be_bytes()));
    let points_at = table.len();
    for pt in &distinct {
        table.extend_from_slice(&pt.x);
        table.extend_from_slice(&pt.y);
    }
    // Where the data comes from: the contract's own code, or data contracts whose code hashes
    // the constructor checks.
    let (data_decl, data_load) = if inline {
        (
            format!(
                "    bytes private constant DATA = hex\"{}\";\n",
                ::hex::encode(&table)
            ),
            "        bytes memory data = DATA;\n".to_string(),
        )
    } else {
        let mut decl = String::new();
        let mut load = format!("        bytes memory data = new bytes({});\n", table.len());
        for (j, part) in table.chunks(crate::generate::MAX_KEY_PART).enumerate() {
            let mut code = vec![0u8];
            code.extend_from_slice(part);
            writeln!(
                decl,
                "    address private immutable data{j};\n    bytes32 private constant DATA{j}_CODEHASH = 0x{};",
                ::hex::encode(Keccak256::digest(&code))
            )
            .expect("string");
            writeln!(
                assigns,
                "        require(dataParts[{j}].codehash == DATA{j}_CODEHASH, \"zkml: wrong data contract {j}\");\n        data{j} = dataParts[{j}];"
            )
            .expect("string");
            writeln!(
                load,
                "        {{\n            address d = data{j};\n            assembly {{ extcodecopy(d, add(data, {:#x}), 1, {:#x}) }}\n        }}",
                0x20 + j * crate::generate::MAX_KEY_PART,
                part.len()
            )
            .expect("string");
        }
        (decl, load)
    };
    // Arrays, not one parameter per address: the constructor's stack stays shallow.
    let mut params = vec![format!("address[{n}] memory s")];
    let parts = if inline {
        0
    } else {
        table.len().div_ceil(crate::generate::MAX_KEY_PART)
    };
    if parts > 0 {
        params.push(format!("address[{parts}] memory dataParts"));
    }
    let segments = (0..n)
        .map(|i| format!("segment{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let g2 = &vks[0].g2;
    let s_g2 = &vks[0].s_g2;
    let (r_hex, q_hex) = (crate::generate::R_HEX, crate::generate::Q_HEX);
    // The selector as the first four bytes of a word.
    let pairing_word = format!(
        "0x{}{}",
        ::hex::encode(selector(PAIRING_INPUTS_SIGNATURE)),
        "0".repeat(56)
    );
    let source = format!(
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
    /// Per segment: where its key points' indices start and how many (2 bytes each); the
    /// indices into the distinct points (2 bytes each); the distinct points, the generator
    /// first (64 bytes each).
{data_decl}{decls}
    /// @param s The segments' verifiers, in order; each must be for its segment's key (then,
    /// where the data is not in this contract's code, `dataParts`: the data contracts).
    constructor({params}) {{
{assigns}    }}

    /// @notice Returns true when `proofs[i]` is a valid proof of segment i for `instances[i]`
    /// for every segment, and each segment's output commitment is the next one's input
    /// commitment; false otherwise.
    function verifyChain(bytes[] calldata proofs, uint256[][] calldata instances) external view returns (bool) {{
        if (proofs.length != {n} || instances.length != {n}) return false;
{checks}        address[{n}] memory segments = [{segments}];
        // rho: the call's data (every proof and instance, hence every segment's points) hashed.
        uint256 rho;
        assembly {{
            let m := mload(0x40)
            calldatacopy(m, 0, calldatasize())
            rho := mod(keccak256(m, calldatasize()), {r_hex})
        }}
        if (rho == 0) return false;
        // acc: h (2 words), a (2 words), then each distinct point's scalar (the generator's first).
        uint256[] memory acc = new uint256[]({acc_len});
{data_load}        bool good = true;
        assembly {{
            // Encodes pairingInputs(proofs[i], instances[i], power) at `buf`; its length, or 0
            // for a malformed proof or instance.
            function encodeCall(ctx, i, power, buf) -> len {{
                let pp := add(mload(ctx), calldataload(add(mload(ctx), shl(5, i))))
                let ip := add(mload(add(ctx, 0x20)), calldataload(add(mload(add(ctx, 0x20)), shl(5, i))))
                let plen := calldataload(pp)
                let ilen := calldataload(ip)
                if or(gt(plen, 0xffffff), gt(ilen, 0xffff)) {{ leave }}
                let at := add(add(buf, 0x84), and(add(plen, 31), not(31)))
                mstore(buf, {pairing_word})
                mstore(add(buf, 0x04), 0x60)
                mstore(add(buf, 0x24), sub(at, add(buf, 0x04)))
                mstore(add(buf, 0x44), power)
                mstore(sub(at, 0x20), 0)
                mstore(add(buf, 0x64), plen)
                calldatacopy(add(buf, 0x84), add(pp, 0x20), plen)
                mstore(at, ilen)
                calldatacopy(add(at, 0x20), add(ip, 0x20), shl(5, ilen))
                len := add(sub(at, buf), add(0x20, shl(5, ilen)))
            }}
            // Calls segment i's verifier; true when its `rlen`-byte answer (at `buf`) says the
            // proof passed.
            function callSegment(ctx, i, power, rlen) -> ok {{
                let buf := mload(add(ctx, 0xa0))
                let len := encodeCall(ctx, i, power, buf)
                if iszero(len) {{ leave }}
                ok := staticcall(gas(), mload(add(mload(add(ctx, 0x40)), shl(5, i))), buf, len, buf, rlen)
                ok := and(ok, and(eq(returndatasize(), rlen), eq(mload(buf), 1)))
            }}
            // (x, y) += s (px, py), with four words of scratch at `buf`; s = 1 skips the ecMul.
            function mulAdd(x, px, py, s, buf) -> ok {{
                mstore(buf, px)
                mstore(add(buf, 0x20), py)
                ok := 1
                if iszero(eq(s, 1)) {{
                    mstore(add(buf, 0x40), s)
                    ok := staticcall(gas(), 7, buf, 0x60, buf, 0x40)
                }}
                mstore(add(buf, 0x40), mload(x))
                mstore(add(buf, 0x60), mload(add(x, 0x20)))
                ok := and(ok, staticcall(gas(), 6, buf, 0x80, x, 0x40))
            }}
            // Adds the answer's scalars to their distinct points': the generator's, then the
            // `count` key points', whose indices are at `map`.
            function collect(accs, buf, map, count) {{
                let slot := add(accs, 0xa0)
                mstore(slot, addmod(mload(slot), mload(add(buf, 0xa0)), {r_hex}))
                for {{ let j := 0 }} lt(j, count) {{ j := add(j, 1) }} {{
                    slot := add(accs, shl(5, add(5, shr(240, mload(add(map, shl(1, j)))))))
                    mstore(slot, addmod(mload(slot), mload(add(buf, shl(5, add(6, j)))), {r_hex}))
                }}
            }}
            // Segment i, scaled by `power`: a_i and the scalars come back multiplied by it;
            // h_i is multiplied here (not for the first segment, whose power is 1).
            function step(ctx, i, power) -> ok {{
                let entry := shr(224, mload(add(mload(add(ctx, 0x80)), shl(2, i))))
                ok := callSegment(ctx, i, power, add(0xc0, shl(5, and(entry, 0xffff))))
                if iszero(ok) {{ leave }}
                let accs := mload(add(ctx, 0x60))
                let buf := mload(add(ctx, 0xa0))
                collect(accs, buf, add(add(mload(add(ctx, 0x80)), {map_at}), shl(1, shr(16, entry))), and(entry, 0xffff))
                let hx := mload(add(buf, 0x20))
                let hy := mload(add(buf, 0x40))
                ok := mulAdd(add(accs, 0x60), mload(add(buf, 0x60)), mload(add(buf, 0x80)), 1, buf)
                ok := and(ok, mulAdd(add(accs, 0x20), hx, hy, power, buf))
            }}
            // a += sum_d s_d P_d over the distinct points.
            function msm(ctx) -> ok {{
                let accs := mload(add(ctx, 0x60))
                let buf := mload(add(ctx, 0xa0))
                let points := add(mload(add(ctx, 0x80)), {points_at})
                ok := 1
                for {{ let d := 0 }} lt(d, {distinct}) {{ d := add(d, 1) }} {{
                    let sd := mload(add(accs, shl(5, add(5, d))))
                    if sd {{
                        let pt := add(points, shl(6, d))
                        ok := and(ok, mulAdd(add(accs, 0x60), mload(pt), mload(add(pt, 0x20)), sd, buf))
                    }}
                }}
            }}
            // The context: where the proofs, the instances, the verifiers, the accumulators
            // and the data are, and the call buffer.
            let ctx := mload(0x40)
            mstore(ctx, proofs.offset)
            mstore(add(ctx, 0x20), instances.offset)
            mstore(add(ctx, 0x40), segments)
            mstore(add(ctx, 0x60), acc)
            mstore(add(ctx, 0x80), add(data, 0x20))
            mstore(add(ctx, 0xa0), add(ctx, 0xc0))
            let power := 1
            for {{ let i := 0 }} lt(i, {n}) {{ i := add(i, 1) }} {{
                if iszero(step(ctx, i, power)) {{
                    good := 0
                    break
                }}
                power := mulmod(power, rho, {r_hex})
            }}
            if good {{ good := msm(ctx) }}
        }}
        if (!good) return false;
        // e(h, s G2) * e(-a, G2) == 1
        uint256[12] memory input = [
            acc[0], acc[1],
            {s_x1}, {s_x0}, {s_y1}, {s_y0},
            acc[2], acc[3] == 0 ? 0 : Q - acc[3],
            {g_x1}, {g_x0}, {g_y1}, {g_y0}
        ];
        uint256[1] memory out;
        assembly {{
            good := and(good, staticcall(gas(), 8, input, 0x180, out, 0x20))
        }}
        return good && out[0] == 1;
    }}
}}
"#,
        marker = crate::GENERATED_MARKER,
        params = params.join(", "),
        s_x1 = hex(&s_g2.x1),
        s_x0 = hex(&s_g2.x0),
        s_y1 = hex(&s_g2.y1),
        s_y0 = hex(&s_g2.y0),
        acc_len = 4 + distinct.len(),
        distinct = distinct.len(),
        g_x1 = hex(&g2.x1),
        g_x0 = hex(&g2.x0),
        g_y1 = hex(&g2.y1),
        g_y0 = hex(&g2.y0),
    );
    Ok((source, table))
}

/// Where a chain contract keeps its data: the distinct points of the segments' keys and which
/// segment uses which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainData {
    /// In the chain contract's own code (no account to load it from; the least gas).
    InCode,
    /// In data contracts deployed before the chain contract, whose code hashes its
    /// constructor checks (for chains whose data would not fit in the contract).
    InContracts,
}

/// Generates and compiles every segment's verifier and the chain contract, with the chain's
/// data in the contract's code where it fits and in data contracts otherwise.
pub fn build_chain(vks: &[VerifyingKey]) -> Result<ChainArtifacts, BuildError> {
    match build_chain_with(vks, ChainData::InCode) {
        Err(BuildError::TooLarge { .. }) => build_chain_with(vks, ChainData::InContracts),
        built => built,
    }
}

/// [`build_chain`] with the chain's data where `data` says.
pub fn build_chain_with(
    vks: &[VerifyingKey],
    data: ChainData,
) -> Result<ChainArtifacts, BuildError> {
    let inline = data == ChainData::InCode;
    let (source, table) = chain_solidity_with(vks, inline)?;
    let compiled = crate::solc::compile(&source, CHAIN_CONTRACT_NAME)?;
    if compiled.runtime.len() > crate::MAX_RUNTIME_SIZE {
        return Err(BuildError::TooLarge {
            size: compiled.runtime.len(),
            limit: crate::MAX_RUNTIME_SIZE,
        });
    }
    let data_parts = if inline {
        Vec::new()
    } else {
        crate::key_parts(table.chunks(crate::generate::MAX_KEY_PART))
    };
    let segments = vks
        .iter()
        .enumerate()
        .map(|(index, vk)| {
            crate::build(vk).map_err(|e| BuildError::Segment {
                index,
                reason: Box::new(e),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChainArtifacts {
        segments,
        source,
        compiled,
        data_parts,
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

//! The Solidity verifier of a Groth16 key.
//!
//! Same entry point as the halo2 verifier, `verifyProof(bytes proof, uint256[] instances)
//! returns (bool)`, so calldata, deployment and `verify-evm` are shared. The contract checks
//! `e(-A, B) e(alpha, beta) e(IC_0 + sum x_i IC_i, gamma) e(C, delta) = 1` with one call to the
//! pairing precompile, after folding the public values into `IC_0` with one `ecMul` and one
//! `ecAdd` per non-zero value.
//!
//! It rejects exactly what the Rust verifier rejects: a proof that is not 256 bytes, a wrong
//! number of public values, a public value at or above the scalar field's modulus, a
//! coordinate at or above the base field's modulus, a point off its curve or (for `B`) outside
//! the prime-order subgroup, and `B` at infinity; the precompiles check the curve and subgroup
//! membership, and the contract checks the rest before calling them.
//!
//! The public-value bases `IC_i` (64 bytes each) are constants in the code when there are
//! at most [`INLINE_BASES`] of them, and otherwise live in key contracts (data contracts read
//! with `extcodecopy`, pinned by code hash in the constructor), as the halo2 verifier's key
//! data does.

use std::fmt::Write;

use sha3::{Digest, Keccak256};
use zkml_verifier::encoding::hex0x;
use zkml_verifier::groth16::{Groth16Key, PROOF_LEN};

use crate::{BuildError, VerifierArtifacts, GENERATED_MARKER, MAX_KEY_PART, MAX_KEY_PARTS};

/// The most public-value bases written into the code as constants; more go to key contracts.
pub const INLINE_BASES: usize = 256;

const Q_HEX: &str = "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
const R_HEX: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

/// Where the bases table starts in memory (after the scratch and pairing areas).
const TABLE: usize = 0x600;

fn word(w: &[u8; 32]) -> String {
    hex0x(w)
}

/// The Solidity source of the verifier for `key`, and the key contracts' data (empty when the
/// bases are inline).
pub fn solidity(key: &Groth16Key, contract: &str) -> Result<(String, Vec<u8>), BuildError> {
    let n = key.num_public();
    let mut table = Vec::with_capacity(key.ic.len() * 64);
    for p in &key.ic {
        table.extend_from_slice(&p.to_array());
    }
    let inline = key.ic.len() <= INLINE_BASES;
    if !inline && table.len() > MAX_KEY_PART * MAX_KEY_PARTS {
        return Err(crate::GenerateError::Unsupported(format!(
            "{n} public values: their bases need {} bytes of key data, over the {} that {} key contracts hold",
            table.len(),
            MAX_KEY_PART * MAX_KEY_PARTS,
            MAX_KEY_PARTS
        ))
        .into());
    }
    let mut key_decls = String::new();
    let mut key_params = Vec::new();
    let mut key_checks = String::new();
    let mut table_fill = String::new();
    if inline {
        for (i, p) in key.ic.iter().enumerate() {
            let at = TABLE + 64 * i;
            writeln!(
                table_fill,
                "            mstore({at:#x}, {})\n            mstore({:#x}, {})",
                word(&p.x),
                at + 32,
                word(&p.y)
            )
            .expect("string");
        }
    } else {
        for (i, part) in table.chunks(MAX_KEY_PART).enumerate() {
            let mut code = vec![0u8];
            code.extend_from_slice(part);
            let hash = hex0x(&Keccak256::digest(&code));
            writeln!(
                key_decls,
                "    /// @notice Key contract {i}: bytes {}..{} of the public-value bases.
    address public immutable key{i};
    /// @notice Keccak-256 of key contract {i}'s runtime code.
    bytes32 public constant KEY{i}_CODEHASH = {hash};",
                i * MAX_KEY_PART,
                i * MAX_KEY_PART + part.len(),
            )
            .expect("string");
            key_params.push(format!("address keyPart{i}"));
            writeln!(
                key_checks,
                "        require(keyPart{i}.codehash == KEY{i}_CODEHASH, \"zkml: wrong key contract {i}\");\n        key{i} = keyPart{i};"
            )
            .expect("string");
            writeln!(
                table_fill,
                "            extcodecopy(sload_key{i}, {:#x}, 1, {:#x})",
                TABLE + i * MAX_KEY_PART,
                part.len()
            )
            .expect("string");
        }
    }
    // Immutables cannot be read inside assembly blocks: copy them to locals first.
    let key_locals: String = (0..key_params.len())
        .map(|i| format!("        address sload_key{i} = key{i};\n"))
        .collect();
    let g2 = |p: &zkml_verifier::vk::G2Bytes, at: usize| {
        format!(
            "            mstore({at:#x}, {})\n            mstore({:#x}, {})\n            mstore({:#x}, {})\n            mstore({:#x}, {})",
            word(&p.x1),
            at + 0x20,
            word(&p.x0),
            at + 0x40,
            word(&p.y1),
            at + 0x60,
            word(&p.y0)
        )
    };
    let beta = g2(&key.beta_g2, 0x300);
    let gamma = g2(&key.gamma_g2, 0x3c0);
    let delta = g2(&key.delta_g2, 0x480);
    let constructor = if key_params.is_empty() {
        String::new()
    } else {
        format!(
            "    /// @param keyPart0 The deployed key contracts, in order; each one's code must hash to
    /// its `KEY<i>_CODEHASH`.
    constructor({}) {{
{key_checks}    }}

",
            key_params.join(", ")
        )
    };
    let digest = hex0x(&key.key_digest());
    let program = hex0x(&key.model.program_digest);
    let alpha_x = word(&key.alpha_g1.x);
    let alpha_y = word(&key.alpha_g1.y);
    let source = format!(
        r#"// SPDX-License-Identifier: MIT
// {GENERATED_MARKER}: regenerate it rather than edit it.
pragma solidity ^0.8.19;

/// @title zkml Groth16 verifier
/// @notice Verifies Groth16 (BN254) proofs for one compiled model. Generated by
/// `zkml create-evm-verifier` from a verifying key whose digest is {digest}; the model
/// program digest is {program}.
/// @dev A proof is A (G1), B (G2), C (G1): 256 bytes, coordinates as 32-byte big-endian
/// words, G2 as x.c1, x.c0, y.c1, y.c0. The public instance holds {n} values (see the
/// verifying key's model description).
contract {contract} {{
{key_decls}
{constructor}    /// @notice Returns true when `proof` is a valid proof for the public `instances`; false
    /// for any malformed or invalid proof.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {{
        if (proof.length != {PROOF_LEN} || instances.length != {n}) {{
            return false;
        }}
{key_locals}        bool ok;
        assembly {{
            let q := {Q_HEX}
            let r := {R_HEX}
            // The public-value bases IC_0..IC_{n}, x || y each, from {TABLE:#x}.
{table_fill}            // vk_x = IC_0 + sum x_i IC_i, accumulated at 0x80 (ecAdd reads 0x80..0x100).
            mstore(0x80, mload({TABLE:#x}))
            mstore(0xa0, mload({:#x}))
            ok := 1
            let inst := instances.offset
            for {{ let i := 0 }} lt(i, {n}) {{ i := add(i, 1) }} {{
                let s := calldataload(add(inst, shl(5, i)))
                if iszero(lt(s, r)) {{
                    ok := 0
                    break
                }}
                if s {{
                    let base := add({:#x}, shl(6, i))
                    mstore(0xc0, mload(base))
                    mstore(0xe0, mload(add(base, 0x20)))
                    mstore(0x100, s)
                    ok := and(ok, staticcall(gas(), 0x07, 0xc0, 0x60, 0xc0, 0x40))
                    ok := and(ok, staticcall(gas(), 0x06, 0x80, 0x80, 0x80, 0x40))
                }}
            }}
            let p := proof.offset
            let ax := calldataload(p)
            let ay := calldataload(add(p, 0x20))
            // Canonical coordinates of A (negated here) and C; B's and C's the precompile checks.
            ok := and(ok, and(lt(ax, q), lt(ay, q)))
            // B at infinity (all zero) is not a G2 point for the Rust verifier either.
            let b0 := calldataload(add(p, 0x40))
            let b1 := calldataload(add(p, 0x60))
            let b2 := calldataload(add(p, 0x80))
            let b3 := calldataload(add(p, 0xa0))
            ok := and(ok, iszero(iszero(or(or(b0, b1), or(b2, b3)))))
            if ok {{
                // e(-A, B) e(alpha, beta) e(vk_x, gamma) e(C, delta) == 1
                mstore(0x200, ax)
                mstore(0x220, mod(sub(q, ay), q))
                mstore(0x240, b0)
                mstore(0x260, b1)
                mstore(0x280, b2)
                mstore(0x2a0, b3)
                mstore(0x2c0, {alpha_x})
                mstore(0x2e0, {alpha_y})
{beta}
                mstore(0x380, mload(0x80))
                mstore(0x3a0, mload(0xa0))
{gamma}
                mstore(0x440, calldataload(add(p, 0xc0)))
                mstore(0x460, calldataload(add(p, 0xe0)))
{delta}
                ok := staticcall(gas(), 0x08, 0x200, 0x300, 0x00, 0x20)
                ok := and(ok, eq(mload(0x00), 1))
            }}
        }}
        return ok;
    }}
}}
"#,
        TABLE + 0x20,
        TABLE + 0x40,
    );
    Ok((source, if inline { Vec::new() } else { table }))
}

/// Generates, compiles and size-checks the verifier for a Groth16 key.
pub fn build(key: &Groth16Key) -> Result<VerifierArtifacts, BuildError> {
    let (source, table) = solidity(key, crate::CONTRACT_NAME)?;
    let compiled = crate::compile_deployable(&source)?;
    let key_parts = crate::key_parts(table.chunks(MAX_KEY_PART));
    Ok(VerifierArtifacts {
        source,
        compiled,
        key_parts,
        proof_len: PROOF_LEN,
        gates: None,
    })
}

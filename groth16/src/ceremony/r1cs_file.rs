//! The constraint system in iden3's `.r1cs` format (version 1), what `snarkjs groth16 setup`
//! reads:
//!
//! ```text
//! "r1cs", version u32 = 1, 3 sections, each: type u32, byte length u64, body
//! 1 header:      field size u32 = 32, the prime (32 bytes LE), wires u32, public outputs
//!                u32 = 0, public inputs u32 = k, private inputs u32 = 0, labels u64 = wires,
//!                constraints u32
//! 2 constraints: per constraint A, B, C, each: terms u32, then per term wire u32 and
//!                coefficient (32 bytes LE, canonical), wires increasing
//! 3 wire map:    per wire its label u64 (here the wire itself)
//! ```
//!
//! All integers little-endian. The public values are the instance, in order; the witnesses
//! follow. The rows binding the public values (`A = z_i`) are not in the file: snarkjs adds
//! them itself, as arkworks does.

use std::io::Write;

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

use crate::r1cs::R1cs;
use crate::Groth16Error;

const FIELD_BYTES: usize = 32;
const HEADER_LEN: u64 = 4 + 32 + 4 * 4 + 8 + 4;

fn lc_len(terms: usize) -> u64 {
    4 + terms as u64 * (4 + FIELD_BYTES as u64)
}

fn u32_of(n: usize, what: &str) -> Result<u32, Groth16Error> {
    u32::try_from(n).map_err(|_| {
        Groth16Error::Program(format!(
            "{n} {what} do not fit the .r1cs format (at most 2^32 - 1)"
        ))
    })
}

fn constraints_len(r1cs: &R1cs) -> u64 {
    r1cs.constraints
        .iter()
        .map(|k| {
            [&k.a, &k.b, &k.c]
                .into_iter()
                .map(|lc| lc_len(r1cs.canonical(lc).len()))
                .sum::<u64>()
        })
        .sum()
}

/// The byte length of `r1cs`'s `.r1cs` file.
pub fn r1cs_file_len(r1cs: &R1cs) -> u64 {
    12 + 3 * 12 + HEADER_LEN + constraints_len(r1cs) + 8 * r1cs.num_wires() as u64
}

fn section<W: Write>(out: &mut W, kind: u32, len: u64) -> std::io::Result<()> {
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())
}

fn io(e: std::io::Error) -> Groth16Error {
    Groth16Error::Key(format!("cannot write the .r1cs file: {e}"))
}

/// Writes `r1cs` as a `.r1cs` file; returns the bytes written.
pub fn write_r1cs<W: Write>(r1cs: &R1cs, out: &mut W) -> Result<u64, Groth16Error> {
    let wires = u32_of(r1cs.num_wires(), "variables")?;
    let public = u32_of(r1cs.num_instance, "public values")?;
    let constraints = u32_of(r1cs.constraints.len(), "constraints")?;
    let mut head = b"r1cs".to_vec();
    head.extend_from_slice(&1u32.to_le_bytes());
    head.extend_from_slice(&3u32.to_le_bytes());
    section(&mut head, 1, HEADER_LEN).map_err(io)?;
    head.extend_from_slice(&(FIELD_BYTES as u32).to_le_bytes());
    head.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    head.extend_from_slice(&wires.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&public.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&u64::from(wires).to_le_bytes());
    head.extend_from_slice(&constraints.to_le_bytes());
    section(&mut head, 2, constraints_len(r1cs)).map_err(io)?;
    out.write_all(&head).map_err(io)?;
    let mut written = head.len() as u64;
    let mut row = Vec::new();
    for k in &r1cs.constraints {
        row.clear();
        for lc in [&k.a, &k.b, &k.c] {
            let terms = r1cs.canonical(lc);
            row.extend_from_slice(&(terms.len() as u32).to_le_bytes());
            for (wire, c) in terms {
                row.extend_from_slice(&(wire as u32).to_le_bytes());
                row.extend_from_slice(&c.into_bigint().to_bytes_le());
            }
        }
        out.write_all(&row).map_err(io)?;
        written += row.len() as u64;
    }
    let mut map = Vec::with_capacity(12 + 8 * r1cs.num_wires());
    section(&mut map, 3, 8 * u64::from(wires)).map_err(io)?;
    for w in 0..u64::from(wires) {
        map.extend_from_slice(&w.to_le_bytes());
    }
    out.write_all(&map).map_err(io)?;
    Ok(written + map.len() as u64)
}

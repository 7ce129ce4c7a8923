//! snarkjs' Groth16 `.zkey` files (version 1), read and checked against our constraint system.
//!
//! ```text
//! "zkey", version u32 = 1, sections u32, each: type u32, byte length u64, body
//! 1  protocol u32 (1: Groth16)
//! 2  header: base field size u32 = 32, q, scalar field size u32 = 32, r, variables u32,
//!    public values u32, domain size u32, then alpha1, beta1, beta2, gamma2, delta1, delta2
//! 3  IC: the verifying key's public-value bases (public values + 1 points of G1)
//! 4  coefficients: count u32, then per entry matrix u32 (0: A, 1: B), row u32, wire u32,
//!    value (32 bytes)
//! 5  A query, 6 B query in G1, 7 B query in G2 (one point per variable)
//! 8  C query (one point per witness)
//! 9  H query (one point per domain element; the snarkjs QAP layout, see `crate::qap`)
//! 10 contributions: the circuit's hash (64 bytes), the contribution count u32, then the
//!    contributions (the ceremony's transcript, which `snarkjs zkey verify` audits; only the
//!    count is read here)
//! ```
//!
//! Integers are little-endian. Field elements are 32 bytes, little-endian, in Montgomery form
//! (`x·2^256 mod p`); a coefficient is stored with the factor `2^256` twice. A G1 point is
//! `x ‖ y`, a G2 point `x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1`, and all zeros is the point at infinity.

use std::collections::HashMap;

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{BigInt, PrimeField, UniformRand};
use rayon::prelude::*;

use crate::r1cs::R1cs;
use crate::{Groth16Error, ProvingKey, VerifyingKey};

const G1_LEN: usize = 64;
const G2_LEN: usize = 128;
const COEF_LEN: usize = 12 + 32;
const HEADER_LEN: usize = 4 + 32 + 4 + 32 + 12 + 3 * G1_LEN + 3 * G2_LEN;

/// A ceremony's keys.
#[derive(Clone, Debug)]
pub struct Zkey {
    /// The proving key (in the snarkjs QAP layout).
    pub pk: ProvingKey,
    /// Phase-2 contributions the file records (its section 10), where it has that section.
    pub contributions: Option<u32>,
}

fn bad(m: impl std::fmt::Display) -> Groth16Error {
    Groth16Error::Key(format!("the .zkey file: {m}"))
}

/// A little-endian reader over one part of the file.
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Groth16Error> {
        if self.bytes.len() < n {
            return Err(bad(format!("{} ends early", self.what)));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, Groth16Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    fn u64(&mut self) -> Result<u64, Groth16Error> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
}

fn limbs(bytes: &[u8]) -> BigInt<4> {
    let mut l = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        l[i] = u64::from_le_bytes(chunk.try_into().expect("8"));
    }
    BigInt::new(l)
}

/// A base-field element in Montgomery form.
fn fq(bytes: &[u8]) -> Option<Fq> {
    let b = limbs(bytes);
    (b < Fq::MODULUS).then(|| Fq::new_unchecked(b))
}

fn g1(bytes: &[u8]) -> Option<G1Affine> {
    if bytes.iter().all(|&b| b == 0) {
        return Some(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(fq(&bytes[..32])?, fq(&bytes[32..64])?);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

fn g2(bytes: &[u8]) -> Option<G2Affine> {
    if bytes.iter().all(|&b| b == 0) {
        return Some(G2Affine::zero());
    }
    let x = Fq2::new(fq(&bytes[..32])?, fq(&bytes[32..64])?);
    let y = Fq2::new(fq(&bytes[64..96])?, fq(&bytes[96..128])?);
    let p = G2Affine::new_unchecked(x, y);
    (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
}

fn point<P>(bytes: &[u8], what: &str, decode: fn(&[u8]) -> Option<P>) -> Result<P, Groth16Error> {
    decode(bytes).ok_or_else(|| bad(format!("{what} is not a valid curve point")))
}

/// `count` points of `len` bytes each, the whole section.
fn points<P: Send>(
    body: &[u8],
    count: usize,
    len: usize,
    what: &str,
    decode: fn(&[u8]) -> Option<P>,
) -> Result<Vec<P>, Groth16Error> {
    if count.checked_mul(len) != Some(body.len()) {
        return Err(bad(format!(
            "the {what} section has {} bytes, not {count} points of {len}",
            body.len()
        )));
    }
    body.par_chunks_exact(len)
        .enumerate()
        .map(|(i, b)| decode(b).ok_or(i))
        .collect::<Result<Vec<P>, usize>>()
        .map_err(|i| {
            bad(format!(
                "point {i} of the {what} is not a valid curve point"
            ))
        })
}

/// The file's sections by type.
fn sections(bytes: &[u8]) -> Result<HashMap<u32, &[u8]>, Groth16Error> {
    let mut r = Reader {
        bytes,
        what: "the file header",
    };
    if r.take(4).ok() != Some(b"zkey".as_slice()) {
        return Err(bad("not a snarkjs key (no \"zkey\" header)"));
    }
    let version = r.u32()?;
    if version != 1 {
        return Err(bad(format!(
            "version {version} is not supported (zkml reads version 1)"
        )));
    }
    let count = r.u32()?;
    let mut out = HashMap::new();
    r.what = "a section";
    for _ in 0..count {
        let kind = r.u32()?;
        let len = usize::try_from(r.u64()?).map_err(|_| bad("a section is too long"))?;
        let body = r.take(len)?;
        if out.insert(kind, body).is_some() {
            return Err(bad(format!("section {kind} appears twice")));
        }
    }
    if !r.bytes.is_empty() {
        return Err(bad(format!(
            "{} bytes follow the last section",
            r.bytes.len()
        )));
    }
    Ok(out)
}

fn need<'a>(s: &HashMap<u32, &'a [u8]>, kind: u32, what: &str) -> Result<&'a [u8], Groth16Error> {
    s.get(&kind)
        .copied()
        .ok_or_else(|| bad(format!("it has no {what} section ({kind})")))
}

/// The coefficient entries `(matrix, row, wire, value)` snarkjs derives from `r1cs`: its `A`
/// and `B` rows, then `A = z_s` for the constant and each public value, sorted.
fn expected_coefficients(r1cs: &R1cs) -> Vec<(u32, u32, u32, Fr)> {
    let m = r1cs.constraints.len();
    let mut out = Vec::with_capacity(r1cs.nonzeros() + r1cs.num_instance + 1);
    for (row, k) in r1cs.constraints.iter().enumerate() {
        for (matrix, lc) in [(0u32, &k.a), (1, &k.b)] {
            for (wire, c) in r1cs.canonical(lc) {
                out.push((matrix, row as u32, wire as u32, c));
            }
        }
    }
    for s in 0..=r1cs.num_instance {
        out.push((0, (m + s) as u32, s as u32, Fr::from(1u64)));
    }
    out.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    out
}

fn coefficients(body: &[u8]) -> Result<Vec<(u32, u32, u32, Fr)>, Groth16Error> {
    let mut r = Reader {
        bytes: body,
        what: "the coefficients section",
    };
    let n = r.u32()? as usize;
    if n.checked_mul(COEF_LEN) != Some(r.bytes.len()) {
        return Err(bad(format!(
            "the coefficients section has {} bytes for {n} entries",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let matrix = r.u32()?;
        let row = r.u32()?;
        let wire = r.u32()?;
        let raw = limbs(r.take(32)?);
        if raw >= Fr::MODULUS {
            return Err(bad("a coefficient is not below the field's modulus"));
        }
        // Stored as c·R² mod r: two Montgomery reductions give c.
        let once = Fr::new_unchecked(raw).into_bigint();
        out.push((matrix, row, wire, Fr::new_unchecked(once)));
    }
    out.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    Ok(out)
}

/// `e(a1, d2) = e(d1, a2)`: `a1, a2` hold the same exponent relative to the pair `d1, d2`
/// (delta: whatever generators the setup used).
fn same_ratio(a1: G1Affine, a2: G2Affine, d1: G1Affine, d2: G2Affine) -> bool {
    Bn254::pairing(a1, d2) == Bn254::pairing(d1, a2)
}

/// Reads a snarkjs Groth16 `.zkey` made for `r1cs`.
///
/// Checked: the format, the curve (BN254), the counts (variables, public values, domain size)
/// and the `A` and `B` coefficients against `r1cs`, every point on the curve and in its
/// subgroup, and that `beta` and every variable's two `B` points hold the same exponent in G1
/// and G2 relative to `delta` (`e(x1, δ2) = e(δ1, x2)`; the `B` points as one random linear
/// combination, wrong with probability at most `2^-128`). The ceremony's transcript is not: `snarkjs zkey verify` audits it.
pub fn read_zkey(bytes: &[u8], r1cs: &R1cs) -> Result<Zkey, Groth16Error> {
    let s = sections(bytes)?;
    let mut p = Reader {
        bytes: need(&s, 1, "protocol")?,
        what: "the protocol section",
    };
    let protocol = p.u32()?;
    if protocol != 1 {
        return Err(bad(format!(
            "its protocol is {protocol}, not Groth16 (1): a PLONK or FFLONK key?"
        )));
    }
    let head = need(&s, 2, "header")?;
    if head.len() != HEADER_LEN {
        return Err(bad(format!(
            "the header has {} bytes, not {HEADER_LEN} (another curve?)",
            head.len()
        )));
    }
    let mut h = Reader {
        bytes: head,
        what: "the header",
    };
    let (n8q, q) = (h.u32()?, limbs(h.take(32)?));
    let (n8r, r) = (h.u32()?, limbs(h.take(32)?));
    if n8q != 32 || n8r != 32 || q != Fq::MODULUS || r != Fr::MODULUS {
        return Err(bad("its curve is not BN254 (bn128)"));
    }
    let vars = h.u32()? as usize;
    let public = h.u32()? as usize;
    let domain = h.u32()? as usize;
    let expected_domain = (r1cs.constraints.len() + r1cs.num_instance + 1).next_power_of_two();
    if vars != r1cs.num_wires() || public != r1cs.num_instance || domain != expected_domain {
        return Err(bad(format!(
            "it is for a circuit of {vars} variables, {public} public values and a domain of \
             {domain}; this constraint system has {}, {} and {expected_domain} (other \
             visibility options than at --export-r1cs, or another model?)",
            r1cs.num_wires(),
            r1cs.num_instance
        )));
    }
    let alpha_g1 = point(h.take(G1_LEN)?, "alpha (G1)", g1)?;
    let beta_g1 = point(h.take(G1_LEN)?, "beta (G1)", g1)?;
    let beta_g2 = point(h.take(G2_LEN)?, "beta (G2)", g2)?;
    let gamma_g2 = point(h.take(G2_LEN)?, "gamma (G2)", g2)?;
    let delta_g1 = point(h.take(G1_LEN)?, "delta (G1)", g1)?;
    let delta_g2 = point(h.take(G2_LEN)?, "delta (G2)", g2)?;
    if [alpha_g1, beta_g1, delta_g1].iter().any(|p| p.is_zero())
        || [beta_g2, gamma_g2, delta_g2].iter().any(|p| p.is_zero())
    {
        return Err(bad("a key element is the point at infinity"));
    }
    // `snarkjs groth16 setup` leaves delta at the generators (and equal to gamma) until a
    // phase-2 contribution: such keys let anyone prove anything.
    if delta_g2 == gamma_g2
        || delta_g1 == G1Affine::generator()
        || delta_g2 == G2Affine::generator()
    {
        return Err(bad(
            "it has no phase-2 contribution (delta is still the generator, or equal to gamma): \
             anyone could forge proofs with it; contribute (snarkjs zkey contribute) and use the \
             final .zkey",
        ));
    }
    if !same_ratio(beta_g1, beta_g2, delta_g1, delta_g2) {
        return Err(bad("beta or delta differs between G1 and G2"));
    }

    let ours = expected_coefficients(r1cs);
    let theirs = coefficients(need(&s, 4, "coefficients")?)?;
    if theirs.len() != ours.len() {
        return Err(bad(format!(
            "its circuit has {} A and B coefficients, this constraint system {}: it was made \
             for another circuit (other visibility options than at --export-r1cs? else export \
             the .r1cs again and rerun the ceremony's phase 2)",
            theirs.len(),
            ours.len()
        )));
    }
    if let Some((t, _)) = theirs.iter().zip(&ours).find(|(t, o)| t != o) {
        return Err(bad(format!(
            "its circuit differs from this constraint system at row {} of {}: it was made for \
             another circuit (other visibility options than at --export-r1cs? else export the \
             .r1cs again and rerun the ceremony's phase 2)",
            t.1,
            if t.0 == 0 { "A" } else { "B" }
        )));
    }
    drop((ours, theirs));

    let witnesses = vars - public - 1;
    let ic = points(need(&s, 3, "IC")?, public + 1, G1_LEN, "IC", g1)?;
    let a_query = points(need(&s, 5, "A query")?, vars, G1_LEN, "A query", g1)?;
    let b_g1_query = points(
        need(&s, 6, "B query (G1)")?,
        vars,
        G1_LEN,
        "B query (G1)",
        g1,
    )?;
    let b_g2_query = points(
        need(&s, 7, "B query (G2)")?,
        vars,
        G2_LEN,
        "B query (G2)",
        g2,
    )?;
    let l_query = points(need(&s, 8, "C query")?, witnesses, G1_LEN, "C query", g1)?;
    let h_query = points(need(&s, 9, "H query")?, domain, G1_LEN, "H query", g1)?;

    let rng = &mut rand::rngs::OsRng;
    let rho: Vec<Fr> = (0..vars).map(|_| Fr::from(u128::rand(rng))).collect();
    let b1 = G1Projective::msm(&b_g1_query, &rho).map_err(|_| bad("B query length"))?;
    let b2 = G2Projective::msm(&b_g2_query, &rho).map_err(|_| bad("B query length"))?;
    if !same_ratio(b1.into_affine(), b2.into_affine(), delta_g1, delta_g2) {
        return Err(bad("its B query differs between G1 and G2"));
    }

    let contributions = s.get(&10).and_then(|b| {
        let count = b.get(64..68)?;
        Some(u32::from_le_bytes(count.try_into().expect("4")))
    });
    Ok(Zkey {
        contributions,
        pk: ProvingKey {
            vk: VerifyingKey {
                alpha_g1,
                beta_g2,
                gamma_g2,
                delta_g2,
                gamma_abc_g1: ic,
            },
            beta_g1,
            delta_g1,
            a_query,
            b_g1_query,
            b_g2_query,
            h_query,
            l_query,
        },
    })
}

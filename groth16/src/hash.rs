//! Hashed values in R1CS: the halo2 circuits' packing and Poseidon sponge (the same
//! permutation, constants, padding and packing; see `zkml_circuits::poseidon`), so that a hash
//! means the same thing in both backends.
//!
//! Packing is free (each packed element is a linear combination of the values, offset into
//! their envelopes). The permutation costs 3 constraints per S-box (`x^2`, `x^4`, `x^5`): 8 full
//! rounds of 3 S-boxes and 57 partial rounds of 1, so 243 constraints per permutation, one
//! permutation per two packed elements.

use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::{Field, One, PrimeField, Zero};
use zkml_circuits::poseidon::{self, WIDTH};

use crate::builder::{Builder, Sig};
use crate::r1cs::{field, Lc, Var};

/// A linear combination with field coefficients and its value.
#[derive(Clone, Debug)]
pub(crate) struct FSig {
    terms: Lc,
    pub(crate) val: Fr,
}

impl FSig {
    fn constant(c: Fr) -> Self {
        Self {
            terms: if c.is_zero() {
                vec![]
            } else {
                vec![(Var::One, c)]
            },
            val: c,
        }
    }

    fn var(v: Var, val: Fr) -> Self {
        Self {
            terms: vec![(v, Fr::one())],
            val,
        }
    }

    /// `self + c * s`.
    fn add_scaled(&mut self, s: &FSig, c: Fr) {
        self.terms.extend(s.terms.iter().map(|&(v, k)| (v, k * c)));
        self.val += s.val * c;
    }

    /// The same combination with each variable once.
    fn merged(mut self) -> Self {
        self.terms.sort_by_key(|t| t.0);
        let mut out: Lc = Vec::with_capacity(self.terms.len());
        for (v, c) in self.terms {
            match out.last_mut() {
                Some((lv, lc)) if *lv == v => *lc += c,
                _ => out.push((v, c)),
            }
        }
        out.retain(|(_, c)| !c.is_zero());
        self.terms = out;
        self
    }
}

struct Constants {
    round: Vec<[Fr; WIDTH]>,
    mds: [[Fr; WIDTH]; WIDTH],
}

fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let (round, mds) = poseidon::constants_le_bytes();
        let f = |b: &[u8; 32]| Fr::from_le_bytes_mod_order(b);
        Constants {
            round: round.iter().map(|r| r.each_ref().map(f)).collect(),
            mds: mds.each_ref().map(|row| row.each_ref().map(f)),
        }
    })
}

/// `x^5` with three constraints.
fn sbox(b: &mut Builder, x: &FSig) -> FSig {
    let x2v = x.val.square();
    let x2 = b.witness_fr(x2v);
    b.enforce_lc(x.terms.clone(), x.terms.clone(), vec![(x2, Fr::one())]);
    let x4v = x2v.square();
    let x4 = b.witness_fr(x4v);
    b.enforce_lc(
        vec![(x2, Fr::one())],
        vec![(x2, Fr::one())],
        vec![(x4, Fr::one())],
    );
    let x5v = x4v * x.val;
    let x5 = b.witness_fr(x5v);
    b.enforce_lc(
        vec![(x4, Fr::one())],
        x.terms.clone(),
        vec![(x5, Fr::one())],
    );
    FSig::var(x5, x5v)
}

/// The Poseidon permutation over R1CS signals.
fn permute(b: &mut Builder, state: [FSig; WIDTH]) -> [FSig; WIDTH] {
    let c = constants();
    let mut state = state;
    for r in 0..poseidon::ROUNDS {
        let mut t: Vec<FSig> = Vec::with_capacity(WIDTH);
        for (i, s) in state.iter().enumerate() {
            let mut x = s.clone();
            x.add_scaled(&FSig::constant(Fr::one()), c.round[r][i]);
            if i == 0 || poseidon::is_full_round(r) {
                x = sbox(b, &x.merged());
            }
            t.push(x);
        }
        state = std::array::from_fn(|i| {
            let mut acc = FSig::constant(Fr::zero());
            for (j, tj) in t.iter().enumerate() {
                acc.add_scaled(tj, c.mds[i][j]);
            }
            acc.merged()
        });
    }
    state
}

/// The sponge of `zkml_circuits::poseidon::hash` over signals.
fn sponge(b: &mut Builder, message: &[FSig]) -> FSig {
    let len = Fr::from(message.len() as u64) * Fr::from(2u64).pow([64u64]);
    let mut state = [
        FSig::constant(len),
        FSig::constant(Fr::zero()),
        FSig::constant(Fr::zero()),
    ];
    let zero = FSig::constant(Fr::zero());
    let padded: Vec<FSig> = if message.is_empty() {
        vec![zero.clone(), zero.clone()]
    } else {
        message.to_vec()
    };
    for pair in padded.chunks(2) {
        state[1].add_scaled(&pair[0], Fr::one());
        state[2].add_scaled(pair.get(1).unwrap_or(&zero), Fr::one());
        state = permute(b, state);
    }
    let [h, _, _] = state;
    h
}

/// Packs `(signal, envelope bits)` pairs as `zkml_circuits::poseidon::pack` does and hashes
/// them; returns the hash as a signal. The values must lie in their envelopes (the program's
/// range checks and bounds guarantee it, as in the circuits).
pub(crate) fn hash_values(b: &mut Builder, values: &[(&Sig, u32)]) -> FSig {
    let bits: Vec<u32> = values.iter().map(|&(_, n)| n).collect();
    let slots = poseidon::pack_slots(&bits);
    let count = slots.last().map_or(0, |s| s.element + 1);
    let mut elements = vec![FSig::constant(Fr::zero()); count];
    for (&(s, n), slot) in values.iter().zip(&slots) {
        let weight = Fr::from(2u64).pow([u64::from(slot.shift)]);
        let offset = field(1i128 << (n - 1));
        let e = &mut elements[slot.element];
        for &(v, k) in &s.terms {
            e.terms.push((v, field(k) * weight));
        }
        e.val += (field(s.val) + offset) * weight;
        e.terms.push((Var::One, offset * weight));
    }
    let elements: Vec<FSig> = elements.into_iter().map(FSig::merged).collect();
    sponge(b, &elements)
}

/// Binds a hash to a new public value (one constraint); returns the value.
pub(crate) fn publish(b: &mut Builder, h: &FSig) -> Fr {
    let inst = b.instance_fr(h.val);
    b.enforce_lc(
        h.terms.clone(),
        vec![(Var::One, Fr::one())],
        vec![(inst, Fr::one())],
    );
    h.val
}

//! Poseidon over BN254's scalar field, and how tensors are hashed with it.
//!
//! The permutation is the standard instance for this field: width 3, S-box `x^5`, 8 full and
//! 57 partial rounds, round constants and MDS matrix from the reference Grain LFSR generation
//! (the `poseidon-primitives` crate generates them; the tests pin known values).
//!
//! ```text
//! round r:  s_i <- s_i + rc[r][i]                  i < 3
//!           s_i <- s_i^5     (full rounds: every i; partial rounds: i = 0 only)
//!           s   <- MDS * s
//! ```
//!
//! **Sponge.** A message `m_1 .. m_L` of field elements (`L >= 1`) is absorbed two at a time:
//! the state starts as `[2^64 * L, 0, 0]`, each pair (the last one padded with a zero) is added
//! to `s_1, s_2` and the state permuted; the hash is `s_0` after the last permutation. The
//! length in the capacity element separates messages of different lengths.
//!
//! **Packing.** A list of integers, each with a signed envelope of `b` bits (`-2^(b-1) <= v <
//! 2^(b-1)`), becomes field elements by offsetting each value to `u = v + 2^(b-1)` and
//! concatenating the `b`-bit words little-end first, as many as fit in [`PACK_BITS`] bits, into
//! one element: `m = sum u_k 2^(p_k)`. The packing is injective, so the hash binds every value.

use std::sync::OnceLock;

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use poseidon_primitives::poseidon::primitives::Spec;

use crate::field::field;

/// State width.
pub const WIDTH: usize = 3;
/// Full rounds (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 57;
/// Bits packed into one field element (below the field's 254 bits, so packing never wraps).
pub const PACK_BITS: u32 = 252;

/// The Poseidon specification (parameters for the constant generator).
#[derive(Debug)]
pub struct ZkmlPoseidon;

impl Spec<Fr, WIDTH, 2> for ZkmlPoseidon {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }

    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }

    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }

    fn secure_mds() -> usize {
        0
    }
}

/// Round constants and MDS matrix.
#[derive(Clone, Debug)]
pub struct Constants {
    /// Per round, one constant per state word.
    pub round_constants: Vec<[Fr; WIDTH]>,
    /// The MDS matrix.
    pub mds: [[Fr; WIDTH]; WIDTH],
}

/// The constants, generated once.
pub fn constants() -> &'static Constants {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let (round_constants, mds, _) = ZkmlPoseidon::constants();
        Constants {
            round_constants,
            mds,
        }
    })
}

/// One row of constants as 32-byte little-endian integers.
pub type WordRow = [[u8; 32]; WIDTH];

/// The round constants and MDS matrix as 32-byte little-endian integers, for other
/// arithmetizations of the same permutation (the Groth16 backend's R1CS).
pub fn constants_le_bytes() -> (Vec<WordRow>, [WordRow; WIDTH]) {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let c = constants();
    let bytes = |f: &Fr| -> [u8; 32] { f.to_repr() };
    let rc = c
        .round_constants
        .iter()
        .map(|r| [bytes(&r[0]), bytes(&r[1]), bytes(&r[2])])
        .collect();
    let mds = c.mds.map(|row| row.map(|f| bytes(&f)));
    (rc, mds)
}

/// Whether round `r` is a full round.
pub fn is_full_round(r: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&r)
}

/// Total rounds.
pub const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;

/// One round applied to `state`.
pub fn round(state: &mut [Fr; WIDTH], r: usize) {
    let c = constants();
    let mut t = [Fr::ZERO; WIDTH];
    for i in 0..WIDTH {
        t[i] = state[i] + c.round_constants[r][i];
        if i == 0 || is_full_round(r) {
            t[i] = t[i].square().square() * t[i];
        }
    }
    for (i, s) in state.iter_mut().enumerate() {
        *s = (0..WIDTH).map(|j| c.mds[i][j] * t[j]).sum();
    }
}

/// The permutation.
pub fn permute(state: &mut [Fr; WIDTH]) {
    for r in 0..ROUNDS {
        round(state, r);
    }
}

/// A run of consecutive rounds computed in one circuit row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RowSpec {
    /// Full rounds (S-box on every word) or partial rounds (first word only).
    pub full: bool,
    /// Rounds in the row.
    pub rounds: usize,
    /// The row's first round absorbs two message words (the first row of a permutation).
    pub absorb: bool,
}

impl RowSpec {
    /// Lanes the row occupies.
    pub fn lanes(&self) -> usize {
        if self.full {
            6 * self.rounds + 2 * usize::from(self.absorb)
        } else {
            2 * self.rounds + 2
        }
    }
}

/// How one permutation's rounds are laid over rows of `lanes` operand lanes (at least 8):
/// rows of full rounds take 6 lanes per round (state and squares), rows of partial rounds 2
/// lanes per round (first word and its square) plus the state; partial rounds are spread evenly.
pub fn schedule(lanes: usize) -> Vec<RowSpec> {
    let full_cap = |absorb: bool| ((lanes - 2 * usize::from(absorb)) / 6).max(1);
    let partial_cap = ((lanes - 2) / 2).max(1);
    let mut rows = Vec::new();
    let full_rows = |rows: &mut Vec<RowSpec>, mut left: usize, mut absorb: bool| {
        while left > 0 {
            let n = left.min(full_cap(absorb));
            rows.push(RowSpec {
                full: true,
                rounds: n,
                absorb,
            });
            left -= n;
            absorb = false;
        }
    };
    full_rows(&mut rows, FULL_ROUNDS / 2, true);
    let count = PARTIAL_ROUNDS.div_ceil(partial_cap);
    for i in 0..count {
        let n = PARTIAL_ROUNDS / count + usize::from(i < PARTIAL_ROUNDS % count);
        rows.push(RowSpec {
            full: false,
            rounds: n,
            absorb: false,
        });
    }
    full_rows(&mut rows, FULL_ROUNDS / 2, false);
    rows
}

/// The distinct row kinds of [`schedule`], in first-use order (one gate each).
pub fn row_kinds(lanes: usize) -> Vec<RowSpec> {
    let mut kinds: Vec<RowSpec> = Vec::new();
    for r in schedule(lanes) {
        if !kinds.contains(&r) {
            kinds.push(r);
        }
    }
    kinds
}

/// The initial sponge state for a message of `len` elements.
pub fn initial_state(len: usize) -> [Fr; WIDTH] {
    [
        Fr::from(len as u64) * Fr::from(1u64 << 32).square(),
        Fr::ZERO,
        Fr::ZERO,
    ]
}

/// Hashes field elements with the sponge described in the module documentation.
pub fn hash(message: &[Fr]) -> Fr {
    let mut state = initial_state(message.len());
    let padded: Vec<Fr> = if message.is_empty() {
        vec![Fr::ZERO, Fr::ZERO]
    } else {
        message.to_vec()
    };
    for pair in padded.chunks(2) {
        state[1] += pair[0];
        state[2] += pair.get(1).copied().unwrap_or(Fr::ZERO);
        permute(&mut state);
    }
    state[0]
}

/// One value's place in the packed message: element index and bit position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Field element the value goes into.
    pub element: usize,
    /// Bit position of its word within the element.
    pub shift: u32,
}

/// Where each value of a list with envelopes `bits` lands when packed.
pub fn pack_slots(bits: &[u32]) -> Vec<Slot> {
    let mut slots = Vec::with_capacity(bits.len());
    let (mut element, mut used) = (0usize, 0u32);
    for &b in bits {
        debug_assert!((1..=64).contains(&b));
        if used + b > PACK_BITS {
            element += 1;
            used = 0;
        }
        slots.push(Slot {
            element,
            shift: used,
        });
        used += b;
    }
    slots
}

/// Packs `(value, envelope bits)` pairs into field elements; `None` when a value lies outside
/// its envelope (or an envelope is not 1 to 64 bits).
pub fn pack(values: &[(i128, u32)]) -> Option<Vec<Fr>> {
    let bits: Vec<u32> = values.iter().map(|&(_, b)| b).collect();
    if bits.iter().any(|b| !(1..=64).contains(b)) {
        return None;
    }
    let slots = pack_slots(&bits);
    let count = slots.last().map_or(0, |s| s.element + 1);
    let mut elements = vec![Fr::ZERO; count];
    for (&(v, b), slot) in values.iter().zip(&slots) {
        let offset = 1i128 << (b - 1);
        let u = v.checked_add(offset)?;
        if u < 0 || u >= 1i128 << b {
            return None;
        }
        elements[slot.element] += field(u) * Fr::from(2).pow_vartime([u64::from(slot.shift)]);
    }
    Some(elements)
}

/// The hash of a list of values with their envelopes (see the module documentation).
pub fn hash_values(values: &[(i128, u32)]) -> Option<Fr> {
    pack(values).map(|m| hash(&m))
}

/// A hiding commitment to values with their envelopes: the hash of `blinding` followed by the
/// packed values. With `blinding` drawn uniformly it reveals nothing about the values; two
/// segments of a program that share it link a tensor one outputs and the next takes.
pub fn commit_values(blinding: Fr, values: &[(i128, u32)]) -> Option<Fr> {
    let packed = pack(values)?;
    let mut message = Vec::with_capacity(packed.len() + 1);
    message.push(blinding);
    message.extend(packed);
    Some(hash(&message))
}

#[cfg(test)]
mod tests {
    use halo2_proofs::halo2curves::ff::PrimeField;
    use poseidon_primitives::poseidon::primitives::{ConstantLength, Hash};

    use super::*;

    fn hex(f: &Fr) -> String {
        let mut bytes = f.to_repr();
        bytes.reverse();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn constants_are_the_reference_ones() {
        let c = constants();
        assert_eq!(c.round_constants.len(), ROUNDS);
        assert_eq!(
            hex(&c.round_constants[0][0]),
            "0ee9a592ba9a9518d05986d656f40c2114c4993c11bb29938d21d47304cd8e6e"
        );
    }

    #[test]
    fn permutation_matches_the_reference_test_vector() {
        // Reference permutation of [0, 1, 2] for this instance.
        let mut state = [Fr::from(0), Fr::from(1), Fr::from(2)];
        permute(&mut state);
        assert_eq!(
            hex(&state[0]),
            "115cc0f5e7d690413df64c6b9662e9cf2a3617f2743245519e19607a4417189a"
        );
        assert_eq!(
            hex(&state[1]),
            "0fca49b798923ab0239de1c9e7a4a9a2210312b6a2f616d18b5a87f9b628ae29"
        );
        assert_eq!(
            hex(&state[2]),
            "0e7ae82e40091e63cbd4f16a6d16310b3729d4b6e138fcf54110e2867045a30c"
        );
    }

    #[test]
    fn permutation_matches_the_library() {
        let hasher = Hash::<Fr, ZkmlPoseidon, ConstantLength<2>, 3, 2>::init();
        for seed in 0..4u64 {
            let mut a = [Fr::from(seed), Fr::from(seed * 7 + 1), -Fr::from(seed + 3)];
            let mut b = a;
            permute(&mut a);
            hasher.permute(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn schedules_cover_every_round_within_the_lanes() {
        for lanes in [8, 12, 16, 24, 32, 64] {
            let rows = schedule(lanes);
            assert_eq!(rows.iter().map(|r| r.rounds).sum::<usize>(), ROUNDS);
            assert!(rows[0].absorb && rows[0].full);
            assert!(rows.iter().skip(1).all(|r| !r.absorb));
            assert!(rows.iter().all(|r| r.lanes() <= lanes && r.rounds >= 1));
            let mut r = 0;
            for row in &rows {
                for k in 0..row.rounds {
                    assert_eq!(
                        is_full_round(r + k),
                        row.full,
                        "lanes {lanes} round {}",
                        r + k
                    );
                }
                r += row.rounds;
            }
        }
        assert_eq!(schedule(8).len(), 4 + 19 + 4);
        assert_eq!(schedule(32).len(), 1 + 4 + 1);
    }

    #[test]
    fn hash_separates_lengths_and_orders() {
        let a = hash(&[Fr::from(1), Fr::from(2)]);
        let b = hash(&[Fr::from(2), Fr::from(1)]);
        let c = hash(&[Fr::from(1), Fr::from(2), Fr::ZERO]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(hash(&[]), hash(&[Fr::ZERO]));
    }

    #[test]
    fn packing_is_positional_and_checks_envelopes() {
        // 3-bit envelope: -4..=3 map to 0..=7.
        let m = pack(&[(-4, 3), (3, 3), (0, 3)]).unwrap();
        assert_eq!(m, vec![Fr::from(7 << 3 | 4 << 6)]);
        assert!(pack(&[(4, 3)]).is_none());
        assert!(pack(&[(-5, 3)]).is_none());
        assert!(pack(&[(0, 0)]).is_none());
        // 63 values of 4 bits fill one element exactly; the 64th starts the next.
        let slots = pack_slots(&[4; 64]);
        assert_eq!(
            slots[62],
            Slot {
                element: 0,
                shift: 248
            }
        );
        assert_eq!(
            slots[63],
            Slot {
                element: 1,
                shift: 0
            }
        );
    }
}

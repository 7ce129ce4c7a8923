//! Verifying a chain: a program cut into segments, each proven on its own and linked to its
//! neighbours by commitments.
//!
//! Segment `i`'s instance holds a commitment to the tensors it passes on
//! ([`PublicPart::Link`] of its outputs) and segment `i + 1`'s a commitment to the tensors it
//! takes ([`PublicPart::Link`] of its inputs), both with the blinding value the two share. A
//! chain verifies when every proof verifies under its own segment's key, in order, and each
//! segment's output commitment equals the next one's input commitment. The first segment's
//! inputs and the last segment's outputs are public, hashed or private as the program's were;
//! [`Verified`] hands them back to be compared with what the caller expects.
//!
//! The keys are the chain's identity: the caller supplies them, in order, from a source it
//! trusts (or pins them with [`chain_digest`]). Each proof names the key it was made for, so
//! a missing, extra, reordered, duplicated or foreign proof is reported as such, naming the
//! segment.
//!
//! The links are sound as far as the commitments bind: equal commitments of different values
//! would be a Poseidon collision, since each segment range-checks the values it commits to
//! against the envelopes the commitment packs them in.

use sha3::{Digest, Keccak256};
use thiserror::Error;

use crate::vk::{PublicPart, ValueClass};
use crate::{Fr, Key, VerifyError};

/// One segment's proof as a chain lists it.
#[derive(Clone, Copy, Debug)]
pub struct SegmentProof<'a> {
    /// Keccak-256 of the verifying key the proof was made for.
    pub key_digest: [u8; 32],
    /// The proof.
    pub proof: &'a [u8],
    /// Its public instance.
    pub instances: &'a [Fr],
}

/// Why a chain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// No key or no proof.
    #[error("a chain has at least one segment; none was given")]
    Empty,
    /// Fewer proofs than segments.
    #[error("the chain has {expected} segments, but proofs for only {got} were given: segment {got} is missing")]
    Missing {
        /// Segments in the chain.
        expected: usize,
        /// Proofs given.
        got: usize,
    },
    /// More proofs than segments.
    #[error("the chain has {expected} segments, but {got} proofs were given")]
    Extra {
        /// Segments in the chain.
        expected: usize,
        /// Proofs given.
        got: usize,
    },
    /// A proof for another segment of this chain sits at this place (reordered or duplicated).
    #[error("segment {segment}: the proof given is segment {belongs}'s (reordered or duplicated)")]
    Misplaced {
        /// The place in the chain.
        segment: usize,
        /// The segment whose key the proof names.
        belongs: usize,
    },
    /// The proof names a key that is not in this chain.
    #[error("segment {segment}: the proof was made for a key outside this chain")]
    Foreign {
        /// The place in the chain.
        segment: usize,
    },
    /// The keys do not form a chain: a segment lacks a link where it needs one, or has one at
    /// an end of the chain.
    #[error("segment {segment}: its key is not this segment's of a cut program ({reason})")]
    NotAChain {
        /// The place in the chain.
        segment: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The proof does not verify under its segment's key.
    #[error("segment {segment}: {source}")]
    Proof {
        /// The place in the chain.
        segment: usize,
        /// Why it was rejected.
        source: VerifyError,
    },
    /// A segment takes other values than the segment before passes on.
    #[error(
        "segment {segment} was proven on other values than segment {} passed on: the link \
         commitments differ",
        segment - 1
    )]
    BrokenLink {
        /// The segment whose input commitment differs.
        segment: usize,
    },
}

/// What a verified chain proves about the program's inputs and outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The first segment's input parts with their instance values, in order.
    pub inputs: Vec<(PublicPart, Vec<Fr>)>,
    /// The last segment's output parts with their instance values, in order.
    pub outputs: Vec<(PublicPart, Vec<Fr>)>,
    /// Each segment's parameter hash, where parameters are hashed.
    pub parameter_hashes: Vec<Option<Fr>>,
}

/// Keccak-256 of the keys' digests in order: the identity of a chain of keys.
pub fn chain_digest(keys: &[Key]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for k in keys {
        h.update(k.key_digest());
    }
    h.finalize().into()
}

/// Where each part of a key's instance starts.
fn parts(key: &Key) -> Vec<(usize, &PublicPart)> {
    let mut at = 0usize;
    key.model()
        .public
        .iter()
        .map(|p| {
            let start = at;
            at = at.saturating_add(usize::try_from(p.instance_len()).unwrap_or(usize::MAX));
            (start, p)
        })
        .collect()
}

/// The position in a key's instance of its link commitment for `class`, if it has one.
pub fn link(key: &Key, class: ValueClass) -> Option<usize> {
    parts(key).into_iter().find_map(|(at, p)| match p {
        PublicPart::Link { class: c, .. } if *c == class => Some(at),
        _ => None,
    })
}

/// Checks that `keys` form a chain: links exactly between neighbours.
pub fn check_keys(keys: &[Key]) -> Result<(), ChainError> {
    if keys.is_empty() {
        return Err(ChainError::Empty);
    }
    let last = keys.len() - 1;
    for (i, key) in keys.iter().enumerate() {
        if matches!(key, Key::Halo2(vk) if vk.accumulator().is_some()) {
            return Err(ChainError::NotAChain {
                segment: i,
                reason: "it is an aggregate's key, which a chain does not take",
            });
        }
        let takes = link(key, ValueClass::Inputs).is_some();
        let passes = link(key, ValueClass::Outputs).is_some();
        if i == 0 && takes {
            return Err(ChainError::NotAChain {
                segment: i,
                reason: "the first segment takes its inputs from a segment before it",
            });
        }
        if i > 0 && !takes {
            return Err(ChainError::NotAChain {
                segment: i,
                reason: "it takes the program's inputs, not the segment before's outputs",
            });
        }
        if i < last && !passes {
            return Err(ChainError::NotAChain {
                segment: i,
                reason: "it gives the program's outputs, not a link to the segment after",
            });
        }
        if i == last && passes {
            return Err(ChainError::NotAChain {
                segment: i,
                reason: "the last segment passes its outputs to a segment after it",
            });
        }
    }
    Ok(())
}

/// Verifies a chain: `proofs[i]` must be a proof under `keys[i]`, and the links must hold.
/// Checks are made in the order the errors are listed, so the first error names the first
/// segment at fault.
pub fn verify_chain(keys: &[Key], proofs: &[SegmentProof<'_>]) -> Result<Verified, ChainError> {
    check_keys(keys)?;
    if proofs.len() < keys.len() {
        return Err(ChainError::Missing {
            expected: keys.len(),
            got: proofs.len(),
        });
    }
    if proofs.len() > keys.len() {
        return Err(ChainError::Extra {
            expected: keys.len(),
            got: proofs.len(),
        });
    }
    let digests: Vec<[u8; 32]> = keys.iter().map(Key::key_digest).collect();
    for (segment, p) in proofs.iter().enumerate() {
        if p.key_digest != digests[segment] {
            return Err(match digests.iter().position(|d| *d == p.key_digest) {
                Some(belongs) => ChainError::Misplaced { segment, belongs },
                None => ChainError::Foreign { segment },
            });
        }
    }
    for (segment, (key, p)) in keys.iter().zip(proofs).enumerate() {
        key.verify(p.proof, p.instances)
            .map_err(|source| ChainError::Proof { segment, source })?;
    }
    for segment in 1..keys.len() {
        let passed = link(&keys[segment - 1], ValueClass::Outputs).expect("checked");
        let taken = link(&keys[segment], ValueClass::Inputs).expect("checked");
        if proofs[segment - 1].instances[passed] != proofs[segment].instances[taken] {
            return Err(ChainError::BrokenLink { segment });
        }
    }
    let values = |k: usize, class: ValueClass| -> Vec<(PublicPart, Vec<Fr>)> {
        parts(&keys[k])
            .into_iter()
            .filter(|(_, p)| part_class(p) == Some(class))
            .map(|(at, p)| {
                let n = usize::try_from(p.instance_len()).unwrap_or(0);
                (p.clone(), proofs[k].instances[at..at + n].to_vec())
            })
            .collect()
    };
    Ok(Verified {
        inputs: values(0, ValueClass::Inputs),
        outputs: values(keys.len() - 1, ValueClass::Outputs),
        parameter_hashes: (0..keys.len())
            .map(|k| {
                values(k, ValueClass::Parameters)
                    .first()
                    .and_then(|(_, v)| v.first().copied())
            })
            .collect(),
    })
}

fn part_class(p: &PublicPart) -> Option<ValueClass> {
    match p {
        PublicPart::Values { class, .. }
        | PublicPart::Hash { class, .. }
        | PublicPart::Link { class, .. } => Some(*class),
        PublicPart::Accumulator { .. } => None,
    }
}

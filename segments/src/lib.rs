//! Programs larger than one circuit: a program cut into segments ([`zkml_ir::segment`]),
//! each proven as a circuit of its own, linked by commitments.
//!
//! Segment `i` commits to the tensors it passes on and segment `i + 1` to the same tensors as
//! it takes them, both with a blinding value the two share
//! ([`zkml_circuits::Visibility::Linked`]). The first segment's inputs and the last one's
//! outputs keep the program's visibility; parameters keep theirs in every segment. The
//! program is evaluated once ([`CutProgram::witness`]); each segment is then proven from its
//! own inputs and blinding values alone, anywhere. [`zkml_verifier::chain`] checks the chain.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod plan;

pub use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use rand::RngCore;
use thiserror::Error;
use zkml_circuits::{Blinding, Visibility, VisibilityConfig};
use zkml_ir::segment::{split, Segment};
use zkml_ir::{evaluate, EvalError, IrError, Program, Tensor};

/// Why a program could not be cut or its segments' witness made.
#[derive(Debug, Error)]
pub enum SegmentError {
    /// The program cannot be cut as asked.
    #[error(transparent)]
    Cut(#[from] IrError),
    /// The program does not run on the input.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A segment could not be laid out.
    #[error("segment {segment}: {source}")]
    Layout {
        /// The segment.
        segment: usize,
        /// Why.
        source: zkml_circuits::LayoutError,
    },
    /// No cut satisfies the request.
    #[error("{0}")]
    Plan(String),
}

/// A program cut into segments, with the visibility it is proven under.
#[derive(Clone, Debug)]
pub struct CutProgram {
    /// The whole program.
    pub whole: Program,
    /// The whole program's visibility: the first segment's inputs, the last one's outputs and
    /// every segment's parameters follow it.
    pub visibility: VisibilityConfig,
    /// The nodes the program is cut before, increasing.
    pub cuts: Vec<usize>,
    /// The segments, in order.
    pub segments: Vec<Segment>,
}

/// One segment's witness: its inputs and the blinding values of its links.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentWitness {
    /// The segment's inputs, quantized, in input order.
    pub inputs: Vec<Tensor>,
    /// The blinding values shared with the segments before and after.
    pub blinding: Blinding,
}

impl CutProgram {
    /// Cuts `whole` before each node of `cuts` (none: the program is its only segment).
    pub fn new(
        whole: Program,
        visibility: VisibilityConfig,
        cuts: Vec<usize>,
    ) -> Result<Self, SegmentError> {
        let bounds = whole.bounds_with(visibility.param_bounds())?;
        let segments = split(&whole, &cuts, &bounds)?;
        Ok(Self {
            whole,
            visibility,
            cuts,
            segments,
        })
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether there is no segment (never: a program is at least one).
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The visibility segment `i` is proven under.
    pub fn segment_visibility(&self, i: usize) -> VisibilityConfig {
        segment_visibility(self.visibility, i, self.segments.len())
    }

    /// Evaluates the whole program once on `inputs` and hands each segment its inputs, with a
    /// fresh uniformly random blinding value for each link drawn from `rng`.
    pub fn witness(
        &self,
        inputs: &[Tensor],
        rng: &mut impl RngCore,
    ) -> Result<Vec<SegmentWitness>, SegmentError> {
        let trace = evaluate(&self.whole, inputs)?;
        let links: Vec<Fr> = (1..self.segments.len())
            .map(|_| Fr::random(&mut *rng))
            .collect();
        Ok(self
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentWitness {
                inputs: s.inputs.iter().map(|&j| trace.values[j].clone()).collect(),
                blinding: Blinding {
                    inputs: if i == 0 { Fr::ZERO } else { links[i - 1] },
                    outputs: links.get(i).copied().unwrap_or(Fr::ZERO),
                },
            })
            .collect())
    }
}

/// The visibility of segment `i` of `count` when the whole program has `whole`'s: links
/// between segments, the program's own visibility at its ends.
pub fn segment_visibility(whole: VisibilityConfig, i: usize, count: usize) -> VisibilityConfig {
    VisibilityConfig {
        inputs: if i == 0 {
            whole.inputs
        } else {
            Visibility::Linked
        },
        outputs: if i + 1 == count {
            whole.outputs
        } else {
            Visibility::Linked
        },
        params: whole.params,
    }
}

/// A field element as a 32-byte big-endian word (how witness files store blinding values).
pub fn field_to_word(f: &Fr) -> [u8; 32] {
    zkml_prover::prove::fr_to_word(f)
}

/// The field element a 32-byte big-endian word holds; `None` unless it is canonical.
pub fn field_from_word(word: &[u8; 32]) -> Option<Fr> {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let mut repr = *word;
    repr.reverse();
    Option::from(Fr::from_repr(repr))
}

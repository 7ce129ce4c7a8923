//! The quantized integer program that zkml proves, and its exact reference evaluator.
//!
//! A [`Program`] is a list of [`Node`]s, each an [`Op`] over integer tensors. It knows nothing of
//! ONNX or of proof systems: importers build programs, backends prove them, and both are checked
//! against [`evaluate`], the oracle.
//!
//! # Fixed-point semantics
//!
//! * **Scales.** Every tensor has a power-of-two scale `s`: the integer `q` stands for the real
//!   `q / 2^s`. Scales may be negative. Real inputs are quantized as `floor(x * 2^s + 1/2)`.
//! * **Products** are exact: `Mul`, `MatMul` and convolutions produce integers at scale
//!   `s_a + s_b` without rounding. Accumulators may grow beyond the value range; their static
//!   bound (see below) keeps them far inside `i64` and the proof field.
//! * **Rescaling** (`Rescale{shift}`) divides by `2^shift` rounding half toward positive
//!   infinity: `floor((x + 2^(shift-1)) / 2^shift)`. This is the only way precision is dropped
//!   after a product; a circuit proves it as `x + 2^(shift-1) = q * 2^shift + r` with
//!   `0 <= r < 2^shift`.
//! * **Biases** are quantized directly at the accumulator scale `s_x + s_w` and added before the
//!   rescale, so they cost no extra rounding.
//! * **Alignment.** `Add`, `Sub`, `Max`, `Min` and `Concat` need equal input scales; an importer
//!   aligns operands by multiplying the lower-scale one by `2^k` (exact) or rescaling the other.
//! * **Range.** The program declares `value_bits = B`. Inputs and the results of `Rescale`,
//!   `Div` and `Sqrt` must lie in `[-2^(B-1), 2^(B-1))`; a value outside is an
//!   [`EvalError::OutOfRange`] naming the node, never a wrap or a silent clamp. Every other op's
//!   result has a static bound derived from its inputs' bounds (recorded per node), and no bound
//!   may reach `2^62`.
//! * **Nonlinear functions** are [`LookupTable`]s: the function's values on an integer domain
//!   `[lo, hi]`, computed once at build time and stored in the program. An input outside the
//!   domain is an [`EvalError::OutsideTableDomain`]. Importers put a `Clip` in front of a table
//!   where the function is constant beyond the domain (sigmoid, tanh, erf), which makes clipping
//!   exact.
//! * **Division and square root** are exact integer functions ([`rounding::div_round`],
//!   [`rounding::isqrt`]), so normalization layers and softmax need no reciprocal table.
//!
//! Programs are stored with a magic tag and a format version ([`format`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bounds;
pub mod error;
pub mod eval;
pub mod format;
pub mod input;
pub mod op;
pub mod program;
pub mod rounding;
pub mod segment;
pub mod signature;
pub mod structure;
pub mod table;
pub mod tensor;

pub use bounds::{param_envelope_bits, ParamBounds};
pub use error::{EvalError, FormatError, IrError};
pub use eval::{evaluate, Trace};
pub use op::{
    CompareOp, ConvSpec, ConvTransposeSpec, InputDomain, Op, PadMode, PadSpec, PoolSpec,
    ReduceSpec, SliceRange,
};
pub use program::{ModelSource, Node, Program, ProgramBuilder};
pub use table::{LookupTable, TableFunction};
pub use tensor::Tensor;

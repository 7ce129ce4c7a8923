//! halo2 circuits for zkml's quantized programs.
//!
//! A [`Layout`] assigns every tensor element of a program to circuit cells through a small set of
//! wide gates (see [`config`]); [`ModelCircuit`] writes the layout into a halo2 constraint system
//! over BN254. The circuit computes exactly what [`zkml_ir::evaluate`] computes: every chip is
//! tested against the reference evaluator value for value.
//!
//! The modules depend on each other in one direction, from a program to its cells:
//!
//! 1. primitives: integers as field elements, [`poseidon`], the circuit shape ([`params`]) and
//!    the visibility rules ([`visibility`]);
//! 2. the logical layout ([`layout`]): which value goes in which row and lane, under which gate;
//! 3. the physical placement ([`fold`]): where a logical row's cells and coefficients lie, one
//!    column per lane or folded into a few;
//! 4. the halo2 configuration ([`config`]) and synthesis ([`circuit`]);
//! 5. on top, what reads all of them: the sizing ([`sizing`], [`cost`]) and the soundness
//!    checks (`soundness`, with the `test-utils` feature).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod circuit;
pub mod config;
pub mod cost;
mod error;
mod field;
pub mod fold;
pub mod layout;
pub mod params;
pub mod poseidon;
pub mod sizing;
#[cfg(any(test, feature = "test-utils"))]
pub mod soundness;
pub mod visibility;

/// Revision of the gates and layouts: the same program and shape make different keys across
/// revisions, so caches of keys include it. Raised whenever a gate's equation or an op's cells
/// change.
pub const LAYOUT_REVISION: u32 = 3;

pub use circuit::ModelCircuit;
pub use error::LayoutError;
pub use field::field;
pub use layout::program::{build, build_segment, measure, Blinding};
pub use layout::Layout;
pub use params::{CircuitParams, ParamsError};
pub use visibility::{ParamVisibility, Visibility, VisibilityConfig};

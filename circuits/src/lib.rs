//! halo2 circuits for zkml's quantized programs.
//!
//! A [`Layout`] assigns every tensor element of a program to circuit cells through a small set of
//! wide gates (see [`config`]); [`ModelCircuit`] writes the layout into a halo2 constraint system
//! over BN254. The circuit computes exactly what [`zkml_ir::evaluate`] computes: every chip is
//! tested against the reference evaluator value for value.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod circuit;
pub mod config;
pub mod cost;
pub mod fold;
pub mod layout;
pub mod params;
pub mod poseidon;
pub mod sizing;
#[cfg(any(test, feature = "test-utils"))]
pub mod soundness;
pub mod visibility;

pub use circuit::{field, ModelCircuit};
pub use layout::program::build;
pub use layout::{Layout, LayoutError};
pub use params::{CircuitParams, ParamsError};
pub use visibility::{ParamVisibility, Visibility, VisibilityConfig};

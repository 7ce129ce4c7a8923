//! Who sees what: visibility of inputs, outputs and parameters, and the public instance they
//! produce.
//!
//! The instance lists, in order: the inputs (every value, or one Poseidon hash of all input
//! values), the outputs (likewise), then the parameters' hash when parameters are hashed.
//! Private classes contribute nothing. Hashes follow [`crate::poseidon`]: values are packed with
//! their envelopes (inputs: the program's value bits; outputs and parameters: the envelope of
//! their static bound), tensors in program order, elements in row-major order.

use serde::{Deserialize, Serialize};
use zkml_ir::{param_envelope_bits, Op, ParamBounds, Program};

use crate::error::LayoutError;

/// Who sees the program's inputs or outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Every value is a public instance value.
    Public,
    /// Known only to the prover.
    Private,
    /// Known only to the prover; their Poseidon hash is public.
    Hashed,
    /// Known only to the prover; a hiding commitment is public: the Poseidon hash of a secret
    /// blinding value and the values, each packed with the envelope of its static bound. It
    /// links the tensors one segment of a cut program hands to the next, which commits to them
    /// with the same blinding value.
    Linked,
}

/// Who sees the program's parameters (weights, biases, normalization constants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ParamVisibility {
    /// Baked into fixed columns: part of the verifying key.
    #[default]
    Fixed,
    /// Witness values known only to the prover (range-checked to their envelope).
    Private,
    /// Witness values whose Poseidon hash is public.
    Hashed,
}

/// Visibility of each class of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VisibilityConfig {
    /// Program inputs.
    pub inputs: Visibility,
    /// Program outputs.
    pub outputs: Visibility,
    /// Program parameters.
    #[serde(default)]
    pub params: ParamVisibility,
}

impl Default for VisibilityConfig {
    /// Public inputs and outputs, fixed parameters.
    fn default() -> Self {
        Self {
            inputs: Visibility::Public,
            outputs: Visibility::Public,
            params: ParamVisibility::Fixed,
        }
    }
}

impl VisibilityConfig {
    /// Whether anything is hashed (the circuit then needs the Poseidon gates).
    pub fn hashes(&self) -> bool {
        matches!(self.inputs, Visibility::Hashed | Visibility::Linked)
            || matches!(self.outputs, Visibility::Hashed | Visibility::Linked)
            || self.params == ParamVisibility::Hashed
    }

    /// How the circuit knows parameter values.
    pub fn param_bounds(&self) -> ParamBounds {
        if self.params == ParamVisibility::Fixed {
            ParamBounds::Exact
        } else {
            ParamBounds::Envelope
        }
    }
}

/// A class of values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueClass {
    /// Program inputs.
    Inputs,
    /// Program outputs.
    Outputs,
    /// Program parameters.
    Parameters,
}

/// A tensor whose values enter a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashedTensor {
    /// Program node holding it.
    pub node: usize,
    /// Envelope bits of each of its values.
    pub bits: u32,
}

/// One part of the public instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicPart {
    /// Every value of a tensor, one instance value each (row-major).
    Values {
        /// Inputs or outputs.
        class: ValueClass,
        /// Program node holding the tensor.
        node: usize,
    },
    /// One instance value: the Poseidon hash of these tensors' values.
    Hash {
        /// What is hashed.
        class: ValueClass,
        /// The tensors, in hashing order.
        tensors: Vec<HashedTensor>,
    },
    /// One instance value: the commitment to these tensors' values with a blinding value
    /// ([`crate::poseidon::commit_values`]).
    Link {
        /// Inputs or outputs.
        class: ValueClass,
        /// The tensors, in order.
        tensors: Vec<HashedTensor>,
    },
}

/// The public instance of `program` under `visibility`, part by part, in instance order.
pub fn public_parts(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<Vec<PublicPart>, LayoutError> {
    let bounds = program
        .bounds_with(visibility.param_bounds())
        .map_err(|e| LayoutError::Program(e.to_string()))?;
    public_parts_bounded(program, visibility, &bounds)
}

/// [`public_parts`], given the program's bounds under `visibility`'s parameter bounds.
pub(crate) fn public_parts_bounded(
    program: &Program,
    visibility: VisibilityConfig,
    bounds: &[u64],
) -> Result<Vec<PublicPart>, LayoutError> {
    let mut parts = Vec::new();
    let mut class =
        |class: ValueClass, nodes: &[usize], v: Visibility, bits: &dyn Fn(usize) -> u32| match v {
            Visibility::Public => {
                parts.extend(nodes.iter().map(|&node| PublicPart::Values { class, node }))
            }
            Visibility::Private => {}
            Visibility::Hashed => parts.push(PublicPart::Hash {
                class,
                tensors: hashed(nodes, bits),
            }),
            Visibility::Linked => parts.push(PublicPart::Link {
                class,
                tensors: hashed(nodes, &|node| param_envelope_bits(bounds[node])),
            }),
        };
    let value_bits = program.value_bits;
    class(
        ValueClass::Inputs,
        &program.inputs,
        visibility.inputs,
        &|_| value_bits,
    );
    class(
        ValueClass::Outputs,
        &program.outputs,
        visibility.outputs,
        &|node| param_envelope_bits(bounds[node]),
    );
    if visibility.params == ParamVisibility::Hashed {
        parts.push(PublicPart::Hash {
            class: ValueClass::Parameters,
            tensors: parameter_nodes(program)
                .into_iter()
                .map(|node| HashedTensor {
                    node,
                    bits: parameter_envelope(program, node),
                })
                .collect(),
        });
    }
    Ok(parts)
}

/// The tensors of `nodes` with the envelope bits `bits` gives each.
fn hashed(nodes: &[usize], bits: &dyn Fn(usize) -> u32) -> Vec<HashedTensor> {
    nodes
        .iter()
        .map(|&node| HashedTensor {
            node,
            bits: bits(node),
        })
        .collect()
}

/// Nodes holding parameters, in program order.
pub fn parameter_nodes(program: &Program) -> Vec<usize> {
    program
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.op, Op::Const { param: true, .. }))
        .map(|(i, _)| i)
        .collect()
}

/// Envelope bits of a parameter node's values: each lies in `[-2^(b-1), 2^(b-1))`.
pub fn parameter_envelope(program: &Program, node: usize) -> u32 {
    match &program.nodes[node].op {
        Op::Const { values, .. } => {
            param_envelope_bits(values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0))
        }
        _ => param_envelope_bits(program.nodes[node].bound),
    }
}

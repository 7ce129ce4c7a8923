//! The quantized program: a topologically ordered list of nodes, one output tensor each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bounds::{node_bound, ParamBounds};
use crate::error::IrError;
use crate::op::{InputDomain, Op};
use crate::signature::{infer_shape, output_scale};
use crate::table::LookupTable;
use crate::tensor::numel;

/// The most value bits a program may declare.
pub const MAX_VALUE_BITS: u32 = 40;
/// The fewest value bits a program may declare.
pub const MIN_VALUE_BITS: u32 = 2;
/// No tensor in a program may have more elements than this (far more than one circuit holds;
/// it bounds what checking a program allocates: 16 bytes per element of a product's output).
pub const MAX_ELEMENTS: usize = 1 << 27;
/// No product or window op may take more multiply-adds (or window members) than this: checking
/// a program walks them to bound its values, so a small file cannot ask for unbounded work
/// (2^36 leaves room for GPT-2's output layer over 1,024 tokens, 4e10).
pub const MAX_TERMS: u128 = 1 << 36;
/// No value anywhere in a program may reach this magnitude (keeps every intermediate far inside
/// `i64` and the proof field).
pub const MAX_MAGNITUDE: u64 = 1 << 62;

/// One node: an op, the nodes it reads, and the tensor it produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Where the node came from (an ONNX node or tensor name), for messages.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Indices of the nodes whose outputs this node reads; all smaller than this node's index.
    pub inputs: Vec<usize>,
    /// Shape of the output.
    pub shape: Vec<usize>,
    /// Scale of the output: an integer `q` stands for `q / 2^scale`.
    pub scale: i32,
    /// Static bound: every output value `v` satisfies `|v| <= bound`.
    pub bound: u64,
}

/// A quantized integer program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// Range-checked values lie in `[-2^(value_bits-1), 2^(value_bits-1))`.
    pub value_bits: u32,
    /// The nodes, in evaluation order.
    pub nodes: Vec<Node>,
    /// Nodes holding the inputs, in input order.
    pub inputs: Vec<usize>,
    /// Nodes holding the outputs, in output order.
    pub outputs: Vec<usize>,
    /// Names of the outputs.
    pub output_names: Vec<String>,
    /// Lookup tables used by `Lookup` nodes.
    pub tables: Vec<LookupTable>,
    /// Free-form provenance (source file, producer, opset, calibration settings).
    pub metadata: BTreeMap<String, String>,
    /// The float model the program was compiled from, kept so that runs of the program can be
    /// compared with it. Opaque to the IR.
    pub source: Option<ModelSource>,
}

/// The float model a program was compiled from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSource {
    /// Its format, such as `onnx`.
    pub format: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Program {
    /// Largest value a range-checked tensor may hold plus one: `2^(value_bits-1)`.
    pub fn value_limit(&self) -> i64 {
        1i64 << (self.value_bits - 1)
    }

    /// Number of model parameters (elements of parameter `Const` nodes).
    pub fn parameter_count(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Const {
                    values,
                    param: true,
                } => values.len(),
                _ => 0,
            })
            .sum()
    }

    /// Checks every rule of the IR: inputs precede their readers, shapes, scales and bounds are
    /// what the ops imply, constants have the right length, inputs and outputs are consistent,
    /// and nodes that read constants only are defined (they evaluate without error).
    pub fn validate(&self) -> Result<(), IrError> {
        if !(MIN_VALUE_BITS..=MAX_VALUE_BITS).contains(&self.value_bits) {
            return Err(IrError::InvalidProgram(format!(
                "value_bits {} outside {MIN_VALUE_BITS}..={MAX_VALUE_BITS}",
                self.value_bits
            )));
        }
        let mut input_seen = vec![false; self.inputs.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            let err = |reason: String| IrError::InvalidNode {
                node: i,
                name: node.name.clone(),
                op: node.op.name(),
                reason,
            };
            if let Some(&bad) = node.inputs.iter().find(|&&j| j >= i) {
                return Err(err(format!(
                    "reads node {bad}, which does not come before it"
                )));
            }
            match &node.op {
                Op::Input { index, .. } => {
                    if self.inputs.get(*index) != Some(&i) || input_seen[*index] {
                        return Err(err(format!("input {index} is not listed at this node")));
                    }
                    input_seen[*index] = true;
                }
                Op::Const { values, .. } if values.len() != numel(&node.shape) => {
                    return Err(err(format!(
                        "holds {} values for shape {:?}",
                        values.len(),
                        node.shape
                    )))
                }
                _ => {}
            }
            let (shape, scale, bound) = self.derive(i).map_err(err)?;
            if shape != node.shape || scale != node.scale || bound != node.bound {
                return Err(err(format!(
                    "stores shape {:?} scale {} bound {}, but its inputs imply shape {shape:?} \
                     scale {scale} bound {bound}",
                    node.shape, node.scale, node.bound
                )));
            }
        }
        if !input_seen.iter().all(|&s| s) {
            return Err(IrError::InvalidProgram("an input has no Input node".into()));
        }
        if self.outputs.is_empty() || self.outputs.iter().any(|&o| o >= self.nodes.len()) {
            return Err(IrError::InvalidProgram(
                "outputs must name existing nodes".into(),
            ));
        }
        if self.output_names.len() != self.outputs.len() {
            return Err(IrError::InvalidProgram(
                "one name per output is required".into(),
            ));
        }
        for (t, table) in self.tables.iter().enumerate() {
            if table.values.is_empty() || table.values.len() as u64 > crate::table::MAX_TABLE_LEN {
                return Err(IrError::InvalidProgram(format!(
                    "table {t} has {} entries",
                    table.values.len()
                )));
            }
            if table.max_abs_output() >= MAX_MAGNITUDE {
                return Err(IrError::InvalidProgram(format!(
                    "table {t} holds values beyond 2^62"
                )));
            }
        }
        crate::eval::check_constant_nodes(self).map_err(|e| {
            IrError::InvalidProgram(format!(
                "{e}; the node reads constants only, so the program is undefined on every input"
            ))
        })?;
        Ok(())
    }

    /// Integer and boolean inputs have scale 0 and a non-empty domain inside the value range.
    fn check_domain(&self, domain: &InputDomain, scale: i32) -> Result<(), String> {
        if let InputDomain::Bounded { bound } = *domain {
            let limit = self.value_limit().unsigned_abs();
            if bound > limit {
                return Err(format!(
                    "domain {} leaves the {}-bit value range",
                    domain.describe(),
                    self.value_bits
                ));
            }
            return Ok(());
        }
        let Some((lo, hi)) = domain.interval() else {
            return Ok(());
        };
        if scale != 0 {
            return Err(format!(
                "an input of domain {} must have scale 0, not {scale}",
                domain.describe()
            ));
        }
        let limit = self.value_limit();
        if lo > hi || lo < -limit || hi >= limit {
            return Err(format!(
                "domain {} is empty or leaves the {}-bit value range",
                domain.describe(),
                self.value_bits
            ));
        }
        Ok(())
    }

    /// Static bounds of every node when parameters enter as `params` says. With
    /// [`ParamBounds::Exact`] these are the stored bounds; with [`ParamBounds::Envelope`] they
    /// hold whatever parameter values within each parameter tensor's envelope, as a circuit
    /// that takes parameters as witnesses needs. An error names the first node whose bound
    /// would leave the representable range.
    pub fn bounds_with(&self, params: ParamBounds) -> Result<Vec<u64>, IrError> {
        let mut bounds: Vec<u64> = Vec::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let ins: Vec<&Node> = node.inputs.iter().map(|&j| &self.nodes[j]).collect();
            let in_bounds: Vec<u64> = node.inputs.iter().map(|&j| bounds[j]).collect();
            let bound = node_bound(self, node, &ins, &in_bounds, &node.shape, params)
                .map_err(|e| IrError::InvalidProgram(format!("node {i} '{}': {e}", node.name)))?;
            if bound >= MAX_MAGNITUDE {
                return Err(IrError::InvalidProgram(format!(
                    "node {i} '{}': values may reach {bound} when parameters are only known \
                     within their envelope, beyond the limit 2^62",
                    node.name
                )));
            }
            bounds.push(bound);
        }
        Ok(bounds)
    }

    /// Shape, scale and bound of node `i`, derived from its op and its inputs.
    pub(crate) fn derive(&self, i: usize) -> Result<(Vec<usize>, i32, u64), String> {
        let node = &self.nodes[i];
        node.op.check_parameters()?;
        let ins: Vec<&Node> = node.inputs.iter().map(|&j| &self.nodes[j]).collect();
        let (shape, scale) = match &node.op {
            Op::Input { .. } | Op::Const { .. } => {
                if !ins.is_empty() {
                    return Err("takes no inputs".into());
                }
                if let Op::Input { domain, .. } = &node.op {
                    self.check_domain(domain, node.scale)?;
                }
                (node.shape.clone(), node.scale)
            }
            op => {
                let shapes: Vec<&[usize]> = ins.iter().map(|n| n.shape.as_slice()).collect();
                let scales: Vec<i32> = ins.iter().map(|n| n.scale).collect();
                let shape = infer_shape(op, &shapes, &self.tables)?;
                let scale = output_scale(op, &scales, &self.tables)?;
                (shape, scale)
            }
        };
        if checked_numel(&shape).is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(format!("shape {shape:?} has more than 2^27 elements"));
        }
        let terms = terms(&node.op, &ins, &shape);
        if terms > MAX_TERMS {
            return Err(format!(
                "takes {terms} multiply-adds or window members, more than 2^36"
            ));
        }
        let in_bounds: Vec<u64> = ins.iter().map(|n| n.bound).collect();
        let bound = node_bound(self, node, &ins, &in_bounds, &shape, ParamBounds::Exact)?;
        if bound >= MAX_MAGNITUDE {
            return Err(format!(
                "values may reach {bound}, beyond the limit 2^62; insert a Rescale"
            ));
        }
        Ok((shape, scale, bound))
    }
}

/// The element count of `shape`, or `None` if it overflows.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Builds a program node by node, deriving shapes, scales and bounds.
#[derive(Debug)]
pub struct ProgramBuilder {
    program: Program,
}

impl ProgramBuilder {
    /// Starts an empty program with the given value bits.
    pub fn new(value_bits: u32) -> Result<Self, IrError> {
        if !(MIN_VALUE_BITS..=MAX_VALUE_BITS).contains(&value_bits) {
            return Err(IrError::InvalidProgram(format!(
                "value_bits {value_bits} outside {MIN_VALUE_BITS}..={MAX_VALUE_BITS}"
            )));
        }
        Ok(Self {
            program: Program {
                value_bits,
                nodes: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                output_names: Vec::new(),
                tables: Vec::new(),
                metadata: BTreeMap::new(),
                source: None,
            },
        })
    }

    /// The value bits.
    pub fn value_bits(&self) -> u32 {
        self.program.value_bits
    }

    /// The program built so far.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The node at `id`.
    pub fn node(&self, id: usize) -> &Node {
        &self.program.nodes[id]
    }

    /// Adds the next program input: reals quantized at `scale`.
    pub fn input(&mut self, name: &str, shape: Vec<usize>, scale: i32) -> Result<usize, IrError> {
        self.input_in(name, shape, scale, InputDomain::Real)
    }

    /// Adds the next program input with the given domain (integer and boolean inputs have
    /// scale 0).
    pub fn input_in(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        scale: i32,
        domain: InputDomain,
    ) -> Result<usize, IrError> {
        let index = self.program.inputs.len();
        let id = self.program.nodes.len();
        self.program.inputs.push(id);
        self.leaf(name, Op::Input { index, domain }, shape, scale)
    }

    /// Adds a constant tensor.
    pub fn constant(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        scale: i32,
        values: Vec<i64>,
    ) -> Result<usize, IrError> {
        self.leaf(
            name,
            Op::Const {
                values,
                param: false,
            },
            shape,
            scale,
        )
    }

    /// Adds a model parameter (a constant whose visibility is chosen at setup).
    pub fn parameter(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        scale: i32,
        values: Vec<i64>,
    ) -> Result<usize, IrError> {
        self.leaf(
            name,
            Op::Const {
                values,
                param: true,
            },
            shape,
            scale,
        )
    }

    fn leaf(
        &mut self,
        name: &str,
        op: Op,
        shape: Vec<usize>,
        scale: i32,
    ) -> Result<usize, IrError> {
        self.program.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs: Vec::new(),
            shape,
            scale,
            bound: 0,
        });
        self.finish_last()
    }

    /// Adds a lookup table and returns its index.
    pub fn table(&mut self, table: LookupTable) -> usize {
        if let Some(i) = self.program.tables.iter().position(|t| *t == table) {
            return i;
        }
        self.program.tables.push(table);
        self.program.tables.len() - 1
    }

    /// The tables added so far.
    pub fn tables(&self) -> &[LookupTable] {
        &self.program.tables
    }

    /// Adds a node reading `inputs`; its shape, scale and bound are derived.
    pub fn push(&mut self, name: &str, op: Op, inputs: &[usize]) -> Result<usize, IrError> {
        let id = self.program.nodes.len();
        if let Some(&bad) = inputs.iter().find(|&&j| j >= id) {
            return Err(IrError::InvalidNode {
                node: id,
                name: name.to_string(),
                op: op.name(),
                reason: format!("reads node {bad}, which does not exist yet"),
            });
        }
        self.program.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs: inputs.to_vec(),
            shape: Vec::new(),
            scale: 0,
            bound: 0,
        });
        self.finish_last()
    }

    fn finish_last(&mut self) -> Result<usize, IrError> {
        let id = self.program.nodes.len() - 1;
        match self.program.derive(id) {
            Ok((shape, scale, bound)) => {
                let node = &mut self.program.nodes[id];
                node.shape = shape;
                node.scale = scale;
                node.bound = bound;
                Ok(id)
            }
            Err(reason) => {
                let node = self.program.nodes.pop().expect("just pushed");
                if let Op::Input { .. } = node.op {
                    self.program.inputs.pop();
                }
                Err(IrError::InvalidNode {
                    node: id,
                    name: node.name,
                    op: node.op.name(),
                    reason,
                })
            }
        }
    }

    /// Marks `node` as the next program output.
    pub fn output(&mut self, node: usize, name: &str) {
        self.program.outputs.push(node);
        self.program.output_names.push(name.to_string());
    }

    /// Records a metadata entry.
    pub fn metadata(&mut self, key: &str, value: impl Into<String>) {
        self.program.metadata.insert(key.to_string(), value.into());
    }

    /// Finishes and validates the program.
    pub fn finish(self) -> Result<Program, IrError> {
        self.program.validate()?;
        Ok(self.program)
    }
}

/// Multiply-adds of a product, or members of a pooling window summed over its outputs, as an
/// upper bound (padding only removes terms); 0 for every other op.
fn terms(op: &Op, ins: &[&Node], out: &[usize]) -> u128 {
    let prod = |dims: &[usize]| {
        dims.iter()
            .fold(1u128, |acc, &d| acc.saturating_mul(d as u128))
    };
    let outputs = prod(out);
    match op {
        Op::MatMul => outputs.saturating_mul(ins[0].shape.last().map_or(1, |&k| k as u128)),
        Op::Conv(_) => outputs.saturating_mul(prod(ins[1].shape.get(1..).unwrap_or(&[]))),
        Op::ConvTranspose(_) => {
            prod(&ins[0].shape).saturating_mul(prod(ins[1].shape.get(1..).unwrap_or(&[])))
        }
        Op::SumPool(spec) | Op::MaxPool(spec) => outputs.saturating_mul(prod(&spec.kernel)),
        _ => 0,
    }
}

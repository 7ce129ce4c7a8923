//! The imported float graph: typed ops over named values, with constants folded and every shape
//! known.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;

use crate::attrs::Attrs;
use crate::data::{from_tensor_proto, DType, Data};
use crate::error::{ImportError, NodeError};
use crate::ops::misc::ShapeOf;
use crate::ops::{OnnxOp, ParseCx};
use crate::proto::{data_type, type_proto, ModelProto, NodeProto, ValueInfoProto};
use crate::registry::{registry, supported_ops, MAX_OPSET, MIN_OPSET};

/// How to read a model.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Values for symbolic dimensions, by name. A symbolic (or unknown) leading dimension not
    /// given here follows `input_sizes`, else is 1; any other symbolic dimension must be given
    /// here.
    pub dims: BTreeMap<String, usize>,
    /// Domains `[lo, hi]` of integer inputs, by name, overriding the inferred ones (see
    /// [`crate::domains`]).
    pub domains: BTreeMap<String, (i64, i64)>,
    /// How many values each runtime input holds in the input at hand, in input order (empty
    /// when there is none). A symbolic or unknown leading dimension not given in `dims` is set
    /// so that its input holds that many values, when the other dimensions divide it.
    pub input_sizes: Vec<usize>,
}

/// One value of the graph.
#[derive(Clone, Debug)]
pub(crate) struct Value {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Known at import (initializers and everything folded from them).
    pub constant: Option<Data>,
}

/// One runtime node.
#[derive(Debug)]
pub(crate) struct GraphNode {
    pub name: String,
    pub op_type: String,
    pub op: Box<dyn OnnxOp>,
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<Option<usize>>,
}

/// A float graph whose nodes all read at least one runtime value.
#[derive(Debug)]
pub struct Graph {
    pub(crate) values: Vec<Value>,
    pub(crate) nodes: Vec<GraphNode>,
    pub(crate) inputs: Vec<usize>,
    pub(crate) outputs: Vec<usize>,
    /// The graph's names of its outputs (an expanded node's output value has an internal name).
    pub(crate) output_names: Vec<String>,
    /// Default-domain opset.
    pub opset: i64,
    /// Domains of integer inputs given by the user, by name.
    pub(crate) domains: BTreeMap<String, (i64, i64)>,
}

fn node_label(n: &NodeProto) -> String {
    if !n.name.is_empty() {
        n.name.clone()
    } else {
        n.output
            .iter()
            .find(|o| !o.is_empty())
            .cloned()
            .unwrap_or_else(|| "<unnamed>".into())
    }
}

impl Graph {
    /// Builds the graph of a decoded model.
    pub(crate) fn from_proto(
        model: &ModelProto,
        model_dir: Option<&Path>,
        options: &ImportOptions,
    ) -> Result<Self, ImportError> {
        let g = model
            .graph
            .as_ref()
            .ok_or_else(|| ImportError::Malformed("the model has no graph".into()))?;
        let declared = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version);
        // Ops first: an unsupported op is the most useful thing to report.
        check_ops(g, declared.filter(|v| (MIN_OPSET..=MAX_OPSET).contains(v)))?;
        let opset = default_opset(model)?;
        let mut graph = Graph {
            values: Vec::new(),
            nodes: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            output_names: Vec::new(),
            opset,
            domains: options.domains.clone(),
        };
        let mut by_name: HashMap<String, usize> = HashMap::new();

        for t in &g.initializer {
            let data = from_tensor_proto(t, model_dir)
                .map_err(|e| ImportError::InvalidGraph(format!("initializer '{}': {e}", t.name)))?;
            let id = graph.push_value(&t.name, data.shape().to_vec(), data.dtype, Some(data));
            by_name.insert(t.name.clone(), id);
        }
        for vi in &g.input {
            if by_name.contains_key(&vi.name) {
                continue; // initializers listed as inputs (IR version < 4)
            }
            let size = options.input_sizes.get(graph.inputs.len()).copied();
            let (shape, dtype) = input_type(vi, options, size)?;
            let id = graph.push_value(&vi.name, shape, dtype, None);
            by_name.insert(vi.name.clone(), id);
            graph.inputs.push(id);
        }
        for i in topological_order(g)? {
            graph.add_node(&g.node[i], &mut by_name)?;
        }
        for o in &g.output {
            let id = *by_name.get(&o.name).ok_or_else(|| {
                ImportError::InvalidGraph(format!("output '{}' is produced by no node", o.name))
            })?;
            graph.outputs.push(id);
            graph.output_names.push(o.name.clone());
        }
        if graph.outputs.is_empty() {
            return Err(ImportError::InvalidGraph("the graph has no outputs".into()));
        }
        graph.remove_dead_nodes();
        Ok(graph)
    }

    fn push_value(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        dtype: DType,
        constant: Option<Data>,
    ) -> usize {
        self.values.push(Value {
            name: name.to_string(),
            shape,
            dtype,
            constant,
        });
        self.values.len() - 1
    }

    fn add_node(
        &mut self,
        n: &NodeProto,
        by_name: &mut HashMap<String, usize>,
    ) -> Result<(), ImportError> {
        self.add_node_at(n, by_name, self.opset)
    }

    /// Adds a node read at `opset` (expansions emit nodes of [`crate::expand::EXPANSION_OPSET`]).
    fn add_node_at(
        &mut self,
        n: &NodeProto,
        by_name: &mut HashMap<String, usize>,
        opset: i64,
    ) -> Result<(), ImportError> {
        let err = |kind: NodeError| ImportError::Node {
            node: node_label(n),
            op_type: n.op_type.clone(),
            opset,
            kind,
        };
        if let Some(e) = crate::expand::expander(&n.domain, &n.op_type) {
            return self.expand(n, e, by_name, opset);
        }
        let entry = registry().get(n.op_type.as_str()).ok_or_else(|| {
            err(NodeError::UnsupportedOp {
                op_type: n.op_type.clone(),
                domain: n.domain.clone(),
                supported: supported_ops(),
            })
        })?;
        let cx = ParseCx {
            node: n,
            attrs: Attrs::new(n),
            opset,
        };
        let op = (entry.parse)(&cx).map_err(err)?;

        let mut inputs = Vec::with_capacity(n.input.len());
        for name in &n.input {
            if name.is_empty() {
                inputs.push(None);
            } else {
                let id = by_name.get(name).ok_or_else(|| {
                    err(NodeError::Invalid(format!(
                        "reads '{name}', which no node, initializer or input produces"
                    )))
                })?;
                inputs.push(Some(*id));
            }
        }
        for i in op.constant_inputs(inputs.len()) {
            if let Some(Some(id)) = inputs.get(i) {
                if self.values[*id].constant.is_none() {
                    return Err(err(NodeError::Quantization(format!(
                        "input {i} ('{}') must be a constant (an initializer or a subgraph of \
                         constants and shapes): the output's shape depends on it, and it is \
                         computed at run time here",
                        self.values[*id].name
                    ))));
                }
            }
        }
        let placeholders: Vec<Option<Data>> = inputs
            .iter()
            .map(|i| {
                i.map(|id| {
                    let v = &self.values[id];
                    v.constant
                        .clone()
                        .unwrap_or_else(|| Data::zeros(v.dtype, &v.shape))
                })
            })
            .collect();
        let all_const = inputs
            .iter()
            .flatten()
            .all(|&id| self.values[id].constant.is_some());
        let shape_only = op.as_any().is::<ShapeOf>();
        let refs: Vec<Option<&Data>> = placeholders.iter().map(|p| p.as_ref()).collect();
        let results = op.eval(&refs).map_err(err)?;
        let fold = all_const || shape_only;

        let mut outputs = Vec::with_capacity(n.output.len());
        for (k, name) in n.output.iter().enumerate() {
            if name.is_empty() {
                outputs.push(None);
                continue;
            }
            let data = results.get(k).ok_or_else(|| {
                err(NodeError::Invalid(format!(
                    "output {k} ('{name}') is not produced"
                )))
            })?;
            if by_name.contains_key(name) {
                return Err(err(NodeError::Invalid(format!(
                    "output '{name}' is produced twice"
                ))));
            }
            let id = self.push_value(
                name,
                data.shape().to_vec(),
                data.dtype,
                fold.then(|| data.clone()),
            );
            by_name.insert(name.clone(), id);
            outputs.push(Some(id));
        }
        if !fold {
            self.nodes.push(GraphNode {
                name: node_label(n),
                op_type: n.op_type.clone(),
                op,
                inputs,
                outputs,
            });
        }
        Ok(())
    }

    /// Imports a node by expanding it into standard nodes (see [`crate::expand`]); errors in
    /// the expansion name the original node.
    fn expand(
        &mut self,
        n: &NodeProto,
        e: &crate::expand::Expander,
        by_name: &mut HashMap<String, usize>,
        opset: i64,
    ) -> Result<(), ImportError> {
        use crate::expand::{ExpandCx, InputInfo, EXPANSION_OPSET};
        let label = node_label(n);
        let wrap = |kind: NodeError| ImportError::Node {
            node: label.clone(),
            op_type: n.op_type.clone(),
            opset,
            kind,
        };
        let mut infos = Vec::with_capacity(n.input.len());
        for name in &n.input {
            if name.is_empty() {
                infos.push(None);
                continue;
            }
            let id = *by_name.get(name).ok_or_else(|| {
                wrap(NodeError::Invalid(format!(
                    "reads '{name}', which no node, initializer or input produces"
                )))
            })?;
            let v = &self.values[id];
            infos.push(Some(InputInfo {
                name: name.clone(),
                shape: v.shape.clone(),
                dtype: v.dtype,
                constant: v.constant.as_ref(),
            }));
        }
        let (nodes, outs) = {
            let mut cx = ExpandCx::new(n, &label, infos);
            let outs = (e.expand)(&mut cx).map_err(wrap)?;
            (cx.nodes, outs)
        };
        for node in &nodes {
            self.add_node_at(node, by_name, EXPANSION_OPSET)
                .map_err(|inner| match inner {
                    ImportError::Node {
                        node,
                        op_type,
                        kind,
                        ..
                    } => wrap(NodeError::Expansion {
                        step: format!("{node} ({op_type})"),
                        reason: Box::new(kind),
                    }),
                    other => other,
                })?;
        }
        for (k, name) in n.output.iter().enumerate() {
            if name.is_empty() {
                continue;
            }
            let Some(Some(value)) = outs.get(k) else {
                return Err(wrap(NodeError::Invalid(format!(
                    "output {k} ('{name}') is not produced"
                ))));
            };
            if by_name.contains_key(name) {
                return Err(wrap(NodeError::Invalid(format!(
                    "output '{name}' is produced twice"
                ))));
            }
            let id = by_name[value];
            by_name.insert(name.clone(), id);
        }
        Ok(())
    }

    /// Drops nodes none of whose outputs reach a graph output.
    pub(crate) fn remove_dead_nodes(&mut self) {
        let mut needed = vec![false; self.values.len()];
        for &o in &self.outputs {
            needed[o] = true;
        }
        let mut keep = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if node.outputs.iter().flatten().any(|&o| needed[o]) {
                keep[i] = true;
                for &inp in node.inputs.iter().flatten() {
                    needed[inp] = true;
                }
            }
        }
        let mut i = 0;
        self.nodes.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }

    /// Runs the float graph; returns every value (constants included), `None` where unused.
    pub(crate) fn run(&self, inputs: &[Data]) -> Result<Vec<Option<Data>>, ImportError> {
        if inputs.len() != self.inputs.len() {
            return Err(ImportError::Calibration(format!(
                "the model takes {} inputs, {} were given",
                self.inputs.len(),
                inputs.len()
            )));
        }
        let mut vals: Vec<Option<Data>> = self.values.iter().map(|v| v.constant.clone()).collect();
        for (&id, data) in self.inputs.iter().zip(inputs) {
            vals[id] = Some(data.clone());
        }
        for node in &self.nodes {
            let refs: Vec<Option<&Data>> = node
                .inputs
                .iter()
                .map(|i| i.and_then(|id| vals[id].as_ref()))
                .collect();
            let outs = node.op.eval(&refs).map_err(|kind| ImportError::Node {
                node: node.name.clone(),
                op_type: node.op_type.clone(),
                opset: self.opset,
                kind,
            })?;
            for (slot, data) in node.outputs.iter().zip(outs) {
                if let Some(id) = slot {
                    vals[*id] = Some(data);
                }
            }
        }
        Ok(vals)
    }

    /// Whether each runtime input holds integers or booleans (rather than reals).
    pub fn integer_inputs(&self) -> Vec<bool> {
        self.inputs
            .iter()
            .map(|&i| self.values[i].dtype != DType::Float)
            .collect()
    }

    /// Names and shapes of the runtime inputs.
    pub fn input_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.inputs
            .iter()
            .map(|&i| (self.values[i].name.clone(), self.values[i].shape.clone()))
            .collect()
    }

    /// Names and shapes of the outputs.
    pub fn output_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.outputs
            .iter()
            .map(|&i| (self.values[i].name.clone(), self.values[i].shape.clone()))
            .collect()
    }

    /// Runs the float graph on flat input lists, returning flat output lists.
    pub fn run_float(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, ImportError> {
        let data = self.inputs_from_flat(inputs)?;
        let vals = self.run(&data)?;
        Ok(self
            .outputs
            .iter()
            .map(|&o| vals[o].as_ref().map(Data::to_vec).unwrap_or_default())
            .collect())
    }

    /// Shapes flat input lists into input tensors, checking counts and lengths.
    pub(crate) fn inputs_from_flat(&self, inputs: &[Vec<f64>]) -> Result<Vec<Data>, ImportError> {
        use zkml_ir::input::InputError;
        if inputs.len() != self.inputs.len() {
            return Err(InputError::WrongInputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
            }
            .into());
        }
        self.inputs
            .iter()
            .zip(inputs)
            .enumerate()
            .map(|(i, (&id, flat))| {
                let v = &self.values[id];
                let n: usize = v.shape.iter().product();
                if flat.len() != n {
                    return Err(InputError::WrongLength {
                        input: i,
                        name: v.name.clone(),
                        shape: v.shape.clone(),
                        expected: n,
                        got: flat.len(),
                    }
                    .into());
                }
                if let Some((position, &value)) =
                    flat.iter().enumerate().find(|(_, x)| !x.is_finite())
                {
                    return Err(InputError::NonFinite {
                        input: i,
                        position,
                        value,
                    }
                    .into());
                }
                if v.dtype != DType::Float {
                    if let Some((position, &value)) =
                        flat.iter().enumerate().find(|(_, x)| x.fract() != 0.0)
                    {
                        return Err(InputError::NotInteger {
                            input: i,
                            name: v.name.clone(),
                            position,
                            value,
                        }
                        .into());
                    }
                }
                Ok(Data {
                    dtype: v.dtype,
                    values: crate::ops::array(&v.shape, flat.clone()),
                })
            })
            .collect()
    }
}

/// Rejects the first node whose op is unsupported (or too new for the model's opset), before
/// anything else is looked at: the op is the most useful thing to report.
fn check_ops(g: &crate::proto::GraphProto, opset: Option<i64>) -> Result<(), ImportError> {
    for n in &g.node {
        let err = |kind: NodeError| ImportError::Node {
            node: node_label(n),
            op_type: n.op_type.clone(),
            opset: opset.unwrap_or(0),
            kind,
        };
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        if let Some(e) = crate::expand::expander(&n.domain, &n.op_type) {
            if default_domain && opset.is_some_and(|v| e.since > v) {
                return Err(err(NodeError::OpsetTooOld { since: e.since }));
            }
            continue;
        }
        match registry().get(n.op_type.as_str()) {
            Some(entry) if default_domain => {
                if opset.is_some_and(|v| entry.since > v) {
                    return Err(err(NodeError::OpsetTooOld { since: entry.since }));
                }
            }
            _ => {
                let domain = if default_domain {
                    String::new()
                } else {
                    n.domain.clone()
                };
                return Err(err(NodeError::UnsupportedOp {
                    op_type: n.op_type.clone(),
                    domain,
                    supported: supported_ops(),
                }));
            }
        }
    }
    Ok(())
}

fn default_opset(model: &ModelProto) -> Result<i64, ImportError> {
    let declared = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version);
    let version = match declared {
        Some(v) => v,
        // Models of classic-ML ops alone (onnxmltools) may import only `ai.onnx.ml`; their
        // expansions use the expansion opset.
        None if model
            .opset_import
            .iter()
            .any(|o| o.domain == crate::expand::ml::DOMAIN) =>
        {
            crate::expand::EXPANSION_OPSET
        }
        None => {
            return Err(ImportError::Malformed(
                "the model imports no default-domain opset".into(),
            ))
        }
    };
    if !(MIN_OPSET..=MAX_OPSET).contains(&version) {
        return Err(ImportError::UnsupportedOpset {
            domain: String::new(),
            version,
            min: MIN_OPSET,
            max: MAX_OPSET,
        });
    }
    Ok(version)
}

fn input_type(
    vi: &ValueInfoProto,
    options: &ImportOptions,
    size: Option<usize>,
) -> Result<(Vec<usize>, DType), ImportError> {
    let bad = |reason: String| ImportError::UnsupportedInput {
        name: vi.name.clone(),
        reason,
    };
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(bad("only tensor inputs are supported".into()));
    };
    let dtype = DType::from_onnx(t.elem_type).ok_or_else(|| {
        bad(format!(
            "element type {} is not supported; inputs must be floating point, integer or bool",
            data_type::name(t.elem_type)
        ))
    })?;
    let shape_proto = t
        .shape
        .as_ref()
        .ok_or_else(|| bad("the input has no shape".into()))?;
    // The leading dimension a symbolic batch takes: what makes the input hold `size` values.
    let batch = || {
        let rest = shape_proto
            .dim
            .iter()
            .skip(1)
            .try_fold(1usize, |acc, d| match d.value {
                Some(crate::proto::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => {
                    acc.checked_mul(v as usize)
                }
                _ => None,
            });
        match (size, rest) {
            (Some(n), Some(r)) if n > 0 && n % r == 0 => n / r,
            _ => 1,
        }
    };
    let mut shape = Vec::with_capacity(shape_proto.dim.len());
    for (axis, d) in shape_proto.dim.iter().enumerate() {
        use crate::proto::tensor_shape_proto::dimension::Value as D;
        let v = match &d.value {
            Some(D::DimValue(v)) if *v > 0 => *v as usize,
            Some(D::DimValue(v)) if *v == 0 => return Err(bad(format!("dimension {axis} is 0"))),
            Some(D::DimParam(p)) if options.dims.contains_key(p) => options.dims[p],
            _ if axis == 0 => batch(),
            Some(D::DimParam(p)) => {
                return Err(bad(format!(
                "dimension {axis} is symbolic ('{p}'); give it a value (for example --dim {p}=N)"
            )))
            }
            _ => return Err(bad(format!("dimension {axis} is unknown"))),
        };
        shape.push(v);
    }
    crate::ops::checked_size(&shape).map_err(|e| bad(e.to_string()))?;
    Ok((shape, dtype))
}

/// Node indices in an order where every node follows the producers of its inputs.
fn topological_order(g: &crate::proto::GraphProto) -> Result<Vec<usize>, ImportError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, n) in g.node.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            producer.insert(o.as_str(), i);
        }
    }
    let mut indegree = vec![0usize; g.node.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); g.node.len()];
    for (i, n) in g.node.iter().enumerate() {
        for inp in n.input.iter().filter(|s| !s.is_empty()) {
            if let Some(&p) = producer.get(inp.as_str()) {
                if p != i {
                    indegree[i] += 1;
                    users[p].push(i);
                }
            }
        }
    }
    // Stable: among ready nodes, keep file order.
    let mut ready: VecDeque<usize> = (0..g.node.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(g.node.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &u in &users[i] {
            indegree[u] -= 1;
            if indegree[u] == 0 {
                ready.push_back(u);
            }
        }
    }
    if order.len() != g.node.len() {
        return Err(ImportError::InvalidGraph("the graph has a cycle".into()));
    }
    Ok(order)
}

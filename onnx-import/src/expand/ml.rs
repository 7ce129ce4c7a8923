//! The `ai.onnx.ml` ops that classic-ML converters (skl2onnx, onnxmltools) emit: tree
//! ensembles, linear models, `Normalizer`, `Scaler` and `ArrayFeatureExtractor`, with
//! onnxruntime's semantics.
//!
//! A tree ensemble becomes the comparisons of all its branch nodes at once, then, per tree, a
//! count of the branch outcomes along each leaf's path (`cond A + c`, with `A[k][l] = +1` where
//! the path takes node `k`'s true branch, `-1` where it takes the false one, and `c` the number
//! of false branches): a leaf is reached exactly when its count equals its depth. The reached
//! leaves' weights sum to the scores (a product with a constant matrix), then `base_values`, the
//! post-transform and the label (`ArgMax`, mapped through the class labels).
//!
//! Inputs are finite numbers, so a node's missing-value rule never applies.

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};

use super::{attr_int, attr_ints, ExpandCx};
use crate::data::{DType, Data};
use crate::error::NodeError;

type Result<T> = std::result::Result<T, NodeError>;

/// The classic-ML domain.
pub(crate) const DOMAIN: &str = "ai.onnx.ml";

fn unsupported(name: &str, value: String, supported: &str) -> NodeError {
    NodeError::UnsupportedAttribute {
        name: name.into(),
        value,
        supported: supported.into(),
    }
}

/// A float list attribute, or its `_as_tensor` twin.
fn floats(cx: &ExpandCx<'_>, name: &'static str, tensor: &'static str) -> Result<Option<Vec<f64>>> {
    if let Some(v) = cx.attrs.floats(name)? {
        return Ok(Some(v));
    }
    Ok(cx.attrs.tensor(tensor)?.map(|t| t.to_vec()))
}

fn required_ints(cx: &ExpandCx<'_>, name: &'static str) -> Result<Vec<i64>> {
    cx.attrs
        .ints(name)?
        .ok_or_else(|| NodeError::Invalid(format!("attribute '{name}' is required")))
}

/// X as a float tensor `[N, F]` (integers are cast).
fn features(cx: &mut ExpandCx<'_>) -> Result<(String, usize, usize)> {
    let x = cx.input(0, "X")?.clone();
    let (n, f) = match x.shape.as_slice() {
        [n, f] => (*n, *f),
        [f] => (1, *f),
        other => {
            return Err(NodeError::Invalid(format!(
                "X must be [N, F], got {other:?}"
            )))
        }
    };
    let mut name = x.name.clone();
    if x.shape.len() == 1 {
        let s = cx.ints(&[1, f as i64]);
        name = cx.op("Reshape", &[&name, &s], vec![]);
    }
    if x.dtype != DType::Float {
        name = cx.op("Cast", &[&name], vec![attr_int("to", 1)]);
    }
    Ok((name, n, f))
}

/// The post-transform of class scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transform {
    None,
    Softmax,
    Logistic,
}

fn transform(cx: &ExpandCx<'_>) -> Result<Transform> {
    match cx.attrs.string_or("post_transform", "NONE")?.as_str() {
        "NONE" => Ok(Transform::None),
        "SOFTMAX" => Ok(Transform::Softmax),
        "LOGISTIC" => Ok(Transform::Logistic),
        other => Err(unsupported(
            "post_transform",
            format!("'{other}'"),
            "NONE, SOFTMAX and LOGISTIC are supported",
        )),
    }
}

fn apply_transform(cx: &mut ExpandCx<'_>, t: Transform, scores: &str) -> String {
    match t {
        Transform::None => scores.to_string(),
        Transform::Softmax => cx.op("Softmax", &[scores], vec![attr_int("axis", -1)]),
        Transform::Logistic => cx.op("Sigmoid", &[scores], vec![]),
    }
}

/// The class labels (integers only).
fn class_labels(cx: &ExpandCx<'_>, ints: &'static str, strings: &'static str) -> Result<Vec<i64>> {
    if cx.attrs.strings(strings)?.is_some() {
        return Err(NodeError::UnsupportedDtype(
            "string class labels are not supported; export with integer labels (for example \
             encode the classes as 0..n-1 before converting)"
                .into(),
        ));
    }
    cx.attrs
        .ints(ints)?
        .ok_or_else(|| NodeError::Invalid(format!("attribute '{ints}' is required")))
}

/// `labels[argmax(scores)]` as int64 `[N]`.
fn label_of(cx: &mut ExpandCx<'_>, scores: &str, labels: &[i64]) -> String {
    let idx = cx.op(
        "ArgMax",
        &[scores],
        vec![attr_int("axis", 1), attr_int("keepdims", 0)],
    );
    if labels.iter().enumerate().all(|(i, &l)| l == i as i64) {
        return idx;
    }
    let table = cx.ints(labels);
    cx.op("Gather", &[&table, &idx], vec![attr_int("axis", 0)])
}

/// One node of a tree.
#[derive(Clone, Debug)]
struct TreeNode {
    feature: usize,
    threshold: f64,
    mode: String,
    on_true: usize,
    on_false: usize,
}

/// A tree ensemble's structure.
struct Ensemble {
    nodes: Vec<TreeNode>,
    /// Per tree, its root's index.
    roots: Vec<usize>,
    /// Index of `(tree id, node id)`.
    index: HashMap<(i64, i64), usize>,
}

fn ensemble(cx: &ExpandCx<'_>, features: usize) -> Result<Ensemble> {
    let tree_ids = required_ints(cx, "nodes_treeids")?;
    let node_ids = required_ints(cx, "nodes_nodeids")?;
    let feature_ids = required_ints(cx, "nodes_featureids")?;
    let values = floats(cx, "nodes_values", "nodes_values_as_tensor")?
        .ok_or_else(|| NodeError::Invalid("attribute 'nodes_values' is required".into()))?;
    let modes = cx
        .attrs
        .strings("nodes_modes")?
        .ok_or_else(|| NodeError::Invalid("attribute 'nodes_modes' is required".into()))?;
    let trues = required_ints(cx, "nodes_truenodeids")?;
    let falses = required_ints(cx, "nodes_falsenodeids")?;
    cx.attrs.ignore(&[
        "nodes_hitrates",
        "nodes_hitrates_as_tensor",
        "nodes_missing_value_tracks_true",
    ]);
    let n = tree_ids.len();
    if [
        node_ids.len(),
        feature_ids.len(),
        values.len(),
        modes.len(),
        trues.len(),
        falses.len(),
    ]
    .iter()
    .any(|&l| l != n)
    {
        return Err(NodeError::Invalid(
            "the nodes_* attributes have different lengths".into(),
        ));
    }
    let mut index = HashMap::new();
    for i in 0..n {
        if index.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(NodeError::Invalid(format!(
                "node {} of tree {} is listed twice",
                node_ids[i], tree_ids[i]
            )));
        }
    }
    let child = |i: usize, id: i64| -> Result<usize> {
        index
            .get(&(tree_ids[i], id))
            .copied()
            .ok_or_else(|| NodeError::Invalid(format!("tree {} has no node {id}", tree_ids[i])))
    };
    let mut nodes = Vec::with_capacity(n);
    let mut is_child = vec![false; n];
    for i in 0..n {
        let leaf = modes[i] == "LEAF";
        let (t, f) = if leaf {
            (i, i)
        } else {
            (child(i, trues[i])?, child(i, falses[i])?)
        };
        if !leaf {
            is_child[t] = true;
            is_child[f] = true;
            if feature_ids[i] < 0 || feature_ids[i] as usize >= features {
                return Err(NodeError::Invalid(format!(
                    "node {} of tree {} reads feature {}, but X has {features}",
                    node_ids[i], tree_ids[i], feature_ids[i]
                )));
            }
            if ![
                "BRANCH_LEQ",
                "BRANCH_LT",
                "BRANCH_GTE",
                "BRANCH_GT",
                "BRANCH_EQ",
                "BRANCH_NEQ",
            ]
            .contains(&modes[i].as_str())
            {
                return Err(unsupported(
                    "nodes_modes",
                    format!("'{}'", modes[i]),
                    "the BRANCH_* modes and LEAF",
                ));
            }
        }
        nodes.push(TreeNode {
            feature: feature_ids[i].max(0) as usize,
            threshold: values[i],
            mode: modes[i].clone(),
            on_true: t,
            on_false: f,
        });
    }
    // Roots in order of first appearance of their tree.
    let mut roots = Vec::new();
    let mut seen = Vec::new();
    for i in 0..n {
        if !is_child[i] && !seen.contains(&tree_ids[i]) {
            seen.push(tree_ids[i]);
            roots.push(i);
        }
    }
    Ok(Ensemble {
        nodes,
        roots,
        index,
    })
}

/// A leaf and its path: `(branch node, took the true branch)` from the root.
type LeafPath = (usize, Vec<(usize, bool)>);

/// Every leaf of the tree at `root`, with its path.
fn leaves(e: &Ensemble, root: usize) -> Result<Vec<LeafPath>> {
    let mut out = Vec::new();
    let mut stack = vec![(root, Vec::new())];
    while let Some((i, path)) = stack.pop() {
        if path.len() > e.nodes.len() {
            return Err(NodeError::Invalid("a tree has a cycle".into()));
        }
        let node = &e.nodes[i];
        if node.mode == "LEAF" {
            out.push((i, path));
            continue;
        }
        let mut t = path.clone();
        t.push((i, true));
        let mut f = path;
        f.push((i, false));
        stack.push((node.on_false, f));
        stack.push((node.on_true, t));
    }
    Ok(out)
}

/// The comparison op of a branch mode.
fn compare_op(mode: &str) -> (&'static str, bool) {
    match mode {
        "BRANCH_LEQ" => ("LessOrEqual", false),
        "BRANCH_LT" => ("Less", false),
        "BRANCH_GTE" => ("GreaterOrEqual", false),
        "BRANCH_GT" => ("Greater", false),
        "BRANCH_EQ" => ("Equal", false),
        _ => ("Equal", true),
    }
}

/// The reached-leaf indicators `[N, leaves]` (0/1 floats), in the order of `order`.
fn reached(
    cx: &mut ExpandCx<'_>,
    e: &Ensemble,
    x: &str,
    n: usize,
) -> Result<(String, Vec<usize>, Vec<usize>)> {
    // Branch nodes in tree order, each tree's contiguous.
    let mut branch_of = vec![usize::MAX; e.nodes.len()];
    let mut branches = Vec::new();
    let mut tree_leaves = Vec::new();
    for &root in &e.roots {
        let ls = leaves(e, root)?;
        let start = branches.len();
        for (_, path) in &ls {
            for &(k, _) in path {
                if branch_of[k] == usize::MAX {
                    branch_of[k] = branches.len();
                    branches.push(k);
                }
            }
        }
        tree_leaves.push((start, branches.len(), ls));
    }
    let cond = if branches.is_empty() {
        None
    } else {
        let feats: Vec<i64> = branches
            .iter()
            .map(|&k| e.nodes[k].feature as i64)
            .collect();
        let fi = cx.ints(&feats);
        let gathered = cx.op("Gather", &[x, &fi], vec![attr_int("axis", 1)]);
        let thresholds = Data::float(
            ArrayD::from_shape_vec(
                IxDyn(&[branches.len()]),
                branches.iter().map(|&k| e.nodes[k].threshold).collect(),
            )
            .expect("one per branch"),
        );
        let th = cx.constant_value(&thresholds);
        let mut modes: Vec<&str> = branches.iter().map(|&k| e.nodes[k].mode.as_str()).collect();
        modes.sort_unstable();
        modes.dedup();
        let mut cond: Option<String> = None;
        for mode in modes {
            let (op, negate) = compare_op(mode);
            let mut c = cx.op(op, &[&gathered, &th], vec![]);
            if negate {
                c = cx.op("Not", &[&c], vec![]);
            }
            cond = Some(match cond {
                None => c,
                Some(prev) => {
                    let mask = Data {
                        dtype: DType::Bool,
                        values: ArrayD::from_shape_vec(
                            IxDyn(&[branches.len()]),
                            branches
                                .iter()
                                .map(|&k| f64::from(u8::from(e.nodes[k].mode == mode)))
                                .collect(),
                        )
                        .expect("one per branch"),
                    };
                    let m = cx.constant_value(&mask);
                    cx.op("Where", &[&m, &c, &prev], vec![])
                }
            });
        }
        let c = cond.expect("at least one mode");
        Some(cx.op("Cast", &[&c], vec![attr_int("to", 1)]))
    };
    let mut hits = Vec::new();
    let mut leaf_nodes = Vec::new();
    let mut leaf_tree = Vec::new();
    for (t, (start, end, ls)) in tree_leaves.into_iter().enumerate() {
        let l = ls.len();
        leaf_nodes.extend(ls.iter().map(|(i, _)| *i));
        leaf_tree.extend(std::iter::repeat_n(t, l));
        if end == start {
            // A single-leaf tree: always reached.
            let ones = Data::float(ArrayD::ones(IxDyn(&[n, 1])));
            hits.push(cx.constant_value(&ones));
            continue;
        }
        let k = end - start;
        let mut a = vec![0.0; k * l];
        let mut offset = vec![0.0; l];
        let mut depth = vec![0.0; l];
        for (j, (_, path)) in ls.iter().enumerate() {
            depth[j] = path.len() as f64;
            for &(node, took_true) in path {
                let row = branch_of[node] - start;
                if took_true {
                    a[row * l + j] = 1.0;
                } else {
                    a[row * l + j] = -1.0;
                    offset[j] += 1.0;
                }
            }
        }
        let cond = cond.clone().expect("branches exist");
        let ct = cx.slice(&cond, 1, start as i64, end as i64);
        let am = cx.constant_value(&Data::float(
            ArrayD::from_shape_vec(IxDyn(&[k, l]), a).expect("k x l"),
        ));
        let count = cx.op("MatMul", &[&ct, &am], vec![]);
        let off = cx.constant_value(&Data::float(
            ArrayD::from_shape_vec(IxDyn(&[l]), offset).expect("l"),
        ));
        let count = cx.op("Add", &[&count, &off], vec![]);
        let dep = cx.constant_value(&Data::float(
            ArrayD::from_shape_vec(IxDyn(&[l]), depth).expect("l"),
        ));
        let hit = cx.op("Equal", &[&count, &dep], vec![]);
        hits.push(cx.op("Cast", &[&hit], vec![attr_int("to", 1)]));
    }
    let all = if hits.len() == 1 {
        hits.pop().expect("one")
    } else {
        cx.concat(&hits, 1)
    };
    Ok((all, leaf_nodes, leaf_tree))
}

/// Leaf weights `[leaves, columns]` from parallel lists of (tree, node, column, weight).
fn leaf_weights(
    e: &Ensemble,
    leaf_nodes: &[usize],
    entries: (&[i64], &[i64], &[i64], &[f64]),
    columns: usize,
) -> Result<Vec<f64>> {
    let (trees, nodes, cols, weights) = entries;
    if [nodes.len(), cols.len(), weights.len()]
        .iter()
        .any(|&l| l != trees.len())
    {
        return Err(NodeError::Invalid(
            "the leaf weight attributes have different lengths".into(),
        ));
    }
    let mut w = vec![0.0; leaf_nodes.len() * columns];
    for i in 0..trees.len() {
        let node = *e.index.get(&(trees[i], nodes[i])).ok_or_else(|| {
            NodeError::Invalid(format!("tree {} has no node {}", trees[i], nodes[i]))
        })?;
        let Some(row) = leaf_nodes.iter().position(|&l| l == node) else {
            return Err(NodeError::Invalid(format!(
                "weight for node {} of tree {}, which is not a reachable leaf",
                nodes[i], trees[i]
            )));
        };
        if cols[i] < 0 || cols[i] as usize >= columns {
            return Err(NodeError::Invalid(format!(
                "weight for column {} of {columns}",
                cols[i]
            )));
        }
        w[row * columns + cols[i] as usize] += weights[i];
    }
    Ok(w)
}

/// `TreeEnsembleClassifier`.
pub(crate) fn tree_classifier(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, n, f) = features(cx)?;
    let e = ensemble(cx, f)?;
    let labels = class_labels(cx, "classlabels_int64s", "classlabels_strings")?;
    let trees = required_ints(cx, "class_treeids")?;
    let nodes = required_ints(cx, "class_nodeids")?;
    let ids = required_ints(cx, "class_ids")?;
    let weights = floats(cx, "class_weights", "class_weights_as_tensor")?
        .ok_or_else(|| NodeError::Invalid("attribute 'class_weights' is required".into()))?;
    let base = floats(cx, "base_values", "base_values_as_tensor")?;
    let post = transform(cx)?;
    cx.attrs.finish()?;
    let c = labels.len();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let binary = c == 2 && distinct.len() == 1;
    let columns = if binary { 1 } else { c };
    let (hits, leaf_nodes, _) = reached(cx, &e, &x, n)?;
    let mut cols = ids.clone();
    if binary {
        cols.iter_mut().for_each(|v| *v = 0);
    }
    let w = leaf_weights(&e, &leaf_nodes, (&trees, &nodes, &cols, &weights), columns)?;
    let wm = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[leaf_nodes.len(), columns]), w).expect("shape"),
    ));
    let mut scores = cx.op("MatMul", &[&hits, &wm], vec![]);
    if binary {
        if let Some(b) = base.as_ref().filter(|b| !b.is_empty()) {
            let bv = cx.scalar(b[0]);
            scores = cx.op("Add", &[&scores, &bv], vec![]);
        }
        // onnxruntime's two-class rule: non-negative weights vote probabilities directly.
        let votes = weights.iter().all(|&v| v >= 0.0);
        let (cut, probs) = if votes {
            let one = cx.scalar(1.0);
            let other = cx.op("Sub", &[&one, &scores], vec![]);
            (0.5, cx.concat(&[other, scores.clone()], 1))
        } else {
            let neg = cx.op("Neg", &[&scores], vec![]);
            let pair = cx.concat(&[neg, scores.clone()], 1);
            match post {
                Transform::Logistic => (0.0, cx.op("Sigmoid", &[&pair], vec![])),
                Transform::None => (0.0, pair),
                Transform::Softmax => {
                    return Err(unsupported(
                        "post_transform",
                        "'SOFTMAX'".into(),
                        "a two-class ensemble with one score column takes NONE or LOGISTIC",
                    ))
                }
            }
        };
        let cutoff = cx.scalar(cut);
        let above = cx.op("Greater", &[&scores, &cutoff], vec![]);
        let idx = cx.op("Cast", &[&above], vec![attr_int("to", 7)]);
        let idx = cx.squeeze(&idx, 1);
        let table = cx.ints(&labels);
        let label = cx.op("Gather", &[&table, &idx], vec![attr_int("axis", 0)]);
        return Ok(vec![Some(label), Some(probs)]);
    }
    let scores = add_bias(cx, scores, base, c, "base_values")?;
    let label = label_of(cx, &scores, &labels);
    let probs = apply_transform(cx, post, &scores);
    Ok(vec![Some(label), Some(probs)])
}

/// `TreeEnsembleRegressor`.
pub(crate) fn tree_regressor(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, n, f) = features(cx)?;
    let e = ensemble(cx, f)?;
    let targets = crate::ops::usizes(&[cx.attrs.int_or("n_targets", 1)?], "n_targets")?[0];
    let trees = required_ints(cx, "target_treeids")?;
    let nodes = required_ints(cx, "target_nodeids")?;
    let ids = required_ints(cx, "target_ids")?;
    let weights = floats(cx, "target_weights", "target_weights_as_tensor")?
        .ok_or_else(|| NodeError::Invalid("attribute 'target_weights' is required".into()))?;
    let base = floats(cx, "base_values", "base_values_as_tensor")?;
    let aggregate = cx.attrs.string_or("aggregate_function", "SUM")?;
    let post = transform(cx)?;
    cx.attrs.finish()?;
    if post != Transform::None {
        return Err(unsupported(
            "post_transform",
            format!("{post:?}"),
            "a regressor takes NONE",
        ));
    }
    let (hits, leaf_nodes, leaf_tree) = reached(cx, &e, &x, n)?;
    let w = leaf_weights(&e, &leaf_nodes, (&trees, &nodes, &ids, &weights), targets)?;
    let n_trees = e.roots.len();
    let out = match aggregate.as_str() {
        "SUM" | "AVERAGE" => {
            let scale = if aggregate == "AVERAGE" {
                1.0 / n_trees as f64
            } else {
                1.0
            };
            let w: Vec<f64> = w.iter().map(|v| v * scale).collect();
            let wm = cx.constant_value(&Data::float(
                ArrayD::from_shape_vec(IxDyn(&[leaf_nodes.len(), targets]), w).expect("shape"),
            ));
            cx.op("MatMul", &[&hits, &wm], vec![])
        }
        "MIN" | "MAX" => {
            // Per tree values [N, trees * targets], then the extreme over the trees.
            let cols = n_trees * targets;
            let mut wt = vec![0.0; leaf_nodes.len() * cols];
            for (row, &t) in leaf_tree.iter().enumerate() {
                for j in 0..targets {
                    wt[row * cols + t * targets + j] = w[row * targets + j];
                }
            }
            let wm = cx.constant_value(&Data::float(
                ArrayD::from_shape_vec(IxDyn(&[leaf_nodes.len(), cols]), wt).expect("shape"),
            ));
            let per_tree = cx.op("MatMul", &[&hits, &wm], vec![]);
            let shape = cx.ints(&[n as i64, n_trees as i64, targets as i64]);
            let per_tree = cx.op("Reshape", &[&per_tree, &shape], vec![]);
            let op = if aggregate == "MIN" {
                "ReduceMin"
            } else {
                "ReduceMax"
            };
            cx.op(
                op,
                &[&per_tree],
                vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)],
            )
        }
        other => {
            return Err(unsupported(
                "aggregate_function",
                format!("'{other}'"),
                "SUM, AVERAGE, MIN or MAX",
            ))
        }
    };
    Ok(vec![Some(add_bias(cx, out, base, targets, "base_values")?)])
}

/// `scores + bias` (bias over the last axis of `n` columns, or one value for all), when a
/// non-empty bias is given; `what` names its attribute.
fn add_bias(
    cx: &mut ExpandCx<'_>,
    scores: String,
    bias: Option<Vec<f64>>,
    n: usize,
    what: &str,
) -> Result<String> {
    let Some(b) = bias.filter(|b| !b.is_empty()) else {
        return Ok(scores);
    };
    if b.len() != n && b.len() != 1 {
        return Err(NodeError::Invalid(format!(
            "{what} has {} values for {n} columns",
            b.len()
        )));
    }
    let bv = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[b.len()]), b).expect("len"),
    ));
    Ok(cx.op("Add", &[&scores, &bv], vec![]))
}

/// `LinearClassifier`.
pub(crate) fn linear_classifier(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, _, f) = features(cx)?;
    let coefficients = cx
        .attrs
        .floats("coefficients")?
        .ok_or_else(|| NodeError::Invalid("attribute 'coefficients' is required".into()))?;
    let intercepts = cx.attrs.floats("intercepts")?;
    let labels = class_labels(cx, "classlabels_ints", "classlabels_strings")?;
    let post = transform(cx)?;
    cx.attrs.ignore(&["multi_class"]);
    cx.attrs.finish()?;
    let rows = coefficients.len() / f.max(1);
    if rows * f != coefficients.len() || rows != labels.len() {
        return Err(unsupported(
            "coefficients",
            format!(
                "{} values for {} labels and {f} features",
                coefficients.len(),
                labels.len()
            ),
            "one row of coefficients per class (a two-class model with a single row is not \
             supported)",
        ));
    }
    let w = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[rows, f]), coefficients).expect("rows x f"),
    ));
    let scores = cx.op("Gemm", &[&x, &w], vec![attr_int("transB", 1)]);
    let scores = add_bias(cx, scores, intercepts, rows, "intercepts")?;
    let label = label_of(cx, &scores, &labels);
    let out = apply_transform(cx, post, &scores);
    Ok(vec![Some(label), Some(out)])
}

/// `LinearRegressor`.
pub(crate) fn linear_regressor(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, _, f) = features(cx)?;
    let coefficients = cx
        .attrs
        .floats("coefficients")?
        .ok_or_else(|| NodeError::Invalid("attribute 'coefficients' is required".into()))?;
    let intercepts = cx.attrs.floats("intercepts")?;
    let targets = crate::ops::usizes(&[cx.attrs.int_or("targets", 1)?], "targets")?[0];
    let post = transform(cx)?;
    cx.attrs.finish()?;
    if coefficients.len() != targets * f {
        return Err(NodeError::Invalid(format!(
            "{} coefficients for {targets} targets and {f} features",
            coefficients.len()
        )));
    }
    let w = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[targets, f]), coefficients).expect("t x f"),
    ));
    let out = cx.op("Gemm", &[&x, &w], vec![attr_int("transB", 1)]);
    let out = add_bias(cx, out, intercepts, targets, "intercepts")?;
    Ok(vec![Some(apply_transform(cx, post, &out))])
}

/// `Normalizer`: each row divided by its maximum, L1 or L2 norm.
pub(crate) fn normalizer(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, _, _) = features(cx)?;
    let norm = cx.attrs.string_or("norm", "MAX")?;
    cx.attrs.finish()?;
    let reduce = match norm.as_str() {
        "MAX" => "ReduceMax",
        "L1" => "ReduceL1",
        "L2" => "ReduceL2",
        other => return Err(unsupported("norm", format!("'{other}'"), "MAX, L1 or L2")),
    };
    let axes = cx.ints(&[1]);
    let d = cx.op(reduce, &[&x, &axes], vec![attr_int("keepdims", 1)]);
    Ok(vec![Some(cx.op("Div", &[&x, &d], vec![]))])
}

/// `Scaler`: `(x - offset) * scale`.
pub(crate) fn scaler(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    let (x, _, _) = features(cx)?;
    let offset = cx.attrs.floats("offset")?.unwrap_or_else(|| vec![0.0]);
    let scale = cx.attrs.floats("scale")?.unwrap_or_else(|| vec![1.0]);
    cx.attrs.finish()?;
    let o = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[offset.len()]), offset).expect("len"),
    ));
    let s = cx.constant_value(&Data::float(
        ArrayD::from_shape_vec(IxDyn(&[scale.len()]), scale).expect("len"),
    ));
    let d = cx.op("Sub", &[&x, &o], vec![]);
    Ok(vec![Some(cx.op("Mul", &[&d, &s], vec![]))])
}

/// `ArrayFeatureExtractor`: `X[..., indices]` on the last axis (a 1-D `X` gives `[1, k]`).
pub(crate) fn array_feature_extractor(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    cx.attrs.finish()?;
    let x = cx.input(0, "X")?.clone();
    let idx = cx.input(1, "Y")?.clone();
    let k: usize = idx.shape.iter().product();
    let flat = cx.ints(&[k as i64]);
    let flat = cx.op("Reshape", &[&idx.name, &flat], vec![]);
    let picked = cx.op("Gather", &[&x.name, &flat], vec![attr_int("axis", -1)]);
    let mut shape: Vec<i64> = x.shape[..x.shape.len().saturating_sub(1)]
        .iter()
        .map(|&d| d as i64)
        .collect();
    if shape.is_empty() {
        shape.push(1);
    }
    shape.push(k as i64);
    let s = cx.ints(&shape);
    Ok(vec![Some(cx.op("Reshape", &[&picked, &s], vec![]))])
}

/// `ZipMap`: onnxruntime returns one `{label: probability}` map per row; a proof's outputs are
/// tensors, so the probabilities come out as the `[N, C]` tensor the maps are made of, columns
/// in class-label order.
pub(crate) fn zipmap(cx: &mut ExpandCx<'_>) -> Result<Vec<Option<String>>> {
    cx.attrs
        .ignore(&["classlabels_int64s", "classlabels_strings"]);
    cx.attrs.finish()?;
    let x = cx.input(0, "X")?.name.clone();
    Ok(vec![Some(cx.op("Identity", &[&x], vec![]))])
}

//! Cutting a program into segments: consecutive runs of its nodes, each a program of its own,
//! that hand the tensors live across each cut from one segment to the next.
//!
//! A cut before node `c` ends one segment and starts the next. The tensors crossing it, its
//! *boundary*, are the nodes that are not constants, that come before the cut (the program's
//! inputs count as coming first, wherever they are listed) and that a node after the cut reads
//! or that the program outputs; they are listed in node order.
//!
//! - The first segment takes the program's inputs, in order; every later segment takes the
//!   boundary of the cut before it. A program input keeps its domain there; any other tensor
//!   becomes an input of domain [`InputDomain::Bounded`] with the bound its producer has, so
//!   the nodes after the cut keep the bounds they had (the producer's circuit guarantees the
//!   bound; the consumer's checks it again).
//! - The last segment outputs the program's outputs, under their names; every other segment
//!   outputs the boundary of the cut after it, under the nodes' names.
//! - Constants a segment reads are copied into it, and the lookup tables it uses are copied
//!   and renumbered.
//!
//! Evaluating the segments in order, each on the outputs of the one before, gives exactly the
//! values the whole program gives (see the tests).

use std::collections::BTreeMap;
use std::ops::Range;

use crate::error::IrError;
use crate::op::{InputDomain, Op};
use crate::program::{Node, Program};

/// Metadata key holding a segment's place, `"i/n"` (segment `i` of `n`, from 0).
pub const SEGMENT_KEY: &str = "segment";

/// Metadata key holding the cuts a program was compiled with (`zkml compile --segments`): the
/// nodes before which it is cut, comma-separated (empty: one segment).
pub const CUTS_KEY: &str = "cuts";

/// Metadata key holding what the planned cuts were planned within, as the compiler's flags
/// (`"--max-memory 16"`): proving within the same request uses the cuts as they are.
pub const CUT_REQUEST_KEY: &str = "cut_request";

/// One segment of a cut program.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The segment as a program of its own.
    pub program: Program,
    /// The nodes of the whole program whose values it takes as inputs, in input order.
    pub inputs: Vec<usize>,
    /// The nodes of the whole program whose values it outputs, in output order.
    pub outputs: Vec<usize>,
    /// The nodes of the whole program it computes (those that are not inputs).
    pub nodes: Range<usize>,
}

/// Where each node is last read: the largest index of a node reading it, or `usize::MAX` for
/// an output (read after the last node).
fn last_reads(program: &Program) -> Vec<Option<usize>> {
    let mut last = vec![None; program.nodes.len()];
    for (i, node) in program.nodes.iter().enumerate() {
        for &j in &node.inputs {
            last[j] = Some(i);
        }
    }
    for &o in &program.outputs {
        last[o] = Some(usize::MAX);
    }
    last
}

fn is_const(node: &Node) -> bool {
    matches!(node.op, Op::Const { .. })
}

fn is_input(node: &Node) -> bool {
    matches!(node.op, Op::Input { .. })
}

/// The tensors crossing a cut before node `cut`, in node order.
pub fn boundary(program: &Program, cut: usize) -> Vec<usize> {
    boundary_with(program, &last_reads(program), cut)
}

fn boundary_with(program: &Program, last: &[Option<usize>], cut: usize) -> Vec<usize> {
    program
        .nodes
        .iter()
        .enumerate()
        .filter(|&(j, n)| {
            !is_const(n) && (j < cut || is_input(n)) && last[j].is_some_and(|r| r >= cut)
        })
        .map(|(j, _)| j)
        .collect()
}

/// Why a cut before node `cut` is not allowed, given every node's bound as the circuits see
/// it (`bounds`, from [`Program::bounds_with`]); `None` where it is.
pub fn cut_problem(program: &Program, bounds: &[u64], cut: usize) -> Option<String> {
    cut_problem_with(program, &last_reads(program), bounds, cut)
}

fn cut_problem_with(
    program: &Program,
    last: &[Option<usize>],
    bounds: &[u64],
    cut: usize,
) -> Option<String> {
    if cut == 0 || cut >= program.nodes.len() {
        return Some(format!(
            "a cut must fall between nodes 1 and {}",
            program.nodes.len().saturating_sub(1)
        ));
    }
    let limit = program.value_limit().unsigned_abs();
    boundary_with(program, last, cut).into_iter().find_map(|j| {
        let n = &program.nodes[j];
        (!is_input(n) && bounds[j] > limit).then(|| {
            format!(
                "node {j} '{}' crosses it with values up to {}, beyond the {}-bit value range",
                n.name, bounds[j], program.value_bits
            )
        })
    })
}

/// Whether a segment of nodes `range` computes something (not only constants and inputs).
fn computes(program: &Program, range: Range<usize>) -> bool {
    program.nodes[range]
        .iter()
        .any(|n| !is_const(n) && !is_input(n))
}

/// Cuts `program` before each node of `cuts` (strictly increasing). `bounds` are every node's
/// bounds as the circuits see them (from [`Program::bounds_with`] under the parameter
/// visibility the segments are proven with): they become the bounds of the tensors handed
/// over. No cut gives the program itself as the only segment.
pub fn split(program: &Program, cuts: &[usize], bounds: &[u64]) -> Result<Vec<Segment>, IrError> {
    if bounds.len() != program.nodes.len() {
        return Err(IrError::InvalidProgram(format!(
            "{} bounds given for {} nodes",
            bounds.len(),
            program.nodes.len()
        )));
    }
    if cuts.is_empty() {
        return Ok(vec![Segment {
            program: program.clone(),
            inputs: program.inputs.clone(),
            outputs: program.outputs.clone(),
            nodes: 0..program.nodes.len(),
        }]);
    }
    let last = last_reads(program);
    let mut starts = vec![0];
    for &cut in cuts {
        let before = *starts.last().expect("starts with 0");
        if cut <= before {
            return Err(IrError::InvalidCut {
                cut,
                reason: "cuts must be distinct and in increasing order".into(),
            });
        }
        if let Some(reason) = cut_problem_with(program, &last, bounds, cut) {
            return Err(IrError::InvalidCut { cut, reason });
        }
        starts.push(cut);
    }
    let count = starts.len();
    let mut ends: Vec<usize> = starts[1..].to_vec();
    ends.push(program.nodes.len());
    let mut segments = Vec::with_capacity(count);
    for (s, (&start, &end)) in starts.iter().zip(&ends).enumerate() {
        if !computes(program, start..end) {
            return Err(IrError::InvalidCut {
                cut: if s == 0 { end } else { start },
                reason: format!("segment {s} (nodes {start}..{end}) would compute nothing"),
            });
        }
        let inputs = if s == 0 {
            program.inputs.clone()
        } else {
            boundary_with(program, &last, start)
        };
        let outputs = if s + 1 == count {
            program.outputs.clone()
        } else {
            boundary_with(program, &last, end)
        };
        let mut built = SegmentBuilder::new(program, bounds);
        for (k, &j) in inputs.iter().enumerate() {
            built.input(k, j, s == 0);
        }
        for j in start..end {
            let node = &program.nodes[j];
            if !is_input(node) && !is_const(node) {
                built.compute(j);
            }
        }
        let program_out = built.finish(s, count, &outputs)?;
        segments.push(Segment {
            program: program_out,
            inputs,
            outputs,
            nodes: start..end,
        });
    }
    Ok(segments)
}

/// Builds one segment's program.
struct SegmentBuilder<'a> {
    whole: &'a Program,
    bounds: &'a [u64],
    nodes: Vec<Node>,
    inputs: Vec<usize>,
    /// Node of the whole program -> node of the segment.
    map: BTreeMap<usize, usize>,
    /// Table of the whole program -> table of the segment.
    tables: BTreeMap<usize, usize>,
}

impl<'a> SegmentBuilder<'a> {
    fn new(whole: &'a Program, bounds: &'a [u64]) -> Self {
        Self {
            whole,
            bounds,
            nodes: Vec::new(),
            inputs: Vec::new(),
            map: BTreeMap::new(),
            tables: BTreeMap::new(),
        }
    }

    fn push(&mut self, j: usize, node: Node) {
        self.map.insert(j, self.nodes.len());
        self.nodes.push(node);
    }

    /// Input `k` of the segment: the value of node `j`.
    fn input(&mut self, k: usize, j: usize, first: bool) {
        let src = &self.whole.nodes[j];
        let domain = match src.op {
            Op::Input { domain, .. } => domain,
            _ => InputDomain::Bounded {
                bound: self.bounds[j],
            },
        };
        debug_assert!(first || !is_const(src));
        self.inputs.push(self.nodes.len());
        self.push(
            j,
            Node {
                name: src.name.clone(),
                op: Op::Input { index: k, domain },
                inputs: Vec::new(),
                shape: src.shape.clone(),
                scale: src.scale,
                bound: src.bound,
            },
        );
    }

    /// The segment's node for node `j` of the whole program, copying a constant on first use.
    fn source(&mut self, j: usize) -> usize {
        if let Some(&m) = self.map.get(&j) {
            return m;
        }
        let src = &self.whole.nodes[j];
        debug_assert!(is_const(src), "only constants are copied on demand");
        self.push(j, src.clone());
        self.nodes.len() - 1
    }

    fn compute(&mut self, j: usize) {
        let src = &self.whole.nodes[j];
        let inputs: Vec<usize> = src.inputs.iter().map(|&i| self.source(i)).collect();
        let mut op = src.op.clone();
        if let Op::Lookup { table } = &mut op {
            let next = self.tables.len();
            *table = *self.tables.entry(*table).or_insert(next);
        }
        let node = Node {
            inputs,
            op,
            ..src.clone()
        };
        self.push(j, node);
    }

    fn finish(mut self, s: usize, count: usize, outputs: &[usize]) -> Result<Program, IrError> {
        let out_nodes: Vec<usize> = outputs.iter().map(|&j| self.source(j)).collect();
        let output_names = if s + 1 == count {
            self.whole.output_names.clone()
        } else {
            outputs
                .iter()
                .map(|&j| self.whole.nodes[j].name.clone())
                .collect()
        };
        let mut tables = vec![None; self.tables.len()];
        for (&from, &to) in &self.tables {
            tables[to] = Some(self.whole.tables[from].clone());
        }
        let mut metadata = self.whole.metadata.clone();
        metadata.remove(CUTS_KEY);
        metadata.remove(CUT_REQUEST_KEY);
        metadata.insert(SEGMENT_KEY.into(), format!("{s}/{count}"));
        let mut program = Program {
            value_bits: self.whole.value_bits,
            nodes: self.nodes,
            inputs: self.inputs,
            outputs: out_nodes,
            output_names,
            tables: tables
                .into_iter()
                .map(|t| t.expect("every slot filled"))
                .collect(),
            metadata,
            source: None,
        };
        // A bounded input may be wider than the node it stands for was (its bound comes from
        // the circuits' view of the parameters): the bounds after it follow.
        for i in 0..program.nodes.len() {
            let (_, _, bound) = program.derive(i).map_err(|reason| IrError::InvalidNode {
                node: i,
                name: program.nodes[i].name.clone(),
                op: program.nodes[i].op.name(),
                reason,
            })?;
            program.nodes[i].bound = bound;
        }
        program.validate()?;
        Ok(program)
    }
}

/// Records `cuts` (nodes before which to cut, ascending) as the program's planned cuts, planned
/// within `request` (see [`CUT_REQUEST_KEY`]). Whether the program can be cut there depends on
/// the parameters' bounds, so [`split`] checks that when the cuts are used.
pub fn set_cuts(program: &mut Program, cuts: &[usize], request: &str) -> Result<(), IrError> {
    let mut previous = 0;
    for &cut in cuts {
        if cut <= previous || cut >= program.nodes.len() {
            return Err(IrError::InvalidCut {
                cut,
                reason: format!(
                    "cuts go in ascending order between nodes 1 and {}",
                    program.nodes.len().saturating_sub(1)
                ),
            });
        }
        previous = cut;
    }
    let list: Vec<String> = cuts.iter().map(usize::to_string).collect();
    program.metadata.insert(CUTS_KEY.into(), list.join(","));
    program
        .metadata
        .insert(CUT_REQUEST_KEY.into(), request.to_string());
    Ok(())
}

/// What the planned cuts were planned within (see [`set_cuts`]), where it was recorded.
pub fn planned_request(program: &Program) -> Option<&str> {
    program.metadata.get(CUT_REQUEST_KEY).map(String::as_str)
}

/// The cuts the program was compiled with, if any (see [`set_cuts`]); an error for a list
/// that is not one.
pub fn planned_cuts(program: &Program) -> Result<Option<Vec<usize>>, IrError> {
    let Some(list) = program.metadata.get(CUTS_KEY) else {
        return Ok(None);
    };
    if list.is_empty() {
        return Ok(Some(Vec::new()));
    }
    list.split(',')
        .map(|c| {
            c.parse().map_err(|_| IrError::InvalidCut {
                cut: 0,
                reason: format!("the program's planned cuts '{list}' are not a list of nodes"),
            })
        })
        .collect::<Result<Vec<usize>, _>>()
        .map(Some)
}

/// A segment's place in its program, `(index, count)`, from its metadata.
pub fn segment_place(program: &Program) -> Option<(usize, usize)> {
    let (i, n) = program.metadata.get(SEGMENT_KEY)?.split_once('/')?;
    let (i, n) = (i.parse().ok()?, n.parse().ok()?);
    (i < n).then_some((i, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{evaluate, ParamBounds, ProgramBuilder, Tensor};

    /// Two inputs (the second listed late, read only after the cut), a skip connection over
    /// the cut, and a constant read on both sides of it.
    fn program() -> Program {
        let mut b = ProgramBuilder::new(8).unwrap();
        let x = b.input("x", vec![1, 4], 2).unwrap();
        let c = b.parameter("c", vec![4], 2, vec![1, -2, 3, 4]).unwrap();
        let a = b.push("a", Op::Max, &[x, c]).unwrap();
        let r = b
            .push(
                "r",
                Op::Clip {
                    min: Some(-50),
                    max: Some(60),
                },
                &[a],
            )
            .unwrap();
        let y = b.input("y", vec![1, 4], 2).unwrap();
        let s = b.push("s", Op::Add, &[r, x]).unwrap();
        let t = b.push("t", Op::Add, &[s, c]).unwrap();
        let u = b.push("u", Op::Sub, &[t, y]).unwrap();
        b.output(u, "u");
        b.output(r, "r");
        b.finish().unwrap()
    }

    #[test]
    fn skips_late_inputs_and_shared_constants_cross_cuts() {
        let p = program();
        let bounds = p.bounds_with(ParamBounds::Exact).unwrap();
        let at = |name: &str| p.nodes.iter().position(|n| n.name == name).unwrap();
        let cut = at("s");
        assert_eq!(boundary(&p, cut), vec![at("x"), at("r"), at("y")]);
        let inputs = vec![
            Tensor::new(vec![1, 4], vec![5, -7, 2, 9]).unwrap(),
            Tensor::new(vec![1, 4], vec![1, 1, -3, 0]).unwrap(),
        ];
        let whole = evaluate(&p, &inputs).unwrap();
        let segments = split(&p, &[cut], &bounds).unwrap();
        assert_eq!(segments[0].outputs, vec![at("x"), at("r"), at("y")]);
        let first = evaluate(&segments[0].program, &inputs).unwrap();
        let passed: Vec<Tensor> = first.outputs().into_iter().cloned().collect();
        let second = evaluate(&segments[1].program, &passed).unwrap();
        assert_eq!(second.outputs(), whole.outputs());
        assert_eq!(segment_place(&segments[1].program), Some((1, 2)));
        // Planned cuts are recorded in the program, and not handed on to its segments.
        let mut planned = p.clone();
        assert_eq!(planned_cuts(&planned).unwrap(), None);
        assert_eq!(planned_request(&planned), None);
        set_cuts(&mut planned, &[cut], "--max-memory 16").unwrap();
        assert_eq!(planned_cuts(&planned).unwrap(), Some(vec![cut]));
        assert_eq!(planned_request(&planned), Some("--max-memory 16"));
        assert!(set_cuts(&mut planned.clone(), &[cut, cut], "").is_err());
        assert!(set_cuts(&mut planned.clone(), &[0], "").is_err());
        let resplit = split(&planned, &[cut], &bounds).unwrap();
        for segment in &resplit {
            assert!(!segment.program.metadata.contains_key(CUTS_KEY));
            assert!(!segment.program.metadata.contains_key(CUT_REQUEST_KEY));
        }
        planned.metadata.insert(CUTS_KEY.into(), "3,x".into());
        assert!(planned_cuts(&planned).is_err());
        // The program input keeps its domain; the computed tensor is bounded as before.
        let taken = &segments[1].program;
        assert!(matches!(
            taken.nodes[taken.inputs[0]].op,
            Op::Input {
                domain: InputDomain::Real,
                ..
            }
        ));
        assert_eq!(
            taken.nodes[taken.inputs[1]].op,
            Op::Input {
                index: 1,
                domain: InputDomain::Bounded {
                    bound: bounds[at("r")]
                }
            }
        );
        // No cut is the program itself.
        assert_eq!(split(&p, &[], &bounds).unwrap()[0].program, p);
    }

    #[test]
    fn bounded_inputs_refuse_values_beyond_their_bound() {
        let p = program();
        let bounds = p.bounds_with(ParamBounds::Exact).unwrap();
        let cut = p.nodes.iter().position(|n| n.name == "s").unwrap();
        let second = &split(&p, &[cut], &bounds).unwrap()[1].program;
        let b = bounds[p.nodes.iter().position(|n| n.name == "r").unwrap()] as i64;
        let ok = Tensor::new(vec![1, 4], vec![0; 4]).unwrap();
        let wide = Tensor::new(vec![1, 4], vec![0, b + 1, 0, 0]).unwrap();
        let e = evaluate(second, &[ok.clone(), wide, ok]).unwrap_err();
        assert!(e.to_string().contains("|q| <="), "{e}");
    }
}

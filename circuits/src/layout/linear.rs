//! Linear rows: every result lane is a constant plus a weighted sum of the operand lanes.
//!
//! ```text
//! LinFirst   z[j] = c[j] + sum_i w[j][i] * x[i]              for every j < M
//! LinNext    z[j] = z[j](prev row) + c[j] + sum_i w[j][i] * x[i]
//! ```
//!
//! Small combinations (additions, scalings, limb recompositions, dot products of at most `W`
//! terms) are packed side by side into one row: up to `M` results over up to `W` distinct
//! operands. Longer dot products run over consecutive rows, `W` terms per row, and up to `M` of
//! them share the operands (the rows of a matrix product, the output channels of a convolution
//! at one position), so each operand cell serves `M` multiply-accumulates.

use rustc_hash::FxHashMap as HashMap;

use super::adversary::Choice;
use super::{AdviceCol, CellRef, Gate, Layout};

/// An operand of a linear block.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LinInput {
    /// An existing cell, copied into a lane (reused when already in the row).
    Cell(CellRef),
    /// A new witness value, assigned directly in a lane.
    Fresh(i128),
}

/// One result: `constant + sum coeff * input[index]`.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinTerm {
    pub coeffs: Vec<(usize, i128)>,
    pub constant: i128,
}

/// Results that must share one row, with their operands.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinBlock {
    pub inputs: Vec<LinInput>,
    pub outputs: Vec<LinTerm>,
}

/// Cells of a placed block: operand lanes (in input order) and results.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub inputs: Vec<CellRef>,
    pub outputs: Vec<CellRef>,
}

/// The linear row currently being filled.
#[derive(Clone, Debug)]
pub(crate) struct OpenRow {
    row: usize,
    lanes_used: usize,
    results_used: usize,
    lane_of: HashMap<CellRef, usize>,
}

/// Places a block in the open linear row, or in a new one.
pub(crate) fn place_block(layout: &mut Layout, block: &LinBlock) -> Placed {
    let (w, m) = (layout.params.lanes, layout.params.results);
    assert!(block.outputs.len() <= m, "a block has at most M results");
    assert!(block.inputs.len() <= w, "a block has at most W operands");
    let fits = |open: &OpenRow| {
        let new_lanes = block
            .inputs
            .iter()
            .filter(|i| match i {
                LinInput::Cell(c) => !open.lane_of.contains_key(c),
                LinInput::Fresh(_) => true,
            })
            .count();
        open.lanes_used + new_lanes <= w && open.results_used + block.outputs.len() <= m
    };
    if !layout.open_lin.as_ref().is_some_and(fits) {
        let row = layout.row(Gate::LinFirst);
        layout.open_lin = Some(OpenRow {
            row,
            lanes_used: 0,
            results_used: 0,
            lane_of: HashMap::default(),
        });
    }
    let mut open = layout.open_lin.take().expect("opened above");
    let row = open.row;
    let mut lanes = Vec::with_capacity(block.inputs.len());
    let mut cells = Vec::with_capacity(block.inputs.len());
    for input in &block.inputs {
        let (lane, cell) = match *input {
            LinInput::Cell(c) => match open.lane_of.get(&c) {
                Some(&lane) => (
                    lane,
                    CellRef {
                        col: AdviceCol::X(lane),
                        row,
                    },
                ),
                None => {
                    let lane = open.lanes_used;
                    open.lanes_used += 1;
                    let v = layout.value(super::Wire::Cell(c));
                    let cell = layout.assign(AdviceCol::X(lane), row, v);
                    layout.copy(cell, c);
                    open.lane_of.insert(c, lane);
                    (lane, cell)
                }
            },
            LinInput::Fresh(v) => {
                let lane = open.lanes_used;
                open.lanes_used += 1;
                (lane, layout.assign(AdviceCol::X(lane), row, v))
            }
        };
        lanes.push(lane);
        cells.push(cell);
    }
    let mut outputs = Vec::with_capacity(block.outputs.len());
    for term in &block.outputs {
        let j = open.results_used;
        open.results_used += 1;
        let mut acc = term.constant;
        let mut weights: HashMap<usize, i128> = HashMap::default();
        for &(idx, coeff) in &term.coeffs {
            *weights.entry(lanes[idx]).or_default() += coeff;
            acc += coeff * layout.value(super::Wire::Cell(cells[idx]));
        }
        for (lane, coeff) in weights {
            layout.set_weight(row, j, lane, coeff);
        }
        layout.set_constant(row, j, term.constant);
        let acc = layout.choose(Choice::Result, acc);
        outputs.push(layout.assign(AdviceCol::Z(j), row, acc));
    }
    layout.open_lin = Some(open);
    Placed {
        inputs: cells,
        outputs,
    }
}

/// A cell holding the constant `v` (a result lane with no operands).
pub(crate) fn constant_cell(layout: &mut Layout, v: i128) -> CellRef {
    let block = LinBlock {
        inputs: vec![],
        outputs: vec![LinTerm {
            coeffs: vec![],
            constant: v,
        }],
    };
    place_block(layout, &block).outputs[0]
}

/// Dot products sharing one operand list: result `j` is `constants[j] + sum_t weights[j][t] *
/// inputs[t]`. Up to `M` results; any number of operands (chained over rows when more than `W`).
pub(crate) fn shared_dot(
    layout: &mut Layout,
    inputs: &[CellRef],
    weights: &[Vec<i128>],
    constants: &[i128],
) -> Vec<CellRef> {
    let (w, m) = (layout.params.lanes, layout.params.results);
    assert!(weights.len() <= m && weights.len() == constants.len());
    if inputs.len() <= w {
        let block = LinBlock {
            inputs: inputs.iter().map(|&c| LinInput::Cell(c)).collect(),
            outputs: weights
                .iter()
                .zip(constants)
                .map(|(ws, &c)| LinTerm {
                    coeffs: ws
                        .iter()
                        .copied()
                        .enumerate()
                        .filter(|(_, v)| *v != 0)
                        .collect(),
                    constant: c,
                })
                .collect(),
        };
        return place_block(layout, &block).outputs;
    }
    let mut acc: Vec<i128> = constants.to_vec();
    let mut last = Vec::new();
    for (chunk_index, chunk) in inputs.chunks(w).enumerate() {
        let gate = if chunk_index == 0 {
            Gate::LinFirst
        } else {
            Gate::LinNext
        };
        let row = layout.row(gate);
        let mut values = Vec::with_capacity(chunk.len());
        for (lane, &c) in chunk.iter().enumerate() {
            let v = layout.value(super::Wire::Cell(c));
            let cell = layout.assign(AdviceCol::X(lane), row, v);
            layout.copy(cell, c);
            values.push(v);
        }
        last.clear();
        for (j, ws) in weights.iter().enumerate() {
            let base = chunk_index * w;
            for (lane, v) in values.iter().enumerate() {
                let coeff = ws[base + lane];
                if coeff != 0 {
                    layout.set_weight(row, j, lane, coeff);
                    acc[j] += coeff * v;
                }
            }
            if chunk_index == 0 {
                layout.set_constant(row, j, constants[j]);
            }
            acc[j] = layout.choose(Choice::Result, acc[j]);
            last.push(layout.assign(AdviceCol::Z(j), row, acc[j]));
        }
    }
    last
}

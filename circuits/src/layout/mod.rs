//! The layout engine: turns a program into an assignment of cells, fixed values, gate selectors
//! and copy constraints, independent of halo2's types.
//!
//! Values are exact integers (`i128`), mapped to field elements only when written. The layout
//! depends only on the program (never on witness values), so key generation and proving see the
//! same circuit; without a trace every witness value is 0.

use rustc_hash::FxHashMap as HashMap;

use halo2_proofs::halo2curves::bn256::Fr;

pub use crate::error::LayoutError;
use crate::params::CircuitParams;
pub use cells::Cells;
pub use gather::TABLE_PART;

pub mod adversary;
pub(crate) mod bits;
mod cells;
pub(crate) mod divsqrt;
pub mod freivalds;
pub(crate) mod gather;
pub(crate) mod hash;
pub(crate) mod linear;
pub(crate) mod lookup;
pub(crate) mod product;
pub(crate) mod program;
pub(crate) mod range;
pub(crate) mod select;

/// A cell value: an exact integer (every tensor value and auxiliary witness), or a general
/// field element (hash states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// An integer, mapped to the field when written (negatives wrap).
    Int(i128),
    /// A field element.
    Field(Fr),
}

impl Val {
    /// The field element this value is written as.
    pub fn to_field(self) -> Fr {
        match self {
            Val::Int(v) => crate::field::field(v),
            Val::Field(f) => f,
        }
    }

    /// The value plus one (soundness tests perturb witnesses this way).
    pub fn plus_one(self) -> Val {
        match self {
            Val::Int(v) => Val::Int(v + 1),
            Val::Field(f) => Val::Field(f + Fr::one()),
        }
    }
}

impl Default for Val {
    fn default() -> Self {
        Val::Int(0)
    }
}

/// An advice column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdviceCol {
    /// Operand lane.
    X(usize),
    /// Result lane.
    Z(usize),
    /// Range-check stream.
    Range(usize),
    /// Function-table stream input.
    TableIn(usize),
    /// Function-table stream output.
    TableOut(usize),
    /// Second-phase operand lane of the Freivalds rows (values depend on the challenge).
    V(usize),
    /// Second-phase accumulator of the Freivalds rows.
    H,
}

impl AdviceCol {
    /// The column's index among the advice columns of a circuit of shape `p` (its cells'
    /// position in a row): lanes, results, range streams, table inputs and outputs, then the
    /// second-phase lanes and accumulator.
    pub fn index(self, p: &CircuitParams) -> usize {
        match self {
            AdviceCol::X(i) => i,
            AdviceCol::Z(j) => p.lanes + j,
            AdviceCol::Range(l) => p.lanes + p.results + l,
            AdviceCol::TableIn(l) => p.lanes + p.results + p.range_streams + l,
            AdviceCol::TableOut(l) => p.lanes + p.results + p.range_streams + p.table_streams + l,
            AdviceCol::V(i) => p.advice_columns() + i,
            AdviceCol::H => p.advice_columns() + p.lanes,
        }
    }

    /// Whether the column is committed after the challenge is drawn.
    pub fn second_phase(self) -> bool {
        matches!(self, AdviceCol::V(_) | AdviceCol::H)
    }
}

/// An advice cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellRef {
    /// Column.
    pub col: AdviceCol,
    /// Row.
    pub row: usize,
}

/// A value flowing through the circuit: a cell, or a constant fixed by the circuit itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wire {
    /// An advice cell.
    Cell(CellRef),
    /// A constant.
    Const(i128),
}

/// The cells among `wires`, in order (constants left out).
pub(crate) fn cells_of(wires: &[Wire]) -> Vec<CellRef> {
    wires
        .iter()
        .filter_map(|&w| match w {
            Wire::Cell(c) => Some(c),
            Wire::Const(_) => None,
        })
        .collect()
}

/// The gate enabled on a main-region row (the `config` module states its constraints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// Linear combination, starting a sum.
    LinFirst,
    /// Linear combination, continuing the previous row's sums.
    LinNext,
    /// Lane-pair products, starting a sum.
    MulFirst,
    /// Lane-pair products, continuing the previous row's sums.
    MulNext,
    /// Rounded division.
    Div,
    /// Floor square root.
    Sqrt,
    /// Comparison and selection.
    Select,
    /// ReLU with the sign witness split into two range-checked limbs (unfolded circuits).
    Relu,
    /// A rescale and the ReLU of its result in one group of lanes (unfolded circuits).
    RescaleRelu,
    /// Bits, starting a recomposition (folded circuits).
    BitsFirst,
    /// Bits, continuing the previous row's recomposition.
    BitsNext,
    /// Horner chains in the second-phase lanes, starting: `v[i] = w[0][i]`.
    HornerFirst,
    /// Horner chains, continuing: `v[i] = r v[i](prev) + w[0][i]`.
    HornerNext,
    /// Challenge-weighted dot product, starting: `h = sum_i x[i] v[i]`.
    FdotFirst,
    /// Challenge-weighted dot product, continuing: `h = h(prev) + sum_i x[i] v[i]`.
    FdotNext,
    /// A run of Poseidon rounds: the row kind's position in
    /// [`crate::poseidon::row_kinds`] for the circuit's lane count.
    Poseidon(u8),
}

impl Gate {
    /// Every gate of an unfolded circuit except the Poseidon rows, in selector order.
    pub const ALL: [Gate; 9] = [
        Gate::LinFirst,
        Gate::LinNext,
        Gate::MulFirst,
        Gate::MulNext,
        Gate::Div,
        Gate::Sqrt,
        Gate::Select,
        Gate::Relu,
        Gate::RescaleRelu,
    ];

    /// The gates of Freivalds checks (circuits with second-phase columns), in selector order.
    pub const FREIVALDS: [Gate; 4] = [
        Gate::HornerFirst,
        Gate::HornerNext,
        Gate::FdotFirst,
        Gate::FdotNext,
    ];
}

/// A function lookup table placed in the circuit.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedTable {
    /// Tag identifying the table in lookups (1-based).
    pub tag: u64,
    /// Smallest input.
    pub lo: i64,
    /// Outputs for inputs `lo, lo + 1, ...`.
    pub values: Vec<i64>,
    /// The function-table bank holding it.
    pub bank: usize,
}

/// What a part of a layout uses: main-region rows, range checks and function lookups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Main-region rows.
    pub rows: usize,
    /// Range-stream checks.
    pub range_checks: usize,
    /// Function-stream lookups.
    pub table_checks: usize,
}

/// The first of the least filled banks.
pub fn least_filled(fill: &[usize]) -> usize {
    (0..fill.len())
        .min_by_key(|&b| (fill[b], b))
        .expect("at least one bank")
}

/// The complete assignment of a circuit.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Column counts (`k` may be raised once the row count is known).
    pub params: CircuitParams,
    /// Whether witness values were supplied.
    pub has_witness: bool,
    /// A layout made only to be measured ([`crate::layout::program::measure`]): it keeps its
    /// row, stream and instance counts, gates and tables, but no cell values, coefficients,
    /// constants or copy constraints. It cannot be synthesized.
    pub counting: bool,
    /// Main-region rows used.
    pub main_rows: usize,
    /// Advice values, `[column][row]`; unset cells were never assigned.
    pub advice: Vec<Cells>,
    /// Weight coefficients `w[j][i]`, indexed `[j * W + i][row]`.
    pub weights: Vec<Cells>,
    /// Row constants `c[j]`, `[j][row]`.
    pub constants: Vec<Cells>,
    /// Bits checked by each range-stream row (0: unused).
    pub range_tags: Vec<Vec<u64>>,
    /// Table tag of each function-stream row (0: unused).
    pub table_tags: Vec<Vec<u64>>,
    /// Gate of each main-region row.
    pub gates: Vec<Option<Gate>>,
    /// Copy constraints.
    pub copies: Vec<(CellRef, CellRef)>,
    /// Public instance values.
    pub instance: Vec<Val>,
    /// Cells bound to instance rows.
    pub instance_copies: Vec<(CellRef, usize)>,
    /// Function tables used.
    pub tables: Vec<PlacedTable>,
    range_fill: Vec<usize>,
    table_fill: Vec<usize>,
    /// Rows of every bank's placed tables, and the bank of every tag.
    bank_fill: Vec<usize>,
    bank_of_tag: HashMap<u64, usize>,
    const_cells: HashMap<i128, CellRef>,
    /// The open linear row being packed, if any.
    pub(crate) open_lin: Option<linear::OpenRow>,
    /// Second-phase cells copied from other second-phase cells: `(lane cell, source)`. Their
    /// values are derived from the challenge while proving ([`freivalds::second_phase`]).
    pub phase2_sources: Vec<(CellRef, CellRef)>,
    /// Accumulator cells that close a Freivalds check (constrained to zero).
    pub phase2_checks: Vec<CellRef>,
    pub(crate) freivalds: freivalds::Caches,
    /// What each program node's lowering used, by node index.
    pub node_usage: Vec<Usage>,
    /// Main-region rows the Freivalds checks save against the direct layout (estimated
    /// while choosing between them; the sizing weighs it against the second-phase columns).
    pub freivalds_saved_rows: usize,
    /// The adversary choosing witness values in place of the honest generator, if any.
    pub(crate) tamper: Option<Box<adversary::Tamper>>,
    /// ReLU of a rescale's results, laid out with the rescale ([`range::rescale_relu`]), by
    /// the rescale's node: what a ReLU (or clip from 0) of that node returns.
    pub(crate) fused_relu: HashMap<usize, Vec<Wire>>,
}

impl Layout {
    /// An empty layout.
    pub fn new(params: CircuitParams, has_witness: bool) -> Self {
        let w = params.lanes;
        let m = params.results;
        Self {
            params,
            has_witness,
            counting: false,
            main_rows: 0,
            advice: vec![Cells::default(); params.advice_columns()],
            weights: vec![Cells::default(); w * m],
            constants: vec![Cells::default(); m],
            range_tags: vec![Vec::new(); params.range_streams],
            table_tags: vec![Vec::new(); params.table_streams],
            gates: Vec::new(),
            copies: Vec::new(),
            instance: Vec::new(),
            instance_copies: Vec::new(),
            tables: Vec::new(),
            range_fill: vec![0; params.range_streams],
            table_fill: vec![0; params.table_streams],
            bank_fill: vec![0; params.banks()],
            bank_of_tag: HashMap::default(),
            const_cells: HashMap::default(),
            open_lin: None,
            phase2_sources: Vec::new(),
            phase2_checks: Vec::new(),
            freivalds: freivalds::Caches::default(),
            node_usage: Vec::new(),
            freivalds_saved_rows: 0,
            tamper: None,
            fused_relu: HashMap::default(),
        }
    }

    /// A witness value the generator chooses: `honest`, unless an adversary replaces it.
    pub(crate) fn choose(&mut self, choice: adversary::Choice, honest: i128) -> i128 {
        match &mut self.tamper {
            Some(t) if self.has_witness => t.choose(choice, honest),
            _ => honest,
        }
    }

    /// What the adversary did, for a layout built with one
    /// ([`crate::soundness::adversarial_layout`]).
    pub fn adversary_report(&self) -> Option<&adversary::Report> {
        self.tamper.as_ref().map(|t| &t.report)
    }

    /// Whether any product is checked by Freivalds' test (the circuit then needs its
    /// second-phase columns and challenge).
    pub fn uses_freivalds(&self) -> bool {
        self.gates
            .iter()
            .any(|g| matches!(g, Some(Gate::HornerFirst | Gate::FdotFirst)))
    }

    /// What the layout uses so far.
    pub fn usage(&self) -> Usage {
        Usage {
            rows: self.main_rows,
            range_checks: self.range_fill.iter().sum(),
            table_checks: self.table_fill.iter().sum(),
        }
    }

    /// Index of an advice column in [`Layout::advice`].
    pub fn column_index(&self, col: AdviceCol) -> usize {
        col.index(&self.params)
    }

    /// Rows any column needs (main region, streams), without blinding rows.
    pub fn rows_used(&self) -> usize {
        let streams = self
            .range_fill
            .iter()
            .chain(&self.table_fill)
            .copied()
            .max()
            .unwrap_or(0);
        self.main_rows.max(streams)
    }

    /// Allocates the next main-region row with `gate` enabled.
    pub(crate) fn row(&mut self, gate: Gate) -> usize {
        self.row_with(Some(gate))
    }

    /// Allocates the next main-region row, with `gate` enabled if any.
    pub(crate) fn row_with(&mut self, gate: Option<Gate>) -> usize {
        let r = self.main_rows;
        self.main_rows += 1;
        self.gates.push(gate);
        r
    }

    /// Assigns an advice cell.
    pub(crate) fn assign(&mut self, col: AdviceCol, row: usize, value: i128) -> CellRef {
        self.assign_val(col, row, Val::Int(value))
    }

    /// Assigns an advice cell holding a general field element.
    pub(crate) fn assign_field(&mut self, col: AdviceCol, row: usize, value: Fr) -> CellRef {
        self.assign_val(col, row, Val::Field(value))
    }

    fn assign_val(&mut self, col: AdviceCol, row: usize, value: Val) -> CellRef {
        if self.counting {
            return CellRef { col, row };
        }
        let v = if self.has_witness {
            value
        } else {
            Val::default()
        };
        let idx = self.column_index(col);
        let column = &mut self.advice[idx];
        debug_assert!(
            column.get(row).is_none(),
            "cell {col:?} row {row} assigned twice"
        );
        column.set(row, v);
        CellRef { col, row }
    }

    /// Sets weight `w[j][i]` on a row.
    pub(crate) fn set_weight(&mut self, row: usize, j: usize, i: usize, v: i128) {
        self.set_weight_val(row, j, i, Val::Int(v));
    }

    /// Sets weight `w[j][i]` on a row to a field element.
    pub(crate) fn set_weight_field(&mut self, row: usize, j: usize, i: usize, v: Fr) {
        self.set_weight_val(row, j, i, Val::Field(v));
    }

    fn set_weight_val(&mut self, row: usize, j: usize, i: usize, v: Val) {
        if self.counting {
            return;
        }
        let idx = j * self.params.lanes + i;
        self.weights[idx].set(row, v);
    }

    /// Sets constant `c[j]` on a row.
    pub(crate) fn set_constant(&mut self, row: usize, j: usize, v: i128) {
        self.set_constant_val(row, j, Val::Int(v));
    }

    /// Sets constant `c[j]` on a row to a field element.
    pub(crate) fn set_constant_field(&mut self, row: usize, j: usize, v: Fr) {
        self.set_constant_val(row, j, Val::Field(v));
    }

    fn set_constant_val(&mut self, row: usize, j: usize, v: Val) {
        if self.counting {
            return;
        }
        self.constants[j].set(row, v);
    }

    /// The integer value of a wire (0 without a witness).
    ///
    /// # Panics
    /// On a cell holding a general field element (hash states never feed integer chips).
    pub fn value(&self, w: Wire) -> i128 {
        match w {
            Wire::Const(v) => v,
            Wire::Cell(c) => match self.cell_value(c) {
                Val::Int(v) => v,
                Val::Field(_) => panic!("cell {c:?} holds a field element, not an integer"),
            },
        }
    }

    /// The value held by an assigned cell (zero in a counting layout, which keeps none).
    pub fn cell_value(&self, c: CellRef) -> Val {
        if self.counting {
            return Val::default();
        }
        self.advice[self.column_index(c.col)]
            .get(c.row)
            .expect("wire cells are assigned")
    }

    /// Constrains two cells to be equal.
    pub(crate) fn copy(&mut self, a: CellRef, b: CellRef) {
        if a != b && !self.counting {
            self.copies.push((a, b));
        }
    }

    /// Checks `value` (held by nothing yet) against `bits` in a range stream, or in a folded
    /// circuit by its bits; returns its cell.
    pub(crate) fn range_slot(&mut self, bits: u32, value: i128) -> CellRef {
        if !self.params.range_lookups() {
            return bits::decompose(self, bits, value);
        }
        let l = (0..self.range_fill.len())
            .min_by_key(|&l| self.range_fill[l])
            .expect("at least one stream");
        let row = self.range_fill[l];
        self.range_fill[l] += 1;
        Self::set_tag(&mut self.range_tags[l], row, u64::from(bits));
        self.assign(AdviceCol::Range(l), row, value)
    }

    /// Places a function table in the bank with the fewest rows so far (the first such bank on
    /// a tie), so that where every table goes depends only on the banks and the tables placed
    /// before it ([`crate::cost`] predicts it from the tables' sizes alone).
    pub(crate) fn place_table(&mut self, tag: u64, lo: i64, values: Vec<i64>) {
        let bank = least_filled(&self.bank_fill);
        self.bank_fill[bank] += values.len();
        self.bank_of_tag.insert(tag, bank);
        self.tables.push(PlacedTable {
            tag,
            lo,
            values,
            bank,
        });
    }

    /// Whether a table with this tag is placed.
    pub(crate) fn has_table(&self, tag: u64) -> bool {
        self.bank_of_tag.contains_key(&tag)
    }

    /// Rows of every bank's placed tables (the zero row not included).
    pub fn bank_rows(&self) -> Vec<usize> {
        self.bank_fill.clone()
    }

    /// Places a function-table lookup `(tag, input, output)` in the least used stream of the
    /// tag's bank; returns the input and output cells.
    pub(crate) fn table_slot(
        &mut self,
        tag: u64,
        input: i128,
        output: i128,
    ) -> Result<(CellRef, CellRef), String> {
        if self.table_fill.is_empty() {
            return Err("the circuit has no function-table streams".into());
        }
        let banks = self.params.banks();
        let bank = self.bank_of_tag.get(&tag).copied().unwrap_or(0);
        let l = (bank..self.table_fill.len())
            .step_by(banks)
            .min_by_key(|&l| self.table_fill[l])
            .ok_or_else(|| format!("no function stream looks up in table bank {bank}"))?;
        let row = self.table_fill[l];
        self.table_fill[l] += 1;
        Self::set_tag(&mut self.table_tags[l], row, tag);
        let i = self.assign(AdviceCol::TableIn(l), row, input);
        let o = self.assign(AdviceCol::TableOut(l), row, output);
        Ok((i, o))
    }

    fn set_tag(column: &mut Vec<u64>, row: usize, tag: u64) {
        if column.len() <= row {
            column.resize(row + 1, 0);
        }
        column[row] = tag;
    }

    /// Makes `w` a cell, materializing a constant (once per value) if needed.
    pub(crate) fn cell(&mut self, w: Wire) -> CellRef {
        match w {
            Wire::Cell(c) => c,
            Wire::Const(v) => {
                if let Some(&c) = self.const_cells.get(&v) {
                    return c;
                }
                let c = linear::constant_cell(self, v);
                self.const_cells.insert(v, c);
                c
            }
        }
    }

    /// Binds a cell to the next public instance row.
    pub(crate) fn expose(&mut self, cell: CellRef) {
        let v = self.cell_value(cell);
        self.instance_copies.push((cell, self.instance.len()));
        self.instance.push(v);
    }

    /// Every assigned advice cell.
    pub fn assigned_cells(&self) -> Vec<CellRef> {
        let mut out = Vec::new();
        let p = self.params;
        let cols = (0..p.lanes)
            .map(AdviceCol::X)
            .chain((0..p.results).map(AdviceCol::Z))
            .chain((0..p.range_streams).map(AdviceCol::Range))
            .chain((0..p.table_streams).map(AdviceCol::TableIn))
            .chain((0..p.table_streams).map(AdviceCol::TableOut));
        for col in cols {
            for (row, v) in self.advice[self.column_index(col)].iter().enumerate() {
                if v.is_some() {
                    out.push(CellRef { col, row });
                }
            }
        }
        out
    }

    /// Overwrites an assigned cell's value (soundness tests perturb witnesses this way).
    pub fn set_value(&mut self, cell: CellRef, value: Val) {
        let idx = self.column_index(cell.col);
        self.advice[idx].set(cell.row, value);
    }
}

//! The halo2 circuit: writes a [`Layout`] into the configured columns.

use std::sync::Arc;

use halo2_proofs::circuit::{Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Any, Circuit, Column, ConstraintSystem, Error, TableColumn};

use crate::config::ModelConfig;
use crate::field::field;
use crate::layout::{AdviceCol, CellRef, Gate, Layout};
use crate::params::CircuitParams;

/// A model circuit: its layout, with or without witness values.
#[derive(Clone, Debug)]
pub struct ModelCircuit {
    layout: Arc<Layout>,
}

impl ModelCircuit {
    /// Wraps a layout.
    pub fn new(layout: Layout) -> Self {
        Self {
            layout: Arc::new(layout),
        }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Public instance values as field elements.
    pub fn instance(&self) -> Vec<Fr> {
        self.layout.instance.iter().map(|v| v.to_field()).collect()
    }

    fn column(config: &ModelConfig, col: AdviceCol) -> Column<Any> {
        match col {
            AdviceCol::X(i) => config.x[i].into(),
            AdviceCol::Z(j) => config.z[j].into(),
            AdviceCol::Range(l) => config.range[l].into(),
            AdviceCol::TableIn(l) => config.table_in[l].into(),
            AdviceCol::TableOut(l) => config.table_out[l].into(),
            AdviceCol::V(i) => config.v[i].into(),
            AdviceCol::H => config.h.expect("configured with Freivalds columns").into(),
        }
    }

    fn cell(config: &ModelConfig, c: CellRef) -> Cell {
        Cell {
            row_offset: physical(&config.params, c),
            column: Self::column(config, c.col),
        }
    }
}

/// The halo2 row of a layout cell.
fn physical(p: &CircuitParams, c: CellRef) -> usize {
    let offset = if p.fold == 0 {
        0
    } else {
        crate::fold::advice_offset(p, c.col)
    };
    crate::fold::physical_row(p, c.row, offset)
}

/// Rows of the range table: `(0, 0)` then `(t, v)` for `1 <= t <= R`, `v < 2^t`.
pub fn range_table_rows(range_bits: u32) -> usize {
    (1usize << (range_bits + 1)) - 1
}

/// Rows of the function table's fullest bank: `(0, 0, 0)` then every table placed in it.
pub fn function_table_rows(layout: &Layout) -> usize {
    1 + layout.bank_rows().into_iter().max().unwrap_or(0)
}

impl Circuit<Fr> for ModelCircuit {
    type Config = ModelConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> CircuitParams {
        self.layout.params
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        ModelConfig::configure(meta, params)
    }

    fn configure(_meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        unreachable!("model circuits are always configured with their parameters")
    }

    fn synthesize(
        &self,
        config: ModelConfig,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), Error> {
        let layout = &*self.layout;
        let p = layout.params;
        let r = p.range_bits;
        if let Some(table) = config.range_table {
            assign_range_table(table, &mut layouter, r)?;
        }
        for (bank, &table) in config.function_table.iter().enumerate() {
            assign_function_table(table, bank, &mut layouter, layout)?;
        }
        let cells = layouter.assign_region(
            || "model",
            |mut region| {
                for (row, gate) in layout.gates.iter().enumerate() {
                    let Some(g) = gate else { continue };
                    let at = crate::fold::physical_row(&p, row, 0);
                    match config.gate_row {
                        None => config
                            .selector_of(*g)
                            .ok_or(Error::Synthesis)?
                            .enable(&mut region, at)?,
                        Some(b) => {
                            b.enable(&mut region, at)?;
                            let flag = crate::fold::gate_index(&p, *g).ok_or(Error::Synthesis)?;
                            let (col, offset) = crate::fold::coefficient_place(&p, flag);
                            region.assign_fixed(config.fold_columns[col], at + offset, Fr::one());
                        }
                    }
                }
                let coefficients = layout
                    .weights
                    .iter()
                    .zip(&config.w)
                    .chain(layout.constants.iter().zip(&config.c));
                let biased = |q: usize, row: usize| {
                    p.fold == 0
                        && q < p.results * p.lanes
                        && matches!(
                            layout.gates.get(row),
                            Some(Some(Gate::LinFirst | Gate::LinNext))
                        )
                };
                let bias = Fr::from(crate::config::WEIGHT_BIAS);
                for (q, (values, col)) in coefficients.enumerate() {
                    let (_, offset) = crate::fold::coefficient_place(&p, q);
                    let rows = values.len().max(layout.gates.len());
                    for row in 0..rows {
                        let v = values.value(row);
                        let at = crate::fold::physical_row(&p, row, offset);
                        if biased(q, row) {
                            region.assign_fixed(*col, at, v.to_field() + bias);
                        } else if v != crate::layout::Val::Int(0) {
                            region.assign_fixed(*col, at, v.to_field());
                        }
                    }
                }
                let tagged = [
                    (
                        &layout.range_tags,
                        &config.range_tag,
                        AdviceCol::Range as fn(usize) -> AdviceCol,
                    ),
                    (&layout.table_tags, &config.table_tag, AdviceCol::TableIn),
                ];
                for (tags, cols, slot) in tagged {
                    for (l, col) in cols.iter().enumerate() {
                        for (row, &t) in tags[l].iter().enumerate() {
                            if t != 0 {
                                let at = physical(&p, CellRef { col: slot(l), row });
                                region.assign_fixed(*col, at, Fr::from(t));
                            }
                        }
                    }
                }
                let witness = layout.has_witness;
                for col in layout_columns(layout) {
                    let column = match Self::column(&config, col).column_type() {
                        Any::Advice(_) => Self::column(&config, col),
                        _ => unreachable!("layout columns are advice"),
                    };
                    let advice = Column::<halo2_proofs::plonk::Advice>::try_from(column)
                        .expect("advice column");
                    for (row, v) in layout.advice[layout.column_index(col)].iter().enumerate() {
                        if let Some(v) = v {
                            let value = if witness {
                                Value::known(v.to_field())
                            } else {
                                Value::unknown()
                            };
                            region.assign_advice(advice, physical(&p, CellRef { col, row }), value);
                        }
                    }
                }
                for &(a, b) in &layout.copies {
                    region.constrain_equal(Self::cell(&config, a), Self::cell(&config, b));
                }
                Ok(layout
                    .instance_copies
                    .iter()
                    .map(|&(c, i)| (Self::cell(&config, c), i))
                    .collect::<Vec<_>>())
            },
        )?;
        for (cell, row) in cells {
            layouter.constrain_instance(cell, config.instance, row);
        }
        if let Some(challenge) = config.challenge {
            // Every first-phase cell is written: commit them and draw the challenge.
            layouter.next_phase();
            let mut r = None;
            layouter.get_challenge(challenge).map(|v| r = Some(v));
            let cells = crate::layout::freivalds::second_phase(layout, r);
            layouter.assign_region(
                || "second phase",
                |mut region| {
                    for &(c, v) in &cells {
                        let column = Column::<halo2_proofs::plonk::Advice>::try_from(Self::column(
                            &config, c.col,
                        ))
                        .expect("advice column");
                        let value = match v {
                            Some(v) => Value::known(v),
                            None => Value::unknown(),
                        };
                        region.assign_advice(column, physical(&p, c), value);
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

/// The range table `(0, 0)`, then `(t, v)` for `1 <= t <= r`, `v < 2^t`.
fn assign_range_table(
    range_table: [TableColumn; 2],
    layouter: &mut impl Layouter<Fr>,
    r: u32,
) -> Result<(), Error> {
    layouter.assign_table(
        || "range table",
        |mut table| {
            table.assign_cell(|| "tag", range_table[0], 0, || Value::known(Fr::zero()))?;
            table.assign_cell(|| "value", range_table[1], 0, || Value::known(Fr::zero()))?;
            let mut row = 1;
            for t in 1..=r {
                for v in 0..(1u64 << t) {
                    table.assign_cell(
                        || "tag",
                        range_table[0],
                        row,
                        || Value::known(Fr::from(u64::from(t))),
                    )?;
                    table.assign_cell(
                        || "value",
                        range_table[1],
                        row,
                        || Value::known(Fr::from(v)),
                    )?;
                    row += 1;
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}

/// Bank `bank` of the function table: `(0, 0, 0)`, then `(tag, x, f(x))` for every table
/// placed in it; a folded circuit's lookups scale their inputs by the tag, and so does its
/// table (see `fold`).
fn assign_function_table(
    function_table: [TableColumn; 3],
    bank: usize,
    layouter: &mut impl Layouter<Fr>,
    layout: &Layout,
) -> Result<(), Error> {
    let folded = layout.params.fold > 0;
    let scale = |tag: u64, v: Fr| if folded { Fr::from(tag) * v } else { v };
    layouter.assign_table(
        || "function table",
        |mut table| {
            for col in function_table {
                table.assign_cell(|| "zero", col, 0, || Value::known(Fr::zero()))?;
            }
            let mut row = 1;
            for t in layout.tables.iter().filter(|t| t.bank == bank) {
                for (i, &y) in t.values.iter().enumerate() {
                    let x = i128::from(t.lo) + i as i128;
                    table.assign_cell(
                        || "tag",
                        function_table[0],
                        row,
                        || Value::known(Fr::from(t.tag)),
                    )?;
                    table.assign_cell(
                        || "in",
                        function_table[1],
                        row,
                        || Value::known(scale(t.tag, field(x))),
                    )?;
                    table.assign_cell(
                        || "out",
                        function_table[2],
                        row,
                        || Value::known(scale(t.tag, field(i128::from(y)))),
                    )?;
                    row += 1;
                }
            }
            Ok(())
        },
    )?;
    Ok(())
}

fn layout_columns(layout: &Layout) -> Vec<AdviceCol> {
    let p = layout.params;
    (0..p.lanes)
        .map(AdviceCol::X)
        .chain((0..p.results).map(AdviceCol::Z))
        .chain((0..p.range_streams).map(AdviceCol::Range))
        .chain((0..p.table_streams).map(AdviceCol::TableIn))
        .chain((0..p.table_streams).map(AdviceCol::TableOut))
        .collect()
}

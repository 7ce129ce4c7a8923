//! `Take`: gathering by runtime indices.
//!
//! Constant data (an embedding matrix, a tree's node table) becomes a function table
//! `key -> data[key]` over the flattened data, placed once; each gathered element is one
//! lookup `(tag, base + stride * index, value)`, so a gathered row costs `O(width)` cells and
//! the table is paid for once:
//!
//! ```text
//! key  = base + stride * index        one linear result (M per row, shared by one index)
//! (tag, key, value) in the function table
//! ```
//!
//! Every index is looked up in every outer block and at every inner offset, so the keys of the
//! first block's first element and of the last block's last element lie in the table only when
//! `0 <= index < dim`: the lookup itself bounds the index.
//!
//! A circuit with several function-table banks splits large data into parts of whole slices
//! (the `dim` entries of one outer and inner position), each part a table of its own keyed by
//! `dim * slice + index` within the part, so the parts spread over the banks and no bank needs
//! the whole data's rows. The bound on the index holds the same way: every index is looked up
//! in the first slice of the first part (`0 <= index < dim * slices`) and in the last slice of
//! the last part (`index < dim`).
//!
//! Runtime data (activations, or parameters that are witnesses) is gathered through a one-hot
//! vector per index: `dim` fresh cells `b_t` with
//!
//! ```text
//! b_t in {0, 1}            (range-checked to one bit)
//! sum_t b_t = 1            (exactly one is set)
//! sum_t t * b_t = index    (and it is the one at the index)
//! out = sum_t b_t * data_t
//! ```

use rustc_hash::FxHashMap as HashMap;

use zkml_ir::structure::for_each_take;

use super::adversary::Choice;
use super::linear::LinInput;
use super::program::{linear, sums_of_products, LinItem};
use super::range::check_unsigned;
use super::{CellRef, Layout, Wire};

/// The gathered data of one `Take` node.
pub(crate) struct TakeInput<'a> {
    /// The indexed axis.
    pub axis: usize,
    /// Shape of the data.
    pub data_shape: &'a [usize],
    /// Shape of the indices.
    pub index_shape: &'a [usize],
    /// Data wires, row-major.
    pub data: &'a [Wire],
    /// Index wires, row-major.
    pub indices: &'a [Wire],
    /// Tags below this belong to the program's tables.
    pub first_free_tag: u64,
}

/// Lays out one `Take`.
pub(crate) fn take(layout: &mut Layout, t: &TakeInput<'_>) -> Result<Vec<Wire>, String> {
    let dim = t.data_shape[t.axis];
    if let Some(&Wire::Const(v)) = t
        .indices
        .iter()
        .find(|w| matches!(w, Wire::Const(v) if *v < 0 || *v >= dim as i128))
    {
        return Err(format!(
            "constant index {v} is outside the axis of length {dim}"
        ));
    }
    let constant_data: Option<Vec<i64>> = t
        .data
        .iter()
        .map(|w| match w {
            Wire::Const(v) => i64::try_from(*v).ok(),
            Wire::Cell(_) => None,
        })
        .collect();
    match constant_data {
        Some(values) if layout.params.table_streams > 0 => lookup_take(layout, t, values),
        _ => Ok(one_hot_take(layout, t)),
    }
}

/// Constant data larger than this many entries is split into parts of at most this many
/// (or one slice, if a slice is longer) when the circuit has several function-table banks, so
/// that the parts spread over the banks. A little under `2^14`, so that banks of whole parts
/// with their zero row and the blinding rows still fill a power of two.
pub const TABLE_PART: usize = (1 << 14) - 256;

/// The tag of a function table holding `values` at keys `0..`, placing it if no table of this
/// node's kind holds them yet.
fn data_table(layout: &mut Layout, first_free_tag: u64, values: &[i64]) -> u64 {
    if let Some(p) = layout
        .tables
        .iter()
        .find(|p| p.tag >= first_free_tag && p.lo == 0 && p.values == values)
    {
        return p.tag;
    }
    let tag = layout
        .tables
        .iter()
        .map(|p| p.tag + 1)
        .max()
        .unwrap_or(0)
        .max(first_free_tag);
    layout.place_table(tag, 0, values.to_vec());
    tag
}

/// Constant data: one function-table lookup per gathered element.
///
/// With several table banks, data of more than [`TABLE_PART`] entries is split into parts of
/// whole slices (the `dim` entries one element can read, one per outer and inner position),
/// each part its own table keyed by `dim * slice + index`; the keys stay one linear result per
/// element and the lookup still bounds the index.
fn lookup_take(
    layout: &mut Layout,
    t: &TakeInput<'_>,
    values: Vec<i64>,
) -> Result<Vec<Wire>, String> {
    let dim = t.data_shape[t.axis];
    let inner: usize = t.data_shape[t.axis + 1..].iter().product();
    let slices = values.len() / dim.max(1);
    let per_part = if layout.params.banks() > 1 && values.len() > TABLE_PART {
        (TABLE_PART / dim).max(1)
    } else {
        slices.max(1)
    };
    let split = per_part < slices;
    let parts: Vec<Vec<i64>> = if split {
        (0..slices.div_ceil(per_part))
            .map(|part| {
                (part * per_part..((part + 1) * per_part).min(slices))
                    .flat_map(|s| {
                        let first = (s / inner) * dim * inner + s % inner;
                        (0..dim).map(move |i| first + i * inner)
                    })
                    .map(|at| values[at])
                    .collect()
            })
            .collect()
    } else {
        vec![values]
    };
    let tags: Vec<u64> = parts
        .iter()
        .map(|v| data_table(layout, t.first_free_tag, v))
        .collect();
    // Each element's part and its key's coefficient and constant.
    let mut elements: Vec<(usize, usize, usize, usize)> = Vec::new();
    for_each_take(
        t.axis,
        t.data_shape,
        t.index_shape,
        |position, base, stride| {
            if split {
                let slice = (base / (dim * inner)) * inner + base % (dim * inner);
                let (part, local) = (slice / per_part, slice % per_part);
                elements.push((position, part, dim * local, 1));
            } else {
                elements.push((position, 0, base, stride));
            }
        },
    );
    // Keys first (linear rows shared by the elements of one index), then the lookups.
    let keys = linear(
        layout,
        elements
            .iter()
            .map(|&(position, _, base, stride)| LinItem {
                terms: vec![(t.indices[position], stride as i128)],
                constant: base as i128,
            })
            .collect(),
    );
    let mut out = Vec::with_capacity(keys.len());
    for (key, &(_, part, _, _)) in keys.into_iter().zip(&elements) {
        let values = &parts[part];
        let k = layout.value(key);
        match key {
            Wire::Const(k) => out.push(Wire::Const(i128::from(values[k as usize]))),
            Wire::Cell(cell) => {
                // Without a witness every key is 0; any in-domain value keeps the layout.
                let v = usize::try_from(k)
                    .ok()
                    .and_then(|k| values.get(k))
                    .copied()
                    .unwrap_or(0);
                let v = layout.choose(Choice::TableOutput, i128::from(v));
                let (cin, cout) = layout.table_slot(tags[part], k, v)?;
                layout.copy(cin, cell);
                out.push(Wire::Cell(cout));
            }
        }
    }
    Ok(out)
}

/// Runtime data: a one-hot vector per index cell, then sums of products.
fn one_hot_take(layout: &mut Layout, t: &TakeInput<'_>) -> Vec<Wire> {
    let dim = t.data_shape[t.axis];
    let mut hot: HashMap<CellRef, Vec<CellRef>> = HashMap::default();
    for &w in t.indices {
        if let Wire::Cell(c) = w {
            if let std::collections::hash_map::Entry::Vacant(e) = hot.entry(c) {
                e.insert(one_hot(layout, c, dim));
            }
        }
    }
    let mut lin = Vec::new();
    let mut pairs = Vec::new();
    for_each_take(
        t.axis,
        t.data_shape,
        t.index_shape,
        |position, base, stride| {
            let mut item = LinItem::default();
            let mut prods = Vec::new();
            match t.indices[position] {
                Wire::Const(i) => item.terms.push((t.data[base + stride * i as usize], 1)),
                Wire::Cell(c) => {
                    for (k, &b) in hot[&c].iter().enumerate() {
                        match t.data[base + stride * k] {
                            Wire::Const(v) => item.terms.push((Wire::Cell(b), v)),
                            Wire::Cell(d) => prods.push((b, d)),
                        }
                    }
                }
            }
            lin.push(item);
            pairs.push(prods);
        },
    );
    sums_of_products(layout, lin, &pairs)
}

/// `dim` boolean cells, exactly one set, at position `index`.
fn one_hot(layout: &mut Layout, index: CellRef, dim: usize) -> Vec<CellRef> {
    let v = layout.value(Wire::Cell(index));
    let v = layout.choose(Choice::Position, v);
    let fresh: Vec<(LinInput, i128)> = (0..dim)
        .map(|k| (LinInput::Fresh(i128::from(v == k as i128)), k as i128))
        .collect();
    // sum_t t * b_t = index
    let (bits, weighted) = super::range::combine(layout, &fresh, 0);
    layout.copy(weighted, index);
    // sum_t b_t = 1
    let cells: Vec<(LinInput, i128)> = bits.iter().map(|&b| (LinInput::Cell(b), 1)).collect();
    let (_, count) = super::range::combine(layout, &cells, 0);
    let one = layout.cell(Wire::Const(1));
    layout.copy(count, one);
    for &b in &bits {
        check_unsigned(layout, b, 1);
    }
    bits
}

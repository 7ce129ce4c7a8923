//! Function lookups: `y = table[x]` as one row of a function stream, `(tag, x, y)` looked up in
//! the function table, which holds `(tag, lo + i, values[i])` for every table of the program
//! (and `(0, 0, 0)` for unused rows).

use zkml_ir::LookupTable;

use super::adversary::Choice;
use super::{Layout, Wire};

/// The tag of program table `index`, placing the table on first use.
fn tag_of(layout: &mut Layout, index: usize, table: &LookupTable) -> u64 {
    let tag = index as u64 + 1;
    if !layout.has_table(tag) {
        layout.place_table(tag, table.lo, table.values.clone());
    }
    tag
}

/// Looks each element up in program table `index`.
pub(crate) fn lookup(
    layout: &mut Layout,
    index: usize,
    table: &LookupTable,
    xs: &[Wire],
) -> Result<Vec<Wire>, String> {
    let tag = tag_of(layout, index, table);
    let mut out = Vec::with_capacity(xs.len());
    for &x in xs {
        let v = layout.value(x);
        // Without a witness every value is 0, which may lie outside the domain; any output
        // keeps the layout identical.
        let y = table.get(v as i64).map_or(0, i128::from);
        let y = match x {
            Wire::Cell(_) => layout.choose(Choice::TableOutput, y),
            Wire::Const(_) => y,
        };
        match x {
            Wire::Const(c) => match table.get(c as i64) {
                Some(y) => out.push(Wire::Const(i128::from(y))),
                None => {
                    return Err(format!(
                        "constant {c} is outside the table domain [{}, {}]",
                        table.lo,
                        table.hi()
                    ))
                }
            },
            Wire::Cell(c) => {
                let (cin, cout) = layout.table_slot(tag, v, y)?;
                layout.copy(cin, c);
                out.push(Wire::Cell(cout));
            }
        }
    }
    Ok(out)
}

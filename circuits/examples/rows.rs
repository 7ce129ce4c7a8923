//! Where a program's rows go: main-region rows, range checks and lookups per op, for one
//! circuit shape; and the widths of its weights and constants (what committing them costs).
//!
//!     cargo run --release -p zkml-circuits --example rows -- model.zkml [lanes results freivalds]

use std::collections::BTreeMap;

use zkml_circuits::{build, CircuitParams, VisibilityConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let program = zkml_ir::format::load(std::path::Path::new(&args[1])).expect("a program");
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |a| a.parse().expect("a number"));
    let params = CircuitParams {
        k: 26,
        lanes: arg(2, 16),
        results: arg(3, 8),
        range_streams: 1,
        table_streams: 1,
        range_bits: 14,
        freivalds: arg(4, 1) == 1,
        ..CircuitParams::default()
    };
    let start = std::time::Instant::now();
    let layout = build(&program, None, params, VisibilityConfig::default()).expect("layout");
    let mut by_op: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    for (node, u) in program.nodes.iter().zip(&layout.node_usage) {
        let e = by_op.entry(node.op.name()).or_default();
        e.0 += 1;
        e.1 += u.rows;
        e.2 += u.range_checks;
        e.3 += u.table_checks;
    }
    println!(
        "{:14} {:>6} {:>10} {:>12} {:>10}",
        "op", "nodes", "rows", "range checks", "lookups"
    );
    for (op, (n, r, rc, tc)) in &by_op {
        println!("{op:14} {n:>6} {r:>10} {rc:>12} {tc:>10}");
    }
    let u = layout.usage();
    println!(
        "total: {} rows, {} range checks, {} lookups, {} public values; laid out in {:.2} s",
        u.rows,
        u.range_checks,
        u.table_checks,
        layout.instance.len(),
        start.elapsed().as_secs_f64()
    );
    // Width of the coefficient cells: what committing the fixed columns costs.
    let mut bits = [0usize; 130];
    let mut negative = [0usize; 130];
    for col in layout.weights.iter().chain(&layout.constants) {
        for v in col.values() {
            match v {
                zkml_circuits::layout::Val::Int(x) if x < 0 => {
                    negative[(128 - (-x).leading_zeros()) as usize] += 1
                }
                zkml_circuits::layout::Val::Int(x) => bits[(128 - x.leading_zeros()) as usize] += 1,
                zkml_circuits::layout::Val::Field(_) => bits[129] += 1,
            }
        }
    }
    println!("coefficient cells by bits (non-negative / negative):");
    for b in 0..130 {
        if bits[b] + negative[b] > 0 {
            println!("  {b:>3} bits: {:>10} {:>10}", bits[b], negative[b]);
        }
    }
}

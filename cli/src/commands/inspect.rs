//! `zkml inspect MODEL.zkml` (a compiled program) or `zkml inspect vk.bin` (a verifying key:
//! its digest, circuit size and what its public values mean).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use zkml_ir::Op;
use zkml_verifier::encoding::hex0x;
use zkml_verifier::vk::{PublicPart, ValueClass, VisibilityInfo};

use crate::common::print_json;

#[derive(clap::Args)]
pub struct Args {
    /// A compiled program, or a verifying key (vk.bin) of either backend.
    pub program: PathBuf,
    /// For a program: also its cost in this backend's terms (groth16: R1CS constraints per
    /// op and per node).
    #[arg(long, value_enum)]
    pub backend: Option<crate::groth16::BackendArg>,
    /// For a program: show how `prove --segments N` would cut it (public inputs and outputs,
    /// fixed parameters): each segment's nodes, the values crossing its ends, its circuit and
    /// its estimated proving memory.
    #[arg(long, value_name = "N", conflicts_with = "max_logrows")]
    pub segments: Option<usize>,
    /// For a program: show how `prove --max-logrows K` would cut it.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(6..=26))]
    pub max_logrows: Option<u32>,
    /// For a program: show how `prove --max-memory GB` would cut it.
    #[arg(long, value_name = "GB", conflicts_with_all = ["segments", "max_logrows"])]
    pub max_memory: Option<f64>,
    /// For a program cut into segments: the circuit shapes to size them for (as `prove
    /// --optimize`).
    #[arg(long, value_enum, default_value = "proving")]
    pub optimize: crate::proving::OptimizeArg,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn op_detail(op: &Op) -> String {
    match op {
        Op::Const { values, param } => format!(
            "{} values{}",
            values.len(),
            if *param { ", parameter" } else { "" }
        ),
        Op::Rescale { shift } | Op::Div { shift } | Op::Sqrt { shift } => format!("shift {shift}"),
        Op::Lookup { table } => format!("table {table}"),
        Op::Clip { min, max } => format!(
            "[{}, {}]",
            min.map_or("-inf".into(), |v| v.to_string()),
            max.map_or("inf".into(), |v| v.to_string())
        ),
        Op::Conv(c) => format!(
            "strides {:?} dilations {:?} pads {:?}/{:?} group {}",
            c.strides, c.dilations, c.pads_begin, c.pads_end, c.group
        ),
        Op::ConvTranspose(c) => format!(
            "strides {:?} dilations {:?} pads {:?} group {}",
            c.strides, c.dilations, c.pads_begin, c.group
        ),
        Op::SumPool(p) | Op::MaxPool(p) => format!(
            "kernel {:?} strides {:?} pads {:?}",
            p.kernel, p.strides, p.pads_begin
        ),
        Op::ReduceSum(r) | Op::ReduceMax(r) => format!("axes {:?}", r.axes),
        Op::ArgMax { axis, .. } => format!("axis {axis}"),
        Op::Transpose { perm } => format!("perm {perm:?}"),
        Op::Concat { axis } | Op::Gather { axis, .. } | Op::Take { axis } => format!("axis {axis}"),
        Op::Input { domain, .. } => domain.describe(),
        _ => String::new(),
    }
}

fn visibility(v: VisibilityInfo) -> &'static str {
    match v {
        VisibilityInfo::Public => "public",
        VisibilityInfo::Private => "private",
        VisibilityInfo::Hashed => "hashed",
        VisibilityInfo::Fixed => "fixed",
        VisibilityInfo::Linked => "linked",
    }
}

fn class(c: ValueClass) -> &'static str {
    match c {
        ValueClass::Inputs => "inputs",
        ValueClass::Outputs => "outputs",
        ValueClass::Parameters => "parameters",
    }
}

/// The tensors' names, quoted and separated by commas.
fn names(tensors: &[(zkml_verifier::vk::TensorInfo, u32)]) -> String {
    tensors
        .iter()
        .map(|(t, _)| format!("'{}'", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per part of the public instance.
fn public_parts(parts: &[PublicPart]) -> Vec<String> {
    parts
        .iter()
        .map(|p| match p {
            PublicPart::Values { class: c, tensor } => format!(
                "{} values: {} '{}' shape {:?} scale 2^{}",
                tensor.len(),
                class(*c),
                tensor.name,
                tensor.shape,
                tensor.scale
            ),
            PublicPart::Hash { class: c, tensors } => format!(
                "1 value: Poseidon hash of the {} ({})",
                class(*c),
                names(tensors)
            ),
            PublicPart::Link { class: c, tensors } => format!(
                "1 value: commitment linking the {} to the neighbouring segment ({})",
                class(*c),
                names(tensors)
            ),
            PublicPart::Accumulator { limbs, bits } => format!(
                "{} values: the KZG accumulator of the proofs this aggregate folds in (2 points, {limbs} limbs of {bits} bits per coordinate)",
                p.instance_len()
            ),
        })
        .collect()
}

/// The QAP domain of a Groth16 proving key (arkworks' layout has one `h` point fewer).
fn domain(pk: &zkml_groth16::ProvingKeyFile) -> usize {
    pk.pk.h_query.len().next_power_of_two()
}

/// What a Groth16 proving key adds to the report of the verifying key it embeds.
fn proving_key_json(pk: &zkml_groth16::ProvingKeyFile) -> Value {
    json!({
        "kind": "proving key",
        "keys_from": pk.reduction.origin(),
        "r1cs_digest": hex0x(&pk.r1cs_digest),
        "variables": pk.pk.a_query.len(),
        "domain": domain(pk),
    })
}

fn inspect_key(
    args: &Args,
    bytes: &[u8],
    proving: Option<&zkml_groth16::ProvingKeyFile>,
) -> Result<()> {
    let key = zkml_verifier::Key::from_bytes(bytes)
        .with_context(|| format!("verifying key {}", args.program.display()))?;
    let digest = hex0x(&key.key_digest());
    let m = key.model();
    let parts = public_parts(&m.public);
    let n_public: u64 = m.public.iter().map(|p| p.instance_len()).sum();
    if args.json {
        let mut v = json!({
            "kind": "verifying key",
            "backend": key.backend().name(),
            "vk_digest": digest,
            "program_digest": hex0x(&m.program_digest),
            "public_values": n_public,
            "value_bits": m.value_bits,
            "inputs": visibility(m.inputs),
            "outputs": visibility(m.outputs),
            "parameters": visibility(m.parameters),
            "public": parts,
        });
        if let (Some(pk), Some(all)) = (proving, v.as_object_mut()) {
            if let Some(extra) = proving_key_json(pk).as_object() {
                all.extend(extra.clone());
            }
        }
        if let zkml_verifier::Key::Halo2(vk) = &key {
            let circuit = json!({
                "k": vk.k,
                "degree": vk.degree,
                "advice_columns": vk.num_advice_columns,
                "second_phase_advice_columns": vk.second_phase_advice,
                "challenges": vk.challenges,
                "fixed_columns": vk.fixed_commitments.len(),
                "gates": vk.gates.len(),
                "lookups": vk.lookups.len(),
            });
            if let (Some(all), Some(extra)) = (v.as_object_mut(), circuit.as_object()) {
                all.extend(extra.clone());
            }
        }
        return print_json(&v);
    }
    match (&key, proving) {
        (_, Some(pk)) => {
            println!(
                "groth16 proving key {}: keys from {}, {} variables, domain {}",
                args.program.display(),
                pk.reduction.origin(),
                pk.pk.a_query.len(),
                domain(pk)
            );
            println!("  constraint system {}", hex0x(&pk.r1cs_digest));
            println!("  its verifying key:");
        }
        (zkml_verifier::Key::Halo2(_), None) => {
            println!("verifying key {}", args.program.display())
        }
        (zkml_verifier::Key::Groth16(_), None) => {
            println!("groth16 verifying key {}", args.program.display())
        }
    }
    println!("  digest {digest}  (pin it: zkml verify --vk-digest {digest})");
    println!("  program {}", hex0x(&m.program_digest));
    if let zkml_verifier::Key::Halo2(vk) = &key {
        println!(
            "  circuit: 2^{} rows, degree {}, {} advice and {} fixed columns, {} gates, {} lookups",
            vk.k,
            vk.degree,
            vk.num_advice_columns,
            vk.fixed_commitments.len(),
            vk.gates.len(),
            vk.lookups.len()
        );
        if vk.challenges > 0 {
            println!(
                "  products checked by Freivalds' test: {} second-phase advice columns, {} challenge{} drawn after the first-phase commitments",
                vk.second_phase_advice,
                vk.challenges,
                if vk.challenges == 1 { "" } else { "s" }
            );
        }
    }
    println!(
        "  inputs {}, outputs {}, parameters {}; {} public values:",
        visibility(m.inputs),
        visibility(m.outputs),
        visibility(m.parameters),
        n_public
    );
    for p in parts {
        println!("    {p}");
    }
    Ok(())
}

/// `inspect --backend groth16 PROGRAM`: the constraint system's size, per op and per node.
fn inspect_r1cs(args: &Args, program: &zkml_ir::Program) -> Result<()> {
    let compiled = zkml_groth16::compile(program, None)?;
    let per_op = crate::groth16::constraints_per_op(program, &compiled);
    let r1cs = &compiled.r1cs;
    if args.json {
        let per_node: Vec<_> = program
            .nodes
            .iter()
            .zip(&compiled.costs.per_node)
            .enumerate()
            .map(|(i, (n, &c))| json!({"index": i, "name": n.name, "op": n.op.name(), "constraints": c}))
            .collect();
        return print_json(&json!({
            "backend": "groth16",
            "constraints": r1cs.constraints.len(),
            "witnesses": r1cs.num_witness,
            "public_values": r1cs.num_instance,
            "nonzeros": r1cs.nonzeros(),
            "constraints_per_op": per_op.iter().map(|&(op, n)| json!({"op": op, "constraints": n})).collect::<Vec<_>>(),
            "constraints_per_node": per_node,
        }));
    }
    println!(
        "program {} as R1CS (groth16): {} constraints, {} witnesses, {} public values, {} non-zeros",
        args.program.display(),
        r1cs.constraints.len(),
        r1cs.num_witness,
        r1cs.num_instance,
        r1cs.nonzeros()
    );
    println!("\n{:<13} {:>12}", "op", "constraints");
    for (op, n) in &per_op {
        println!("{op:<13} {n:>12}");
    }
    println!("\n{:>5}  {:<13} {:>12}  name", "node", "op", "constraints");
    for (i, (n, &c)) in program
        .nodes
        .iter()
        .zip(&compiled.costs.per_node)
        .enumerate()
    {
        if c > 0 {
            println!("{i:>5}  {:<13} {c:>12}  {}", n.op.name(), n.name);
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    let bytes = std::fs::read(&args.program)
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    if bytes.starts_with(zkml_verifier::vk::VK_MAGIC)
        || bytes.starts_with(zkml_verifier::groth16::G16_VK_MAGIC)
    {
        return inspect_key(&args, &bytes, None);
    }
    if bytes.starts_with(zkml_groth16::keys::PK_MAGIC) {
        let pk = zkml_groth16::ProvingKeyFile::from_bytes(&bytes)
            .with_context(|| format!("proving key {}", args.program.display()))?;
        return inspect_key(&args, &pk.vk.to_bytes(), Some(&pk));
    }
    let program = zkml_ir::format::from_bytes(&bytes)
        .with_context(|| format!("cannot read {}", args.program.display()))?;
    if args.backend == Some(crate::groth16::BackendArg::Groth16) {
        return inspect_r1cs(&args, &program);
    }
    if args.segments.is_some() || args.max_logrows.is_some() || args.max_memory.is_some() {
        return inspect_segments(&args, &program);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &program.nodes {
        *counts.entry(n.op.name()).or_default() += 1;
    }
    if args.json {
        let nodes: Vec<_> = program
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({
                    "index": i, "name": n.name, "op": n.op.name(), "detail": op_detail(&n.op),
                    "inputs": n.inputs, "shape": n.shape, "scale": n.scale, "bound": n.bound,
                })
            })
            .collect();
        let tables: Vec<_> = program.tables.iter().enumerate().map(|(i, t)| json!({
            "index": i, "function": t.function.describe(), "in_scale": t.in_scale, "out_scale": t.out_scale,
            "domain": [t.lo, t.hi()], "entries": t.values.len(),
        })).collect();
        let io = |ids: &[usize]| -> Vec<_> {
            ids.iter().map(|&i| {
                let n = &program.nodes[i];
                let domain = match &n.op {
                    Op::Input { domain, .. } => Some(domain.describe()),
                    _ => None,
                };
                json!({"node": i, "name": n.name, "shape": n.shape, "scale": n.scale, "domain": domain})
            }).collect()
        };
        return print_json(&json!({
            "value_bits": program.value_bits,
            "parameters": program.parameter_count(),
            "op_counts": counts,
            "inputs": io(&program.inputs),
            "outputs": io(&program.outputs),
            "nodes": nodes,
            "tables": tables,
            "metadata": program.metadata,
        }));
    }
    println!("program {}", args.program.display());
    for (k, v) in &program.metadata {
        println!("  {k}: {v}");
    }
    println!(
        "value bits {} (range-checked values in [-2^{}, 2^{}))",
        program.value_bits,
        program.value_bits - 1,
        program.value_bits - 1
    );
    println!("parameters {}", program.parameter_count());
    println!(
        "ops: {}",
        counts
            .iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for &i in &program.inputs {
        let n = &program.nodes[i];
        match &n.op {
            zkml_ir::Op::Input { domain, .. } if domain.interval().is_some() => println!(
                "input  '{}' shape {:?} {}",
                n.name,
                n.shape,
                domain.describe()
            ),
            _ => println!(
                "input  '{}' shape {:?} scale 2^{}",
                n.name, n.shape, n.scale
            ),
        }
    }
    for (&i, name) in program.outputs.iter().zip(&program.output_names) {
        let n = &program.nodes[i];
        println!("output '{}' shape {:?} scale 2^{}", name, n.shape, n.scale);
    }
    println!(
        "\n{:>5}  {:<13} {:<20} {:>6} {:>12}  {:<16} name / detail",
        "node", "op", "shape", "scale", "bound", "inputs"
    );
    for (i, n) in program.nodes.iter().enumerate() {
        println!(
            "{:>5}  {:<13} {:<20} {:>6} {:>12}  {:<16} {} {}",
            i,
            n.op.name(),
            format!("{:?}", n.shape),
            n.scale,
            n.bound,
            format!("{:?}", n.inputs),
            n.name,
            op_detail(&n.op)
        );
    }
    if !program.tables.is_empty() {
        println!("\nlookup tables:");
        for (i, t) in program.tables.iter().enumerate() {
            println!(
                "  {i}: {:<16} in scale 2^{:<3} out scale 2^{:<3} domain [{}, {}] ({} entries)",
                t.function.describe(),
                t.in_scale,
                t.out_scale,
                t.lo,
                t.hi(),
                t.values.len()
            );
        }
    }
    Ok(())
}

/// The segments `prove --segments N` (or `--max-logrows K`) would prove.
fn inspect_segments(args: &Args, program: &zkml_ir::Program) -> Result<()> {
    let request = crate::chain::Request {
        segments: args.segments,
        max_logrows: args.max_logrows,
        max_memory: args.max_memory,
        whole: None,
    };
    let visibility = crate::proving::VisibilityArgs {
        optimize: args.optimize,
        ..Default::default()
    };
    let (cut, circuits) =
        crate::chain::plan(program, &visibility, zkml_prover::Device::Cpu, request)?;
    let values = |ids: &[usize]| -> usize {
        ids.iter()
            .map(|&j| zkml_ir::tensor::numel(&program.nodes[j].shape))
            .sum()
    };
    let rows: Vec<Value> = cut
        .segments
        .iter()
        .zip(&circuits)
        .enumerate()
        .map(|(i, (s, c))| {
            json!({
                "segment": i,
                "nodes": [s.nodes.start, s.nodes.end],
                "takes": s.inputs.iter().map(|&j| &program.nodes[j].name).collect::<Vec<_>>(),
                "takes_values": values(&s.inputs),
                "passes": s.outputs.iter().map(|&j| &program.nodes[j].name).collect::<Vec<_>>(),
                "passes_values": values(&s.outputs),
                "parameters": s.program.parameter_count(),
                "k": c.k,
                "circuit": c,
                "memory_estimate_bytes": zkml_circuits::cost::memory_estimate(c, c.k),
            })
        })
        .collect();
    if args.json {
        return print_json(&json!({"cuts": cut.cuts, "segments": rows}));
    }
    println!(
        "program {}: {} segment(s), cut before node(s) {:?}",
        args.program.display(),
        cut.len(),
        cut.cuts
    );
    println!(
        "{:>7}  {:>11}  {:>12}  {:>12}  {:>10}  {:>4}  {:>8}",
        "segment", "nodes", "takes", "passes", "parameters", "k", "memory"
    );
    for r in &rows {
        println!(
            "{:>7}  {:>11}  {:>12}  {:>12}  {:>10}  {:>4}  {:>8}",
            r["segment"].to_string(),
            format!("{}..{}", r["nodes"][0], r["nodes"][1]),
            format!("{} values", r["takes_values"]),
            format!("{} values", r["passes_values"]),
            r["parameters"].to_string(),
            r["k"].to_string(),
            format!(
                "{:.2} GB",
                r["memory_estimate_bytes"].as_u64().unwrap_or(0) as f64 / 1e9
            )
        );
    }
    println!("(memory: the estimated peak of proving each segment, zkml_circuits::cost::memory_estimate)");
    Ok(())
}

//! `zkml run MODEL(.onnx|.zkml) --input INPUT.json [--json]`

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;
use zkml_ir::input::{dequantize_tensor, quantize_inputs};
use zkml_ir::{evaluate, Program};

use crate::common::{compile_model, import, is_program_file, print_json, read_input, ModelArgs};
use crate::stages::Stages;

#[derive(clap::Args)]
pub struct Args {
    /// An ONNX model (compiled on the fly, calibrated on the input unless --calibration is
    /// given) or a compiled program.
    pub model: PathBuf,
    /// The input (EZKL format: {"input_data": [[...], ...]}).
    #[arg(long, value_name = "INPUT.json")]
    pub input: PathBuf,
    #[command(flatten)]
    pub model_args: ModelArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Quantized vs float comparison of one output.
struct Comparison {
    name: String,
    shape: Vec<usize>,
    scale: i32,
    values: Vec<f64>,
    integers: Vec<i64>,
    float: Option<Vec<f64>>,
}

fn argmax(v: &[f64]) -> Option<usize> {
    v.iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, &x)| match best {
            Some((_, m)) if m >= x => best,
            _ => Some((i, x)),
        })
        .map(|(i, _)| i)
}

impl Comparison {
    fn max_abs_error(&self) -> Option<f64> {
        self.float.as_ref().map(|f| {
            self.values
                .iter()
                .zip(f)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        })
    }

    fn max_abs_float(&self) -> Option<f64> {
        self.float
            .as_ref()
            .map(|f| f.iter().map(|v| v.abs()).fold(0.0, f64::max))
    }

    /// A classifier output: a single axis of length >= 2 (the others 1).
    fn is_classifier(&self) -> bool {
        self.shape.iter().filter(|&&d| d > 1).count() == 1
    }

    /// Top-1 agreement along the last axis, for outputs with several rows of at least two
    /// scores (language-model logits `[batch, tokens, vocabulary]`): `(agreeing rows, rows)`.
    fn top1_rows(&self) -> Option<(usize, usize)> {
        let f = self.float.as_ref()?;
        let width = *self.shape.last()?;
        let rows = self.values.len() / width.max(1);
        if width < 2 || rows < 2 || self.is_classifier() {
            return None;
        }
        let agree = (0..rows)
            .filter(|r| {
                let span = r * width..(r + 1) * width;
                argmax(&self.values[span.clone()]) == argmax(&f[span])
            })
            .count();
        Some((agree, rows))
    }

    fn top1_json(&self) -> serde_json::Value {
        match self.top1_rows() {
            Some((agree, rows)) => {
                json!({"rows": rows, "agree": agree, "rate": agree as f64 / rows as f64})
            }
            None => serde_json::Value::Null,
        }
    }

    fn argmax_json(&self) -> serde_json::Value {
        match (&self.float, self.is_classifier()) {
            (Some(f), true) => {
                let (q, fl) = (argmax(&self.values), argmax(f));
                json!({"quantized": q, "float": fl, "agrees": q == fl})
            }
            _ => serde_json::Value::Null,
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    let mut stages = Stages::new(args.json);
    let input = read_input(&args.input)?;
    let (program, report, source_bytes) = if is_program_file(&args.model)? {
        if !args.model_args.calibration.is_empty() {
            bail!(
                "--calibration applies to ONNX models; {} is already compiled",
                args.model.display()
            );
        }
        let program = stages
            .run("load program", || zkml_ir::format::load(&args.model))
            .with_context(|| format!("cannot read {}", args.model.display()))?;
        let bytes = program
            .source
            .as_ref()
            .filter(|s| s.format == "onnx")
            .map(|s| s.bytes.clone());
        (program, None, bytes)
    } else {
        let model = import(&args.model, &args.model_args, Some(&input), &mut stages)?;
        let calibration = if args.model_args.calibration.is_empty() {
            vec![input.clone()]
        } else {
            args.model_args.calibration_inputs()?
        };
        let (program, report) = compile_model(&model, &calibration, &args.model_args, &mut stages)?;
        (program, Some(report), Some(model.bytes))
    };

    let q = quantize_inputs(&program, &input)
        .with_context(|| format!("input file {}", args.input.display()))?;
    let trace = stages
        .run("evaluate (integer)", || evaluate(&program, &q))
        .context("the integer program failed on this input")?;
    let FloatRun {
        outputs: float,
        engine,
        note: float_note,
    } = match &source_bytes {
        None => FloatRun {
            outputs: None,
            engine: None,
            note: Some("the program carries no source model".into()),
        },
        Some(bytes) => stages.run("float reference", || {
            float_reference(&program, bytes, &input, &args.model_args)
        })?,
    };
    let comparisons: Vec<Comparison> = trace
        .outputs()
        .into_iter()
        .enumerate()
        .map(|(k, t)| {
            let node = &program.nodes[program.outputs[k]];
            Comparison {
                name: program.output_names[k].clone(),
                shape: node.shape.clone(),
                scale: node.scale,
                values: dequantize_tensor(t, node.scale),
                integers: t.data().to_vec(),
                float: float
                    .as_ref()
                    .and_then(|f: &Vec<Vec<f64>>| f.get(k).cloned()),
            }
        })
        .collect();
    if let Some(f) = &float {
        for (c, fv) in comparisons.iter().zip(f) {
            if c.values.len() != fv.len() {
                bail!(
                    "output '{}' has {} values but the float model gives {}",
                    c.name,
                    c.values.len(),
                    fv.len()
                );
            }
        }
    }
    let max_abs_error = comparisons
        .iter()
        .filter_map(Comparison::max_abs_error)
        .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
    if args.json {
        let per_output: Vec<_> = comparisons
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "shape": c.shape, "scale": c.scale,
                    "max_abs_error": c.max_abs_error(), "max_abs_float": c.max_abs_float(),
                    "argmax": c.argmax_json(),
                    "top1": c.top1_json(),
                })
            })
            .collect();
        return print_json(&json!({
            "model": args.model,
            "outputs": comparisons.iter().map(|c| &c.values).collect::<Vec<_>>(),
            "float_outputs": float,
            "float_engine": engine,
            "float_note": float_note,
            "max_abs_error": max_abs_error,
            "quantized_outputs": comparisons.iter().map(|c| &c.integers).collect::<Vec<_>>(),
            "per_output": per_output,
            "calibration": report,
            "timings": stages.json(),
        }));
    }
    if let Some(note) = &float_note {
        println!("note: {note}");
    }
    for c in &comparisons {
        println!(
            "output '{}' shape {:?} (scale 2^{})",
            c.name, c.shape, c.scale
        );
        let show = |v: &[f64]| {
            v.iter()
                .take(10)
                .map(|x| format!("{x:.5}"))
                .collect::<Vec<_>>()
                .join(", ")
                + if v.len() > 10 { ", ..." } else { "" }
        };
        println!("  quantized: [{}]", show(&c.values));
        if let Some(f) = &c.float {
            println!(
                "  float ({}): [{}]",
                engine.as_deref().unwrap_or("?"),
                show(f)
            );
            println!(
                "  max abs error {:.6} (max |float| {:.6})",
                c.max_abs_error().unwrap_or(0.0),
                c.max_abs_float().unwrap_or(0.0)
            );
        }
        if let Some((agree, rows)) = c.top1_rows() {
            println!(
                "  top-1 along the last axis: {agree}/{rows} rows agree ({:.1}%)",
                100.0 * agree as f64 / rows as f64
            );
        }
        if let serde_json::Value::Object(a) = c.argmax_json() {
            println!(
                "  arg-max: quantized {} float {} -> {}",
                a["quantized"],
                a["float"],
                if a["agrees"] == json!(true) {
                    "agrees"
                } else {
                    "DIFFERS"
                }
            );
        }
    }
    Ok(())
}

/// The float model's outputs, which engine produced them, and a note for the user.
struct FloatRun {
    outputs: Option<Vec<Vec<f64>>>,
    engine: Option<String>,
    note: Option<String>,
}

/// Runs the float model with tract; falls back to zkml's own f64 evaluation of the imported
/// graph when tract cannot run it.
fn float_reference(
    program: &Program,
    bytes: &[u8],
    input: &[Vec<f64>],
    args: &ModelArgs,
) -> Result<FloatRun> {
    let shapes: Vec<Vec<usize>> = program
        .inputs
        .iter()
        .map(|&i| program.nodes[i].shape.clone())
        .collect();
    // A panic inside tract is caught and reported as a failure; keep its message off the terminal.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let tract = zkml_onnx::reference::run_tract(bytes, &shapes, input);
    std::panic::set_hook(hook);
    match tract {
        Ok(out) => Ok(FloatRun {
            outputs: Some(out),
            engine: Some("tract".into()),
            note: None,
        }),
        Err(tract_error) => {
            let model = zkml_onnx::parse_model(bytes.to_vec(), None, &args.import(Some(input)))?;
            let out = model.graph.run_float(input)?;
            Ok(FloatRun {
                outputs: Some(out),
                engine: Some("zkml-f64".into()),
                note: Some(format!(
                    "tract could not run the model ({tract_error}); float outputs come from zkml's own f64 evaluation"
                )),
            })
        }
    }
}

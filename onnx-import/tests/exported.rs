//! The exporter fixtures (fixtures/exported: GPT-2, LLaMA, a KV-cache decode step, BERT, ViT,
//! LSTM, GRU, a random forest, a gradient-boosted ensemble), imported as exported and compared
//! with onnxruntime's outputs: every output within 1% of its largest magnitude, the same arg-max
//! for class scores, and the same top-1 token in every row of language-model logits. The
//! inferred domains of integer inputs are the ones the models admit.

use std::path::{Path, PathBuf};

use serde_json::Value;
use zkml_ir::input::{dequantize_tensor, parse_input_json, quantize_inputs};
use zkml_ir::{InputDomain, Op};
use zkml_onnx::{compile, load_model, ImportOptions, QuantConfig};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/exported")
        .join(name)
}

struct Run {
    program: zkml_ir::Program,
    outputs: Vec<Vec<f64>>,
    expected: Vec<Vec<f64>>,
    shapes: Vec<Vec<usize>>,
}

fn run(name: &str) -> Run {
    let d = dir(name);
    let model = load_model(&d.join("model.onnx"), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let input = parse_input_json(&std::fs::read_to_string(d.join("input.json")).unwrap()).unwrap();
    let program = compile(
        &model,
        std::slice::from_ref(&input),
        &QuantConfig::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
    .program;
    let q = quantize_inputs(&program, &input).unwrap();
    let trace = zkml_ir::evaluate(&program, &q).unwrap_or_else(|e| panic!("{name}: {e}"));
    let outputs = trace
        .outputs()
        .iter()
        .zip(&program.outputs)
        .map(|(t, &o)| dequantize_tensor(t, program.nodes[o].scale))
        .collect();
    let exp: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap()).unwrap();
    let list = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                o.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let shapes = exp["output_shapes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect()
        })
        .collect();
    Run {
        program,
        outputs,
        expected: list(&exp["output_data"]),
        shapes,
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Within 1% of the largest magnitude, and (for outputs with a last axis of several scores)
/// the same arg-max in every row.
fn check_agreement(name: &str, r: &Run) {
    assert_eq!(r.outputs.len(), r.expected.len(), "{name}: output count");
    for (k, ((got, want), shape)) in r.outputs.iter().zip(&r.expected).zip(&r.shapes).enumerate() {
        assert_eq!(got.len(), want.len(), "{name} output {k}: length");
        let max = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= 0.01 * max,
            "{name} output {k}: max error {err} over 1% of {max}"
        );
        let width = *shape.last().unwrap_or(&1);
        if width >= 2 && shape.len() >= 2 {
            for (row, (g, w)) in got.chunks(width).zip(want.chunks(width)).enumerate() {
                assert_eq!(argmax(g), argmax(w), "{name} output {k} row {row}: top-1");
            }
        }
    }
}

fn domains(p: &zkml_ir::Program) -> Vec<(String, InputDomain)> {
    p.inputs
        .iter()
        .map(|&i| match &p.nodes[i].op {
            Op::Input { domain, .. } => (p.nodes[i].name.clone(), *domain),
            _ => unreachable!("inputs are Input nodes"),
        })
        .collect()
}

#[test]
fn language_models_agree_with_onnxruntime() {
    for name in ["gpt2", "llama", "llama_decode"] {
        let r = run(name);
        check_agreement(name, &r);
    }
}

#[test]
fn encoders_agree_with_onnxruntime() {
    for name in ["bert", "vit"] {
        let r = run(name);
        check_agreement(name, &r);
    }
}

#[test]
fn recurrent_and_tree_models_agree_with_onnxruntime() {
    for name in ["lstm", "gru", "random_forest", "gradient_boosting"] {
        let r = run(name);
        check_agreement(name, &r);
    }
}

#[test]
fn integer_inputs_get_the_domains_the_models_admit() {
    let int = |lo, hi| InputDomain::Integer { lo, hi };
    // Token ids index a 256-row embedding (negative indices count from the end in ONNX).
    let gpt2 = domains(&run("gpt2").program);
    assert_eq!(gpt2, vec![("input_ids".into(), int(-256, 255))]);
    // The attention mask builds an additive finfo.min mask: 0 or 1. Position ids feed the
    // rotary angles as values, so they take the value range.
    let llama = domains(&run("llama").program);
    assert_eq!(llama[0], ("input_ids".into(), int(-256, 255)));
    assert_eq!(llama[1], ("attention_mask".into(), int(0, 1)));
    assert_eq!(
        llama[2],
        ("position_ids".into(), int(-(1 << 19), (1 << 19) - 1))
    );
    let bert = domains(&run("bert").program);
    assert_eq!(bert[1], ("attention_mask".into(), int(0, 1)));
    // The decode step's past keys and values are real inputs.
    let decode = domains(&run("llama_decode").program);
    assert_eq!(decode.len(), 7);
    assert!(decode[3..].iter().all(|(_, d)| *d == InputDomain::Real));
}

#[test]
fn masked_positions_get_no_attention() {
    // The LLaMA fixture's input pads its first three tokens: with the mask applied its logits
    // match onnxruntime (checked above); with the padding unmasked they would not.
    let d = dir("llama");
    let model = load_model(&d.join("model.onnx"), &ImportOptions::default()).unwrap();
    let input = parse_input_json(&std::fs::read_to_string(d.join("input.json")).unwrap()).unwrap();
    assert!(input[1][..3].iter().all(|&m| m == 0.0), "the fixture pads");
    let program = compile(
        &model,
        std::slice::from_ref(&input),
        &QuantConfig::default(),
    )
    .unwrap()
    .program;
    let mut unmasked = input.clone();
    unmasked[1] = vec![1.0; unmasked[1].len()];
    let eval = |inp: &[Vec<f64>]| -> Vec<i64> {
        let q = quantize_inputs(&program, inp).unwrap();
        zkml_ir::evaluate(&program, &q).unwrap().outputs()[0]
            .data()
            .to_vec()
    };
    let (masked, open) = (eval(&input), eval(&unmasked));
    // Unpadded rows attend to fewer positions once the padding is masked: their logits change.
    let width = 256;
    let last = masked.len() / width - 1;
    assert_ne!(
        &masked[last * width..],
        &open[last * width..],
        "the mask changes the last token's logits"
    );
}

#[test]
fn a_symbolic_batch_follows_the_input() {
    // skl2onnx leaves the batch dimension unnamed, hummingbird names it: either way a batch of
    // rows takes the size the input holds, and each row comes out as it does alone.
    for name in ["random_forest", "gradient_boosting"] {
        let d = dir(name);
        let row = parse_input_json(&std::fs::read_to_string(d.join("input.json")).unwrap())
            .unwrap()
            .remove(0);
        let rows: Vec<Vec<f64>> = (0..4)
            .map(|r| row.iter().map(|x| x * (1.0 - 0.3 * r as f64)).collect())
            .collect();
        let batch = vec![rows.concat()];
        let options = ImportOptions {
            input_sizes: vec![batch[0].len()],
            ..ImportOptions::default()
        };
        let model = load_model(&d.join("model.onnx"), &options).unwrap();
        assert_eq!(
            model.graph.input_shapes()[0].1,
            vec![4, row.len()],
            "{name}"
        );
        let program = compile(
            &model,
            std::slice::from_ref(&batch),
            &QuantConfig::default(),
        )
        .unwrap()
        .program;
        let batched =
            zkml_ir::evaluate(&program, &quantize_inputs(&program, &batch).unwrap()).unwrap();
        let single = load_model(&d.join("model.onnx"), &ImportOptions::default()).unwrap();
        assert_eq!(
            single.graph.input_shapes()[0].1,
            vec![1, row.len()],
            "{name}"
        );
        for (r, x) in rows.iter().enumerate() {
            let one = vec![x.clone()];
            let p = compile(&single, std::slice::from_ref(&one), &QuantConfig::default())
                .unwrap()
                .program;
            let t = zkml_ir::evaluate(&p, &quantize_inputs(&p, &one).unwrap()).unwrap();
            for (k, (b, s)) in batched.outputs().iter().zip(t.outputs()).enumerate() {
                let (bo, so) = (&program.outputs[k], &p.outputs[k]);
                let width = s.data().len();
                let got =
                    dequantize_tensor(b, program.nodes[*bo].scale)[r * width..][..width].to_vec();
                let want = dequantize_tensor(s, p.nodes[*so].scale);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-3,
                        "{name} row {r} output {k}: {g} vs {w}"
                    );
                }
            }
        }
        // A size the other dimensions do not divide leaves the batch at 1 (and the input
        // file's length is then the error).
        let odd = ImportOptions {
            input_sizes: vec![row.len() * 4 + 1],
            ..ImportOptions::default()
        };
        let model = load_model(&d.join("model.onnx"), &odd).unwrap();
        assert_eq!(
            model.graph.input_shapes()[0].1,
            vec![1, row.len()],
            "{name}"
        );
    }
}

#[test]
fn outputs_keep_the_graph_names_through_expansions() {
    // The tree ensemble is expanded into standard nodes; its outputs are still the graph's.
    for (name, outputs) in [
        ("random_forest", vec!["label", "probabilities"]),
        ("gradient_boosting", vec!["variable", "onnx::ArgMax_93"]),
        ("lstm", vec!["logits"]),
    ] {
        let names = run(name).program.output_names;
        assert_eq!(names, outputs, "{name}");
    }
}

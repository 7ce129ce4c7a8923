//! Conformance against ONNX's own operator tests and the PyTorch exporter's test models.
//!
//! `fixtures/onnx_testdata.py DIR` writes the cases; this test reads `ZKML_ONNX_TESTDATA=DIR`.
//! For every case:
//!
//! * a model using an op zkml does not support must be rejected with an error naming that op;
//! * any other model either passes, or is listed in `conformance_expected.txt` with the reason
//!   it is rejected (an unsupported attribute value or element type, say).
//!
//! Passing means: zkml's float evaluation matches the expected outputs (1e-3 relative), and the
//! integer program, calibrated on the case's input, matches them within 1% of the largest
//! expected magnitude. Nothing may panic. `ZKML_CONFORMANCE_BLESS=1` rewrites the expectation
//! file from the current results; a listed case that starts passing fails the test until the
//! list is updated.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use prost::Message;
use zkml_ir::input::{dequantize_tensor, quantize_inputs};
use zkml_onnx::{
    compile, decode_tensor, is_supported, parse_model, ImportError, ImportOptions, NodeError,
    QuantConfig,
};

const EXPECTED: &str = "tests/conformance_expected.txt";

#[derive(Debug, PartialEq)]
enum Outcome {
    Pass,
    /// Rejected with a clean error of this category.
    Rejected(String, String),
    /// Ran but disagreed with the expected outputs.
    Mismatch(String),
}

fn node_category(kind: &NodeError) -> &'static str {
    match kind {
        NodeError::UnsupportedOp { .. } => "unsupported-op",
        NodeError::OpsetTooOld { .. } => "opset-too-old",
        NodeError::UnsupportedAttribute { .. } | NodeError::UnknownAttribute { .. } => {
            "unsupported-attribute"
        }
        NodeError::UnsupportedDtype(_) => "unsupported-dtype",
        NodeError::Invalid(_) => "invalid-node",
        NodeError::Quantization(_) => "not-quantizable",
        NodeError::Expansion { reason, .. } => node_category(reason),
    }
}

fn category(e: &ImportError) -> String {
    match e {
        ImportError::Node { kind, .. } => node_category(kind),
        ImportError::UnsupportedOpset { .. } => "unsupported-opset",
        ImportError::UnsupportedInput { .. } => "unsupported-input",
        ImportError::InvalidGraph(_) => "invalid-graph",
        ImportError::Calibration(_) => "calibration",
        ImportError::Eval(_) => "integer-eval",
        ImportError::Input(_) => "input",
        ImportError::Malformed(_) => "malformed",
        ImportError::Ir(_) => "ir",
        ImportError::Io { .. } | ImportError::Reference(_) => "io",
    }
    .to_string()
}

fn read_pbs(dir: &Path, kind: &str) -> Result<Vec<zkml_onnx::TensorValue>, String> {
    let mut out = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("{kind}_{i}.pb"));
        if !p.exists() {
            break;
        }
        out.push(decode_tensor(&fs::read(&p).map_err(|e| e.to_string())?)?);
    }
    Ok(out)
}

fn close(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    (a - b).abs() <= atol + rtol * b.abs() || (a.is_nan() && b.is_nan())
}

/// Runs a case; when it is only rejected because parameters arrive as graph inputs (ONNX's
/// node tests feed weights, shapes, pads and exponents as inputs), runs it again with every
/// input but the first float one frozen into an initializer, as a deployed model has them.
fn run_case(dir: &Path) -> Outcome {
    let bytes = match fs::read(dir.join("model.onnx")) {
        Ok(b) => b,
        Err(e) => return Outcome::Rejected("io".into(), e.to_string()),
    };
    // Import first: an unsupported model must be rejected for its own sake, whatever its data.
    if let Err(e) = parse_model(bytes.clone(), None, &ImportOptions::default()) {
        let cat = category(&e);
        if [
            "unsupported-op",
            "unsupported-opset",
            "opset-too-old",
            "malformed",
        ]
        .contains(&cat.as_str())
        {
            return Outcome::Rejected(cat, e.to_string());
        }
    }
    let data = dir.join("test_data_set_0");
    let (inputs, expected) = match (read_pbs(&data, "input"), read_pbs(&data, "output")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => return Outcome::Rejected("test-data".into(), e),
    };
    let outcome = run_model(bytes.clone(), &inputs, &expected);
    match outcome {
        Outcome::Rejected(ref cat, _) if cat == "not-quantizable" || cat == "unsupported-input" => {
            // Keep the first float input at run time (none when there is none), then, if that
            // fails, the first input; freeze the rest.
            let mut retried = outcome;
            let first_float = inputs.iter().position(|t| t.is_float);
            let first = (!inputs.is_empty()).then_some(0);
            let mut tried = Vec::new();
            for runtime in [first_float, first] {
                if tried.contains(&runtime) {
                    continue;
                }
                tried.push(runtime);
                let keep: Vec<_> = runtime.iter().map(|&i| inputs[i].clone()).collect();
                if inputs.len() == keep.len() {
                    continue;
                }
                if let Some(frozen) = freeze_parameters(&bytes, &data, runtime) {
                    retried = run_model(frozen, &keep, &expected);
                    if retried == Outcome::Pass {
                        break;
                    }
                }
            }
            retried
        }
        other => other,
    }
}

/// The model with every graph input except `keep` turned into an initializer holding the
/// case's data.
fn freeze_parameters(model: &[u8], data: &Path, keep: Option<usize>) -> Option<Vec<u8>> {
    let mut m = zkml_onnx::proto::ModelProto::decode(model).ok()?;
    let g = m.graph.as_mut()?;
    for i in (0..g.input.len()).filter(|&i| Some(i) != keep) {
        let pb = fs::read(data.join(format!("input_{i}.pb"))).ok()?;
        let mut t = zkml_onnx::proto::TensorProto::decode(pb.as_slice()).ok()?;
        t.name = g.input[i].name.clone();
        g.initializer.push(t);
    }
    Some(m.encode_to_vec())
}

fn run_model(
    bytes: Vec<u8>,
    inputs: &[zkml_onnx::TensorValue],
    expected: &[zkml_onnx::TensorValue],
) -> Outcome {
    let model = match parse_model(bytes, None, &ImportOptions::default()) {
        Ok(m) => m,
        Err(e) => return Outcome::Rejected(category(&e), e.to_string()),
    };
    let flat: Vec<Vec<f64>> = inputs.iter().map(|t| t.values.clone()).collect();
    let float = match model.graph.run_float(&flat) {
        Ok(f) => f,
        Err(e) => return Outcome::Rejected(category(&e), e.to_string()),
    };
    if float.len() != expected.len() {
        return Outcome::Mismatch(format!(
            "{} outputs, expected {}",
            float.len(),
            expected.len()
        ));
    }
    for (k, (f, e)) in float.iter().zip(expected).enumerate() {
        if f.len() != e.values.len() {
            return Outcome::Mismatch(format!(
                "float output {k} has {} values, expected {}",
                f.len(),
                e.values.len()
            ));
        }
        // Expected values in a narrow float type carry its rounding (of every intermediate).
        let rtol = 1e-3f64.max(2f64.powi(3 - e.precision_bits as i32));
        if let Some((i, (a, b))) = f
            .iter()
            .zip(&e.values)
            .enumerate()
            .find(|(_, (a, b))| !close(**a, **b, 1e-4, rtol))
        {
            return Outcome::Mismatch(format!("float output {k}[{i}] = {a}, expected {b}"));
        }
    }
    let compiled = match compile(&model, std::slice::from_ref(&flat), &QuantConfig::default()) {
        Ok(c) => c,
        Err(e) => return Outcome::Rejected(category(&e), e.to_string()),
    };
    let program = &compiled.program;
    let q = match quantize_inputs(program, &flat) {
        Ok(q) => q,
        Err(e) => return Outcome::Rejected("input".into(), e.to_string()),
    };
    let trace = match zkml_ir::evaluate(program, &q) {
        Ok(t) => t,
        Err(e) => return Outcome::Rejected("integer-eval".into(), e.to_string()),
    };
    for (k, (t, e)) in trace.outputs().into_iter().zip(expected).enumerate() {
        let scale = program.nodes[program.outputs[k]].scale;
        let got = dequantize_tensor(t, scale);
        let max = e.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // 1% of the largest magnitude; magnitudes below the finest step of the largest allowed
        // scale (2^-16) cannot be represented at all.
        let tol = (0.01 * max).max(2f64.powi(-QuantConfig::default().max_scale));
        if let Some((i, (a, b))) = got
            .iter()
            .zip(&e.values)
            .enumerate()
            .find(|(_, (a, b))| (*a - *b).abs() > tol)
        {
            return Outcome::Mismatch(format!(
                "quantized output {k}[{i}] = {a}, expected {b} (tolerance {tol:.3e})"
            ));
        }
    }
    Outcome::Pass
}

/// Op types of a model that zkml does not support.
fn unsupported_ops(path: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(path) else {
        return Vec::new();
    };
    let Ok(m) = zkml_onnx::proto::ModelProto::decode(bytes.as_slice()) else {
        return Vec::new();
    };
    let mut ops: Vec<String> = m
        .graph
        .iter()
        .flat_map(|g| g.node.iter())
        .filter(|n| !is_supported(&n.op_type, &n.domain))
        .map(|n| n.op_type.clone())
        .collect();
    ops.sort();
    ops.dedup();
    ops
}

fn cases(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for suite in ["node", "pytorch-operator", "pytorch-converted"] {
        let Ok(entries) = fs::read_dir(root.join(suite)) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().join("model.onnx").exists() {
                out.push((
                    format!("{suite}/{}", e.file_name().to_string_lossy()),
                    e.path(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn onnx_operator_conformance() {
    let Some(root) = std::env::var_os("ZKML_ONNX_TESTDATA").map(PathBuf::from) else {
        assert!(
            std::env::var_os("ZKML_REQUIRE_CONFORMANCE").is_none(),
            "ZKML_REQUIRE_CONFORMANCE is set but ZKML_ONNX_TESTDATA is not"
        );
        eprintln!("skipping: set ZKML_ONNX_TESTDATA (see fixtures/onnx_testdata.py)");
        return;
    };
    let cases = cases(&root);
    assert!(
        cases.len() > 1000,
        "expected the full ONNX test data under {}, found {} cases",
        root.display(),
        cases.len()
    );
    let expected_text = fs::read_to_string(EXPECTED).unwrap_or_default();
    let expected: BTreeMap<String, String> = expected_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            l.split_once(char::is_whitespace)
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    let mut failures = Vec::new();
    let mut rejected = BTreeMap::new();
    let (mut passed, mut unsupported) = (0, 0);
    for (name, dir) in &cases {
        let missing = unsupported_ops(&dir.join("model.onnx"));
        let outcome = catch_unwind(AssertUnwindSafe(|| run_case(dir)));
        match (outcome, missing.is_empty()) {
            (Err(_), _) => failures.push(format!("{name}: PANICKED")),
            (Ok(Outcome::Rejected(cat, msg)), false) => {
                let by_name = cat == "unsupported-op"
                    && missing.iter().any(|op| msg.contains(&format!("'{op}'")));
                if by_name || cat == "unsupported-opset" || cat == "opset-too-old" {
                    unsupported += 1;
                } else {
                    // Rejected for another reason first; acceptable only if listed.
                    rejected.insert(name.clone(), cat.clone());
                    if expected.get(name) != Some(&cat) {
                        failures.push(format!(
                            "{name}: uses unsupported {missing:?} but was rejected as {cat}: {msg}"
                        ));
                    }
                }
            }
            (Ok(Outcome::Pass), false) => {
                failures.push(format!("{name}: uses unsupported {missing:?} yet passed"))
            }
            (Ok(Outcome::Pass), true) => {
                passed += 1;
                if let Some(cat) = expected.get(name) {
                    failures.push(format!(
                        "{name}: listed as {cat} but now passes; update {EXPECTED}"
                    ));
                }
            }
            (Ok(Outcome::Rejected(cat, msg)), true) => {
                rejected.insert(name.clone(), cat.clone());
                if expected.get(name) != Some(&cat) {
                    failures.push(format!("{name}: rejected as {cat}: {msg}"));
                }
            }
            (Ok(Outcome::Mismatch(msg)), _) => {
                rejected.insert(name.clone(), "mismatch".into());
                failures.push(format!("{name}: MISMATCH {msg}"));
            }
        }
    }
    eprintln!(
        "{} cases: {passed} pass, {unsupported} use unsupported ops or opsets (rejected by name), {} rejected for other listed reasons",
        cases.len(),
        rejected.len()
    );
    if std::env::var_os("ZKML_CONFORMANCE_BLESS").is_some() {
        let mut text = String::from("# Cases that use only supported ops but are rejected, and why.\n# Regenerate with ZKML_CONFORMANCE_BLESS=1 (review the diff).\n");
        for (k, v) in rejected.iter().filter(|(_, v)| *v != "mismatch") {
            text.push_str(&format!("{k} {v}\n"));
        }
        fs::write(EXPECTED, text).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} conformance failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! Import errors: every rejection names what is wrong, and nothing panics.

mod common;

use common::{unary_model, ModelBuilder, A};
use prost::Message;
use zkml_onnx::{parse_model, ImportError, ImportOptions, NodeError};

fn import(bytes: Vec<u8>) -> Result<zkml_onnx::Model, ImportError> {
    parse_model(bytes, None, &ImportOptions::default())
}

#[test]
fn unsupported_op_names_node_op_opset_and_the_supported_list() {
    let bytes = ModelBuilder::new(13)
        .input("x", &[4])
        .node("Relu", &["x"], &["r"], vec![])
        .node("NonZero", &["r"], &["y"], vec![])
        .output("y")
        .bytes();
    let e = import(bytes).unwrap_err();
    let ImportError::Node {
        node,
        op_type,
        opset,
        kind: NodeError::UnsupportedOp { supported, .. },
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(
        (node.as_str(), op_type.as_str(), *opset),
        ("NonZero_1", "NonZero", 13)
    );
    assert!(supported.contains("Conv") && supported.contains("Softmax"));
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "node 'NonZero_1' (NonZero, opset 13): unsupported op 'NonZero'; supported ops: "
        ),
        "{msg}"
    );
    // Ops from other domains are named with their domain.
    let mut m = zkml_onnx::proto::ModelProto::decode(
        ModelBuilder::new(13)
            .input("x", &[4])
            .node("Relu", &["x"], &["y"], vec![])
            .output("y")
            .bytes()
            .as_slice(),
    )
    .unwrap();
    m.graph.as_mut().unwrap().node[0].domain = "com.microsoft".into();
    let msg = import(m.encode_to_vec()).unwrap_err().to_string();
    assert!(
        msg.contains("unsupported op 'Relu' from domain 'com.microsoft'"),
        "{msg}"
    );
}

#[test]
fn unsupported_attribute_values_are_named() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (unary_model(13, "Conv", &[1, 1, 4, 4], &[("w", &[1, 1, 2, 2], vec![1.0; 4])], vec![("auto_pad", A::S("SAME_MIDDLE"))]), "attribute 'auto_pad' = 'SAME_MIDDLE' is not supported; supported values are NOTSET, SAME_UPPER, SAME_LOWER and VALID"),
        (ModelBuilder::new(19).input("x", &[4]).init_i64("p", &[2], &[1, 1]).node("Pad", &["x", "p"], &["y"], vec![("mode", A::S("wrap"))]).output("y").bytes(), "attribute 'mode' = 'wrap' is not supported; supported modes are constant, reflect and edge"),
        (unary_model(20, "Gelu", &[4], &[], vec![("approximate", A::S("fast"))]), "attribute 'approximate' = 'fast' is not supported"),
        (unary_model(13, "Relu", &[4], &[], vec![("alpha", A::F(0.5))]), "unknown attribute 'alpha'; this op reads: none"),
        (unary_model(13, "Softmax", &[4], &[], vec![("axis", A::I(0)), ("beta", A::F(1.0))]), "unknown attribute 'beta'; this op reads: axis"),
        (unary_model(13, "MaxPool", &[1, 1, 4, 4], &[], vec![("kernel_shape", A::Is(vec![2, 2])), ("storage_order", A::I(1))]), ""),
        (unary_model(13, "Cast", &[4], &[], vec![("to", A::I(8))]), "cast to STRING is not supported"),
        (unary_model(15, "BatchNormalization", &[1, 2], &[("s", &[2], vec![1.0; 2]), ("b", &[2], vec![0.0; 2]), ("m", &[2], vec![0.0; 2]), ("v", &[2], vec![1.0; 2])], vec![("training_mode", A::I(1))]), "attribute 'training_mode' = 1 is not supported; only inference"),
    ];
    for (bytes, message) in cases {
        match import(bytes) {
            Ok(_) => assert!(message.is_empty(), "expected '{message}'"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    !message.is_empty() && msg.contains(message),
                    "expected '{message}' in: {msg}"
                );
                assert!(msg.starts_with("node '"), "names the node: {msg}");
                assert!(msg.contains(", opset "), "names the opset: {msg}");
            }
        }
    }
}

#[test]
fn opsets_dtypes_and_dimensions() {
    let msg = import(unary_model(5, "Relu", &[4], &[], vec![]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "the model uses opset 5 of domain ''; zkml reads the default domain at opsets 6 to 28"
    );
    let msg = import(unary_model(29, "Relu", &[4], &[], vec![]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("opset 29"), "{msg}");
    let msg = import(unary_model(19, "Gelu", &[4], &[], vec![]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("(Gelu, opset 19): op is supported from opset 20"),
        "{msg}"
    );

    // Integer inputs import; string inputs are refused.
    let mut m =
        zkml_onnx::proto::ModelProto::decode(unary_model(13, "Relu", &[4], &[], vec![]).as_slice())
            .unwrap();
    if let Some(zkml_onnx::proto::type_proto::Value::TensorType(t)) =
        m.graph.as_mut().unwrap().input[0]
            .r#type
            .as_mut()
            .unwrap()
            .value
            .as_mut()
    {
        t.elem_type = zkml_onnx::proto::data_type::STRING;
    }
    let msg = import(m.encode_to_vec()).unwrap_err().to_string();
    assert_eq!(
        msg,
        "model input 'x': element type STRING is not supported; inputs must be floating point, \
         integer or bool"
    );

    // Symbolic dimensions: the leading one defaults to 1, others must be given.
    let mut m = zkml_onnx::proto::ModelProto::decode(
        unary_model(13, "Relu", &[1, 4], &[], vec![]).as_slice(),
    )
    .unwrap();
    if let Some(zkml_onnx::proto::type_proto::Value::TensorType(t)) =
        m.graph.as_mut().unwrap().input[0]
            .r#type
            .as_mut()
            .unwrap()
            .value
            .as_mut()
    {
        for d in &mut t.shape.as_mut().unwrap().dim {
            d.value = Some(
                zkml_onnx::proto::tensor_shape_proto::dimension::Value::DimParam(
                    if d.value
                        == Some(zkml_onnx::proto::tensor_shape_proto::dimension::Value::DimValue(1))
                    {
                        "batch".into()
                    } else {
                        "width".into()
                    },
                ),
            );
        }
    }
    let bytes = m.encode_to_vec();
    let msg = import(bytes.clone()).unwrap_err().to_string();
    assert!(
        msg.contains(
            "dimension 1 is symbolic ('width'); give it a value (for example --dim width=N)"
        ),
        "{msg}"
    );
    let mut opts = ImportOptions::default();
    opts.dims.insert("width".into(), 6);
    let model = parse_model(bytes.clone(), None, &opts).unwrap();
    assert_eq!(model.graph.input_shapes()[0].1, vec![1, 6]);
    opts.dims.insert("batch".into(), 3);
    let model = parse_model(bytes, None, &opts).unwrap();
    assert_eq!(model.graph.input_shapes()[0].1, vec![3, 6]);
}

#[test]
fn graph_errors_are_named() {
    let bytes = ModelBuilder::new(13)
        .input("x", &[4])
        .node("Add", &["x", "ghost"], &["y"], vec![])
        .output("y")
        .bytes();
    let msg = import(bytes).unwrap_err().to_string();
    assert!(
        msg.contains("reads 'ghost', which no node, initializer or input produces"),
        "{msg}"
    );
    let bytes = ModelBuilder::new(13)
        .input("x", &[4])
        .node("Relu", &["x"], &["y"], vec![])
        .output("nothing")
        .bytes();
    assert!(import(bytes)
        .unwrap_err()
        .to_string()
        .contains("output 'nothing' is produced by no node"));
    let bytes = ModelBuilder::new(13)
        .input("x", &[2, 3])
        .node("MatMul", &["x", "x"], &["y"], vec![])
        .output("y")
        .bytes();
    let msg = import(bytes).unwrap_err().to_string();
    assert!(
        msg.contains("(MatMul, opset 13): inner dimensions differ"),
        "{msg}"
    );
    let cyclic = ModelBuilder::new(13)
        .input("x", &[4])
        .node("Add", &["x", "b"], &["a"], vec![])
        .node("Relu", &["a"], &["b"], vec![])
        .output("b")
        .bytes();
    assert!(import(cyclic).unwrap_err().to_string().contains("cycle"));
    assert!(import(Vec::new())
        .unwrap_err()
        .to_string()
        .contains("empty"));
}

#[test]
fn corrupted_models_never_panic() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    for name in [
        "mlp_small",
        "transformer",
        "pytorch_style",
        "depthwise_separable",
    ] {
        let bytes = std::fs::read(fixtures.join(name).join("model.onnx")).unwrap();
        let mut state = 0x1234_5678u64;
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut b = bytes.clone();
            let pos = (state % b.len() as u64) as usize;
            b[pos] ^= (state >> 32) as u8 | 1;
            let r = std::panic::catch_unwind(|| {
                if let Ok(model) = parse_model(b, None, &ImportOptions::default()) {
                    // Whatever imports must also compile or fail cleanly.
                    let _ = zkml_onnx::compile(&model, &[], &Default::default());
                }
            });
            assert!(r.is_ok(), "{name}: panic after flipping byte {pos}");
        }
    }
}

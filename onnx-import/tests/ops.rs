//! Every supported op against tract, on several shapes and attribute combinations.
//!
//! Tolerances: zkml's float evaluation within 1e-4 (+1e-4 relative) of tract; the integer
//! program within 1% of the largest reference output magnitude (see `common::check`).

mod common;

use common::{check, check_without_tract, unary_model, values, weights, ModelBuilder, A};

/// Attributes of one test node.
type Attrs = Vec<(&'static str, A)>;

fn x(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Vec<Vec<f64>> {
    vec![values(seed, shape.iter().product(), lo, hi)]
}

#[test]
fn elementwise_binary_ops() {
    for (i, op) in ["Add", "Sub", "Mul", "Div"].iter().enumerate() {
        for (j, (a, b)) in [
            (vec![2, 3, 4], vec![2, 3, 4]),
            (vec![2, 3, 4], vec![4]),
            (vec![2, 1, 4], vec![3, 1]),
            (vec![5], vec![]),
        ]
        .into_iter()
        .enumerate()
        {
            let name = format!("{op} {a:?} x {b:?} runtime");
            let seed = (i * 10 + j) as u64;
            let lo = if *op == "Div" { 0.5 } else { -2.0 };
            let bytes = ModelBuilder::new(13)
                .input("a", &a)
                .input("b", &b)
                .node(op, &["a", "b"], &["y"], vec![])
                .output("y")
                .bytes();
            check(
                &name,
                bytes,
                &[
                    values(seed, a.iter().product(), -2.0, 2.0),
                    values(seed + 1, b.iter().product(), lo, 2.0),
                ],
            );
            let name = format!("{op} {a:?} x {b:?} constant");
            let w: Vec<f32> = values(seed + 2, b.iter().product(), lo, 2.0)
                .iter()
                .map(|&v| v as f32)
                .collect();
            check(
                &name,
                unary_model(13, op, &a, &[("b", &b, w)], vec![]),
                &x(&a, seed, -2.0, 2.0),
            );
        }
    }
    // Opset 6 broadcasting with an axis.
    let w = weights(7, 3);
    let bytes = unary_model(
        6,
        "Add",
        &[2, 3, 4],
        &[("b", &[3], w)],
        vec![("broadcast", A::I(1)), ("axis", A::I(1))],
    );
    let model = zkml_onnx::parse_model(bytes, None, &Default::default()).unwrap();
    let out = model.graph.run_float(&x(&[2, 3, 4], 8, 0.0, 0.0)).unwrap();
    assert_eq!(out[0][4], out[0][5], "opset 6 broadcast along axis 1");
    assert_ne!(out[0][0], out[0][4]);
}

#[test]
fn unary_arithmetic_ops() {
    check(
        "Neg",
        unary_model(13, "Neg", &[3, 4], &[], vec![]),
        &x(&[3, 4], 1, -3.0, 3.0),
    );
    check(
        "Abs",
        unary_model(13, "Abs", &[3, 4], &[], vec![]),
        &x(&[3, 4], 2, -3.0, 3.0),
    );
    check(
        "Sqrt",
        unary_model(13, "Sqrt", &[2, 8], &[], vec![]),
        &x(&[2, 8], 3, 0.0, 9.0),
    );
    check(
        "Sqrt small",
        unary_model(13, "Sqrt", &[10], &[], vec![]),
        &x(&[10], 4, 0.001, 0.1),
    );
    check(
        "Reciprocal",
        unary_model(13, "Reciprocal", &[10], &[], vec![]),
        &x(&[10], 5, 0.5, 4.0),
    );
    for (p, lo) in [
        (2.0f32, -2.0),
        (3.0, -2.0),
        (0.5, 0.1),
        (-1.0, 0.5),
        (1.5, 0.1),
        (1.0, -1.0),
    ] {
        check(
            &format!("Pow {p}"),
            unary_model(13, "Pow", &[12], &[("p", &[], vec![p])], vec![]),
            &x(&[12], 6, lo, 3.0),
        );
    }
}

#[test]
fn variadic_ops() {
    for op in ["Sum", "Max", "Min"] {
        let bytes = ModelBuilder::new(13)
            .input("a", &[2, 3])
            .input("b", &[3])
            .init("c", &[2, 1], &[0.25, -0.5])
            .node(op, &["a", "b", "c"], &["y"], vec![])
            .output("y")
            .bytes();
        check(
            op,
            bytes,
            &[values(1, 6, -2.0, 2.0), values(2, 3, -2.0, 2.0)],
        );
        check(
            &format!("{op} single"),
            unary_model(13, op, &[4], &[], vec![]),
            &x(&[4], 3, -1.0, 1.0),
        );
    }
}

#[test]
fn activations() {
    let shape = [2, 16];
    for (op, lo, hi, attrs) in [
        ("Relu", -4.0, 4.0, vec![]),
        ("LeakyRelu", -4.0, 4.0, vec![]),
        ("LeakyRelu", -4.0, 4.0, vec![("alpha", A::F(0.2))]),
        ("LeakyRelu", -4.0, 4.0, vec![("alpha", A::F(1.5))]),
        ("Sigmoid", -12.0, 12.0, vec![]),
        ("Sigmoid", -1.0, 1.0, vec![]),
        ("Tanh", -6.0, 6.0, vec![]),
        ("Exp", -6.0, 2.0, vec![]),
        ("Softplus", -8.0, 8.0, vec![]),
        ("Elu", -5.0, 3.0, vec![]),
        ("Elu", -5.0, 3.0, vec![("alpha", A::F(0.5))]),
        ("Selu", -5.0, 3.0, vec![]),
        ("Erf", -4.0, 4.0, vec![]),
    ] {
        check(
            &format!("{op} {attrs_len}", attrs_len = attrs.len()),
            unary_model(13, op, &shape, &[], attrs),
            &x(&shape, 11, lo, hi),
        );
    }
    for approx in ["none", "tanh"] {
        let bytes = unary_model(20, "Gelu", &shape, &[], vec![("approximate", A::S(approx))]);
        let model = zkml_onnx::parse_model(bytes.clone(), None, &Default::default()).unwrap();
        // tract may not implement opset-20 Gelu; compare with the formula instead when it does not.
        let input = x(&shape, 12, -5.0, 5.0);
        match zkml_onnx::reference::run_tract(&bytes, &[shape.to_vec()], &input) {
            Ok(_) => check(&format!("Gelu {approx}"), bytes, &input),
            Err(_) => {
                let f = model.graph.run_float(&input).unwrap();
                for (v, y) in input[0].iter().zip(&f[0]) {
                    let exact = if approx == "none" {
                        0.5 * v * (1.0 + libm_erf(v / 2f64.sqrt()))
                    } else {
                        0.5 * v
                            * (1.0
                                + ((2.0 / std::f64::consts::PI).sqrt()
                                    * (v + 0.044715 * v * v * v))
                                    .tanh())
                    };
                    assert!((exact - y).abs() < 1e-9);
                }
            }
        }
    }
    check(
        "PRelu per channel",
        unary_model(
            13,
            "PRelu",
            &[2, 3, 4],
            &[("s", &[3, 1], vec![0.1, 0.5, 1.2])],
            vec![],
        ),
        &x(&[2, 3, 4], 13, -3.0, 3.0),
    );
    check(
        "PRelu scalar",
        unary_model(13, "PRelu", &[2, 3], &[("s", &[1], vec![0.25])], vec![]),
        &x(&[2, 3], 14, -3.0, 3.0),
    );
    check_without_tract(
        "PRelu opset 6 channel slope",
        unary_model(
            6,
            "PRelu",
            &[2, 3, 4],
            &[("s", &[3], vec![0.1, 0.5, 0.9])],
            vec![],
        ),
        &x(&[2, 3, 4], 15, -3.0, 3.0),
        "tract broadcasts an opset-6 slope along the last axis",
    );
    check(
        "Clip opset 6",
        unary_model(
            6,
            "Clip",
            &[12],
            &[],
            vec![("min", A::F(-0.5)), ("max", A::F(0.75))],
        ),
        &x(&[12], 16, -2.0, 2.0),
    );
    check(
        "Clip opset 13",
        unary_model(
            13,
            "Clip",
            &[12],
            &[("lo", &[], vec![-0.5]), ("hi", &[], vec![0.75])],
            vec![],
        ),
        &x(&[12], 17, -2.0, 2.0),
    );
    check(
        "Clip min only",
        unary_model(13, "Clip", &[12], &[("lo", &[], vec![0.0])], vec![]),
        &x(&[12], 18, -2.0, 2.0),
    );
    let bytes = ModelBuilder::new(13)
        .input("x", &[12])
        .init("hi", &[], &[0.3])
        .node("Clip", &["x", "", "hi"], &["y"], vec![])
        .output("y")
        .bytes();
    check("Clip max only", bytes, &x(&[12], 19, -2.0, 2.0));
}

fn libm_erf(x: f64) -> f64 {
    zkml_ir::TableFunction::Erf.apply(x)
}

#[test]
fn softmax_family() {
    for (opset, axis, shape) in [
        (13, -1, vec![2, 5]),
        (13, 0, vec![3, 4]),
        (13, 1, vec![2, 3, 4]),
        (11, 1, vec![2, 3, 4]),
        (11, 0, vec![2, 3]),
    ] {
        for op in ["Softmax", "LogSoftmax"] {
            let name = format!("{op} opset {opset} axis {axis} {shape:?}");
            check(
                &name,
                unary_model(opset, op, &shape, &[], vec![("axis", A::I(axis))]),
                &x(&shape, 21, -4.0, 4.0),
            );
        }
    }
    check(
        "Softmax wide range",
        unary_model(13, "Softmax", &[1, 10], &[], vec![]),
        &x(&[1, 10], 22, -40.0, 40.0),
    );
}

#[test]
fn gemm_and_matmul() {
    for (ta, tb, alpha, beta, c_shape) in [
        (0, 0, 1.0, 1.0, vec![4]),
        (1, 0, 1.0, 1.0, vec![3, 4]),
        (0, 1, 0.5, 2.0, vec![1, 4]),
        (1, 1, 1.0, 0.0, vec![]),
        (0, 0, 2.0, 1.0, vec![3, 1]),
    ] {
        let a_shape = if ta == 1 { vec![5, 3] } else { vec![3, 5] };
        let b_shape = if tb == 1 { vec![4, 5] } else { vec![5, 4] };
        let mut params: Vec<(&str, &[usize], Vec<f32>)> = vec![("b", &b_shape, weights(31, 20))];
        let c_vals = weights(32, c_shape.iter().product());
        if !c_shape.is_empty() || beta == 0.0 {
            params.push((
                "c",
                &c_shape,
                if c_shape.is_empty() {
                    vec![0.3]
                } else {
                    c_vals
                },
            ));
        }
        let name = format!("Gemm transA={ta} transB={tb} alpha={alpha} beta={beta} C{c_shape:?}");
        let attrs = vec![
            ("transA", A::I(ta)),
            ("transB", A::I(tb)),
            ("alpha", A::F(alpha)),
            ("beta", A::F(beta)),
        ];
        check(
            &name,
            unary_model(13, "Gemm", &a_shape, &params, attrs),
            &x(&a_shape, 33, -1.0, 1.0),
        );
    }
    for (a, b) in [
        (vec![3, 5], vec![5, 4]),
        (vec![2, 3, 5], vec![5, 4]),
        (vec![5], vec![5, 4]),
        (vec![3, 5], vec![5]),
        (vec![2, 1, 3, 5], vec![4, 5, 2]),
    ] {
        let w = weights(41, b.iter().product());
        check(
            &format!("MatMul {a:?} x const {b:?}"),
            unary_model(13, "MatMul", &a, &[("w", &b, w)], vec![]),
            &x(&a, 42, -1.0, 1.0),
        );
        let bytes = ModelBuilder::new(13)
            .input("a", &a)
            .input("b", &b)
            .node("MatMul", &["a", "b"], &["y"], vec![])
            .output("y")
            .bytes();
        check(
            &format!("MatMul {a:?} x runtime {b:?}"),
            bytes,
            &[
                values(43, a.iter().product(), -1.0, 1.0),
                values(44, b.iter().product(), -1.0, 1.0),
            ],
        );
    }
}

#[test]
fn convolutions() {
    let cases: Vec<(Vec<usize>, Vec<usize>, Attrs)> = vec![
        (vec![1, 2, 7, 7], vec![3, 2, 3, 3], vec![]),
        (
            vec![1, 2, 7, 7],
            vec![3, 2, 3, 3],
            vec![
                ("pads", A::Is(vec![1, 1, 1, 1])),
                ("strides", A::Is(vec![2, 2])),
            ],
        ),
        (
            vec![1, 2, 8, 8],
            vec![4, 2, 3, 3],
            vec![
                ("pads", A::Is(vec![0, 1, 2, 0])),
                ("dilations", A::Is(vec![2, 1])),
            ],
        ),
        (
            vec![1, 2, 7, 8],
            vec![3, 2, 3, 2],
            vec![
                ("auto_pad", A::S("SAME_UPPER")),
                ("strides", A::Is(vec![2, 3])),
            ],
        ),
        (
            vec![1, 2, 7, 8],
            vec![3, 2, 2, 3],
            vec![("auto_pad", A::S("SAME_LOWER"))],
        ),
        (
            vec![1, 2, 7, 8],
            vec![3, 2, 3, 3],
            vec![("auto_pad", A::S("VALID")), ("strides", A::Is(vec![2, 2]))],
        ),
        (vec![1, 4, 6, 6], vec![4, 2, 3, 3], vec![("group", A::I(2))]),
        (
            vec![1, 4, 6, 6],
            vec![8, 1, 3, 3],
            vec![("group", A::I(4)), ("pads", A::Is(vec![1, 1, 1, 1]))],
        ),
        (
            vec![2, 3, 10],
            vec![2, 3, 3],
            vec![("strides", A::Is(vec![2]))],
        ),
        (
            vec![1, 2, 4, 5, 5],
            vec![2, 2, 2, 3, 3],
            vec![("pads", A::Is(vec![0, 1, 1, 1, 1, 0]))],
        ),
    ];
    for (i, (xs, ws, attrs)) in cases.into_iter().enumerate() {
        let w = weights(50 + i as u64, ws.iter().product());
        let b = weights(70 + i as u64, ws[0]);
        let name = format!("Conv case {i} x{xs:?} w{ws:?}");
        check(
            &name,
            unary_model(13, "Conv", &xs, &[("w", &ws, w), ("b", &[ws[0]], b)], attrs),
            &x(&xs, i as u64, -1.0, 1.0),
        );
    }
    let nobias = unary_model(
        11,
        "Conv",
        &[1, 1, 5, 5],
        &[("w", &[2, 1, 3, 3], weights(90, 18))],
        vec![],
    );
    check(
        "Conv without bias",
        nobias,
        &x(&[1, 1, 5, 5], 91, -1.0, 1.0),
    );
}

#[test]
fn transposed_convolutions() {
    let cases: Vec<(Vec<usize>, Vec<usize>, Attrs)> = vec![
        (vec![1, 2, 3, 3], vec![2, 3, 3, 3], vec![]),
        (
            vec![1, 2, 3, 3],
            vec![2, 3, 3, 3],
            vec![
                ("strides", A::Is(vec![2, 2])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
            ],
        ),
        (
            vec![1, 2, 3, 4],
            vec![2, 2, 2, 3],
            vec![
                ("strides", A::Is(vec![3, 2])),
                ("output_padding", A::Is(vec![1, 1])),
            ],
        ),
        (
            vec![1, 4, 3, 3],
            vec![4, 1, 3, 3],
            vec![("group", A::I(2)), ("dilations", A::Is(vec![2, 2]))],
        ),
        (
            vec![1, 2, 5],
            vec![2, 2, 3],
            vec![("strides", A::Is(vec![2]))],
        ),
        (
            vec![1, 2, 3, 3],
            vec![2, 2, 3, 3],
            vec![
                ("strides", A::Is(vec![2, 2])),
                ("output_shape", A::Is(vec![6, 6])),
            ],
        ),
    ];
    for (i, (xs, ws, attrs)) in cases.into_iter().enumerate() {
        let w = weights(100 + i as u64, ws.iter().product());
        let m = ws[1]
            * attrs
                .iter()
                .find(|(n, _)| *n == "group")
                .map_or(1, |(_, a)| if let A::I(g) = a { *g as usize } else { 1 });
        let b = weights(120 + i as u64, m);
        let name = format!("ConvTranspose case {i}");
        let explicit_shape = attrs.iter().any(|(n, _)| *n == "output_shape");
        let bytes = unary_model(
            13,
            "ConvTranspose",
            &xs,
            &[("w", &ws, w), ("b", &[m], b)],
            attrs,
        );
        if explicit_shape {
            check_without_tract(
                &name,
                bytes,
                &x(&xs, i as u64, -1.0, 1.0),
                "tract fails on an explicit output_shape",
            );
        } else {
            check(&name, bytes, &x(&xs, i as u64, -1.0, 1.0));
        }
    }
}

#[test]
fn pooling() {
    let cases: Vec<(&str, Vec<usize>, Attrs)> = vec![
        (
            "MaxPool",
            vec![1, 2, 6, 6],
            vec![
                ("kernel_shape", A::Is(vec![2, 2])),
                ("strides", A::Is(vec![2, 2])),
            ],
        ),
        (
            "MaxPool",
            vec![1, 2, 7, 7],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
                ("strides", A::Is(vec![2, 2])),
            ],
        ),
        (
            "MaxPool",
            vec![1, 1, 7, 7],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("strides", A::Is(vec![2, 2])),
                ("ceil_mode", A::I(1)),
            ],
        ),
        (
            "MaxPool",
            vec![1, 1, 8, 8],
            vec![
                ("kernel_shape", A::Is(vec![2, 2])),
                ("dilations", A::Is(vec![2, 2])),
            ],
        ),
        (
            "MaxPool",
            vec![1, 2, 9],
            vec![
                ("kernel_shape", A::Is(vec![3])),
                ("auto_pad", A::S("SAME_UPPER")),
                ("strides", A::Is(vec![2])),
            ],
        ),
        (
            "MaxPool",
            vec![1, 1, 4, 4, 4],
            vec![("kernel_shape", A::Is(vec![2, 2, 2]))],
        ),
        (
            "AveragePool",
            vec![1, 2, 6, 6],
            vec![
                ("kernel_shape", A::Is(vec![2, 2])),
                ("strides", A::Is(vec![2, 2])),
            ],
        ),
        (
            "AveragePool",
            vec![1, 2, 5, 5],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
            ],
        ),
        (
            "AveragePool",
            vec![1, 2, 5, 5],
            vec![
                ("kernel_shape", A::Is(vec![3, 3])),
                ("pads", A::Is(vec![1, 1, 1, 1])),
                ("count_include_pad", A::I(1)),
            ],
        ),
        (
            "AveragePool",
            vec![1, 1, 7, 7],
            vec![
                ("kernel_shape", A::Is(vec![2, 2])),
                ("strides", A::Is(vec![2, 2])),
                ("ceil_mode", A::I(1)),
            ],
        ),
        (
            "AveragePool",
            vec![1, 3, 10],
            vec![
                ("kernel_shape", A::Is(vec![4])),
                ("strides", A::Is(vec![3])),
            ],
        ),
    ];
    for (i, (op, xs, attrs)) in cases.into_iter().enumerate() {
        check(
            &format!("{op} case {i}"),
            unary_model(13, op, &xs, &[], attrs),
            &x(&xs, 200 + i as u64, -2.0, 2.0),
        );
    }
    for op in ["GlobalAveragePool", "GlobalMaxPool"] {
        check(
            op,
            unary_model(13, op, &[2, 3, 4, 5], &[], vec![]),
            &x(&[2, 3, 4, 5], 220, -2.0, 2.0),
        );
    }
}

#[test]
fn normalizations() {
    let c = 3;
    let bn = |seed| {
        vec![
            ("scale", &[3usize][..], weights(seed, c)),
            ("bias", &[3usize][..], weights(seed + 1, c)),
            ("mean", &[3usize][..], weights(seed + 2, c)),
            (
                "var",
                &[3usize][..],
                values(seed + 3, c, 0.5, 2.0)
                    .iter()
                    .map(|&v| v as f32)
                    .collect(),
            ),
        ]
    };
    check(
        "BatchNormalization 4-D",
        unary_model(
            15,
            "BatchNormalization",
            &[2, 3, 4, 4],
            &bn(300),
            vec![("epsilon", A::F(1e-3))],
        ),
        &x(&[2, 3, 4, 4], 301, -2.0, 2.0),
    );
    check(
        "BatchNormalization 2-D",
        unary_model(9, "BatchNormalization", &[4, 3], &bn(302), vec![]),
        &x(&[4, 3], 303, -2.0, 2.0),
    );
    // Folded into a preceding Conv.
    let bytes = ModelBuilder::new(13)
        .input("x", &[1, 2, 5, 5])
        .init("w", &[3, 2, 3, 3], &weights(310, 54))
        .init("scale", &[3], &[1.5, 0.5, -1.0])
        .init("bias", &[3], &[0.1, 0.2, 0.3])
        .init("mean", &[3], &[0.0, 0.5, -0.5])
        .init("var", &[3], &[1.0, 2.0, 0.5])
        .node("Conv", &["x", "w"], &["c"], vec![])
        .node(
            "BatchNormalization",
            &["c", "scale", "bias", "mean", "var"],
            &["y"],
            vec![],
        )
        .output("y")
        .bytes();
    let model = zkml_onnx::parse_model(bytes.clone(), None, &Default::default()).unwrap();
    assert_eq!(model.graph.output_shapes()[0].1, vec![1, 3, 3, 3]);
    check(
        "Conv + BatchNormalization (folded)",
        bytes,
        &x(&[1, 2, 5, 5], 311, -1.0, 1.0),
    );
    check(
        "InstanceNormalization",
        unary_model(
            13,
            "InstanceNormalization",
            &[2, 3, 4, 5],
            &[("s", &[3], weights(320, 3)), ("b", &[3], weights(321, 3))],
            vec![("epsilon", A::F(1e-5))],
        ),
        &x(&[2, 3, 4, 5], 322, -3.0, 3.0),
    );
    for (axis, shape) in [
        (-1i64, vec![2, 3, 8]),
        (1, vec![2, 3, 4]),
        (-2, vec![4, 2, 6]),
    ] {
        let norm: Vec<usize> = shape[(if axis < 0 {
            shape.len() as i64 + axis
        } else {
            axis
        }) as usize..]
            .to_vec();
        let n = norm.iter().product();
        let bytes = unary_model(
            17,
            "LayerNormalization",
            &shape,
            &[("g", &norm, weights(330, n)), ("b", &norm, weights(331, n))],
            vec![("axis", A::I(axis))],
        );
        check(
            &format!("LayerNormalization axis {axis} {shape:?}"),
            bytes,
            &x(&shape, 332, -3.0, 3.0),
        );
    }
}

#[test]
fn reductions() {
    for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"] {
        for (axes, keep) in [(vec![1i64], 1), (vec![0, 2], 0), (vec![-1], 1), (vec![], 0)] {
            let opset = if op == "ReduceSum" { 13 } else { 18 };
            let name = format!("{op} axes {axes:?} keepdims {keep}");
            let mut b = ModelBuilder::new(opset).input("x", &[2, 3, 4]);
            let mut ins = vec!["x"];
            if !axes.is_empty() {
                b = b.init_i64("axes", &[axes.len()], &axes);
                ins.push("axes");
            }
            let bytes = b
                .node(op, &ins, &["y"], vec![("keepdims", A::I(keep))])
                .output("y")
                .bytes();
            check(&name, bytes, &x(&[2, 3, 4], 400, -2.0, 2.0));
        }
        // Attribute form (older opsets).
        let bytes = unary_model(
            11,
            op,
            &[2, 3, 4],
            &[],
            vec![("axes", A::Is(vec![1])), ("keepdims", A::I(0))],
        );
        check(
            &format!("{op} opset 11"),
            bytes,
            &x(&[2, 3, 4], 401, -2.0, 2.0),
        );
    }
    for (axis, keep, last) in [(1i64, 1, 0), (0, 0, 0), (-1, 0, 1)] {
        let bytes = unary_model(
            13,
            "ArgMax",
            &[3, 5],
            &[],
            vec![
                ("axis", A::I(axis)),
                ("keepdims", A::I(keep)),
                ("select_last_index", A::I(last)),
            ],
        );
        check(
            &format!("ArgMax axis {axis} keepdims {keep} last {last}"),
            bytes,
            &[vec![
                1., 3., 3., 0., 2., 5., 1., 5., 2., 0., -1., -1., -2., -3., -1.,
            ]],
        );
    }
}

#[test]
fn data_movement() {
    let shape = [2, 3, 4];
    let input = x(&shape, 500, -2.0, 2.0);
    let reshape = |target: &[i64]| {
        ModelBuilder::new(13)
            .input("x", &shape)
            .init_i64("s", &[target.len()], target)
            .node("Reshape", &["x", "s"], &["y"], vec![])
            .output("y")
            .bytes()
    };
    check("Reshape", reshape(&[4, 6]), &input);
    check("Reshape 0 and -1", reshape(&[0, -1]), &input);
    for axis in [0, 1, 2, 3, -1] {
        check(
            &format!("Flatten axis {axis}"),
            unary_model(13, "Flatten", &shape, &[], vec![("axis", A::I(axis))]),
            &input,
        );
    }
    check(
        "Transpose default",
        unary_model(13, "Transpose", &shape, &[], vec![]),
        &input,
    );
    check(
        "Transpose perm",
        unary_model(
            13,
            "Transpose",
            &shape,
            &[],
            vec![("perm", A::Is(vec![1, 0, 2]))],
        ),
        &input,
    );
    let sq = ModelBuilder::new(13)
        .input("x", &[2, 1, 4, 1])
        .init_i64("a", &[1], &[1])
        .node("Squeeze", &["x", "a"], &["y"], vec![])
        .output("y")
        .bytes();
    check("Squeeze axes", sq, &x(&[2, 1, 4, 1], 501, -1.0, 1.0));
    check_without_tract(
        "Squeeze all (opset 11)",
        unary_model(11, "Squeeze", &[2, 1, 4, 1], &[], vec![]),
        &x(&[2, 1, 4, 1], 502, -1.0, 1.0),
        "tract requires the optional axes attribute",
    );
    let un = ModelBuilder::new(13)
        .input("x", &shape)
        .init_i64("a", &[2], &[0, -1])
        .node("Unsqueeze", &["x", "a"], &["y"], vec![])
        .output("y")
        .bytes();
    check("Unsqueeze", un, &input);
    check(
        "Unsqueeze opset 11",
        unary_model(11, "Unsqueeze", &shape, &[], vec![("axes", A::Is(vec![1]))]),
        &input,
    );
    let cat = ModelBuilder::new(13)
        .input("x", &shape)
        .input("z", &[2, 2, 4])
        .init("c", &[2, 1, 4], &weights(503, 8))
        .node("Concat", &["x", "z", "c"], &["y"], vec![("axis", A::I(1))])
        .output("y")
        .bytes();
    check(
        "Concat runtime + constant",
        cat,
        &[input[0].clone(), values(504, 16, -1.0, 1.0)],
    );
    for (starts, ends, axes, steps) in [
        (vec![0i64], vec![2i64], vec![1i64], vec![1i64]),
        (vec![-1], vec![-4], vec![2], vec![-1]),
        (vec![1, 0], vec![100, 3], vec![0, 2], vec![1, 2]),
        (vec![3], vec![-100], vec![2], vec![-2]),
    ] {
        let bytes = ModelBuilder::new(13)
            .input("x", &shape)
            .init_i64("s", &[starts.len()], &starts)
            .init_i64("e", &[ends.len()], &ends)
            .init_i64("a", &[axes.len()], &axes)
            .init_i64("t", &[steps.len()], &steps)
            .node("Slice", &["x", "s", "e", "a", "t"], &["y"], vec![])
            .output("y")
            .bytes();
        check(
            &format!("Slice {starts:?}..{ends:?} axes {axes:?} steps {steps:?}"),
            bytes,
            &input,
        );
    }
    check(
        "Slice opset 9",
        unary_model(
            9,
            "Slice",
            &shape,
            &[],
            vec![
                ("starts", A::Is(vec![1])),
                ("ends", A::Is(vec![3])),
                ("axes", A::Is(vec![2])),
            ],
        ),
        &input,
    );
    let split = ModelBuilder::new(13)
        .input("x", &shape)
        .init_i64("s", &[2], &[1, 3])
        .node("Split", &["x", "s"], &["a", "b"], vec![("axis", A::I(2))])
        .output("a")
        .output("b")
        .bytes();
    check("Split sizes", split, &input);
    let split = ModelBuilder::new(11)
        .input("x", &shape)
        .node("Split", &["x"], &["a", "b", "c"], vec![("axis", A::I(1))])
        .output("a")
        .output("b")
        .output("c")
        .bytes();
    check("Split equal", split, &input);
    let tile = ModelBuilder::new(13)
        .input("x", &shape)
        .init_i64("r", &[3], &[1, 2, 3])
        .node("Tile", &["x", "r"], &["y"], vec![])
        .output("y")
        .bytes();
    check("Tile", tile, &input);
    let expand = ModelBuilder::new(13)
        .input("x", &[3, 1])
        .init_i64("s", &[3], &[2, 1, 4])
        .node("Expand", &["x", "s"], &["y"], vec![])
        .output("y")
        .bytes();
    check("Expand", expand, &x(&[3, 1], 505, -1.0, 1.0));
    for (axis, idx, idx_shape) in [
        (0i64, vec![1i64, 0, 1], vec![3]),
        (1, vec![-1], vec![1]),
        (2, vec![0, 3, 2, 1], vec![2, 2]),
        (1, vec![2], vec![]),
    ] {
        let bytes = ModelBuilder::new(13)
            .input("x", &shape)
            .init_i64("i", &idx_shape, &idx)
            .node("Gather", &["x", "i"], &["y"], vec![("axis", A::I(axis))])
            .output("y")
            .bytes();
        check(
            &format!("Gather axis {axis} indices {idx:?}"),
            bytes,
            &input,
        );
    }
    for (mode, pads) in [
        ("constant", vec![0i64, 1, 2, 1, 0, 0]),
        ("reflect", vec![0, 1, 2, 0, 1, 1]),
        ("edge", vec![1, 0, 1, 0, 2, 3]),
        ("constant", vec![0, -1, 1, 0, 0, -1]),
    ] {
        // The fill value only applies to constant padding (tract also applies it to the other
        // modes, unlike onnxruntime and ONNX's reference, so it is given for constant mode only).
        let ins: &[&str] = if mode == "constant" {
            &["x", "p", "v"]
        } else {
            &["x", "p"]
        };
        let bytes = ModelBuilder::new(13)
            .input("x", &shape)
            .init_i64("p", &[6], &pads)
            .init("v", &[], &[0.5])
            .node("Pad", ins, &["y"], vec![("mode", A::S(mode))])
            .output("y")
            .bytes();
        if pads.iter().any(|&p| p < 0) {
            check_without_tract(
                &format!("Pad {mode} {pads:?}"),
                bytes,
                &input,
                "tract overflows on negative pads",
            );
        } else {
            check(&format!("Pad {mode} {pads:?}"), bytes, &input);
        }
    }
    check(
        "Pad opset 2",
        unary_model(
            2 + 7,
            "Pad",
            &shape,
            &[],
            vec![
                ("pads", A::Is(vec![0, 1, 0, 0, 1, 1])),
                ("value", A::F(1.5)),
            ],
        ),
        &input,
    );
}

#[test]
fn misc_ops() {
    let shape = [2, 3];
    let input = x(&shape, 600, -1.0, 1.0);
    check(
        "Identity",
        unary_model(13, "Identity", &shape, &[], vec![]),
        &input,
    );
    check(
        "Dropout",
        unary_model(13, "Dropout", &shape, &[], vec![]),
        &input,
    );
    check(
        "Cast to float",
        unary_model(13, "Cast", &shape, &[], vec![("to", A::I(1))]),
        &input,
    );
    // Constant, ConstantOfShape, Shape, Size and Cast folded into a computation.
    let bytes = ModelBuilder::new(13)
        .input("x", &shape)
        .node("Shape", &["x"], &["s"], vec![])
        .node("ConstantOfShape", &["s"], &["ones"], vec![])
        .node("Constant", &[], &["k"], vec![("value_float", A::F(0.75))])
        .node("Size", &["x"], &["n"], vec![])
        .node("Cast", &["n"], &["nf"], vec![("to", A::I(1))])
        .node("Add", &["ones", "k"], &["a"], vec![])
        .node("Mul", &["a", "nf"], &["b"], vec![])
        .node("Add", &["x", "b"], &["y"], vec![])
        .output("y")
        .bytes();
    check(
        "Shape/ConstantOfShape/Constant/Size/Cast folding",
        bytes,
        &input,
    );
    // ArgMax cast to float stays exact.
    let bytes = ModelBuilder::new(13)
        .input("x", &[2, 5])
        .node("ArgMax", &["x"], &["i"], vec![("axis", A::I(1))])
        .node("Cast", &["i"], &["y"], vec![("to", A::I(1))])
        .output("y")
        .bytes();
    check("ArgMax + Cast", bytes, &x(&[2, 5], 601, -1.0, 1.0));
}

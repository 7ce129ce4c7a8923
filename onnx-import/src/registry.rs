//! The one place where ONNX op types become typed ops.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::ops::{
    activation, arith, conv, einsum, gather, linear, logic, misc, movement, norm, pool, reduce,
    resize, rounding, sequence, softmax, ParseFn,
};

/// Oldest default-domain opset zkml reads.
pub const MIN_OPSET: i64 = 6;
/// Newest default-domain opset zkml reads. Checked against the operator schemas of onnx 1.23:
/// every version of a supported op after opset 21 only widened the accepted element types
/// (bfloat16, float8, float4, int2) and clarified documentation, so float semantics are the
/// same through opset 28.
pub const MAX_OPSET: i64 = 28;

/// A supported op type: its parser and the first opset at which it exists.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub parse: ParseFn,
    pub since: i64,
}

/// Every supported op type.
pub(crate) fn registry() -> &'static BTreeMap<&'static str, Entry> {
    static REGISTRY: OnceLock<BTreeMap<&'static str, Entry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let entries: &[(&str, ParseFn, i64)] = &[
            // arithmetic
            ("Add", arith::parse_binary, 6),
            ("Sub", arith::parse_binary, 6),
            ("Mul", arith::parse_binary, 6),
            ("Div", arith::parse_binary, 6),
            ("Neg", arith::parse_unary, 6),
            ("Abs", arith::parse_unary, 6),
            ("Sqrt", arith::parse_unary, 6),
            ("Reciprocal", arith::parse_unary, 6),
            ("Sum", arith::parse_variadic, 6),
            ("Mean", arith::parse_variadic, 6),
            ("Max", arith::parse_variadic, 6),
            ("Min", arith::parse_variadic, 6),
            ("Pow", arith::parse_pow, 1),
            // activations
            ("Relu", activation::parse, 6),
            ("LeakyRelu", activation::parse, 6),
            ("PRelu", activation::parse_prelu, 6),
            ("Clip", activation::parse_clip, 6),
            ("Sigmoid", activation::parse, 6),
            ("Tanh", activation::parse, 6),
            ("Exp", activation::parse, 6),
            ("Softplus", activation::parse, 1),
            ("Elu", activation::parse, 6),
            ("Selu", activation::parse, 6),
            ("Erf", activation::parse, 9),
            ("Gelu", activation::parse, 20),
            ("Celu", activation::parse, 12),
            ("HardSigmoid", activation::parse, 6),
            ("HardSwish", activation::parse, 14),
            ("Mish", activation::parse, 18),
            ("Softsign", activation::parse, 1),
            ("Log", activation::parse, 6),
            ("Sin", activation::parse, 7),
            ("Cos", activation::parse, 7),
            ("Tan", activation::parse, 7),
            ("Asin", activation::parse, 7),
            ("Acos", activation::parse, 7),
            ("Atan", activation::parse, 7),
            ("Sinh", activation::parse, 9),
            ("Cosh", activation::parse, 9),
            ("Asinh", activation::parse, 9),
            ("Acosh", activation::parse, 9),
            ("Atanh", activation::parse, 9),
            ("Softmax", softmax::parse, 1),
            ("LogSoftmax", softmax::parse, 1),
            // products
            ("Gemm", linear::parse_gemm, 6),
            ("MatMul", linear::parse_matmul, 1),
            ("Einsum", einsum::parse, 12),
            ("Conv", conv::parse_conv, 1),
            ("ConvTranspose", conv::parse_conv_transpose, 1),
            // pooling and normalization
            ("MaxPool", pool::parse, 1),
            ("AveragePool", pool::parse, 1),
            ("GlobalAveragePool", pool::parse_global, 1),
            ("GlobalMaxPool", pool::parse_global, 1),
            ("BatchNormalization", norm::parse_batch_norm, 6),
            ("InstanceNormalization", norm::parse_instance_norm, 6),
            ("LayerNormalization", norm::parse_layer_norm, 17),
            ("RMSNormalization", norm::parse_rms_norm, 23),
            // reductions
            ("ReduceSum", reduce::parse, 1),
            ("ReduceMean", reduce::parse, 1),
            ("ReduceMax", reduce::parse, 1),
            ("ReduceMin", reduce::parse, 1),
            ("ReduceProd", reduce::parse, 1),
            ("ReduceL1", reduce::parse, 1),
            ("ReduceL2", reduce::parse, 1),
            ("ReduceSumSquare", reduce::parse, 1),
            ("ReduceLogSum", reduce::parse, 1),
            ("ReduceLogSumExp", reduce::parse, 1),
            ("ArgMax", reduce::parse_argmax, 1),
            ("ArgMin", reduce::parse_argmax, 1),
            // data movement
            ("Reshape", movement::parse, 5),
            ("Flatten", movement::parse, 1),
            ("Transpose", movement::parse, 1),
            ("Squeeze", movement::parse, 1),
            ("Unsqueeze", movement::parse, 1),
            ("Concat", movement::parse, 4),
            ("Slice", movement::parse, 1),
            ("Split", movement::parse, 2),
            ("Tile", movement::parse, 6),
            ("Expand", movement::parse, 8),
            ("Gather", movement::parse, 1),
            ("GatherElements", gather::parse_elements, 11),
            ("GatherND", gather::parse_nd, 11),
            ("ScatterElements", gather::parse_scatter, 11),
            ("ScatterND", gather::parse_scatter, 11),
            ("Scatter", gather::parse_scatter, 9),
            ("Pad", movement::parse, 2),
            ("Resize", resize::parse, 10),
            ("Upsample", resize::parse, 7),
            // comparisons and booleans
            ("Equal", logic::parse_compare, 7),
            ("Less", logic::parse_compare, 7),
            ("LessOrEqual", logic::parse_compare, 12),
            ("Greater", logic::parse_compare, 7),
            ("GreaterOrEqual", logic::parse_compare, 12),
            ("Not", logic::parse_boolean, 1),
            ("And", logic::parse_boolean, 7),
            ("Or", logic::parse_boolean, 7),
            ("Xor", logic::parse_boolean, 7),
            ("Where", logic::parse_where, 9),
            ("IsNaN", logic::parse_special, 9),
            ("IsInf", logic::parse_special, 10),
            ("Sign", logic::parse_sign, 9),
            // rounding
            ("Floor", rounding::parse, 6),
            ("Ceil", rounding::parse, 6),
            ("Round", rounding::parse, 11),
            ("Mod", rounding::parse_mod, 10),
            // sequences and selections
            ("Range", sequence::parse_range, 11),
            ("CumSum", sequence::parse_cumsum, 11),
            ("Trilu", sequence::parse_trilu, 14),
            ("OneHot", sequence::parse_onehot, 9),
            ("TopK", sequence::parse_topk, 1),
            // misc
            ("Identity", misc::parse_identity, 1),
            ("Dropout", misc::parse_identity, 6),
            ("Constant", misc::parse_constant, 1),
            ("ConstantOfShape", misc::parse_constant_of_shape, 9),
            ("Shape", misc::parse_shape, 1),
            ("Size", misc::parse_shape, 1),
            ("Cast", misc::parse_cast, 6),
        ];
        entries
            .iter()
            .map(|&(name, parse, since)| (name, Entry { parse, since }))
            .collect()
    })
}

/// The supported op types, comma separated, for error messages.
pub fn supported_ops() -> String {
    registry().keys().copied().collect::<Vec<_>>().join(", ")
}

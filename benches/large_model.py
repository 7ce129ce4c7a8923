#!/usr/bin/env python3
"""Writes the benchmark's larger model: an MLP 784-512-256-10 (Gemm + Relu, 535,818 weights),
with seeded He-initialized weights and a seeded input in [0, 1).

    large_model.py OUT_DIR

Writes OUT_DIR/model.onnx and OUT_DIR/input.json (the fixtures' format). Same seed, same
files.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZES = [784, 512, 256, 10]
SEED = 20261201


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    nodes, inits = [], []
    x = "input"
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:])):
        w = (rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (rng.standard_normal(fan_out) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"), numpy_helper.from_array(b, f"fc{i}.bias")]
        last = i == len(SIZES) - 2
        y = "output" if last else f"fc{i}"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y], name=f"fc{i}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"], name=f"relu{i}"))
            x = f"relu{i}"
    graph = helper.make_graph(
        nodes,
        "mlp_large",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, SIZES[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zkml-benches")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "model.onnx"))
    data = rng.random((1, SIZES[0])).astype(np.float32)
    with open(os.path.join(out, "input.json"), "w") as f:
        json.dump({"input_data": [[float(v) for v in data.ravel()]]}, f)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes ResNet-18 (torchvision's architecture, 1000 classes, 11,689,512 parameters) at a
64x64 input, with seeded He-initialized weights, and a seeded input in [0, 1): the segment
benchmark's model that does not fit one circuit.

    resnet18.py OUT_DIR [--size N]

Batch normalization is folded into the convolutions, as exporters do for a model in eval mode
(with fresh statistics it is the identity), so each convolution carries a bias. Writes
OUT_DIR/model.onnx and OUT_DIR/input.json (the fixtures' format). Same seed, same files; no
torch needed.
"""

import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261205


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []
        self.params = 0
        self.count = 0

    def name(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def conv(self, x, c_in, c_out, kernel, stride, pad, relu):
        n = self.name("conv")
        fan_in = c_in * kernel * kernel
        w = (self.rng.standard_normal((c_out, c_in, kernel, kernel)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (self.rng.standard_normal(c_out) * 0.01).astype(np.float32)
        self.inits += [numpy_helper.from_array(w, f"{n}.weight"), numpy_helper.from_array(b, f"{n}.bias")]
        # BatchNorm's parameters, as torchvision counts them, fold into this weight and bias.
        self.params += w.size + 2 * c_out
        self.nodes.append(
            helper.make_node(
                "Conv", [x, f"{n}.weight", f"{n}.bias"], [n], name=n,
                kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4,
            )
        )
        return self.relu(n) if relu else n

    def relu(self, x):
        n = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [n], name=n))
        return n

    def block(self, x, c_in, c_out, stride):
        y = self.conv(x, c_in, c_out, 3, stride, 1, relu=True)
        y = self.conv(y, c_out, c_out, 3, 1, 1, relu=False)
        skip = x if stride == 1 and c_in == c_out else self.conv(x, c_in, c_out, 1, stride, 0, relu=False)
        n = self.name("add")
        self.nodes.append(helper.make_node("Add", [y, skip], [n], name=n))
        return self.relu(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    b = Builder(rng)
    x = b.conv("input", 3, 64, 7, 2, 3, relu=True)
    b.nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x = "pool"
    c = 64
    for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        x = b.block(x, c, width, stride)
        x = b.block(x, width, width, 1)
        c = width
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    b.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    w = (rng.standard_normal((1000, 512)) * np.sqrt(1.0 / 512)).astype(np.float32)
    bias = (rng.standard_normal(1000) * 0.01).astype(np.float32)
    b.inits += [numpy_helper.from_array(w, "fc.weight"), numpy_helper.from_array(bias, "fc.bias")]
    b.params += w.size + bias.size
    b.nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1))
    graph = helper.make_graph(
        b.nodes,
        "resnet18",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, args.size, args.size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1000])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkml-benches")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    data = rng.random((1, 3, args.size, args.size)).astype(np.float32)
    with open(os.path.join(args.out, "input.json"), "w") as f:
        json.dump({"input_data": [data.flatten().tolist()]}, f)
    print(f"resnet18 at {args.size}x{args.size}: {b.params:,} parameters")


if __name__ == "__main__":
    main()

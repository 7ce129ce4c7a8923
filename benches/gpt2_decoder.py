#!/usr/bin/env python3
"""Writes a GPT-2 style decoder with 10,010,112 parameters (12 layers, width 256, 4 heads,
vocabulary 2048, 32 positions, tied language-model head), seeded weights and 16 seeded token
ids: the segment benchmark's language model that does not fit one circuit.

    gpt2_decoder.py OUT_DIR [--layers L] [--tokens T]

The graph follows what PyTorch's exporter writes for transformers' GPT2LMHeadModel at opset
20 (fixtures/exported/gpt2 is one): token and position embeddings by Gather, LayerNormalization,
Gemm on the flattened tokens, Split into query, key and value, heads by Reshape and Transpose,
query and key each scaled by D^-1/4, an additive causal mask, Softmax, GELU in its tanh form
(Pow, Tanh), and the head tied to the token embedding. Writes OUT_DIR/model.onnx and
OUT_DIR/input.json (the fixtures' format). Same seed, same files; no torch needed.
"""

import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261206
WIDTH, HEADS, VOCAB, POSITIONS = 256, 4, 2048, 32


class Graph:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []
        self.params = 0
        self.count = 0

    def const(self, value, dtype=np.int64, name=None):
        self.count += 1
        name = name or f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, name, shape, std):
        w = (self.rng.standard_normal(shape) * std).astype(np.float32)
        self.params += w.size
        return self.const(w, np.float32, name)

    def ones(self, name, n, value):
        self.params += n
        return self.const(np.full(n, value, np.float32), np.float32, name)

    def op(self, kind, inputs, **attrs):
        self.count += 1
        out = f"{kind.lower()}{self.count}"
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def ops(self, kind, inputs, n, **attrs):
        self.count += 1
        outs = [f"{kind.lower()}{self.count}_{i}" for i in range(n)]
        self.nodes.append(helper.make_node(kind, inputs, outs, name=f"{kind.lower()}{self.count}", **attrs))
        return outs

    def layer_norm(self, x, name):
        g = self.ones(f"{name}.weight", WIDTH, 1.0)
        b = self.ones(f"{name}.bias", WIDTH, 0.0)
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)

    def linear(self, x, name, fan_in, fan_out, tokens):
        """Gemm on the tokens flattened to rows, as the exporter writes a Conv1D layer."""
        w = self.weight(f"{name}.weight", (fan_in, fan_out), 0.02)
        b = self.weight(f"{name}.bias", (fan_out,), 0.02)
        rows = self.op("Reshape", [x, self.const([tokens, fan_in])])
        y = self.op("Gemm", [rows, w, b])
        return self.op("Reshape", [y, self.const([1, tokens, fan_out])])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=16)
    args = ap.parse_args()
    t, d, h = args.tokens, WIDTH, HEADS
    hd = d // h
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    g = Graph(rng)
    wte = g.weight("wte", (VOCAB, d), 0.02)
    wpe = g.weight("wpe", (POSITIONS, d), 0.01)
    ids = g.op("Reshape", ["input_ids", g.const([1, t])])
    x = g.op("Add", [g.op("Gather", [wte, ids], axis=0), g.op("Gather", [wpe, g.const([list(range(t))])], axis=0)])
    scale = g.const(np.float32(hd ** -0.25), np.float32)
    mask = g.const(np.triu(np.full((t, t), -1e4, np.float32), 1).reshape(1, 1, t, t), np.float32)
    heads = g.const([1, t, h, hd])
    for layer in range(args.layers):
        p = f"h.{layer}"
        a = g.layer_norm(x, f"{p}.ln_1")
        qkv = g.linear(a, f"{p}.attn.c_attn", d, 3 * d, t)
        q, k, v = g.ops("Split", [qkv], 3, axis=-1, num_outputs=3)
        q = g.op("Transpose", [g.op("Reshape", [q, heads])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, heads])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [v, heads])], perm=[0, 2, 1, 3])
        s = g.op("MatMul", [g.op("Mul", [q, scale]), g.op("Mul", [k, scale])])
        attn = g.op("Softmax", [g.op("Add", [s, mask])], axis=-1)
        o = g.op("Transpose", [g.op("MatMul", [attn, v])], perm=[0, 2, 1, 3])
        o = g.op("Reshape", [o, g.const([1, t, d])])
        x = g.op("Add", [x, g.linear(o, f"{p}.attn.c_proj", d, d, t)])
        m = g.linear(g.layer_norm(x, f"{p}.ln_2"), f"{p}.mlp.c_fc", d, 4 * d, t)
        # GELU, tanh form: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Pow", [m, g.const(np.float32(3.0), np.float32)]), g.const(np.float32(0.044715), np.float32)])
        inner = g.op("Mul", [g.op("Add", [m, cube]), g.const(np.float32(np.sqrt(2.0 / np.pi)), np.float32)])
        half = g.op("Mul", [m, g.const(np.float32(0.5), np.float32)])
        m = g.op("Mul", [half, g.op("Add", [g.op("Tanh", [inner]), g.const(np.float32(1.0), np.float32)])])
        x = g.op("Add", [x, g.linear(m, f"{p}.mlp.c_proj", 4 * d, d, t)])
    x = g.layer_norm(x, "ln_f")
    rows = g.op("Reshape", [x, g.const([t, d])])
    logits = g.op("Gemm", [rows, wte], transB=1)
    g.nodes.append(helper.make_node("Reshape", [logits, g.const([1, t, VOCAB])], ["logits"], name="logits"))
    graph = helper.make_graph(
        g.nodes,
        "gpt2_decoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, t])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, t, VOCAB])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="zkml-benches")
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    tokens = rng.integers(0, VOCAB, size=t).tolist()
    with open(os.path.join(args.out, "input.json"), "w") as f:
        json.dump({"input_data": [tokens]}, f)
    print(f"gpt2 decoder, {args.layers} layers, {t} tokens: {g.params:,} parameters")


if __name__ == "__main__":
    main()

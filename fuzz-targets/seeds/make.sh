#!/usr/bin/env bash
# Makes the fuzz targets' seed files from the mlp_small fixture: its ONNX model, compiled
# program and input; keys from a seeded SRS; a proof, its calldata and the Solidity verifier;
# a snarkjs ceremony's .zkey for a tiny model.
#     bash fuzz-targets/seeds/make.sh
# The proof is randomized, so a new run writes different (equally valid) seeds; they are
# committed so the targets and the smoke test never depend on a build of the CLI.
set -euo pipefail
cd "$(dirname "$0")"
seeds=$PWD
repo=$(cd ../.. && pwd)
fixture=$repo/fixtures/mlp_small
zkml() { (cd "$repo" && cargo run --quiet -p zkml-cli -- "$@"); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p onnx program input pk vk proof calldata model
cp "$fixture/model.onnx" onnx/mlp_small.onnx
cp "$repo/fixtures/unsupported"/*.onnx onnx/ 2>/dev/null || true
cp "$fixture/input.json" input/mlp_small.json
printf '{"input_data": [[0.5, -1.25, 3e-3]]}' > input/small.json
printf '{"input_data": [[1, 2], [3.5]], "output_data": [[0.1]]}' > input/two.json

zkml compile "$fixture/model.onnx" --calibration "$fixture/input.json" -o "$tmp/m.zkml" --force > /dev/null
cp "$tmp/m.zkml" program/mlp_small.zkml
zkml gen-srs --for "$tmp/m.zkml" --seed 7 -o "$tmp/srs.bin" --force > /dev/null 2>&1
zkml setup "$tmp/m.zkml" --srs "$tmp/srs.bin" --device cpu --out "$tmp/keys" --force > /dev/null
zkml prove "$tmp/m.zkml" --input "$fixture/input.json" --pk "$tmp/keys/pk.bin" --srs "$tmp/srs.bin" \
  --device cpu --out "$tmp/proof" --force > /dev/null
zkml create-evm-verifier --vk "$tmp/keys/vk.bin" -o "$tmp/evm" --force > /dev/null
zkml encode-calldata --proof "$tmp/proof/proof.json" | tr -d '\n' | sed 's/^0x//' | xxd -r -p > calldata/proof.calldata

# The proving key of a tiny model (x -> Relu(x W)), so that each execution stays short.
"$repo/.venv/bin/python" - "$tmp/tiny.onnx" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.array([[0.5, -1.0], [0.25, 2.0]], dtype=np.float32), "w")
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
    "tiny",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    [w],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkml-seeds")
m.ir_version = 8
onnx.save(m, sys.argv[1])
PY
printf '{"input_data": [[0.5, -0.75]]}' > "$tmp/tiny.json"
zkml compile "$tmp/tiny.onnx" --calibration "$tmp/tiny.json" -o "$tmp/tiny.zkml" --force > /dev/null
zkml gen-srs --for "$tmp/tiny.zkml" --seed 7 -o "$tmp/tiny-srs.bin" --force > /dev/null 2>&1
zkml setup "$tmp/tiny.zkml" --srs "$tmp/tiny-srs.bin" --device cpu --out "$tmp/tiny-keys" --force > /dev/null
cp "$tmp/tiny-keys/pk.bin" pk/pk.bin
cp "$tmp/tiny.onnx" onnx/tiny.onnx
cp "$tmp/tiny.zkml" program/tiny.zkml
# A ceremony's .zkey for the tiny program (snarkjs, pinned in groth16/package.json).
mkdir -p zkey
power=$(zkml setup "$tmp/tiny.zkml" --backend groth16 --export-r1cs "$tmp/tiny.r1cs" --force --json \
  | "$repo/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["powers_of_tau"])')
snarkjs() { (cd "$tmp" && node "$repo/groth16/node_modules/snarkjs/build/cli.cjs" "$@" > /dev/null); }
snarkjs powersoftau new bn128 "$power" pot0.ptau
snarkjs powersoftau contribute pot0.ptau pot1.ptau --name=seed -e=seed
snarkjs powersoftau prepare phase2 pot1.ptau pot.ptau
snarkjs groth16 setup tiny.r1cs pot.ptau tiny0.zkey
snarkjs zkey contribute tiny0.zkey tiny.zkey --name=seed -e=seed
cp "$tmp/tiny.zkey" zkey/tiny.zkey
cp "$tmp/keys/vk.bin" vk/vk.bin
cp "$tmp/keys/vk.bin" model/vk.bin
cp "$tmp/proof/proof.json" proof/proof.json
cp "$tmp/proof/proof.json" model/proof.json
cp "$tmp/evm/verifier.json" model/verifier.json
ls -l "$seeds"/*/

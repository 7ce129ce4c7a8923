#!/usr/bin/env bash
# Runs every test: the fixture generator's reproducibility check, then the Rust test suite with
# ONNX's operator conformance cases and the EVM verifier tests. Installs its Python tools into
# .venv, the pinned Solidity compiler (npm package solc) into contracts/node_modules and the
# pinned snarkjs (Groth16 ceremony tests) into groth16/node_modules on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir -r fixtures/requirements.txt

# The pinned solc, from the lock file (compiles the generated verifiers offline).
if [ ! -f contracts/node_modules/solc/soljson.js ]; then
  npm ci --prefix contracts --no-audit --no-fund
fi
# The pinned snarkjs, from its lock file (runs a ceremony on an exported constraint system).
if [ ! -f groth16/node_modules/snarkjs/build/cli.cjs ]; then
  npm ci --prefix groth16 --no-audit --no-fund
fi

# The committed fixtures are exactly what the seeded generator writes, and the exporter
# fixtures' expected outputs are what onnxruntime computes from them (fixtures/export.py, with
# the large exporters, regenerates those).
.venv/bin/python fixtures/generate.py --check
.venv/bin/python fixtures/check_exported.py

# ONNX's own operator tests and the PyTorch exporter's test models.
testdata=target/onnx-testdata
if [ ! -f "$testdata/.complete" ]; then
  .venv/bin/python fixtures/onnx_testdata.py "$testdata"
  touch "$testdata/.complete"
fi

echo "== test set-up (tools, fixture checks, ONNX test data): $SECONDS s"

export ZKML_ONNX_TESTDATA="$PWD/$testdata"
export ZKML_REQUIRE_CONFORMANCE=1
# Every target in one build: the library, binary and integration tests, and every criterion
# benchmark run once in test mode (so they keep building and running); then the doc tests.
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"

#!/usr/bin/env bash
# Proves every exporter fixture (fixtures/exported) end to end with the release binary: one-shot
# `zkml prove --optimize evm-gas` (checked against `zkml run`: the proven outputs are the
# program's), `zkml verify`, the Solidity verifier in the local EVM (`create-evm-verifier`,
# `verify-evm`), and a changed public output rejected by both verifiers. Prints one line per
# fixture with its times, peak memory, proof size and gas.
#
#     bash scripts/prove-exported.sh [NAME ...]
#
# The large transformer fixtures take minutes and several GB each; the Rust test suite proves
# the small ones (tests in cli/tests/exported.rs) and checks every one against onnxruntime.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f contracts/node_modules/solc/soljson.js ]; then
  npm ci --prefix contracts --no-audit --no-fund
fi
cargo build --release -p zkml-cli
zkml=$PWD/target/release/zkml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ZKML_CACHE_DIR="$work/cache"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in fixtures/exported/*/; do names+=("$(basename "$d")"); done
fi

printf '%-18s %10s %10s %9s %8s %10s %s\n' fixture prove_s total_s peak_MB proof_B gas result
for n in "${names[@]}"; do
  dir=fixtures/exported/$n
  out=$work/$n
  mkdir -p "$out"
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$out/mem" "$zkml" prove "$dir/model.onnx" --input "$dir/input.json" \
    --optimize evm-gas --out "$out/proof" --json > "$out/prove.json"
  end=$(date +%s.%N)
  "$zkml" run "$dir/model.onnx" --input "$dir/input.json" --json > "$out/run.json"
  # The proven outputs are exactly the integer program's.
  python3 - "$out/proof/proof.json" "$out/run.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
proven = p["quantized_outputs"]
ran = r["quantized_outputs"]
assert proven == ran, "proven outputs differ from zkml run's"
EOF
  "$zkml" verify --proof "$out/proof/proof.json" --vk "$out/proof/vk.bin" --input "$dir/input.json" > /dev/null
  "$zkml" create-evm-verifier --vk "$out/proof/vk.bin" --out "$out/evm" --json > "$out/create.json"
  "$zkml" verify-evm --proof "$out/proof/proof.json" --verifier "$out/evm" --json > "$out/evm.json"
  # A changed public output must be rejected by both verifiers.
  python3 - "$out/proof/proof.json" "$out/bad.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
last = p["instances"][-1]
p["instances"][-1] = "0x" + ("0" * 63) + ("7" if not last.endswith("7") else "8")
json.dump(p, open(sys.argv[2], "w"))
EOF
  if "$zkml" verify --proof "$out/bad.json" --vk "$out/proof/vk.bin" > /dev/null 2>&1; then
    echo "$n: a changed output verified" >&2; exit 1
  fi
  if "$zkml" verify-evm --proof "$out/bad.json" --verifier "$out/evm" > /dev/null 2>&1; then
    echo "$n: the EVM accepted a changed output" >&2; exit 1
  fi
  python3 - "$n" "$out" "$start" "$end" <<'EOF'
import json, os, sys
n, out = sys.argv[1], sys.argv[2]
total = float(sys.argv[4]) - float(sys.argv[3])
p = json.load(open(f"{out}/prove.json"))
e = json.load(open(f"{out}/evm.json"))
prove = next((v for k, v in p["timings"].items() if k.split(" (")[0] == "prove"), float("nan"))
mem = int(open(f"{out}/mem").read().split()[-1]) / 1024
size = os.path.getsize(f"{out}/proof/proof.json")
print(f"{n:<18} {prove:>10.2f} {total:>10.2f} {mem:>9.0f} {size:>8} {e['gas_used']:>10} verified")
EOF
done

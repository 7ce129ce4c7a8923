#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every decoder that reads user bytes: ONNX
# models, compiled programs, input files, proving and verifying keys, proof files, and the
# Solidity verifier's calldata (differentially, against the Rust verifier), and a ceremony's
# snarkjs .zkey.
#
#     bash scripts/fuzz.sh                  # every target, 1,000,000 executions each
#     bash scripts/fuzz.sh vk 200000        # one target
#
# Needs the nightly toolchain (cargo-fuzz's instrumentation); installs cargo-fuzz if missing.
# Each target starts from fuzz-targets/seeds/TARGET and keeps its corpus in
# target/fuzz-corpus/TARGET. An input that crashes a target is written to fuzz/artifacts/TARGET;
# copy it into fuzz-targets/regressions/TARGET, where the stable smoke test
# (`cargo test -p zkml-fuzz-targets`, part of the test suite) runs it from then on.
# ZKML_FUZZ_SANITIZER picks the sanitizer (default none: the code is safe Rust, and
# throughput matters more; address also finds memory errors in dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."

all=(onnx program input pk vk proof calldata zkey)
target=${1:-all}
runs=${2:-1000000}
if [ "$target" = all ]; then targets=("${all[@]}"); else targets=("$target"); fi

command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
# The fuzz crate is its own workspace: it builds with the main lock file's versions.
[ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock

for t in "${targets[@]}"; do
  [ -d "fuzz-targets/seeds/$t" ] || { echo "unknown target $t (one of: ${all[*]})" >&2; exit 2; }
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  cp -n "fuzz-targets/seeds/$t"/* "$corpus/"
  echo "== $t: $runs executions"
  start=$(date +%s)
  cargo +nightly fuzz run --sanitizer "${ZKML_FUZZ_SANITIZER:-none}" \
    --target-dir target/fuzz "$t" "$corpus" -- \
    -runs="$runs" -rss_limit_mb=4096 -malloc_limit_mb=4096 -timeout=30 -print_final_stats=1
  echo "== $t: done in $(( $(date +%s) - start )) s"
done

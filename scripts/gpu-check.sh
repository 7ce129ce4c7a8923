#!/usr/bin/env bash
# The GPU prover's checks and measurements, on a machine with an NVIDIA GPU.
#
#     bash scripts/gpu-check.sh prepare BUNDLE     # where zkml, node and the repository are
#     bash scripts/gpu-check.sh run BUNDLE OUT     # on the GPU machine
#
# `prepare` writes into BUNDLE, for every fixture, the compiled program, a seeded SRS's size,
# the verifying key made by the CPU prover and its Solidity verifier (compiled offline), and
# copies the binaries of scripts/build-gpu.sh (zkml, zkml-gpu, gpu_kernels) beside them.
#
# `run` needs only bash and coreutils. It skips, saying so, where no GPU is present. Otherwise,
# per fixture: keys from the CPU and from the GPU, byte for byte equal to each other and to the
# verifying key made at `prepare` on another machine; a GPU proof made with the CPU's key,
# accepted by `zkml verify` with that verifying key and by the Solidity verifier in the EVM, and
# rejected with one public value changed; the prove time on the GPU and on every CPU core of
# the same machine. First, MSM and NTT at 2^20 and 2^22 (gpu_kernels), then mlp_small and
# LeNet, the large fixtures (where the GPU should pay off), and the other small ones. Every
# result is written under OUT as it comes (JSON per step, one line per check in
# OUT/checks.txt); the exit status is non-zero if any check failed. ZKML_GPU_CHECK_BUDGET
# (seconds, default 420) stops any further fixture from starting once it is spent.
set -uo pipefail

# Small fixtures at the shape `prove` picks; large ones at the shape cheapest on chain (the
# largest circuits zkml proves from the committed fixtures).
SMALL="mlp_small mlp lenet depthwise_separable pytorch_style transformer exported/random_forest exported/gradient_boosting exported/lstm exported/gru exported/llama_decode"
LARGE="exported/gpt2 exported/vit"
SEED=20261204

mode=${1:-}
bundle=${2:-}
[ -n "$mode" ] && [ -n "$bundle" ] || { echo "usage: $0 prepare|run BUNDLE [OUT]" >&2; exit 2; }

name_of() { echo "${1//\//_}"; }

prepare() {
  local repo
  repo=$(cd "$(dirname "$0")/.." && pwd)
  local zkml=${ZKML:-$repo/target/gpu-bin/zkml}
  mkdir -p "$bundle/bin" "$bundle/fixtures"
  cp "$repo/target/gpu-bin/zkml" "$repo/target/gpu-bin/zkml-gpu" "$repo/target/gpu-bin/gpu_kernels" "$bundle/bin/"
  for f in $SMALL $LARGE; do
    local n d shape=()
    n=$(name_of "$f")
    d=$bundle/fixtures/$n
    mkdir -p "$d"
    # Every shape is single-phase, as the CUDA prover needs, so that CPU-made keys compare.
    shape=(--single-phase)
    case " $LARGE " in *" $f "*) shape=(--optimize evm-gas --single-phase) ;; esac
    printf "%s\n" "${shape[@]}" | grep . > "$d/shape" || true
    cp "$repo/fixtures/$f/input.json" "$d/input.json"
    "$zkml" compile "$repo/fixtures/$f/model.onnx" --calibration "$d/input.json" -o "$d/model.zkml" --force --json > /dev/null || return 1
    # The seeded SRS of the circuit's size (regenerated, identical, on the GPU machine).
    "$zkml" gen-srs --for "$d/model.zkml" "${shape[@]}" --seed $SEED -o "$d/srs.bin" --force --json > "$d/srs.json" 2>/dev/null || return 1
    grep -o '"logrows": *[0-9]*' "$d/srs.json" | grep -o '[0-9]*$' > "$d/k"
    case " $SMALL " in
      *" $f "*)
        "$zkml" setup "$d/model.zkml" --srs "$d/srs.bin" "${shape[@]}" --device cpu --out "$d/keys" --force --json > /dev/null || return 1
        cp "$d/keys/vk.bin" "$d/vk.bin"
        "$zkml" create-evm-verifier --vk "$d/vk.bin" -o "$d/evm" --force --json > /dev/null || return 1
        rm -rf "$d/keys"
        ;;
    esac
    rm -f "$d/srs.bin"
    echo "prepared $f (k=$(cat "$d/k"))"
  done
}

run() {
  local out=${3:-}
  [ -n "$out" ] || { echo "usage: $0 run BUNDLE OUT" >&2; exit 2; }
  mkdir -p "$out"
  local bin=$bundle/bin failed=0 start budget=${ZKML_GPU_CHECK_BUDGET:-420}
  start=$(date +%s)
  # ZKML_GPU_CHECK_DRY=1 runs every step with the CPU in place of the GPU (a rehearsal of this
  # script on a machine without one).
  local gbin=$bin/zkml-gpu gdev=gpu dry=${ZKML_GPU_CHECK_DRY:-0}
  if [ "$dry" = 1 ]; then
    gbin=$bin/zkml
    gdev=cpu
  elif ! [ -e /dev/nvidia0 ] || ! nvidia-smi -L > /dev/null 2>&1; then
    echo "skipped: no NVIDIA GPU on this machine" | tee "$out/checks.txt"
    return 0
  fi
  json_to() { # FILE COMMAND...: the command's stdout into FILE
    local file=$1
    shift
    "$@" > "$file"
  }
  rejects() { # COMMAND...: succeeds when the command exits 1 (rejected), not 0 or 2
    "$@"
    [ $? -eq 1 ]
  }
  check() { # NAME COMMAND...: one line in checks.txt
    local what=$1
    shift
    if "$@" >> "$out/log.txt" 2>&1; then
      echo "ok   $what" | tee -a "$out/checks.txt"
    else
      echo "FAIL $what" | tee -a "$out/checks.txt"
      failed=1
    fi
  }
  export ZKML_CACHE_DIR=$out/cache
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv > "$out/gpu.csv" 2>&1
  { nproc; grep -m1 'model name' /proc/cpuinfo; free -g | head -2; } > "$out/machine.txt" 2>&1
  cat "$out/gpu.csv" "$out/machine.txt"

  if [ "$dry" != 1 ]; then
    check "MSM and NTT on the GPU equal the CPU's (2^20, 2^22)" json_to "$out/kernels.jsonl" "$bin/gpu_kernels" 20 22
    cat "$out/kernels.jsonl"
  fi

  # The plain binary hands a GPU run to zkml-gpu beside it.
  local f0=$bundle/fixtures/mlp_small
  [ "$dry" = 1 ] || "$bin/zkml" gen-srs --logrows "$(cat "$f0/k")" --seed $SEED -o "$out/handover.srs" --force > /dev/null 2>&1
  [ "$dry" = 1 ] || check "zkml --device auto hands over to zkml-gpu" \
    bash -c "'$bin/zkml' prove '$f0/model.zkml' --input '$f0/input.json' --srs '$out/handover.srs' --out '$out/handover' --json --force > '$out/handover.json' && grep -q '\"device\": \"gpu\"' '$out/handover.json'"

  local first=(mlp_small lenet) rest=" $SMALL "
  for f in "${first[@]}"; do rest=${rest/ $f / }; done
  for f in "${first[@]}" $LARGE $rest; do
    local n d k shape srs
    n=$(name_of "$f")
    d=$bundle/fixtures/$n
    k=$(cat "$d/k")
    mapfile -t shape < <(grep . "$d/shape")
    if [ $(( $(date +%s) - start )) -gt "$budget" ]; then
      echo "skip $f (budget spent)" | tee -a "$out/checks.txt"
      continue
    fi
    local o=$out/$n
    mkdir -p "$o"
    srs=$o/srs.bin
    "$bin/zkml" gen-srs --logrows "$k" --seed $SEED -o "$srs" --force --json > "$o/srs.json" 2>/dev/null
    for dev in cpu gpu; do
      local run_dev=$dev
      [ $dev = gpu ] && run_dev=$gdev
      check "$f: setup on the $dev" json_to "$o/setup-$dev.json" "$gbin" setup "$d/model.zkml" \
        --srs "$srs" "${shape[@]}" --device $run_dev --out "$o/keys-$dev" --force --json
    done
    check "$f: GPU and CPU proving keys byte for byte" cmp "$o/keys-cpu/pk.bin" "$o/keys-gpu/pk.bin"
    check "$f: GPU and CPU verifying keys byte for byte" cmp "$o/keys-cpu/vk.bin" "$o/keys-gpu/vk.bin"
    local vk=$o/keys-cpu/vk.bin
    if [ -f "$d/vk.bin" ]; then
      check "$f: verifying key equals the one made on another machine" cmp "$d/vk.bin" "$o/keys-gpu/vk.bin"
      vk=$d/vk.bin
    fi
    for dev in gpu cpu; do
      local run_dev=$dev
      [ $dev = gpu ] && run_dev=$gdev
      check "$f: proof made on the $dev" json_to "$o/prove-$dev.json" "$gbin" prove "$d/model.zkml" \
        --input "$d/input.json" --pk "$o/keys-cpu/pk.bin" --srs "$srs" --device $run_dev --out "$o/proof-$dev" --force --json
    done
    local proof=$o/proof-gpu/proof.json
    check "$f: GPU proof accepted by zkml verify" "$bin/zkml" verify --proof "$proof" --vk "$vk"
    if [ -d "$d/evm" ]; then
      check "$f: GPU proof accepted by the Solidity verifier (revm)" json_to "$o/evm.json" \
        "$bin/zkml" verify-evm --proof "$proof" --verifier "$d/evm" --json
    fi
    # One proof byte flipped, and one public value changed: rejected by both verifiers.
    sed -e '/"proof": "0x0/{s//"proof": "0x1/;b}' -e 's/"proof": "0x./"proof": "0x0/' "$proof" > "$o/flipped.json"
    awk 'inst == 1 && done == 0 && match($0, /^ *"0x[0-9a-f]*"/) {
           i = RSTART + RLENGTH - 2; c = substr($0, i, 1)
           $0 = substr($0, 1, i - 1) (c == "0" ? "1" : "0") substr($0, i + 1); done = 1 }
         /"instances": \[/ { inst = 1 } { print }' "$proof" > "$o/changed.json"
    for t in flipped changed; do
      cmp -s "$proof" "$o/$t.json" && { echo "FAIL $f: could not make the $t proof" | tee -a "$out/checks.txt"; failed=1; continue; }
      check "$f: $t proof rejected by zkml verify" rejects "$bin/zkml" verify --proof "$o/$t.json" --vk "$vk"
      if [ -d "$d/evm" ]; then
        check "$f: $t proof rejected in the EVM" rejects "$bin/zkml" verify-evm --proof "$o/$t.json" --verifier "$d/evm"
      fi
    done
    rm -rf "$o/keys-gpu" "$o/keys-cpu/pk.bin" "$srs"
  done

  rm -rf "$out/cache" "$out/handover.srs"
  echo "elapsed $(( $(date +%s) - start )) s" | tee -a "$out/checks.txt"
  return $failed
}

case $mode in
  prepare) prepare ;;
  run) run "$@" ;;
  *) echo "usage: $0 prepare|run BUNDLE [OUT]" >&2; exit 2 ;;
esac

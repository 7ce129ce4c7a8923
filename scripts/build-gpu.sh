#!/usr/bin/env bash
# Builds the GPU prover on a machine without CUDA: nvcc and the CUDA runtime come from PyPI
# (NVIDIA's nvidia-cuda-* wheels, CUDA 13.0) into target/cuda-toolchain. Writes, stripped, into
# target/gpu-bin:
#
#   zkml         the plain build (goes on the path; hands --device gpu|auto runs to zkml-gpu
#                where a GPU is present, proves on the CPU elsewhere)
#   zkml-gpu     the CLI with the CUDA prover (feature `gpu`)
#   gpu_kernels  MSM and NTT on the GPU against the CPU
#
#     bash scripts/build-gpu.sh
#
# CUDA_ARCH picks the GPU generations (default 90: H100, H200; e.g. CUDA_ARCH=80,90). The binaries
# need the NVIDIA driver (libcuda.so.1, CUDA 13: driver 580 or later) where they prove; the CUDA
# runtime is linked in statically. At link time a stand-in for the driver library is used,
# generated from the driver functions the CUDA code calls (each returns "stub library").
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$PWD/target/cuda-toolchain
if [ ! -x "$tools/venv/bin/python" ]; then
  python3 -m venv "$tools/venv"
fi
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir \
  "nvidia-cuda-nvcc==13.0.88" "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cccl==13.0.85" \
  "nvidia-cuda-crt==13.0.88" "nvidia-nvvm==13.0.88"
cuda=$("$tools/venv/bin/python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))')
# nvcc looks for its libraries in lib64.
[ -e "$cuda/lib64" ] || ln -s lib "$cuda/lib64"

# What the linker gets for -lcudart / -lcudart_static (the static runtime) and -lcuda.
link=$tools/link
mkdir -p "$link"
cp "$cuda/lib/libcudart_static.a" "$link/libcudart.a"
cp "$cuda/lib/libcudart_static.a" "$link/libcudart_static.a"

export PATH=$cuda/bin:$PATH
export CUDA_PATH=$cuda CUDA_LIB_DIR=$link CUDA_LIBRARY_PATH=$link
export CUDA_ARCH=${CUDA_ARCH:-90}
target=$PWD/target/gpu

# The libraries first (no executable linked yet), then the driver stand-in from what they import.
cargo build --release -p zkml-prover --features gpu --target-dir "$target"
rel=$target/release
{
  for f in "$rel"/deps/lib{halo2_axiom_gpu,openvm_cuda_common,rustacuda,cuda_driver_sys}-*.rlib \
    "$rel"/build/{halo2-axiom-gpu,openvm-cuda-common}-*/out/*.a "$link/libcudart.a"; do
    [ -f "$f" ] && nm -u "$f" 2> /dev/null
  done
} | awk '{print $NF}' | grep -E '^cu[A-Z]' | sort -u > "$link/imported.txt"
nm --defined-only "$link/libcudart.a" 2> /dev/null | awk '{print $NF}' | sort -u > "$link/runtime.txt"
comm -23 "$link/imported.txt" "$link/runtime.txt" \
  | awk 'BEGIN { print "/* Link-time stand-in for the NVIDIA driver library. */" }
         { print "int " $1 "(void) { return 34; }" }' > "$link/driver_stand_in.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/driver_stand_in.c"

cargo build --release -p zkml-cli --features gpu --target-dir "$target"
cargo build --release -p zkml-prover --features gpu --example gpu_kernels --target-dir "$target"
out=$PWD/target/gpu-bin
mkdir -p "$out"
cp "$rel/zkml" "$out/zkml-gpu"
cp "$rel/examples/gpu_kernels" "$out/gpu_kernels"
# The plain build last (the same target directory holds both).
cargo build --release -p zkml-cli --target-dir "$target"
cp "$rel/zkml" "$out/zkml"
strip "$out/zkml" "$out/zkml-gpu" "$out/gpu_kernels"
ls -l "$out"

#!/usr/bin/env bash
# Builds a second llama.cpp peer WITHOUT AVX-512 (AVX2 + FMA + F16C only) from the same source tree as the native
# peer, so Inkwell's AVX2 paths (DOTNET_EnableAVX512=0) can be measured against llama.cpp's AVX2 kernels on the
# same machine. Idempotent: does nothing when the binaries exist. Prints the bin folder last.
# Usage: bench/peer-avx2.sh [BUILD_DIR]   (default: $HOME/.cache/llama-cpp-avx2)
# Needs the source from ../shared/tools/build-llama-cpp.sh ($HOME/.cache/llama-cpp-peer/src).
set -euo pipefail
src=${LLAMA_SRC:-$HOME/.cache/llama-cpp-peer/src}
dir=${1:-$HOME/.cache/llama-cpp-avx2}
targets=(llama-bench llama-server llama-quantize)
missing=0
for t in "${targets[@]}"; do [[ -x $dir/bin/$t ]] || missing=1; done
if ((missing == 0)); then echo "$dir/bin"; exit 0; fi
[[ -f $src/CMakeLists.txt ]] || { echo "no llama.cpp source at $src (run ../shared/tools/build-llama-cpp.sh)" >&2; exit 1; }
cmake -B "$dir" -S "$src" -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j2 --target "${targets[@]}" >/dev/null
echo "$dir/bin"

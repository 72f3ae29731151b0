#!/usr/bin/env bash
# Makes bench models with the shapes of popular open models (seeded random weights; speed only) in BENCH_MODELS
# (default ~/.cache/bench-models), named <shape>-<type>.gguf: f16 from ../shared/tools/make-shape-models.py (the
# Gemma 3 and Phi-3.5 shapes from bench/more-shape-models.py), the others from that f16 by llama.cpp's quantizer.
# Idempotent and safe beside another session making the same files: an existing file is used as it is, a new one is
# written under a temporary name and moved into place.
# An f16 source made here only to quantize from is removed afterwards unless <shape>-f16 was asked for. Where no f16
# source is kept but <shape>-q8_0 is, the 4- and 6-bit types are requantized from that q8_0 (llama-quantize
# --allow-requantize) instead of writing the f16 again: the Qwen3-MoE shape's f16 is 10 GB. Its values then differ
# slightly from a quantization of the f16; its shapes and types, what the speed rows measure, do not.
# Usage: bench/shape-models.sh NAME...   e.g. llama-3.2-1b-q4_0 llama-3.2-1b-bf16
# Types: f16 bf16 q8_0 q4_0 q4_k_m q6_k. Env: BENCH_MODELS, LLAMA_BIN (the quantizer's folder), QUANT_THREADS (2).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${INKWELL_SHARED:-$root/../shared}
models=${BENCH_MODELS:-$HOME/.cache/bench-models}
bin=${LLAMA_BIN:-$HOME/.cache/llama-cpp-peer/src/build/bin}
mkdir -p "$models"
tmp=$models/.tmp-shape-models-$$
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"

# Another session may be writing the same file in place: wait until it has not grown for 30 s.
settled() {
  while [[ -f $1 ]] && (($(date +%s) - $(stat -c %Y "$1") < 30)); do sleep 10; done
  [[ -f $1 ]]
}

declare -A made_source=() wanted=()
for name in "$@"; do wanted[$name]=1; done
for name in "$@"; do
  type=${name##*-}; shape=${name%-*}
  case $type in f16|bf16|q8_0|q4_0|q4_k_m|q6_k) ;; *) echo "shape-models.sh: unknown type in $name" >&2; exit 2 ;; esac
  out=$models/$name.gguf
  settled "$out" && continue
  src=$models/$shape-f16.gguf requantize=()
  if [[ ! -f $src && $type == q[46]_* ]] && settled "$models/$shape-q8_0.gguf"; then
    src=$models/$shape-q8_0.gguf requantize=(--allow-requantize)
  elif ! settled "$src"; then
    case $shape in
      gemma-3-1b|phi-3.5-mini) maker=$root/bench/more-shape-models.py ;;  # families the shared script lacks
      *) maker=$shared/tools/make-shape-models.py ;;
    esac
    INKWELL_SHARED=$shared /usr/bin/python3 "$maker" "$tmp" "$shape" >/dev/null
    mv "$tmp/$shape-f16.gguf" "$src"
    made_source[$shape]=1
  fi
  [[ $type == f16 ]] && continue
  [[ -x $bin/llama-quantize ]] || { echo "shape-models.sh: no $bin/llama-quantize" >&2; exit 1; }
  LD_LIBRARY_PATH=$bin "$bin/llama-quantize" "${requantize[@]}" "$src" "$tmp/$name.gguf" "${type^^}" "${QUANT_THREADS:-2}" >"$tmp/quantize.log" 2>&1 ||
    { tail -n 5 "$tmp/quantize.log" >&2; exit 1; }
  mv "$tmp/$name.gguf" "$out"
  echo "$out" >&2
done
for shape in "${!made_source[@]}"; do [[ -n ${wanted[$shape-f16]:-} ]] || rm -f "$models/$shape-f16.gguf"; done

#!/usr/bin/env bash
# LoRA decode throughput: one batch on the base model beside the same batch with rows spread over 4 adapters.
# Usage: bench/lora.sh [MODEL SHAPE]   default: the embedded stories260K (shape 64,172,5,8,4)
#   SHAPE is DIM,HIDDEN,LAYERS,HEADS,KV_HEADS of MODEL (a Llama-family GGUF or llama2.c file).
# Env: RANK (16) BATCH (16) STEPS (64) THREADS (2) REPS (3). Random PEFT adapters are written by
# tests/fixtures/lora/make-lora.py (Debian's python3 with numpy) into a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/models/stories260K/stories260K.bin}
shape=${2:-64,172,5,8,4}
tokenizer=-
[[ $model == *.bin ]] && tokenizer=$(dirname "$model")/tok512.bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$root/tests/fixtures/lora/make-lora.py" "$work" "$shape" "${RANK:-16}" 4
dotnet build "$root/bench/Inkwell.Bench.Lora" -c Release -v q --nologo >/dev/null
dotnet "$root/bench/Inkwell.Bench.Lora/bin/Release/net10.0/Inkwell.Bench.Lora.dll" "$model" "$tokenizer" \
  "$work/a0,$work/a1,$work/a2,$work/a3" "${BATCH:-16}" "${STEPS:-64}" "${THREADS:-2}" "${REPS:-3}"

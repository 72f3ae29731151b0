#!/usr/bin/env bash
# Engine speed and accuracy beside llama.cpp, in one run: `inkwell bench` vs `llama-bench` (pp and tg, 2 threads) for
# stories260K, the stories15M/110M-shape models in f32, q8_0 and q4_0 and a Qwen3-MoE shape in q8_0 and q4_0, then `inkwell perplexity` vs llama-perplexity.
# Usage: bench/engine.sh [LLAMA_BIN_DIR]   (default: the peer built by ../shared/tools/build-llama-cpp.sh)
# Prints a markdown table of tokens/s and ratios (Inkwell / llama.cpp). Env: THREADS PP TG REPS ROUNDS BENCH_MODELS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
bin=${1:-$("$shared/tools/build-llama-cpp.sh" | tail -n 1)}
models=${BENCH_MODELS:-$HOME/.cache/bench-models}
[[ -f $models/stories15M-f32.gguf ]] || "$shared/tools/make-bench-models.sh" "$models" >/dev/null
threads=${THREADS:-2}; p=${PP:-128}; n=${TG:-64}; r=${REPS:-5}
export LD_LIBRARY_PATH=$bin
"$root/inkwell" --help >/dev/null 2>&1 || true   # builds once, outside the timings

rows=("$root/models/stories260K/stories260K-f32.gguf")
for m in stories15M stories110M; do for q in f32 q8_0 q4_0; do rows+=("$models/$m-$q.gguf"); done; done
# A real k-quant mix (Q4_K + Q6_K tensors) made by llama.cpp's own quantizer; 110M only (k-quants need cols % 256 == 0).
kq=$models/stories110M-q4_k_m.gguf
if [[ ! -f $kq && -x $bin/llama-quantize ]]; then "$bin/llama-quantize" "$models/stories110M-f32.gguf" "$kq" Q4_K_M >/dev/null 2>&1 || rm -f "$kq"; fi
[[ -f $kq ]] && rows+=("$kq")
# Mixture of experts: the Qwen3-MoE shape of make-shape-models.py (qwen3moe, 64 experts, top 8, about 0.9B active of
# 5B), written in f16 by Debian's python3 (it needs numpy), quantized by llama.cpp's quantizer; the 10 GB f16 source
# is removed once both quantizations exist.
moe=$models/qwen3-moe-5b
if [[ ! -f $moe-q8_0.gguf || ! -f $moe-q4_0.gguf ]] && [[ -x $bin/llama-quantize ]]; then
  [[ -f $moe-f16.gguf ]] || /usr/bin/python3 "$shared/tools/make-shape-models.py" "$models" qwen3-moe-5b >/dev/null
  for q in q8_0 q4_0; do
    [[ -f $moe-$q.gguf ]] || "$bin/llama-quantize" "$moe-f16.gguf" "$moe-$q.gguf" "$q" >/dev/null 2>&1 || rm -f "$moe-$q.gguf"
  done
  [[ -f $moe-q8_0.gguf && -f $moe-q4_0.gguf ]] && rm -f "$moe-f16.gguf"
fi
for q in q8_0 q4_0; do [[ -f $moe-$q.gguf ]] && rows+=("$moe-$q.gguf"); done

echo "| model | pp$p Inkwell | pp$p llama.cpp | ratio | tg$n Inkwell | tg$n llama.cpp | ratio | Inkwell peak RSS MiB |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in "${rows[@]}"; do
  # ROUNDS > 1 alternates the two engines and keeps each one's best round, so a burst of noise on this shared VM
  # does not land on one side only.
  ours=(); theirs=()
  for ((k = 0; k < ${ROUNDS:-1}; k++)); do
    ours+=("$("$root/inkwell" bench --model "$m" -p "$p" -n "$n" -r "$r" --threads "$threads" --json)")
    theirs+=("$("$bin/llama-bench" -m "$m" -p "$p" -n "$n" -r "$r" -t "$threads" -o json 2>/dev/null | tr -d '\n')")
  done
  python3 - "$m" "${#ours[@]}" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, sys, os
name, k = os.path.basename(sys.argv[1]), int(sys.argv[2])
ours = [json.loads(a) for a in sys.argv[3:3 + k]]
theirs = [json.loads(a) for a in sys.argv[3 + k:]]
opp = max(o["pp_tps"] for o in ours); otg = max(o["tg_tps"] for o in ours); rss = max(o["peak_rss_bytes"] for o in ours)
pp = max(next(t["avg_ts"] for t in run if t["n_prompt"] > 0) for run in theirs)
tg = max(next(t["avg_ts"] for t in run if t["n_gen"] > 0) for run in theirs)
print(f"| {name} | {opp:.1f} | {pp:.1f} | {opp/pp:.2f}x | {otg:.1f} | {tg:.1f} | {otg/tg:.2f}x | {rss/2**20:.0f} |")
PY
done

echo
echo "| model | Inkwell PPL | llama-perplexity PPL | relative difference |"
echo "| --- | ---: | ---: | ---: |"
for m in "$models/stories15M-f32.gguf" "$models/stories15M-q8_0.gguf"; do
  ours=$("$root/inkwell" perplexity --model "$m" --file "$root/bench/perplexity/text.txt" -c 128 --threads "$threads" | sed -n 's/.*PPL = \([0-9.]*\).*/\1/p')
  theirs=$("$bin/llama-perplexity" -m "$m" -f "$root/bench/perplexity/text.txt" -c 128 -b 128 -t "$threads" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  python3 -c "import sys; a,b=float(sys.argv[2]),float(sys.argv[3]); print(f'| {sys.argv[1]} | {a:.4f} | {b:.4f} | {abs(a-b)/b*100:.4f}% |')" "$(basename "$m")" "$ours" "$theirs"
done

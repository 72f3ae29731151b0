#!/usr/bin/env bash
# Engine speed and accuracy beside llama.cpp, in one run: `inkwell bench` vs `llama-bench` (pp and tg, 2 threads,
# peak RSS of both) for stories260K, the stories15M/110M models, models with the shapes of Qwen2.5-0.5B,
# Llama-3.2-1B/3B, Llama-3.1-8B, TinyLlama-1.1B (bench/shape-models.sh: random weights, real shapes) and a Qwen3-MoE
# shape, then `inkwell perplexity` vs llama-perplexity on the stories15M rows selected.
# Usage: bench/engine.sh [LLAMA_BIN_DIR]   (default: the peer that PEER names)
# Prints markdown tables of tokens/s, ratios (Inkwell / llama.cpp) and peak RSS; each row's numbers, with the read
# bandwidth measured before each of its rounds, also go as a JSON line to RESULTS (default
# bench/results/engine-<UTC time>-<peer>.jsonl), which bench/bandwidth.sh reads.
# Env: THREADS (2) PP (128) TG (64) REPS (5) ROUNDS (1) BENCH_MODELS (~/.cache/bench-models) RESULTS
#   SIZE_MB (1024) the buffer of that bandwidth measurement
#   ROWS   space-separated globs over row names (file names without .gguf), e.g. ROWS='llama-3.2-1b-* stories15M-f32';
#          default: every row. Missing models of the selected rows are made (idempotent).
#   PEER   native (default): llama.cpp built for this CPU, Inkwell as it is;
#          avx2: llama.cpp without AVX-512 (bench/peer-avx2.sh), Inkwell with DOTNET_EnableAVX512=0 DOTNET_EnableAVXVNNI=0.
#   OMP_WAIT_POLICY  for llama.cpp's OpenMP threads: unset by default (llama.cpp as users run it). On a shared box
#          with more runnable threads than cores, its spinning barriers collapse decode 10-100x (stories15M q8_0 tg32
#          at load 50: 5 t/s by default, 270-560 t/s passive); there set OMP_WAIT_POLICY=passive, and say so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
native=$("$shared/tools/build-llama-cpp.sh" | tail -n 1)
peer=${PEER:-native}
case $peer in
  native) bin=${1:-$native} ;;
  avx2) bin=${1:-$("$root/bench/peer-avx2.sh" | tail -n 1)}
        export DOTNET_EnableAVX512=0 DOTNET_EnableAVXVNNI=0 ;;
  *) echo "engine.sh: PEER must be native or avx2, got $peer" >&2; exit 2 ;;
esac
models=${BENCH_MODELS:-$HOME/.cache/bench-models}
threads=${THREADS:-2}; p=${PP:-128}; n=${TG:-64}; r=${REPS:-5}; rounds=${ROUNDS:-1}
results=${RESULTS:-$root/bench/results/engine-$(date -u +%Y%m%dT%H%M%SZ)-$peer.jsonl}
mkdir -p "$(dirname "$results")"
"$root/inkwell" --help >/dev/null 2>&1 || true   # builds once, outside the timings

all=(stories260K-f32 stories15M-f32 stories15M-q8_0 stories15M-q4_0 stories110M-f32 stories110M-q8_0 stories110M-q4_0
  stories110M-q4_k_m)
for t in bf16 f16 q8_0 q4_0 q4_k_m q6_k; do all+=(qwen2.5-0.5b-$t); done
for t in bf16 f16 q8_0 q4_0 q4_k_m q6_k; do all+=(llama-3.2-1b-$t); done
for t in bf16 f16 q8_0 q4_0 q4_k_m q6_k; do all+=(tinyllama-1.1b-$t); done
for t in bf16 f16 q8_0 q4_0 q4_k_m q6_k; do all+=(llama-3.2-3b-$t); done
all+=(llama-3.1-8b-q4_0 llama-3.1-8b-q4_k_m)
# Gemma 3 1B and Phi-3.5-mini (bench/more-shape-models.py); Phi quantized only (its f16 file alone is 7.6 GB).
for t in bf16 f16 q8_0 q4_0 q4_k_m q6_k; do all+=(gemma-3-1b-$t); done
all+=(phi-3.5-mini-q8_0 phi-3.5-mini-q4_0 phi-3.5-mini-q4_k_m)
# Mixture of experts: qwen3moe, 64 experts, top 8, about 0.9B active of 5B; no f16/bf16 rows (10 GB each), the
# k-quants requantized from the q8_0 (bench/shape-models.sh).
all+=(qwen3-moe-5b-q8_0 qwen3-moe-5b-q4_0 qwen3-moe-5b-q4_k_m qwen3-moe-5b-q6_k)

rows=()
read -ra globs <<<"${ROWS:-}" # read, not word splitting: a glob must not expand against the current folder's files
for name in "${all[@]}"; do
  if ((${#globs[@]} == 0)); then rows+=("$name"); continue; fi
  for glob in "${globs[@]}"; do
    # shellcheck disable=SC2053 # the pattern is meant to glob
    if [[ $name == $glob ]]; then rows+=("$name"); break; fi
  done
done
((${#rows[@]})) || { echo "engine.sh: ROWS='$ROWS' selects no row of: ${all[*]}" >&2; exit 2; }

path_of() { [[ $1 == stories260K-f32 ]] && echo "$root/models/stories260K/stories260K-f32.gguf" || echo "$models/$1.gguf"; }
# Makes the selected models that are missing: the stories ones by ../shared/tools/make-bench-models.sh and llama.cpp's
# quantizer (k-quants need cols % 256 == 0: 110M only), the shapes by bench/shape-models.sh, one call per shape.
declare -A missing_by_shape=()
for name in "${rows[@]}"; do
  [[ -f $(path_of "$name") ]] && continue
  case $name in
    stories*-q4_k_m) [[ -f $models/${name%-*}-f32.gguf ]] || "$shared/tools/make-bench-models.sh" "$models" >/dev/null
                     LD_LIBRARY_PATH=$native "$native/llama-quantize" "$models/${name%-*}-f32.gguf" "$models/$name.tmp$$" Q4_K_M >/dev/null 2>&1
                     mv "$models/$name.tmp$$" "$models/$name.gguf" ;;
    stories*) "$shared/tools/make-bench-models.sh" "$models" >/dev/null ;;
    *) missing_by_shape[${name%-*}]+=" $name" ;;
  esac
done
for shape in "${!missing_by_shape[@]}"; do
  # shellcheck disable=SC2086 # a list of names
  BENCH_MODELS=$models LLAMA_BIN=$native "$root/bench/shape-models.sh" ${missing_by_shape[$shape]}
done

echo "| model | pp$p Inkwell | pp$p llama.cpp | ratio | tg$n Inkwell | tg$n llama.cpp | ratio | peak RSS MiB Inkwell | peak RSS MiB llama.cpp | load |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for name in "${rows[@]}"; do
  m=$(path_of "$name")
  # ROUNDS > 1 alternates the two engines and keeps each one's best round, so a burst of noise on this shared VM
  # does not land on one side only.
  # The 1-minute load average before the row: on a shared box it says how much the figures can be trusted.
  load=$(cut -d' ' -f1 /proc/loadavg)
  ours=(); theirs=(); their_rss=(); bandwidths=(); failed=""
  for ((k = 0; k < rounds; k++)); do
    # The read bandwidth right before each round: this VM's moves by ±20% from one minute to the next, so bandwidth.sh
    # rates each row's decode against the ceiling measured beside it (the best of its rounds, as for the speeds).
    bandwidths+=("$("$root/inkwell" bench --bandwidth --json --threads "$threads" --size-mb "${SIZE_MB:-1024}" -r 5 2>/dev/null)")
    one=$("$root/inkwell" bench --model "$m" -p "$p" -n "$n" -r "$r" --threads "$threads" --json 2>"$log") ||
      { failed="Inkwell: $(tail -n 1 "$log")"; break; }
    ours+=("$one")
    one=$(LD_LIBRARY_PATH=$bin /usr/bin/time -v "$bin/llama-bench" -m "$m" -p "$p" -n "$n" -r "$r" -t "$threads" -o json 2>"$log" | tr -d '\n') ||
      { failed="llama-bench: $(grep -v '^\s' "$log" | tail -n 1)"; break; }
    theirs+=("$one")
    their_rss+=("$(sed -n 's/.*Maximum resident set size (kbytes): *\([0-9]*\).*/\1/p' "$log")")
  done
  # A row that fails says why and the run goes on with the next one.
  if [[ -n $failed ]]; then echo "| $name | failed: ${failed//|/ } | | | | | | | | $load |"; continue; fi
  python3 - "$name" "$peer" "$rounds" "$results" "$load" "${ours[@]}" "${theirs[@]}" "${their_rss[@]}" "${bandwidths[@]}" <<'PY'
import json, os, sys
name, peer, k, results, load = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
rest = sys.argv[6:]
ours = [json.loads(a) for a in rest[:k]]
theirs = [json.loads(a) for a in rest[k:2 * k]]
their_rss = max(int(a) for a in rest[2 * k:3 * k]) * 1024
bandwidth = {}
for line in rest[3 * k:]:
    for threads, gbps in json.loads(line)["read_gb_per_s"].items():
        bandwidth[threads] = max(bandwidth.get(threads, 0.0), gbps)
opp = max(o["pp_tps"] for o in ours); otg = max(o["tg_tps"] for o in ours); rss = max(o["peak_rss_bytes"] for o in ours)
pp = max(next(t["avg_ts"] for t in run if t["n_prompt"] > 0) for run in theirs)
tg = max(next(t["avg_ts"] for t in run if t["n_gen"] > 0) for run in theirs)
print(f"| {name} | {opp:.1f} | {pp:.1f} | {opp/pp:.2f}x | {otg:.1f} | {tg:.1f} | {otg/tg:.2f}x | {rss/2**20:.0f} | {their_rss/2**20:.0f} | {load:.1f} |", flush=True)
with open(results, "a") as f:
    f.write(json.dumps({"row": name, "model": ours[0]["model"], "peer": peer, "threads": ours[0]["threads"],
                        "n_prompt": ours[0]["n_prompt"], "n_gen": ours[0]["n_gen"], "rounds": k,
                        "inkwell_pp_tps": opp, "llama_pp_tps": pp, "inkwell_tg_tps": otg, "llama_tg_tps": tg,
                        "inkwell_peak_rss_bytes": rss, "llama_peak_rss_bytes": their_rss, "load_before": load,
                        "llama_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
                        "read_gb_per_s": bandwidth}) + "\n")
PY
done
echo "results: $results" >&2

ppl_rows=()
for name in stories15M-f32 stories15M-q8_0; do [[ " ${rows[*]} " == *" $name "* ]] && ppl_rows+=("$models/$name.gguf"); done
((${#ppl_rows[@]})) || exit 0
echo
echo "| model | Inkwell PPL | llama-perplexity PPL | relative difference |"
echo "| --- | ---: | ---: | ---: |"
for m in "${ppl_rows[@]}"; do
  ours=$("$root/inkwell" perplexity --model "$m" --file "$root/bench/perplexity/text.txt" -c 128 --threads "$threads" | sed -n 's/.*PPL = \([0-9.]*\).*/\1/p')
  # The reference is always the native build's llama-perplexity (an accuracy check, not a speed one; the AVX2 peer
  # builds no llama-perplexity); Inkwell runs on the path PEER selected.
  theirs=$(LD_LIBRARY_PATH=$native "$native/llama-perplexity" -m "$m" -f "$root/bench/perplexity/text.txt" -c 128 -b 128 -t "$threads" 2>&1 | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  python3 -c "import sys; a,b=float(sys.argv[2]),float(sys.argv[3]); print(f'| {sys.argv[1]} | {a:.4f} | {b:.4f} | {abs(a-b)/b*100:.4f}% |')" "$(basename "$m")" "$ours" "$theirs"
done

#!/usr/bin/env bash
# Serving benchmark: `inkwell serve` (TGI protocol) vs llama.cpp's `llama-server -np N -cb` (OpenAI /v1/completions)
# on the same GGUF model and thread count, one server at a time, driven by ../shared/tools/loadgen.py (N concurrent
# streams, fixed prompt, greedy, bounded). Prints aggregate tokens/s, TTFT p50/p99 and inter-token latency p50/p99
# side by side with ratios (throughput: inkwell/llama; latencies: llama/inkwell, so > 1 always means Inkwell is better).
#
# Usage: bench/serving/run.sh [--model PATH] [--concurrency "1 8 32"] [--requests R] [--max-tokens T]
#                             [--threads 2] [--slot-ctx 128] [--deadline S] [--llama-bin DIR] [--only inkwell|llama]
#                             [--out DIR] [--prompt TEXT] [--inkwell-args "..."] [--llama-args "..."]
# Defaults: stories15M-f32.gguf from ~/.cache/bench-models, concurrency 32, 2 requests per stream, 96 new tokens
# (the stories bench models have a 128-token context; the prompt is 16 tokens), 2 threads, 300 s deadline per run.
# Both servers get the same KV budget: llama-server -np <max streams> -c <max streams x slot ctx>, Inkwell
# --max-total-tokens <slot ctx> --max-batch-total-tokens <max streams x slot ctx>; raise --slot-ctx for a longer
# prompt + --max-tokens. The AVX2 paths: DOTNET_EnableAVX512=0 DOTNET_EnableAVXVNNI=0 bench/serving/run.sh
# --llama-bin ~/.cache/llama-cpp-avx2/bin (bench/peer-avx2.sh).
# llama-server's OpenMP threads wait as llama.cpp's default unless OMP_WAIT_POLICY is set (on a shared, oversubscribed
# box set it to passive, and say so: spinning barriers collapse there; see bench/engine.sh).
# Raw JSON lines, server logs and the load average go to --out (default bench/results/serving-<UTC time>, git-ignored).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
shared=${INKWELL_SHARED:-/work/shared}
[[ -d $shared ]] || shared=$(cd "$root/.." && pwd)/shared

model=$HOME/.cache/bench-models/stories15M-f32.gguf
concurrency="32"
requests=2
max_tokens=96
slot_ctx=128
threads=2
deadline=300
only=""
prompt=""
inkwell_args=""
llama_args=""
out=""
llama_bin=""
while (($#)); do
  case $1 in
    --model) model=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --max-tokens) max_tokens=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --slot-ctx) slot_ctx=$2; shift 2 ;;
    --deadline) deadline=$2; shift 2 ;;
    --llama-bin) llama_bin=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --inkwell-args) inkwell_args=$2; shift 2 ;;
    --llama-args) llama_args=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

loadgen=$shared/tools/loadgen.py
[[ -f $loadgen ]] || { echo "run.sh: $loadgen not found (set INKWELL_SHARED)" >&2; exit 1; }
[[ -f $model ]] || { echo "run.sh: model $model not found (../shared/tools/make-bench-models.sh)" >&2; exit 1; }
((max_tokens + 32 <= slot_ctx)) || echo "run.sh: --slot-ctx $slot_ctx leaves little room for a prompt and --max-tokens $max_tokens" >&2
if [[ -z $llama_bin ]]; then
  # The plain build dies with SIGILL in AMX kernels for quantized models on this VM; prefer the no-AMX build when done.
  if [[ -x $HOME/.cache/llama-cpp-peer/src/build-noamx/bin/llama-server ]]; then
    llama_bin=$HOME/.cache/llama-cpp-peer/src/build-noamx/bin
  else
    llama_bin=$HOME/.cache/llama-cpp-peer/src/build/bin
  fi
fi
out=${out:-$root/bench/results/serving-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

server_pid=""
stop_server() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap stop_server EXIT

wait_health() { # url log
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null "$1/health" 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: server exited; see $2" >&2; tail -n 20 "$2" >&2; return 1; }
    sleep 0.5
  done
  echo "run.sh: server not healthy after 300 s; see $2" >&2
  return 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run_one name protocol url concurrency -> appends a JSON line to $out/<name>.jsonl
run_one() {
  local name=$1 protocol=$2 url=$3 n=$4 before after line
  before=$(loadavg)
  line=$(python3 "$loadgen" --url "$url" --protocol "$protocol" --concurrency "$n" --requests "$requests" \
    --max-tokens "$max_tokens" --deadline "$deadline" ${prompt:+--prompt "$prompt"} --json) || true
  after=$(loadavg)
  [[ -n $line ]] || line='{"requests": 0, "failed": -1}'
  python3 - "$line" "$name" "$n" "$before" "$after" >>"$out/$name.jsonl" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
r.update({"server": sys.argv[2], "concurrency": int(sys.argv[3]), "load_before": sys.argv[4], "load_after": sys.argv[5]})
print(json.dumps(r))
EOF
  tail -n 1 "$out/$name.jsonl" >&2
}

warmup() { # protocol url: runs at the largest concurrency so that both servers have seen full-size batches before
  # measuring (Inkwell's tiered JIT compiles the big-prefill and batched-decode paths on first use: a cold first burst
  # of 32 streams measured TTFT p50 2.6 s instead of 0.6 s warm). The same warm-up goes to both servers.
  python3 "$loadgen" --url "$2" --protocol "$1" --concurrency "$max_n" --requests 2 --max-tokens 32 --deadline 180 ${prompt:+--prompt "$prompt"} --json >/dev/null || true
}

max_n=0
for n in $concurrency; do if ((n > max_n)); then max_n=$n; fi; done

{
  echo "date_utc: $(date -u +%FT%TZ)"
  echo "host: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "model: $model"
  echo "threads: $threads  requests/stream: $requests  max_tokens: $max_tokens  concurrency: $concurrency"
  echo "inkwell: $(git -C "$root" rev-parse --short HEAD) dotnet $(dotnet --version 2>/dev/null)"
  echo "llama-server: $llama_bin ($(LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-server" --version 2>&1 | grep -m1 version || true))"
  echo "prompt: ${prompt:-(loadgen default)}"
  echo "extra args: inkwell [$inkwell_args] llama-server [$llama_args]"
  echo "llama-server OMP_WAIT_POLICY: ${OMP_WAIT_POLICY:-default}"
  echo "load at start: $(loadavg)"
} | tee "$out/machine.txt" >&2

if [[ $only != llama ]]; then
  port=$(free_port)
  "$root/inkwell" --help >/dev/null 2>&1 || true # builds the CLI first if sources changed, so startup is not timed
  "$root/inkwell" serve --model-id "$model" --hostname 127.0.0.1 --port "$port" --num-threads "$threads" \
    --max-concurrent-requests $((max_n * 2 + 8)) --max-total-tokens "$slot_ctx" \
    --max-batch-total-tokens $((max_n * slot_ctx)) $inkwell_args >"$out/inkwell.log" 2>&1 &
  server_pid=$!
  wait_health "http://127.0.0.1:$port" "$out/inkwell.log"
  warmup tgi "http://127.0.0.1:$port"
  for n in $concurrency; do run_one inkwell tgi "http://127.0.0.1:$port" "$n"; done
  stop_server
fi

if [[ $only != inkwell ]]; then
  port=$(free_port)
  # One slot per stream, each with the model's context (128 for the stories bench models; Inkwell's max total tokens).
  LD_LIBRARY_PATH=$llama_bin "$llama_bin/llama-server" -m "$model" --host 127.0.0.1 --port "$port" \
    -t "$threads" -tb "$threads" -np "$max_n" -cb -c $((max_n * slot_ctx)) $llama_args >"$out/llama.log" 2>&1 &
  server_pid=$!
  wait_health "http://127.0.0.1:$port" "$out/llama.log"
  warmup openai "http://127.0.0.1:$port"
  for n in $concurrency; do run_one llama openai "http://127.0.0.1:$port" "$n"; done
  stop_server
fi

echo "load at end: $(loadavg)" | tee -a "$out/machine.txt" >&2

python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name + ".jsonl")
    return {r["concurrency"]: r for r in map(json.loads, open(p))} if os.path.exists(p) else {}
ink, lla = load("inkwell"), load("llama")
def ratio(a, b):
    try:
        return f"{a / b:.2f}x" if a and b and a == a and b == b else "-"
    except (TypeError, ZeroDivisionError):
        return "-"
cols = [("throughput_tps", "tok/s", False), ("ttft_p50_ms", "TTFT p50 ms", True), ("ttft_p99_ms", "TTFT p99 ms", True),
        ("itl_p50_ms", "ITL p50 ms", True), ("itl_p99_ms", "ITL p99 ms", True)]
print("| streams | metric | inkwell | llama-server | ratio (>1: inkwell better) |")
print("| ---: | --- | ---: | ---: | ---: |")
for n in sorted(set(ink) | set(lla)):
    a, b = ink.get(n, {}), lla.get(n, {})
    for key, label, lower_better in cols:
        x, y = a.get(key), b.get(key)
        r = ratio(y, x) if lower_better else ratio(x, y)
        print(f"| {n} | {label} | {x if x is not None else '-'} | {y if y is not None else '-'} | {r} |")
    for s, r in (("inkwell", a), ("llama-server", b)):
        if r:
            print(f"| {n} | {s} requests/failed/tokens/wall | {r.get('requests')}/{r.get('failed')}/{r.get('tokens')}/{r.get('wall_s')} s | load {r.get('load_before')} -> {r.get('load_after')} | |")
EOF
echo "raw results: $out" >&2

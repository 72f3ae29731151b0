#!/usr/bin/env bash
# Speculative decoding benchmark: acceptance rate and generated tokens/s with and without speculation, through
# `inkwell serve` (TGI /generate, greedy), for three workloads: code editing (the prompt holds a code block the
# answer repeats with a small change), JSON extraction (the answer copies fields of the prompt) and plain stories;
# each with 1 stream and 8 concurrent streams. Drafters: none, prompt lookup (--speculate N), and a draft model
# (--draft-model): stories260K drafting for itself, stories15M-q8_0 drafting for stories110M-q8_0 (same vocabulary).
# Acceptance = inkwell_spec_accepted_tokens_total / inkwell_spec_drafted_tokens_total over the run (from /metrics).
#
# Usage: bench/speculative.sh [--speculate 4] [--max-tokens 64] [--threads 2] [--port 3391] [--out DIR]
# Models: the embedded stories260K and ~/.cache/bench-models (BENCH_MODELS; made by ../shared/tools/make-bench-models.sh;
# random weights, 128-token context). Prints a markdown table; raw JSON lines and server logs go to --out
# (default bench/results/speculative-<UTC time>, git-ignored).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
models=${BENCH_MODELS:-$HOME/.cache/bench-models}
speculate=4; max_tokens=64; threads=2; port=3391; out=""
while (($#)); do
  case $1 in
    --speculate) speculate=$2; shift 2 ;;
    --max-tokens) max_tokens=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
out=${out:-$root/bench/results/speculative-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
"$root/inkwell" --help >/dev/null 2>&1 || true   # builds once, outside the timings

embedded=$root/models/stories260K/stories260K-f32.gguf
target=$models/stories110M-q8_0.gguf
draft=$models/stories15M-q8_0.gguf
# model | drafter label | serve arguments
configs=(
  "stories260K|none|--model-id $embedded"
  "stories260K|prompt lookup|--model-id $embedded --speculate $speculate"
  "stories260K|draft stories260K|--model-id $embedded --speculate $speculate --draft-model $embedded"
)
if [[ -f $target && -f $draft ]]; then
  configs+=(
    "stories110M-q8_0|none|--model-id $target"
    "stories110M-q8_0|prompt lookup|--model-id $target --speculate $speculate"
    "stories110M-q8_0|draft stories15M-q8_0|--model-id $target --speculate $speculate --draft-model $draft"
  )
else
  echo "note: $target or $draft missing (../shared/tools/make-bench-models.sh); stories110M rows skipped" >&2
fi

server=""
stop_server() { [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=""; }
trap stop_server EXIT

for config in "${configs[@]}"; do
  IFS='|' read -r model drafter args <<<"$config"
  log=$out/serve-${model}-${drafter// /_}.log
  # shellcheck disable=SC2086
  "$root/inkwell" serve $args --hostname 127.0.0.1 --port "$port" --grpc-port 0 --num-threads "$threads" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.5; done
  python3 - "$port" "$model" "$drafter" "$max_tokens" >>"$out/results.jsonl" <<'PY'
import json, sys, threading, time, urllib.request
port, model, drafter, max_tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def metric(name):
    for line in urllib.request.urlopen(base + "/metrics", timeout=30).read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0

# Short prompts: the stories110M bench models have a 128-token context.
def code(i):
    return (f"Rename total to sum{i}:\n```\ndef add{i}(a, b):\n    total = a + b\n    return total\n```\n"
            f"Result:\n```\ndef add{i}(a, b):\n    sum{i} = a + b\n")
def extract(i):
    return (f'Text: Anna Berg, age {20 + i}, lives in Oslo and works as a baker.\n'
            f'JSON: {{"name": "Anna Berg", "age": {20 + i}, "city": "Oslo", "job": "')
def story(i):
    return ["Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird",
            "Tom had a red ball", "The sun was hot", "Sue liked to sing", "There was a cat"][i % 8]

def generate(prompt, results, k, tokens=max_tokens):
    body = json.dumps({"inputs": prompt, "parameters": {"max_new_tokens": tokens, "details": True}}).encode()
    req = urllib.request.Request(base + "/generate", body, {"Content-Type": "application/json"})
    results[k] = json.loads(urllib.request.urlopen(req, timeout=600).read())["details"]["generated_tokens"]

# Warm-up, not timed: every workload once at 8 streams with a few tokens (first-call JIT, batch buffers).
for prompt in (code, extract, story):
    warm = [threading.Thread(target=generate, args=(prompt(i), [0] * 8, i, 8)) for i in range(8)]
    for t in warm: t.start()
    for t in warm: t.join()
for workload, prompt in (("code edit", code), ("json extract", extract), ("stories", story)):
    for streams in (1, 8):
        time.sleep(0.5)
        drafted0, accepted0 = metric("inkwell_spec_drafted_tokens_total"), metric("inkwell_spec_accepted_tokens_total")
        results = [0] * streams
        threads = [threading.Thread(target=generate, args=(prompt(i), results, i)) for i in range(streams)]
        t0 = time.perf_counter()
        for t in threads: t.start()
        for t in threads: t.join()
        seconds = time.perf_counter() - t0
        time.sleep(0.5)  # the step's counters are published after its last token
        drafted = metric("inkwell_spec_drafted_tokens_total") - drafted0
        accepted = metric("inkwell_spec_accepted_tokens_total") - accepted0
        print(json.dumps({"model": model, "drafter": drafter, "workload": workload, "streams": streams,
                          "tokens": sum(results), "seconds": seconds, "tokens_per_s": sum(results) / seconds,
                          "drafted": drafted, "accepted": accepted}), flush=True)
PY
  stop_server
done

python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = {(r["model"], r["workload"], r["streams"]): r["tokens_per_s"] for r in rows if r["drafter"] == "none"}
print("| target | drafter | workload | streams | tokens | tokens/s | vs none | drafted | accepted | acceptance |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    ref = base.get((r["model"], r["workload"], r["streams"]))
    ratio = f'{r["tokens_per_s"] / ref:.2f}x' if ref else ""
    acc = f'{100 * r["accepted"] / r["drafted"]:.0f}%' if r["drafted"] else ""
    print(f'| {r["model"]} | {r["drafter"]} | {r["workload"]} | {r["streams"]} | {r["tokens"]} | {r["tokens_per_s"]:.1f} | {ratio} | '
          f'{int(r["drafted"])} | {int(r["accepted"])} | {acc} |')
PY

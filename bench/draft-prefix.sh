#!/usr/bin/env bash
# A repeated long prompt under speculative decoding with a draft model: wall time of three identical /generate
# requests (8 new tokens, greedy) one after another. The first computes the prompt; later ones find it in the
# target's prefix cache and, since the draft model's cache reuses prefixes too, in the draft's (the draft catches up
# on the prompt before its first draft, so that cost lands on the second token, not on the first).
# Usage: bench/draft-prefix.sh [INKWELL_ROOT]   (default: this checkout; give another build's checkout to compare)
# Env: TARGET, DRAFT (GGUF paths; default the Qwen3-MoE shape q4_k_m and Qwen2.5-0.5B q8_0 from BENCH_MODELS, which
#      share the Qwen2 vocabulary: bench/shape-models.sh), WORDS (700: the prompt's length in words), PORT (3401).
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
models=${BENCH_MODELS:-$HOME/.cache/bench-models}
target=${TARGET:-$models/qwen3-moe-5b-q4_k_m.gguf} draft=${DRAFT:-$models/qwen2.5-0.5b-q8_0.gguf}
port=${PORT:-3401} words=${WORDS:-700}
"$root/inkwell" --help >/dev/null 2>&1 || true   # builds once, outside the timings
"$root/inkwell" serve --model-id "$target" --draft-model "$draft" --speculate 4 --port "$port" --max-input-tokens 4096 \
  --max-total-tokens 4200 --max-batch-total-tokens 8400 --max-batch-prefill-tokens 4096 >"${TMPDIR:-/tmp}/draft-prefix-$port.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 1; done
body=$(python3 -c "
import json, random
random.seed(1)
w = 'alpha beta gamma delta river stone light cloud paper market window garden silver'.split()
print(json.dumps({'inputs': ' '.join(random.choice(w) for _ in range($words)), 'parameters': {'max_new_tokens': 8}}))")
for i in 1 2 3; do
  start=$(date +%s%N)
  curl -sf "localhost:$port/generate" -H 'content-type: application/json' -d "$body" >/dev/null
  echo "request $i: $((($(date +%s%N) - start) / 1000000)) ms"
done

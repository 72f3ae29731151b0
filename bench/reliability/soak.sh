#!/usr/bin/env bash
# Bounded soak (not run in CI): starts `inkwell serve` on the embedded model (or --model-id PATH), drives it with
# bench/reliability/soak.py (32 concurrent clients, mixed TGI/OpenAI requests and parameters, random hang-ups) for
# --duration seconds, and records RSS and latency per second plus a summary (requests, errors, 5xx, peak RSS,
# cancellations, leaked KV blocks and permits from /metrics) under --out (default bench/results/soak-<UTC time>).
#
# Usage: bench/reliability/soak.sh [--duration 180] [--concurrency 32] [--threads 2] [--port 3917] [--out DIR] [-- serve args...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
duration=180 concurrency=32 threads=2 port=3917 out=""
while (($#)); do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out=${out:-$root/bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
"$root/inkwell" --help >/dev/null  # builds the CLI first, so the server starts at once
"$root/inkwell" serve --hostname 127.0.0.1 --port "$port" --grpc-port 0 --num-threads "$threads" "$@" >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "soak.sh: the server exited; see $out/server.log" >&2; exit 1; }
  sleep 0.5
done
# The inkwell script runs `dotnet inkwell.dll`: that process is the server whose memory we watch.
python3 "$root/bench/reliability/soak.py" --url "http://127.0.0.1:$port" --pid "$server" \
  --concurrency "$concurrency" --duration "$duration" --out "$out"
echo "soak.sh: results in $out" >&2

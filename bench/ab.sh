#!/usr/bin/env bash
# A/B of a change on this shared VM, whose memory bandwidth moves ±20% from second to second: separate runs of the
# two builds cannot rank a 10% change, so each round runs the base build, the working tree and llama.cpp back to back
# (a triplet) and prints each one's tokens/s and ratio to llama.cpp, round by round. Rank by rounds, not means.
# Usage: bench/ab.sh BASE_REV MODEL.gguf [ROUNDS]   (decode of TG tokens, or with PP set prompt processing of PP
#        tokens; REPS repetitions per run, THREADS threads)
# Env: TG (32) PP (unset: decode) REPS (2) THREADS (2) PEER (native | avx2, as bench/engine.sh) AB_BASE (worktree
#      for BASE_REV, default $TMPDIR/inkwell-ab-base; made or moved to BASE_REV here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
(($# >= 2)) || { sed -n '2,8p' "$0" >&2; exit 2; }
rev=$1 model=$2 rounds=${3:-4}
tg=${TG:-32} reps=${REPS:-2} threads=${THREADS:-2}
if [[ -n ${PP:-} ]]; then prompt=$PP gen=0 test=pp; else prompt=0 gen=$tg test=tg; fi
case ${PEER:-native} in
  native) peer=$("$root/../shared/tools/build-llama-cpp.sh" | tail -n 1) ;;
  avx2) peer=$("$root/bench/peer-avx2.sh" | tail -n 1); export DOTNET_EnableAVX512=0 DOTNET_EnableAVXVNNI=0 ;;
  *) echo "ab.sh: PEER must be native or avx2" >&2; exit 2 ;;
esac
base=${AB_BASE:-${TMPDIR:-/tmp}/inkwell-ab-base}
if [[ ! -d $base ]]; then git -C "$root" worktree add --detach "$base" "$rev" >/dev/null
else git -C "$base" checkout -q --detach "$rev"; fi
"$base/inkwell" --help >/dev/null 2>&1 || true   # builds both outside the timings
"$root/inkwell" --help >/dev/null 2>&1 || true
tps() { "$1/inkwell" bench --model "$model" -p "$prompt" -n "$gen" -r "$reps" --threads "$threads" 2>/dev/null | awk -F'|' -v t=" $test" '$0 ~ t { split($6, v, " "); print v[1] }'; }
echo "| round | base t/s | change t/s | llama.cpp t/s | base ratio | change ratio |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for i in $(seq 1 "$rounds"); do
  b=$(tps "$base") n=$(tps "$root")
  l=$(LD_LIBRARY_PATH=$peer "$peer/llama-bench" -m "$model" -p "$prompt" -n "$gen" -r "$reps" -t "$threads" 2>/dev/null \
      | awk -F'|' -v t=" $test" '$0 ~ t { split($(NF-1), v, " "); print v[1] }')
  awk -v i="$i" -v b="$b" -v n="$n" -v l="$l" 'BEGIN { printf "| %d | %.2f | %.2f | %.2f | %.2fx | %.2fx |\n", i, b, n, l, b / l, n / l }'
done

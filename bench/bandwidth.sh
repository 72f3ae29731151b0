#!/usr/bin/env bash
# How close decode comes to the memory-bandwidth ceiling: for each generation row of bench/engine.sh's results,
# bytes of weights streamed per token (from the GGUF: every matrix a decode step reads; a tied output matrix counts
# once, the embedding lookup reads one row and is left out; MoE expert tensors count expert_used/expert_count) times
# tg tokens/s, as GB/s and as a share of the read bandwidth that `inkwell bench --bandwidth` measures with THREADS
# threads, for Inkwell and llama.cpp.
# Usage: bench/bandwidth.sh RESULTS.jsonl...   (the files bench/engine.sh writes to bench/results/)
# Env: THREADS (2, as engine.sh), SIZE_MB (1024), REPS (10), BANDWIDTH_JSON (reuse a saved `--bandwidth --json` line).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
(($#)) || { sed -n '2,9p' "$0" >&2; exit 2; }
threads=${THREADS:-2}
bw=${BANDWIDTH_JSON:-$("$root/inkwell" bench --bandwidth --json --threads "$threads" --size-mb "${SIZE_MB:-1024}" -r "${REPS:-10}")}
GGUF_PY=${GGUF_PY:-$HOME/.cache/llama-cpp-peer/src/gguf-py} /usr/bin/python3 - "$threads" "$bw" "$@" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["GGUF_PY"])
import gguf

threads, bw = sys.argv[1], json.loads(sys.argv[2])
gbps = {k: v for k, v in bw["read_gb_per_s"].items()}
ceiling = gbps[threads]

def streamed_bytes(path):
    r = gguf.GGUFReader(path)
    field = lambda suffix: next((int(f.parts[f.data[0]][0]) for n, f in r.fields.items() if n.endswith(suffix)), None)
    experts, used = field(".expert_count"), field(".expert_used_count")
    names = {t.name for t in r.tensors}
    total = 0
    for t in r.tensors:
        if t.name == "token_embd.weight" and "output.weight" in names:
            continue  # only one row per token is looked up
        share = used / experts if "_exps." in t.name and experts else 1.0
        total += int(t.n_bytes) * share
    return total

print(f"read bandwidth (inkwell bench --bandwidth, {bw['size_bytes'] >> 20} MiB, best of {bw['repetitions']}): "
      + ", ".join(f"{k} thread{'s' if k != '1' else ''} {v:.1f} GB/s" for k, v in gbps.items()))
print()
print(f"| model | peer | weights read per token MiB | tg Inkwell t/s | Inkwell GB/s | % of {threads}-thread bandwidth | tg llama.cpp t/s | llama.cpp GB/s | % of bandwidth | load |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
sizes = {}
for path in sys.argv[3:]:
    for line in open(path):
        row = json.loads(line)
        if row["n_gen"] <= 0:
            continue
        model = row["model"]
        if model not in sizes:
            sizes[model] = streamed_bytes(model)
        b = sizes[model]
        ours, theirs = b * row["inkwell_tg_tps"] / 1e9, b * row["llama_tg_tps"] / 1e9
        print(f"| {row['row']} | {row['peer']} | {b / 2**20:.0f} | {row['inkwell_tg_tps']:.1f} | {ours:.1f} | {ours / ceiling * 100:.0f}% "
              f"| {row['llama_tg_tps']:.1f} | {theirs:.1f} | {theirs / ceiling * 100:.0f}% | {row.get('load_before', '-')} |")
PY

#!/usr/bin/env bash
# How close decode comes to the memory-bandwidth ceiling: for each generation row of bench/engine.sh's results,
# bytes of weights streamed per token (from the GGUF: every matrix a decode step reads; a tied output matrix counts
# once, the embedding lookup reads one row and is left out; MoE expert tensors count expert_used/expert_count) times
# tg tokens/s, as GB/s and as a share of the read bandwidth that `inkwell bench --bandwidth` measures with THREADS
# threads, for Inkwell and llama.cpp: the bandwidth engine.sh measured beside the row when it did (read_gb_per_s),
# otherwise one measured here (or BANDWIDTH_JSON).
# Usage: bench/bandwidth.sh RESULTS.jsonl...   (the files bench/engine.sh writes to bench/results/)
# Env: THREADS (2, as engine.sh), SIZE_MB (1024), BANDWIDTH_REPS (10), BANDWIDTH_JSON (reuse a saved `--bandwidth --json` line).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
(($#)) || { sed -n '2,9p' "$0" >&2; exit 2; }
threads=${THREADS:-2}
if [[ -z ${BANDWIDTH_JSON:-} ]] && ! grep -qv '"read_gb_per_s"' "$@"; then
  bw='{"size_bytes":0,"repetitions":0,"read_gb_per_s":{}}'   # every row carries its own
else
  bw=${BANDWIDTH_JSON:-$("$root/inkwell" bench --bandwidth --json --threads "$threads" --size-mb "${SIZE_MB:-1024}" -r "${BANDWIDTH_REPS:-10}")}
fi
GGUF_PY=${GGUF_PY:-$HOME/.cache/llama-cpp-peer/src/gguf-py} /usr/bin/python3 - "$threads" "$bw" "$@" <<'PY'
import json, math, os, struct, sys
sys.path.insert(0, os.environ["GGUF_PY"])
import gguf

threads, bw = sys.argv[1], json.loads(sys.argv[2])
gbps = {k: v for k, v in bw["read_gb_per_s"].items()}

def read_header(path):
    """The GGUF header's integer fields and tensor infos (name, element count, ggml type), read directly: gguf-py's
    reader decodes every vocabulary string and takes minutes on a 150k-token vocabulary."""
    with open(path, "rb") as f:
        u32 = lambda: struct.unpack("<I", f.read(4))[0]
        u64 = lambda: struct.unpack("<Q", f.read(8))[0]
        string = lambda: f.read(u64())
        scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value type -> bytes
        def value(t):
            if t == 8:
                return string()
            if t == 9:
                et, n = u32(), u64()
                if et in scalar:
                    f.seek(scalar[et] * n, 1)
                else:
                    for _ in range(n):
                        value(et)
                return None
            raw = f.read(scalar[t])
            return int.from_bytes(raw, "little") if t in (0, 2, 4, 10) else raw
        assert f.read(4) == b"GGUF", path
        u32()
        n_tensors, n_kv = u64(), u64()
        fields = {}
        for _ in range(n_kv):
            key = string().decode()
            fields[key] = value(u32())
        tensors = []
        for _ in range(n_tensors):
            name = string().decode()
            dims = [u64() for _ in range(u32())]
            ttype = u32(); u64()
            tensors.append((name, math.prod(dims), ttype))
    return fields, tensors

def streamed_bytes(path):
    fields, tensors = read_header(path)
    field = lambda suffix: next((v for k, v in fields.items() if k.endswith(suffix)), None)
    experts, used = field(".expert_count"), field(".expert_used_count")
    names = {name for name, _, _ in tensors}
    total = 0
    for name, count, ttype in tensors:
        if name == "token_embd.weight" and "output.weight" in names:
            continue  # only one row per token is looked up
        block, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ttype)]
        share = used / experts if "_exps." in name and experts else 1.0
        total += count // block * block_bytes * share
    return total

if gbps:
    print(f"read bandwidth (inkwell bench --bandwidth, {bw['size_bytes'] >> 20} MiB, best of {bw['repetitions']}): "
          + ", ".join(f"{k} thread{'s' if k != '1' else ''} {v:.1f} GB/s" for k, v in gbps.items())
          + " (rows measured beside their own use theirs)")
    print()
print(f"| model | peer | weights read per token MiB | {threads}-thread read GB/s | tg Inkwell t/s | Inkwell GB/s | % of bandwidth | tg llama.cpp t/s | llama.cpp GB/s | % of bandwidth | load |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
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
        ceiling = row.get("read_gb_per_s", {}).get(threads) or gbps[threads]
        ours, theirs = b * row["inkwell_tg_tps"] / 1e9, b * row["llama_tg_tps"] / 1e9
        print(f"| {row['row']} | {row['peer']} | {b / 2**20:.0f} | {ceiling:.1f} | {row['inkwell_tg_tps']:.1f} | {ours:.1f} | {ours / ceiling * 100:.0f}% "
              f"| {row['llama_tg_tps']:.1f} | {theirs:.1f} | {theirs / ceiling * 100:.0f}% | {row.get('load_before', '-')} |")
PY

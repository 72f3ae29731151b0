#!/usr/bin/env bash
# Manual cross-check against the real huggingface_hub (not run by ./test: it needs huggingface_hub importable, e.g.
# PYTHONPATH=<huggingface_hub checkout>/src with Debian's python3-filelock python3-tqdm python3-packaging python3-httpx).
# 1. huggingface_hub's snapshot_download and `inkwell download-weights` fetch the same repository from a loopback Hub
#    into two caches; the trees must be identical (names, blob names, link targets, refs, locks) apart from
#    huggingface_hub's optional tree-listing cache (trees/) and CACHEDIR.TAG.
# 2. Each reads the other's cache with HF_HUB_OFFLINE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
inkwell=${INKWELL:-$here/../../../../src/Inkwell.Cli/bin/Release/net10.0/inkwell.dll}
py=${PYTHON:-/usr/bin/python3}
"$py" -c "import huggingface_hub" 2>/dev/null || { echo "skip: huggingface_hub is not importable by $py"; exit 77; }
work=$(mktemp -d); port=$((20000 + RANDOM % 20000))
"$py" "$here/fakehub.py" "$port" & hub=$!
trap 'kill $hub; rm -rf "$work"' EXIT
sleep 1
# Debian 12's filelock predates the mode= argument recent huggingface_hub passes; drop it.
hf='import filelock
class Lock(filelock.FileLock):
    def __init__(self, *a, mode=None, **k): super().__init__(*a, **k)
filelock.FileLock = Lock
from huggingface_hub import snapshot_download'
export HF_ENDPOINT=http://127.0.0.1:$port HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1
HF_HUB_CACHE=$work/python "$py" -c "$hf
snapshot_download('org/demo')"
HF_HUB_CACHE=$work/inkwell dotnet "$inkwell" download-weights org/demo 2>/dev/null >/dev/null
tree() { (cd "$1" && find . -path ./CACHEDIR.TAG -prune -o -path '*/trees*' -prune -o -printf '%y %p %l\n' | sort); }
diff <(tree "$work/python") <(tree "$work/inkwell")
cmp "$work/python/models--org--demo/refs/main" "$work/inkwell/models--org--demo/refs/main"
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$work/inkwell "$py" -c "$hf
print(snapshot_download('org/demo'))"
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$work/python dotnet "$inkwell" download-weights org/demo
echo "crosscheck: identical cache trees; each reads the other's cache offline"

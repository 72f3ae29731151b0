#!/usr/bin/env bash
# Loopback cluster bench (see cluster.py): three `inkwell serve` replicas of the embedded stories260K model behind
# the gateway; round robin vs prefix affinity, then a replica SIGKILLed mid-run. Prints one JSON line per phase.
# Extra arguments go to cluster.py (e.g. --users 8 --concurrency 2 --phases kill).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/inkwell" --help >/dev/null # builds the CLI into .artifacts/cli when its sources changed
exec python3 "$root/bench/cluster/cluster.py" --cli "$root/.artifacts/cli/inkwell.dll" \
  --model "$root/models/stories260K/stories260K-f32.gguf" "$@"

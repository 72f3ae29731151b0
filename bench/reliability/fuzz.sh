#!/usr/bin/env bash
# The nightly-style reliability run (not CI's): the body fuzzers with many more cases, then the cancellation storm.
# Usage: bench/reliability/fuzz.sh [CASES_PER_API (default 20000)] [SEED]
# INKWELL_FUZZ_ITERATIONS sets the cases per HTTP API (gRPC gets a third); a reported seed replays with INKWELL_FUZZ_SEED.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export INKWELL_FUZZ_ITERATIONS=${1:-20000}
[[ -n ${2:-} ]] && export INKWELL_FUZZ_SEED=$2
dotnet build "$root/tests/Inkwell.Server.Tests" -c Release --nologo -v quiet -clp:ErrorsOnly
dotnet test "$root/tests/Inkwell.Server.Tests" -c Release --no-build --nologo \
  --filter "FullyQualifiedName~Reliability.BodyFuzzTests|FullyQualifiedName~Reliability.GrpcFuzzTests|FullyQualifiedName~Reliability.CancellationStormTests" \
  --logger "console;verbosity=detailed"

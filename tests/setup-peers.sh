#!/usr/bin/env bash
# Installs the third-party peers some tests talk to (python3-grpcio + protoc for the TGIS gRPC conformance tests;
# npm @huggingface/inference for the TGI REST conformance tests).
# Best effort: tests that need a missing peer skip with a clear reason, so a failure here never fails the run.
set -u
need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1 || need+=(python3-grpcio python3-protobuf)
if ((${#need[@]})) && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  echo "setup-peers: installing ${need[*]}" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || echo "setup-peers: could not install ${need[*]}; the tests that need them will skip" >&2
fi

# npm @huggingface/inference (pinned in tests/peers/hf-inference/package.json) for the Conformance tests.
hf=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/peers/hf-inference
if [[ ! -f $hf/node_modules/@huggingface/inference/package.json ]]; then
  if command -v npm >/dev/null 2>&1; then
    echo "setup-peers: npm ci in $hf" >&2
    (cd "$hf" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >/dev/null 2>&1 \
      || echo "setup-peers: npm ci failed in $hf; the hf-inference conformance tests will skip" >&2
  else
    echo "setup-peers: no npm; the hf-inference conformance tests will skip" >&2
  fi
fi
exit 0

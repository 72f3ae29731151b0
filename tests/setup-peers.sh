#!/usr/bin/env bash
# Installs the third-party peers some tests talk to (python3-grpcio + protoc for the TGIS gRPC conformance tests,
# the openai npm client for the OpenAI one, npm @huggingface/inference for the TGI REST one, Debian's chromium for
# the playground's browser tests, which Playwright launches by its path).
# Best effort: tests that need a missing peer skip with a clear reason, so a failure here never fails the run.
set -u
need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
python3 -c 'import grpc, google.protobuf' >/dev/null 2>&1 || need+=(python3-grpcio python3-protobuf)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
if ((${#need[@]})) && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  echo "setup-peers: installing ${need[*]}" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || echo "setup-peers: could not install ${need[*]}; the tests that need them will skip" >&2
fi

# The openai npm client for the OpenAI conformance test (tests/peers/openai); needs node and npm.
peer_openai="$(dirname "${BASH_SOURCE[0]}")/peers/openai"
if [[ ! -f $peer_openai/node_modules/openai/package.json ]] && command -v npm >/dev/null 2>&1; then
  echo "setup-peers: npm ci in $peer_openai" >&2
  (cd "$peer_openai" && timeout 300 npm ci --no-audit --no-fund) >/dev/null 2>&1 \
    || echo "setup-peers: could not install the openai npm package; its test will skip" >&2
fi

# npm @huggingface/inference (pinned in tests/peers/hf-inference/package.json) for the TGI REST conformance test.
peer_hf="$(dirname "${BASH_SOURCE[0]}")/peers/hf-inference"
if [[ ! -f $peer_hf/node_modules/@huggingface/inference/package.json ]] && command -v npm >/dev/null 2>&1; then
  echo "setup-peers: npm ci in $peer_hf" >&2
  (cd "$peer_hf" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >/dev/null 2>&1 \
    || echo "setup-peers: could not install @huggingface/inference; the hf-inference conformance test will skip" >&2
fi
exit 0

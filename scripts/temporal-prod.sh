#!/usr/bin/env bash
# Finds or builds the full Temporal server and its SQL schema tool (the production topology's, not the
# dev server), and prints TEMPORAL_SERVER_PATH=, TEMPORAL_SQL_TOOL_PATH=, TEMPORAL_SCHEMA_DIR= and
# TEMPORAL_CONFIG_TEMPLATE= (the temporalio/server image's config template, from the same module).
# Built once with the Go toolchain from the Go module proxy (about 5 minutes; the module has no
# `replace`), into ~/.cache/model-rollout/temporal-server-<version>. `--locate` only looks.
set -euo pipefail
CACHE="${MODEL_ROLLOUT_CACHE:-$HOME/.cache/model-rollout}"
VERSION="${TEMPORAL_SERVER_VERSION:-1.29.1}"
dir="$CACHE/temporal-server-$VERSION"
log() { echo "temporal-prod: $*" >&2; }
export PATH="$PATH:/usr/local/go/bin"

if [ ! -x "$dir/bin/temporal-server" ] || [ ! -x "$dir/bin/temporal-sql-tool" ] || [ ! -d "$dir/schema/postgresql" ] || [ ! -f "$dir/config_template.yaml" ]; then
  if [ "${1:-}" = "--locate" ]; then log "not built (run scripts/temporal-prod.sh)"; exit 1; fi
  command -v go >/dev/null 2>&1 || { log "Go is needed to build the Temporal server (apt-get install golang, or /usr/local/go)"; exit 1; }
  log "building the Temporal server $VERSION and its SQL tool with $(go version | cut -d' ' -f3) (once, about 5 minutes)"
  mkdir -p "$dir/bin"
  GOTOOLCHAIN=local GOBIN="$dir/bin" GOFLAGS=-mod=mod go install "go.temporal.io/server/cmd/server@v$VERSION" "go.temporal.io/server/cmd/tools/sql@v$VERSION"
  mv -f "$dir/bin/server" "$dir/bin/temporal-server"
  mv -f "$dir/bin/sql" "$dir/bin/temporal-sql-tool"
  src="$(go env GOMODCACHE)/go.temporal.io/server@v$VERSION/schema"
  rm -rf "$dir/schema" && cp -r "$src" "$dir/schema" && chmod -R u+w "$dir/schema"
  cp "$(dirname "$src")/docker/config_template.yaml" "$dir/config_template.yaml" && chmod u+w "$dir/config_template.yaml"
fi
echo "TEMPORAL_SERVER_PATH=$dir/bin/temporal-server"
echo "TEMPORAL_SQL_TOOL_PATH=$dir/bin/temporal-sql-tool"
echo "TEMPORAL_SCHEMA_DIR=$dir/schema"
echo "TEMPORAL_CONFIG_TEMPLATE=$dir/config_template.yaml"

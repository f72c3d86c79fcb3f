#!/bin/sh
# Runs in temporalio/admin-tools: creates Temporal's two PostgreSQL databases and applies every schema
# version. Idempotent: create tolerates an existing database, update-schema applies only what is missing.
# The process stack (scripts/prod-stack.ts) runs this same script, with the schema from the Go module.
set -eu
schema_root="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}"
for db in temporal temporal_visibility; do
  case "$db" in
    temporal) schema="$schema_root/postgresql/v12/temporal/versioned" ;;
    *) schema="$schema_root/postgresql/v12/visibility/versioned" ;;
  esac
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" --db "$db" create || true
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" --db "$db" setup-schema -v 0.0 || true
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" --db "$db" update-schema -d "$schema"
done
echo "PostgreSQL schemas ready"

#!/usr/bin/env bash
# Finds, or obtains, the two Temporal servers this project runs against, on a machine with no direct
# internet: the SDK's own download of them fails there.
#
#   dev server (`temporal server start-dev`: SQLite, Web UI), in this order:
#     1. $TEMPORAL_CLI_PATH
#     2. a `temporal` binary on PATH
#     3. the project's tool cache ($MODEL_ROLLOUT_CACHE, default ~/.cache/model-rollout)
#     4. built with `go install` into that cache (first build takes minutes; later runs reuse it)
#   time-skipping test server (Java, io.temporal:temporal-test-server):
#     1. $TEMPORAL_TEST_SERVER_PATH
#     2. a wrapper in the tool cache whose classpath Maven fetched earlier
#     3. the classpath fetched with Maven now
#   When neither Go nor Maven is there, nothing is printed for that server, and callers fall back to the
#   SDK's own download (which works on a machine with internet).
#
# Usage: temporal-servers.sh [--locate]
#   --locate  only look (steps 1-3), never build or fetch: fast, for test setup and `npm run dev`.
# Prints KEY=VALUE lines: TEMPORAL_CLI_PATH=..., TEMPORAL_TEST_SERVER_PATH=... (each only when found).
set -euo pipefail

CLI_VERSION="v1.5.1"             # newest tag `go install` accepts: later ones carry a `replace` directive
TEST_SERVER_VERSION="1.38.0"     # >= 1.36: older ones never set continueAsNewSuggested
CACHE="${MODEL_ROLLOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/model-rollout}"
locate_only=false
[ "${1:-}" = "--locate" ] && locate_only=true

say() { echo "temporal-servers: $*" >&2; }

find_cli() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
    [ -x "$TEMPORAL_CLI_PATH" ] || { say "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file"; exit 1; }
    echo "$TEMPORAL_CLI_PATH"; return
  fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  if [ -x "$CACHE/bin/temporal" ]; then echo "$CACHE/bin/temporal"; return; fi
  $locate_only && return
  if command -v go >/dev/null 2>&1; then
    say "building the Temporal CLI $CLI_VERSION with go install into $CACHE/bin (first time only; several minutes)"
    mkdir -p "$CACHE/bin"
    GOTOOLCHAIN=local GOBIN="$CACHE/bin" GOFLAGS=-trimpath \
      go install "github.com/temporalio/cli/cmd/temporal@$CLI_VERSION" >&2
    echo "$CACHE/bin/temporal"; return
  fi
  say "no Temporal CLI: set TEMPORAL_CLI_PATH, put 'temporal' on PATH, or install Go; falling back to the SDK's download"
}

find_test_server() {
  if [ -n "${TEMPORAL_TEST_SERVER_PATH:-}" ]; then
    [ -x "$TEMPORAL_TEST_SERVER_PATH" ] || { say "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH is not an executable file"; exit 1; }
    echo "$TEMPORAL_TEST_SERVER_PATH"; return
  fi
  # "-2": the classpath adds slf4j-nop, so the server does not print SLF4J's warning on every start.
  local dir="$CACHE/test-server-$TEST_SERVER_VERSION-2"
  local wrapper="$dir/temporal-test-server"
  if [ -x "$wrapper" ] && [ -s "$dir/classpath.txt" ]; then echo "$wrapper"; return; fi
  $locate_only && return
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    say "no Java test server: set TEMPORAL_TEST_SERVER_PATH, or install Java and Maven; falling back to the SDK's download"
    return
  fi
  say "fetching io.temporal:temporal-test-server:$TEST_SERVER_VERSION with Maven into $dir (first time only)"
  mkdir -p "$dir"
  cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.model-rollout</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEST_SERVER_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$dir/pom.xml" dependency:build-classpath -Dmdep.outputFile="$dir/classpath.txt" >&2
  # The SDK kills only its direct child, so the wrapper must exec java, not fork it. It also allows the
  # server only 5 seconds to answer: lean flags (serial GC, C1 only, small heap) keep start-up short.
  cat > "$wrapper" <<WRAP
#!/bin/sh
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xms64m -Xmx512m -Xshare:auto \\
  -cp "\$(cat "$dir/classpath.txt")" io.temporal.testserver.TestServer "\$@"
WRAP
  chmod +x "$wrapper"
  echo "$wrapper"
}

cli=$(find_cli)
test_server=$(find_test_server)
[ -n "$cli" ] && echo "TEMPORAL_CLI_PATH=$cli"
[ -n "$test_server" ] && echo "TEMPORAL_TEST_SERVER_PATH=$test_server"
exit 0

#!/bin/sh
# Makes a worker build the current version of its worker deployment (Worker Versioning): new releases
# start on it, and releases in flight move to it at their next workflow task (they auto-upgrade; see the
# README). Run after the build's workers are up: a version exists once one of its workers has polled, so
# this retries until then. The previous build's workers can be stopped once this has succeeded.
#   DEPLOYMENT=model-rollout BUILD_ID=<build> TEMPORAL_ADDRESS=host:7233 set-current-version.sh
set -eu
: "${DEPLOYMENT:?DEPLOYMENT: the worker deployment's name (TEMPORAL_WORKER_DEPLOYMENT of the workers)}"
: "${BUILD_ID:?BUILD_ID: the build to make current (TEMPORAL_WORKER_BUILD_ID of the workers)}"
NAMESPACE=${NAMESPACE:-default}
tries=0
until temporal worker deployment set-current-version --namespace "$NAMESPACE" \
        --deployment-name "$DEPLOYMENT" --build-id "$BUILD_ID" --yes >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 90 ]; then
    echo "build $BUILD_ID of $DEPLOYMENT never became current: are its workers polling?" >&2
    exit 1
  fi
  sleep 1
done
echo "build $BUILD_ID is the current version of $DEPLOYMENT"

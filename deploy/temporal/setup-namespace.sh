#!/bin/sh
# Runs in temporalio/admin-tools once Temporal answers (and, in the process stack, on the host): the
# namespace and the search attributes that the release workflow upserts (they must exist before a
# release starts). Keep in step with src/constants.ts. A namespace just created takes seconds to reach
# every service, so each search attribute is retried until it exists; the script fails if one never does.
set -eu
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 || temporal operator namespace create -n "$NAMESPACE"
for attr in RolloutModel:Keyword RolloutCandidateVersion:Keyword RolloutChampionVersion:Keyword \
            RolloutPhase:Keyword RolloutTrafficPercent:Int RolloutStrategy:Keyword; do
  name=${attr%%:*}
  type=${attr##*:}
  tries=0
  until temporal operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null | grep -q "^ *$name "; do
    tries=$((tries + 1))
    if [ "$tries" -gt 60 ]; then
      echo "search attribute $name was never created" >&2
      exit 1
    fi
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type" >/dev/null 2>&1 || sleep 1
  done
done
echo "namespace $NAMESPACE and search attributes ready"

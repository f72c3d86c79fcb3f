#!/bin/sh
# Runs in temporalio/admin-tools once Temporal answers: the namespace and the search attributes that the
# release workflow upserts (they must exist before a release starts). Keep in step with src/constants.ts.
set -eu
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 || temporal operator namespace create -n "$NAMESPACE"
for attr in RolloutModel:Keyword RolloutCandidateVersion:Keyword RolloutChampionVersion:Keyword \
            RolloutPhase:Keyword RolloutTrafficPercent:Int RolloutStrategy:Keyword; do
  name=${attr%%:*}
  type=${attr##*:}
  temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type" || true
done
echo "namespace $NAMESPACE and search attributes ready"

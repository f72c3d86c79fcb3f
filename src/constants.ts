// Names that cross process boundaries: the worker, the CLI, tests and the Temporal UI must agree on them.
// Imports nothing but workflow-safe modules, so workflow code can use it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const TASK_QUEUE = 'model-rollout';

/** Custom search attributes: upserted on every transition so the Web UI's list can filter releases. */
export const SearchAttributes = {
  model: defineSearchAttributeKey('RolloutModel', SearchAttributeType.KEYWORD),
  candidateVersion: defineSearchAttributeKey('RolloutCandidateVersion', SearchAttributeType.KEYWORD),
  championVersion: defineSearchAttributeKey('RolloutChampionVersion', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('RolloutPhase', SearchAttributeType.KEYWORD),
  trafficPercent: defineSearchAttributeKey('RolloutTrafficPercent', SearchAttributeType.INT),
  strategy: defineSearchAttributeKey('RolloutStrategy', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SearchAttributes);

/** The one builder of a release's search attributes: the client sets them at start, the workflow on every change. */
export function releaseSearchAttributes(r: { model: string; candidate: string; champion: string; phase: string; trafficPercent: number; strategy: string }) {
  return [
    { key: SearchAttributes.model, value: r.model },
    { key: SearchAttributes.candidateVersion, value: r.candidate },
    { key: SearchAttributes.championVersion, value: r.champion },
    { key: SearchAttributes.phase, value: r.phase },
    { key: SearchAttributes.trafficPercent, value: r.trafficPercent },
    { key: SearchAttributes.strategy, value: r.strategy },
  ];
}

/**
 * One release per model at a time: the workflow ID is the model's, so Temporal itself refuses a second
 * concurrent release of the same model, whatever client starts it.
 */
export function releaseWorkflowId(model: string): string {
  return `release/${model}`;
}

// The release's closed vocabularies and the shapes that leave the workflow (status, result, timeline).
// Imports nothing but zod and siblings, so it bundles into workflow code.
import { z } from 'zod';
import type { GateResult } from './gates';
import type { PlanStep, TrafficMode } from './manifest';

export const Phase = z.enum([
  'pending',
  'evaluating',
  'shadowing',
  'warming',
  'smoke-testing',
  'canary',
  'awaiting-approval',
  'promoting',
  'watching',
  'retiring',
  'rolling-back',
  // final
  'promoted',
  'rolled-back',
  'rejected',
  'aborted',
  'failed',
]);
export type Phase = z.infer<typeof Phase>;

export const Outcome = z.enum(['promoted', 'rolled-back', 'rejected', 'aborted', 'failed']);
export type Outcome = z.infer<typeof Outcome>;

export const FINAL_PHASES: readonly Phase[] = Outcome.options;

export const RollbackTrigger = z.enum([
  'evaluation-failed',
  'shadow-failed',
  'smoke-failed',
  'warm-failed',
  'gate-breach',
  'watch-breach',
  'insufficient-data',
  'approval-timeout',
  'pause-timeout',
  'rejected',
  'manual-abort',
  'error',
]);
export type RollbackTrigger = z.infer<typeof RollbackTrigger>;

/** The outcome each trigger ends a release with. */
export function outcomeOf(trigger: RollbackTrigger): Outcome {
  switch (trigger) {
    case 'rejected':
      return 'rejected';
    case 'manual-abort':
      return 'aborted';
    case 'error':
      return 'failed';
    default:
      return 'rolled-back';
  }
}

export const Action = z.enum(['approve', 'reject', 'abort', 'pause', 'resume', 'promote']);
export type Action = z.infer<typeof Action>;

/** Payload of every human action, signal or update: who, and why. */
export const ActionPayload = z.strictObject({
  by: z.string().trim().min(1, 'who is acting: "by" must name a person or system').max(128),
  reason: z.string().max(2000).default(''),
});
export type ActionPayload = z.infer<typeof ActionPayload>;
/** Releases started before payloads became strict drop unknown fields, as they did then, so they replay as they ran. */
export const AcceptedActionPayload = ActionPayload.strip();
export type ActionPayloadInput = z.input<typeof ActionPayload>;

/**
 * The workflow's input, checked at its first line before anything else (the `temporal` CLI can send any
 * JSON, `null` included): a bad input fails the release at once, naming the field, and starts nothing.
 */
export const ReleaseWorkflowInputSchema = z.strictObject({
  /** The release manifest as written; validated by its own schema next. */
  manifest: z.unknown().refine((m) => m !== undefined && m !== null, 'a release manifest is required'),
  requestedBy: z.string().trim().min(1).max(128).optional(),
  options: z
    .strictObject({
      /** Continue-as-new once a run's history passes this many events, or when the server suggests it. Default 8,000. */
      historyEventLimit: z.number().int().min(100).max(50_000).optional(),
      /**
       * Continue-as-new once a run's history passes this many bytes, and the run has added half of it
       * itself (a run that starts large, with the state it carries, is not cut at once). Default 1 MiB.
       */
      historySizeLimit: z.number().int().min(1024 * 1024).max(50 * 1024 * 1024).optional(),
      /**
       * Who takes the looks of a step checked more often than once a minute: the takeChecks activity
       * (`activity`, the default), or the workflow, one timer a look (`workflow`). Under a time-skipping
       * server (the simulator) it must be the workflow: an activity's sleep runs on the wall clock, which
       * that server neither skips nor shares with the workflow.
       */
      looks: z.enum(['activity', 'workflow']).optional(),
    })
    .optional(),
  /** Set by continue-as-new only. */
  carried: z.record(z.string(), z.unknown()).optional(),
});

export interface ActionAck {
  accepted: true;
  action: Action;
  phase: Phase;
  message: string;
}

/**
 * The one closed list of failure types: every ApplicationFailure the workflow and the activities throw
 * carries one of these, and nothing else.
 */
export const ErrorType = z.enum([
  /** The manifest or the workflow input is invalid; nothing was started. */
  'InvalidManifest',
  /** An action's payload is invalid, or the action cannot be taken now. */
  'InvalidAction',
  /** Another version of the model has a release in flight. */
  'ReleaseConflict',
  /** The router is unreachable, refused a change, or refused the credentials. */
  'RouterUnavailable',
  /** The router took a change but reads back something else. */
  'RouteNotVerified',
  /**
   * The router refused the route itself (a version it has no backend for, a config it rejects): retrying
   * cannot help, so a release in its forward path rolls back.
   */
  'RouteRefused',
  /** The metrics backend is unreachable or failed. */
  'MetricsUnavailable',
  /** The metrics backend refused a query as malformed (a PromQL template). */
  'BadMetricsQuery',
  /** The registry is unreachable, failed, or refused the credentials. */
  'RegistryUnavailable',
  /** The registry refused a change. */
  'RegistryRefused',
  /** A backend answered with something its adapter cannot read. */
  'BadBackendResponse',
  /** A model, version, alias or dataset does not exist. */
  'NotFound',
]);
export type ErrorType = z.infer<typeof ErrorType>;

export const TimelineType = z.enum([
  'started',
  'step-started',
  'step-completed',
  'traffic',
  'measurement',
  'action',
  'action-ignored',
  'approval-requested',
  'approval-reminder',
  'approval-paged',
  'rollback-started',
  'compensation',
  'compensation-retry',
  'router-retry',
  'registry-failed',
  'rollback-completed',
  'notification-failed',
  'looks-failed',
  'continued-as-new',
  'completed',
]);

export interface TimelineEntry {
  /** ISO time. */
  at: string;
  type: z.infer<typeof TimelineType>;
  message: string;
  step?: number;
  by?: string;
  reason?: string;
  data?: unknown;
  /** Identical consecutive measurements are merged: how many, and the last one's time. */
  count?: number;
  lastAt?: string;
}

export interface Traffic {
  /** Share of live traffic the candidate serves. */
  candidatePercent: number;
  mode: TrafficMode;
  /** Share of requests mirrored to the candidate, 0 when no shadow. */
  shadowSampleRate: number;
  /** The previous version is still behind the router, ready for instant rollback. */
  previousWarm: boolean;
}

export interface PendingApproval {
  step: number;
  reason: string;
  approvers: string[];
  requestedAt: string;
  deadline: string;
  onTimeout: 'abort' | 'hold';
  held: boolean;
}

export interface RollbackRecord {
  trigger: RollbackTrigger;
  by?: string;
  reason: string;
  startedAt: string;
  /** When traffic was verified back on the champion. */
  trafficRestoredAt?: string;
  completedAt?: string;
  /** The measurements that caused it, if a gate did. */
  evidence: GateResult[];
  /** Requests the candidate served during the release. */
  impact: { candidateRequests: number | null; candidateErrors: number | null };
  compensationFailures: string[];
}

export interface ReleaseStatus {
  releaseId: string;
  model: string;
  candidate: string;
  champion: string;
  strategy: string;
  blastRadius: string;
  phase: Phase;
  outcome: Outcome | null;
  stepIndex: number;
  plan: { kind: PlanStep['kind']; description: string }[];
  traffic: Traffic;
  gates: Record<string, GateResult & { at: string }>;
  pendingApproval: PendingApproval | null;
  paused: { by: string; reason: string; since: string; deadline: string } | null;
  /** When the release next moves on its own (end of a bake, next measurement, a deadline). */
  nextTransitionAt: string | null;
  startedAt: string;
  updatedAt: string;
  rollback: RollbackRecord | null;
  timeline: TimelineEntry[];
  /** Entries the timeline's bounds removed (src/domain/timeline.ts); the event history keeps them. */
  timelineTrimmed?: number;
  /** Runs of the workflow so far (continue-as-new keeps history bounded). */
  run: number;
}

export interface ReleaseResult {
  outcome: Outcome;
  status: ReleaseStatus;
}

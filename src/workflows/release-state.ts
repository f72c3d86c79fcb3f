// What a release carries: its input, the state handed across continue-as-new, each step's progress, the
// compensation stack, and the decision to roll back that travels up to the one place that runs it.
import type { RouteSpec } from '../activities';
import type { GateOutcome, GateResult, VariantStats } from '../domain/gates';
import type { CanaryJudgeState, ShadowJudgeState, TestBudget } from '../domain/judge';
import type { PlanStep } from '../domain/manifest';
import type { z } from 'zod';
import type { ActionPayload, Outcome, PendingApproval, Phase, ReleaseStatus, ReleaseWorkflowInputSchema, RollbackRecord, RollbackTrigger, TimelineEntry } from '../domain/release';

/** What a release may be asked beyond its manifest: the input schema's `options` (src/domain/release.ts). */
export type ReleaseWorkflowOptions = NonNullable<z.infer<typeof ReleaseWorkflowInputSchema>['options']>;

export interface ReleaseWorkflowInput {
  /** The release manifest as written (YAML parsed to JSON); validated again at the workflow's first line. */
  manifest: unknown;
  /** Who started the release. */
  requestedBy?: string;
  options?: ReleaseWorkflowOptions;
  /** Set by continue-as-new only. */
  carried?: CarriedState;
}

export type Compensation =
  | { kind: 'restoreTraffic' }
  | { kind: 'disableShadow' }
  | { kind: 'restoreAlias'; alias: string; version: string | null };

export interface StepProgress {
  startedAt: number;
  pausedMs: number;
  consecutiveFailures: number;
  lastOutcome: GateOutcome | null;
  lastResults: GateResult[];
  lastMeasuredAt: number | null;
  /** Active (unpaused) time into the step at the last measurement. */
  lastMeasuredElapsed: number;
  reminderSent: boolean;
  /** Sequential gates: the tests' state, and the end of the last interval they were fed. */
  canary?: CanaryJudgeState;
  shadow?: ShadowJudgeState;
  judgedTo?: number;
}

export interface CarriedState {
  releaseId: string;
  requestedBy: string;
  startedAt: number;
  run: number;
  champion: string;
  plan: PlanStep[];
  stepIndex: number;
  step: StepProgress | null;
  phase: Phase;
  generation: number;
  route: RouteSpec | null;
  compensations: Compensation[];
  gates: ReleaseStatus['gates'];
  pendingApproval: PendingApproval | null;
  paused: (NonNullable<ReleaseStatus['paused']> & { sinceMs: number }) | null;
  decision: { action: 'approve' | 'reject'; payload: ActionPayload } | null;
  promote: ActionPayload | null;
  abort: ActionPayload | null;
  baseline: VariantStats | null;
  nextTransitionAt: number | null;
  timeline: TimelineEntry[];
  rollback: RollbackRecord | null;
  outcome: Outcome | null;
  /**
   * Releases started since the sequential gates carry `sequential` and their per-step alpha; releases
   * started before keep the fixed-horizon gates they began with, across continue-as-new too.
   */
  judge?: 'sequential';
  budget?: (TestBudget | null)[];
  timelineTrimmed?: number;
}

/** A decision to roll back, carried up the stack to the one place that runs compensations. */
export class RollbackRequested extends Error {
  constructor(
    readonly trigger: RollbackTrigger,
    readonly reason: string,
    readonly evidence: GateResult[] = [],
    readonly by?: string,
  ) {
    super(`${trigger}: ${reason}`);
  }
}

export function newProgress(now: number): StepProgress {
  return {
    startedAt: now,
    pausedMs: 0,
    consecutiveFailures: 0,
    lastOutcome: null,
    lastResults: [],
    lastMeasuredAt: null,
    lastMeasuredElapsed: -1,
    reminderSent: false,
  };
}

/** Traffic is restored before anything else; the rest keeps stack order. */
export function rank(c: Compensation): number {
  return c.kind === 'restoreTraffic' ? 0 : 1;
}

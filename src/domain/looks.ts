// One look of a timed analysis step (shadow, bake, watch under the sequential gates): when it is due,
// what it measures and how it is judged. Pure but for the `measure` port it is given, so the workflow
// (with local activities) and the takeChecks activity (with the metrics backend itself) look alike.
import type { AnalysisProgress } from './analysis';
import type { GateName, GateResult, ShadowReport, VariantStats } from './gates';
import {
  judgeCanary,
  judgeShadow,
  newCanaryJudgeState,
  newShadowJudgeState,
  REFERENCE_WARMUP_MS,
  seedReference,
  type CanaryJudgeState,
  type ShadowJudgeState,
  type TestBudget,
} from './judge';
import type { Gates } from './manifest';

export const CANARY_GATES: GateName[] = ['business-metric', 'error-rate', 'latency-p99'];
export const SHADOW_GATES: GateName[] = ['shadow-divergence', 'shadow-distribution'];

/** What a step has seen so far: the analysis's counters, its clock and the sequential tests' state. */
export interface LookProgress extends AnalysisProgress {
  startedAt: number;
  /** Paused time already closed; a step under way in takeChecks is never paused. */
  pausedMs: number;
  lastMeasuredAt: number | null;
  canary?: CanaryJudgeState;
  shadow?: ShadowJudgeState;
  judgedTo?: number;
}

export interface LookLimits {
  minMs: number;
  maxMs: number;
  intervalMs: number;
}

/** Active time into an unpaused step. */
export function activeElapsed(p: LookProgress, now: number): number {
  return now - p.startedAt - p.pausedMs;
}

/**
 * When the next look is due in an unpaused step: an interval after the last, but at once if the minimum
 * has been reached since, and never past the minimum or the maximum without a look.
 */
export function nextLookAt(p: LookProgress, l: LookLimits, now: number): number {
  const elapsed = activeElapsed(p, now);
  if (finalLookDue(p, l, now)) return now;
  const untilMin = elapsed < l.minMs ? now + l.minMs - elapsed : Infinity;
  return Math.min((p.lastMeasuredAt ?? p.startedAt) + l.intervalMs, untilMin, now + l.maxMs - elapsed);
}

/** Whether a look is due at `at`: its interval is over, or the minimum was just reached. */
export function lookDue(p: LookProgress, l: LookLimits, at: number): boolean {
  return at >= (p.lastMeasuredAt ?? p.startedAt) + l.intervalMs || finalLookDue(p, l, at);
}

function finalLookDue(p: LookProgress, l: LookLimits, at: number): boolean {
  return activeElapsed(p, at) >= l.minMs && p.lastMeasuredElapsed < l.minMs;
}

/** A measurement that could not be taken is missing data, never a pass, on every gate of the step. */
export function unavailable(err: unknown, gates: GateName[]): GateResult[] {
  return gates.map((gate) => ({
    gate,
    outcome: 'insufficient-data',
    summary: `metrics unavailable: ${causeOf(err)}`,
    observed: null,
    threshold: 0,
    evidence: { error: causeOf(err) },
  }));
}

export function causeOf(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.message ?? String(err);
}

export interface LookSubject {
  model: string;
  champion: string;
  candidate: string;
  gates: Gates;
  budget: TestBudget;
}

/**
 * The canary's look: the candidate and the champion over the same interval, since the last interval
 * judged (an interval whose measurement failed is judged with the next one), fed to the step's tests.
 * The first look seeds the champion's reference with its hour before the step.
 */
export async function canaryLook(
  p: LookProgress,
  to: number,
  s: LookSubject,
  measure: (version: string, window: { from: number; to: number }) => Promise<VariantStats>,
): Promise<GateResult[]> {
  const window = { from: p.judgedTo ?? p.startedAt, to };
  if (!p.canary) {
    const before = await measure(s.champion, { from: p.startedAt - REFERENCE_WARMUP_MS, to: p.startedAt }).catch(() => null);
    p.canary = before ? seedReference(newCanaryJudgeState(), before) : newCanaryJudgeState();
  }
  const [cand, champ] = await Promise.all([measure(s.candidate, window), measure(s.champion, window)]);
  const { state, results } = judgeCanary(p.canary, cand, champ, s.gates, s.budget);
  p.canary = state;
  p.judgedTo = to;
  return results;
}

/** The shadow's look: everything mirrored since the step started, fed to the divergence tests. */
export function shadowLook(p: LookProgress, report: ShadowReport, s: LookSubject): GateResult[] {
  const judged = judgeShadow(p.shadow ?? newShadowJudgeState(), report, s.gates, s.budget);
  p.shadow = judged.state;
  return judged.results;
}

/**
 * What the takeChecks activity is asked: keep looking, as the workflow would, and come back with every
 * look once the step is decided (a breach, its end) or `wakeAfterMs` has passed since it began.
 */
export interface LooksRequest {
  kind: 'canary' | 'shadow';
  subject: LookSubject;
  limits: LookLimits & { failureLimit: number; minRequests: number };
  progress: LookProgress;
  /** The shadow's mirrored requests at the last look (its step also needs `minRequests`). */
  requests: number;
  wakeAfterMs: number;
}

export interface LooksReply {
  looks: Array<{ at: number; results: GateResult[] }>;
  progress: LookProgress;
  requests: number;
  /**
   * How long this attempt ran, on the worker's monotonic clock: a duration, so clock skew between worker
   * and server cannot change it. The workflow's clock when it comes back is at least the activity's
   * scheduling plus this; a clock behind that is a query's stale replay (StaleClock). Absent before 2026-12.
   */
  ranMs?: number;
  /** When the server scheduled this attempt (its clock, as the workflow's): a retried attempt began later than the activity. */
  attemptScheduledAt?: number;
}

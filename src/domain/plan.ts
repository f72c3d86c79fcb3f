// Presets expand to plans; plans are data. Pure: unit-tested without Temporal, run inside the workflow.
import { formatDuration, parseDuration } from './duration';
import {
  DEFAULT_WATCH_HOLDBACK,
  PlanStep,
  STANDARD_GATES,
  type Gates,
  type ReleaseManifest,
  type StepOf,
  type Strategy,
  type TrafficMode,
} from './manifest';

interface PresetTimings {
  canarySteps: number[];
  bake: number;
  interval: number;
  bakeExtension: number;
  /** Sliding window of bake measurements; undefined: everything since the bake began. */
  bakeWindow?: number;
  shadow: Omit<StepOf<'shadow'>, 'kind'>;
  watch: number;
  watchWindow: number;
  watchHoldback: number;
  smokeRequests: number;
}

const h = (n: number) => n * 3_600_000;

const STANDARD_TIMINGS: PresetTimings = {
  canarySteps: [5, 25, 50],
  bake: h(24),
  interval: parseDuration('5m'),
  bakeExtension: h(12),
  shadow: { sampleRate: 1, minRequests: 10_000, minDuration: h(48), maxDuration: h(24 * 7), interval: h(1) },
  watch: h(72),
  watchWindow: h(1),
  watchHoldback: DEFAULT_WATCH_HOLDBACK,
  smokeRequests: 100,
};

/** Each preset's defaults, before the manifest's `timings` override them. */
export const PRESET_TIMINGS: Record<Strategy, PresetTimings> = {
  standard: STANDARD_TIMINGS,
  'high-stakes': {
    ...STANDARD_TIMINGS,
    canarySteps: [1, 5, 25, 50],
    bake: h(48),
    shadow: { ...STANDARD_TIMINGS.shadow, minRequests: 50_000, minDuration: h(96), maxDuration: h(24 * 14) },
  },
  'blue-green': STANDARD_TIMINGS,
  cohort: { ...STANDARD_TIMINGS, canarySteps: [10, 50] },
};

export interface PlanContext {
  /** Epoch ms of the model's most recent rollback, if any. */
  lastRollbackAt: number | null;
  now: number;
}

/**
 * Why a human must approve the step to 100%, whatever the preset says: a high blast radius, gates looser
 * than the standard release's, or a recent rollback of the same model. Empty when none applies.
 */
export function finalApprovalReasons(m: ReleaseManifest, ctx: PlanContext): string[] {
  const reasons: string[] = [];
  if (m.blastRadius === 'high') reasons.push('blast radius is high');
  const loose = looserThanStandard(m.gates);
  if (loose.length) reasons.push(`gates looser than the standard release: ${loose.join(', ')}`);
  if (ctx.lastRollbackAt !== null && ctx.now - ctx.lastRollbackAt <= m.approvals.recentRollbackWindow) {
    reasons.push(`${m.model} was rolled back at ${new Date(ctx.lastRollbackAt).toISOString()}`);
  }
  return reasons;
}

export function looserThanStandard(g: Gates): string[] {
  const s = STANDARD_GATES;
  const loose: string[] = [];
  if (g.businessMetric.maxRelativeDrop > s.businessMetric.maxRelativeDrop) loose.push('businessMetric.maxRelativeDrop');
  if (g.errorRate.maxIncreasePoints > s.errorRate.maxIncreasePoints) loose.push('errorRate.maxIncreasePoints');
  if (g.failureLimit > 3) loose.push('failureLimit');
  if (g.significance > 0.1) loose.push('significance');
  if (g.falseRollbackRate > s.falseRollbackRate) loose.push('falseRollbackRate');
  if (g.shadow.maxDivergenceRate > s.shadow.maxDivergenceRate) loose.push('shadow.maxDivergenceRate');
  if (g.shadow.maxPsi > s.shadow.maxPsi) loose.push('shadow.maxPsi');
  if (g.evaluation.maxRegression > s.evaluation.maxRegression) loose.push('evaluation.maxRegression');
  if (g.evaluation.maxSliceRegression > s.evaluation.maxSliceRegression) loose.push('evaluation.maxSliceRegression');
  if (g.evaluation.maxFairnessGap > s.evaluation.maxFairnessGap) loose.push('evaluation.maxFairnessGap');
  return loose;
}

function resolveTimings(m: ReleaseManifest): PresetTimings {
  const base = PRESET_TIMINGS[m.strategy];
  const t = m.timings;
  return {
    canarySteps: t.canarySteps ?? base.canarySteps,
    bake: t.bake ?? base.bake,
    interval: t.interval ?? base.interval,
    bakeExtension: t.bakeExtension ?? base.bakeExtension,
    bakeWindow: t.bakeWindow ?? base.bakeWindow,
    shadow: { ...base.shadow, ...stripUndefined(t.shadow ?? {}) },
    watch: t.watch ?? base.watch,
    watchWindow: t.watchWindow ?? base.watchWindow,
    watchHoldback: t.watchHoldback ?? base.watchHoldback,
    smokeRequests: t.smokeRequests ?? base.smokeRequests,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The steps a release walks. An explicit plan is taken as written, plus any mandatory final approval. */
export function expandPlan(m: ReleaseManifest, ctx: PlanContext): PlanStep[] {
  const steps = m.plan ? [...m.plan] : presetSteps(m);
  return withFinalApproval(steps, finalApprovalReasons(m, ctx));
}

function presetSteps(m: ReleaseManifest): PlanStep[] {
  const t = resolveTimings(m);
  const bake = (): PlanStep => ({ kind: 'bake', duration: t.bake, interval: t.interval, extension: t.bakeExtension, ...(t.bakeWindow ? { window: t.bakeWindow } : {}) });
  const canary = (mode: TrafficMode, approvalEach: boolean): PlanStep[] =>
    t.canarySteps.flatMap((percent) => [
      ...(approvalEach ? [{ kind: 'approval', reason: `raise traffic to ${percent}%` } as const] : []),
      { kind: 'setTraffic', percent, mode } as const,
      bake(),
    ]);
  const finish = (mode: 'weighted' | 'atomic'): PlanStep[] => [
    { kind: 'fullRollout', mode, holdback: t.watchHoldback },
    { kind: 'watch', duration: t.watch, interval: t.interval, window: t.watchWindow, extension: t.bakeExtension },
    { kind: 'retire' },
  ];
  const shadow: PlanStep = { kind: 'shadow', ...t.shadow };

  switch (m.strategy) {
    case 'standard':
      return [{ kind: 'evaluate' }, shadow, ...canary('weighted', false), ...finish('weighted')];
    case 'high-stakes':
      return [
        { kind: 'evaluate' },
        shadow,
        ...canary('weighted', true),
        { kind: 'approval', reason: 'raise traffic to 100%' },
        ...finish('weighted'),
      ];
    case 'blue-green':
      return [
        { kind: 'evaluate' },
        { kind: 'warm' },
        { kind: 'smoke', requests: t.smokeRequests, maxErrorRate: 0.01 },
        ...finish('atomic'),
      ];
    case 'cohort':
      return [{ kind: 'evaluate' }, ...canary('cohort', false), ...finish('weighted')];
  }
}

function withFinalApproval(steps: PlanStep[], reasons: string[]): PlanStep[] {
  if (reasons.length === 0) return steps;
  const full = steps.findIndex((s) => s.kind === 'fullRollout');
  if (full > 0 && steps[full - 1]?.kind === 'approval') {
    const prev = steps[full - 1] as StepOf<'approval'>;
    return steps.map((s, i) => (i === full - 1 ? { ...prev, reason: `${prev.reason}; ${reasons.join('; ')}` } : s));
  }
  return [...steps.slice(0, full), { kind: 'approval', reason: `before 100%: ${reasons.join('; ')}` }, ...steps.slice(full)];
}

/** One line per step, for `rollout validate`, the UI's static details and logs. */
export function describeStep(step: PlanStep): string {
  const d = formatDuration;
  switch (step.kind) {
    case 'evaluate':
      return `offline evaluation${step.dataset ? ` on ${step.dataset}` : ''}`;
    case 'shadow':
      return `shadow ${Math.round(step.sampleRate * 100)}% of requests until ≥${step.minRequests} and ≥${d(step.minDuration)} (at most ${d(step.maxDuration)})`;
    case 'setTraffic':
      return `${step.mode === 'cohort' ? 'cohort' : 'canary'} traffic to ${step.percent}%`;
    case 'warm':
      return 'warm the candidate (no traffic, health-checked)';
    case 'smoke':
      return `smoke test: ${step.requests} requests, ≤${step.maxErrorRate * 100}% errors`;
    case 'bake':
      return `bake ${d(step.duration)}, gates every ${d(step.interval)}${step.window ? ` over ${d(step.window)}` : ''} (extend ≤${d(step.extension)} on insufficient data)`;
    case 'approval':
      return `approval: ${step.reason}`;
    case 'fullRollout':
      if (step.holdback) {
        return `${step.mode === 'atomic' ? 'atomic switch' : 'traffic'} to ${100 - step.holdback}% (previous version keeps ${step.holdback}% as the watch's reference)`;
      }
      return step.mode === 'atomic' ? 'atomic switch to 100% (previous kept warm)' : '100% to the candidate (previous kept warm)';
    case 'watch':
      return `watch ${d(step.duration)}, gates every ${d(step.interval)} over ${d(step.window)}`;
    case 'retire':
      return 'retire the previous version';
  }
}

export { PlanStep };

// The release manifest: the one external input that starts a release. Imports nothing but zod (and
// siblings that import nothing but zod), so the workflow bundle parses it at its first line too.
//
// Defaults are the domain's standard release (shared/DOMAIN.md); every one can be overridden per release.
import { z } from 'zod';
import { Duration, Interval } from './duration';
import { fieldIssues, formatPath } from './issues';

export const Strategy = z.enum(['standard', 'high-stakes', 'blue-green', 'cohort']);
export type Strategy = z.infer<typeof Strategy>;

/** How costly an error of the candidate is; `high` requires a human approval before 100%. */
export const BlastRadius = z.enum(['low', 'medium', 'high']);
export type BlastRadius = z.infer<typeof BlastRadius>;

/** What a bake does when, after its extension, gates still lack data: wait for a human, or roll back. */
export const InsufficientDataPolicy = z.enum(['hold', 'abort']);
/** What an approval's deadline means: roll back, or page and keep holding (up to `holdFor`). */
export const ApprovalTimeoutPolicy = z.enum(['abort', 'hold']);
/** What a pause's deadline means. */
export const PauseTimeoutPolicy = z.enum(['abort', 'resume']);
/** `weighted`: a random split per request; `cohort`: sticky per user key. */
export const TrafficMode = z.enum(['weighted', 'cohort']);
export type TrafficMode = z.infer<typeof TrafficMode>;
export const EvaluationMetric = z.enum(['accuracy', 'auc', 'f1', 'rmse']);
export type EvaluationMetric = z.infer<typeof EvaluationMetric>;

const Name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit');
const Actor = z.string().trim().min(1).max(128);
const Percent = z.number().gt(0).lt(100);
const Fraction = z.number().min(0).max(1);

// ---------------------------------------------------------------------------------------------------------
// Plan steps: the plan is data, a discriminated union on `kind`. Durations are strings ("24h") in the
// manifest and milliseconds once parsed.

export const EvaluateStep = z.strictObject({
  kind: z.literal('evaluate'),
  /** Holdout dataset to score champion and challenger on. Default: the evaluator's configured dataset. */
  dataset: z.string().min(1).max(1024).optional(),
});

export const ShadowStep = z.strictObject({
  kind: z.literal('shadow'),
  /** Share of production requests mirrored to the challenger. Default 1 (every request). */
  sampleRate: z.number().gt(0).max(1).default(1),
  /** Mirrored requests needed before the shadow can pass. Default 10,000. */
  minRequests: z.number().int().positive().max(1_000_000_000).default(10_000),
  /** Time needed before the shadow can pass (both minimums must hold). Default 48h. */
  minDuration: Duration.prefault('48h'),
  /** Bound on the wait for `minRequests`; past it, the insufficient-data policy applies. Default 7d. */
  maxDuration: Duration.prefault('7d'),
  /** How often divergence is measured (at least 1s). Default 1h. */
  interval: Interval.prefault('1h'),
});

export const SetTrafficStep = z.strictObject({
  kind: z.literal('setTraffic'),
  /** Share of traffic the candidate receives, 0 < percent < 100. */
  percent: Percent,
  /** `weighted`: random split per request; `cohort`: sticky per user. Default weighted. */
  mode: TrafficMode.default('weighted'),
});

export const WarmStep = z.strictObject({
  /** Blue/green: the candidate is put behind the router with no traffic and must answer health checks. */
  kind: z.literal('warm'),
});

export const SmokeStep = z.strictObject({
  kind: z.literal('smoke'),
  /** Requests sent straight to the candidate. Default 100. */
  requests: z.number().int().positive().max(100_000).default(100),
  /** Highest error share the smoke test tolerates. Default 0.01. */
  maxErrorRate: Fraction.default(0.01),
});

export const BakeStep = z.strictObject({
  kind: z.literal('bake'),
  /** How long the traffic step is held while gates run. Default 24h. */
  duration: Duration.prefault('24h'),
  /** How often gates are measured during the bake (at least 1s). Default 5m. */
  interval: Interval.prefault('5m'),
  /** How long the bake may extend while gates lack data. Default 12h. */
  extension: Duration.prefault('12h'),
  /** Sliding measurement window. Default: everything since the step started. */
  window: Duration.optional(),
});

export const ApprovalStep = z.strictObject({
  kind: z.literal('approval'),
  /** Why a human must look: shown to approvers. */
  reason: z.string().min(1).max(500).default('approval required'),
});

/** Percent of traffic the previous version keeps during the watch, as its concurrent reference. */
export const DEFAULT_WATCH_HOLDBACK = 10;
const Holdback = z.number().min(1).max(20);

export const FullRolloutStep = z.strictObject({
  kind: z.literal('fullRollout'),
  /** `weighted`: route to the candidate; `atomic`: blue/green switch. Either keeps the previous warm. */
  mode: z.enum(['weighted', 'atomic']).default('weighted'),
  /**
   * Percent of traffic the previous version keeps until the watch ends (1–20): the watch compares the
   * candidate with it over the same minutes, so a daily cycle both share is not a regression. Retire
   * moves the rest. Default 10 (`timings.watchHoldback`).
   */
  holdback: Holdback.optional(),
});

export const WatchStep = z.strictObject({
  kind: z.literal('watch'),
  /** Heightened monitoring after 100%, previous version kept deployable. Default 72h. */
  duration: Duration.prefault('72h'),
  /** How often gates are measured (at least 1s). Default 5m. */
  interval: Interval.prefault('5m'),
  /** Sliding window each measurement covers. Default 1h. */
  window: Duration.prefault('1h'),
  /** How long the watch may extend while gates lack data. Default 12h. */
  extension: Duration.prefault('12h'),
});

export const RetireStep = z.strictObject({
  /** After a clean watch: the previous version leaves the router and is archived in the registry. */
  kind: z.literal('retire'),
});

export const PlanStep = z.discriminatedUnion('kind', [
  EvaluateStep,
  ShadowStep,
  SetTrafficStep,
  WarmStep,
  SmokeStep,
  BakeStep,
  ApprovalStep,
  FullRolloutStep,
  WatchStep,
  RetireStep,
]);
export type PlanStep = z.infer<typeof PlanStep>;
export type StepKind = PlanStep['kind'];
export type StepOf<K extends StepKind> = Extract<PlanStep, { kind: K }>;

// ---------------------------------------------------------------------------------------------------------
// Gates

export const GatesSchema = z.strictObject({
  /** Requests per variant (and outcomes, for the business metric) before any verdict. Default 1000. */
  minSampleSize: z.number().int().positive().max(100_000_000).default(1000),
  /** Consecutive breaching measurements that roll back. Default 1: any breach rolls back. */
  failureLimit: z.number().int().min(1).max(10).default(1),
  /**
   * The release's false-rollback budget: the probability, at most, that its gates roll back a candidate
   * no worse than the champion beyond the tolerances, over all its stages and looks. Shared out across
   * the gated steps (by the variance factor of each step's comparison, src/domain/judge.ts) and evenly
   * across each step's tests. Default 0.05.
   */
  falseRollbackRate: z.number().gt(0).max(0.5).default(0.05),
  /** Significance level of the fixed-horizon tests of releases started before the sequential gates. Default 0.05. */
  significance: z.number().gt(0).lt(0.5).default(0.05),
  businessMetric: z
    .strictObject({
      /** Name of the primary business metric (conversion, click-through, approval rate, …). */
      name: z.string().min(1).max(128).default('conversion'),
      /** Largest relative drop of the candidate's rate against the champion's. Default 0.02 (2%). */
      maxRelativeDrop: Fraction.default(0.02),
    })
    .prefault({}),
  errorRate: z
    .strictObject({
      /** Largest increase of the candidate's error rate, in percentage points. Default 0.5. */
      maxIncreasePoints: z.number().min(0).max(100).default(0.5),
    })
    .prefault({}),
  latency: z
    .strictObject({
      /** p99 latency SLA in milliseconds. Default 250. */
      p99SlaMs: z.number().positive().default(250),
      /**
       * Largest relative p99 increase over the reference (champion cohort or baseline) tolerated when the
       * candidate is also significantly slower by a Mann–Whitney test. Default 0.5 (+50%).
       */
      maxP99Increase: z.number().min(0).default(0.5),
      /**
       * …and by more than this many milliseconds: a shift far inside the SLA's budget is not a regression
       * worth a rollback. Default: 10% of the SLA.
       */
      minP99IncreaseMs: z.number().min(0).optional(),
    })
    .prefault({}),
  shadow: z
    .strictObject({
      /** Largest share of mirrored requests where the challenger's answer differs. Default 0.05. */
      maxDivergenceRate: Fraction.default(0.05),
      /** Largest population stability index between the two output distributions. Default 0.2. */
      maxPsi: z.number().min(0).default(0.2),
    })
    .prefault({}),
  evaluation: z
    .strictObject({
      /** Primary offline metric. Default accuracy. rmse is lower-is-better. */
      metric: EvaluationMetric.default('accuracy'),
      /** Absolute quality threshold the candidate must reach. Default none. */
      minScore: z.number().optional(),
      /** Largest regression of the candidate's score against the champion's. Default 0. */
      maxRegression: z.number().min(0).default(0),
      /** Largest regression on any slice. Default 0.05. */
      maxSliceRegression: z.number().min(0).default(0.05),
      /** Largest gap of the primary metric across the sensitive attribute's groups. Default 0.1. */
      maxFairnessGap: z.number().min(0).default(0.1),
    })
    .prefault({}),
  /** When a bake still lacks data after its extension. Default hold (wait for a human). */
  onInsufficientData: InsufficientDataPolicy.default('hold'),
});
export type Gates = z.infer<typeof GatesSchema>;

/** The thresholds of the standard release; looser ones make a release "outside normal parameters". */
export const STANDARD_GATES: Gates = GatesSchema.parse({});

// ---------------------------------------------------------------------------------------------------------
// Preset timings: overrides of the durations and counts presets expand with.

export const TimingsSchema = z
  .strictObject({
    /** Canary traffic percentages, in order. Default by strategy: standard 5/25/50, high-stakes 1/5/25/50, cohort 10/50. */
    canarySteps: z
      .array(Percent)
      .min(1)
      .max(20)
      .refine((steps) => steps.every((p, i) => i === 0 || p > (steps[i - 1] as number)), 'canary steps must increase strictly, each below 100')
      .optional(),
    /** Bake time of each canary step. Default 24h (high-stakes 48h). */
    bake: Duration.optional(),
    /** Gate measurement interval during bakes and the watch (at least 1s). Default 5m. */
    interval: Interval.optional(),
    /** How long a bake may extend while gates lack data. Default 12h. */
    bakeExtension: Duration.optional(),
    /**
     * Sliding window of each bake measurement, for releases started before the sequential gates (which
     * judge every interval once and detect late onsets by themselves). Default: everything since the bake began.
     */
    bakeWindow: Duration.optional(),
    /** Shadow period. Default 10,000 requests and 48h (high-stakes 50,000 and 96h), bounded by 7d (14d). */
    shadow: ShadowStep.omit({ kind: true }).partial().optional(),
    /** Watch after 100%. Default 72h. */
    watch: Duration.optional(),
    /** Sliding window of each watch measurement (releases started before the sequential gates). Default 1h. */
    watchWindow: Duration.optional(),
    /** Percent of traffic the previous version keeps during the watch, its concurrent reference (1–20). Default 10. */
    watchHoldback: Holdback.optional(),
    /** Requests of the blue/green smoke test. Default 100. */
    smokeRequests: z.number().int().positive().max(100_000).optional(),
  });

// ---------------------------------------------------------------------------------------------------------
// The manifest

export const ApprovalsSchema = z
  .strictObject({
    /** Who may approve or reject. Empty: anyone (not allowed when the blast radius is high). */
    approvers: z.array(Actor).max(100).default([]),
    /** Who may `promote` (skip the rest of a bake). Default: the approvers. */
    promoters: z.array(Actor).max(100).optional(),
    /** How long an approval waits. Default 24h. */
    timeout: Duration.prefault('24h'),
    /** What the deadline means. Default abort (roll back). */
    onTimeout: ApprovalTimeoutPolicy.default('abort'),
    /** A reminder goes out this long before the deadline. Default 1h. */
    reminderBefore: Duration.prefault('1h'),
    /** With onTimeout hold: how long to hold after paging before rolling back. Default 72h. */
    holdFor: Duration.prefault('72h'),
    /** A rollback of the same model this recent makes the final approval mandatory. Default 7d. */
    recentRollbackWindow: Duration.prefault('7d'),
  });

export const PauseSchema = z
  .strictObject({
    /** How long a pause may last. Default 24h. */
    timeout: Duration.prefault('24h'),
    /** What the deadline means. Default abort (roll back): nobody is looking at a paused canary. */
    onTimeout: PauseTimeoutPolicy.default('abort'),
  });

export const NotificationsSchema = z
  .strictObject({
    /** Slack-compatible incoming webhooks. Default none (notifications go to the log). */
    webhooks: z.array(z.url().max(2048)).max(20).default([]),
  });

export const API_VERSION = 'model-rollout/v1';

export const ReleaseManifestSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Release'),
    /** Registered model name, as the registry and the router know it. */
    model: Name,
    /** The version being released (the challenger). */
    candidate: Name,
    /** The version serving production now. Default: the registry's `champion` alias. */
    champion: Name.optional(),
    /** Default medium. */
    blastRadius: BlastRadius.default('medium'),
    /** Preset the plan expands from, unless `plan` is given. Default standard. */
    strategy: Strategy.default('standard'),
    /** An explicit plan, replacing the preset's. */
    plan: z.array(PlanStep).min(1).max(100).optional(),
    timings: TimingsSchema.prefault({}),
    gates: GatesSchema.prefault({}),
    approvals: ApprovalsSchema.prefault({}),
    pause: PauseSchema.prefault({}),
    notifications: NotificationsSchema.prefault({}),
    /** Free text shown in the Temporal UI. */
    description: z.string().max(2000).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.champion !== undefined && m.champion === m.candidate) {
      ctx.addIssue({ code: 'custom', path: ['candidate'], message: 'candidate must differ from champion' });
    }
    if (m.blastRadius === 'high' && m.approvals.approvers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals', 'approvers'],
        message: 'a high blast radius release needs at least one named approver',
      });
    }
    if (m.plan) checkPlanShape(m.plan, ctx);
  });

export type ReleaseManifest = z.infer<typeof ReleaseManifestSchema>;
export type ReleaseManifestInput = z.input<typeof ReleaseManifestSchema>;

function checkPlanShape(plan: PlanStep[], ctx: z.RefinementCtx): void {
  const first = (kind: StepKind) => plan.findIndex((s) => s.kind === kind);
  const full = first('fullRollout');
  if (full < 0) {
    ctx.addIssue({ code: 'custom', path: ['plan'], message: 'a plan must contain a fullRollout step' });
    return;
  }
  plan.forEach((step, i) => {
    if ((step.kind === 'watch' || step.kind === 'retire') && i < full) {
      ctx.addIssue({ code: 'custom', path: ['plan', i, 'kind'], message: `${step.kind} must come after fullRollout` });
    }
    if ((step.kind === 'setTraffic' || step.kind === 'shadow' || step.kind === 'warm') && i > full) {
      ctx.addIssue({ code: 'custom', path: ['plan', i, 'kind'], message: `${step.kind} must come before fullRollout` });
    }
    if (step.kind === 'bake' && !plan.slice(0, i).some((s) => s.kind === 'setTraffic')) {
      ctx.addIssue({ code: 'custom', path: ['plan', i, 'kind'], message: 'bake needs a setTraffic step before it' });
    }
  });
  plan.forEach((step, i) => {
    if (step.kind !== 'setTraffic') return;
    const prev = plan.slice(0, i).reverse().find((s) => s.kind === 'setTraffic');
    if (prev && prev.kind === 'setTraffic' && prev.percent >= step.percent) {
      ctx.addIssue({ code: 'custom', path: ['plan', i, 'percent'], message: 'canary traffic must increase step by step' });
    }
  });
}

/** A manifest that failed validation; `issues` name the field paths. */
export class ManifestError extends Error {
  override name = 'ManifestError';
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid release manifest:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

export { formatPath };

/**
 * For a release started before every object became strict: unknown keys are dropped, as the schema did
 * then, so a release in flight whose manifest had a typo replays as it ran; any other issue still fails.
 */
export function parseAcceptedManifest(raw: unknown): ReleaseManifest {
  const parsed = ReleaseManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const unknown = parsed.error.issues.filter((i) => i.code === 'unrecognized_keys');
  if (unknown.length === 0 || unknown.length !== parsed.error.issues.length) return parseManifest(raw);
  const copy = structuredClone(raw) as Record<PropertyKey, unknown>;
  for (const issue of unknown) {
    let node: unknown = copy;
    for (const key of issue.path) node = (node as Record<PropertyKey, unknown>)?.[key];
    if (node && typeof node === 'object' && issue.code === 'unrecognized_keys') for (const k of issue.keys) delete (node as Record<string, unknown>)[k];
  }
  return parseManifest(copy);
}

export function parseManifest(raw: unknown): ReleaseManifest {
  const parsed = ReleaseManifestSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ManifestError(fieldIssues(parsed.error));
}

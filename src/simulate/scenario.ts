// A metric scenario for `rollout simulate`: what each variant would do over the release's time, so the
// real workflow can be played against it under the time-skipping server ("what would this policy do?").
// ScenarioPorts answer the activities from the scenario with sampling noise (counts drawn from their
// distributions, latency from a log-normal), seeded so one seed always gives the same run; the router
// keeps real semantics (generations, read-back), so each variant's share follows the policy's decisions.
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { Notification, Ports, ReleaseOutcomeRecord, RouteSpec, TimeWindow } from '../activities/ports';
import { Duration } from '../domain/duration';
import type { EvaluationReport, ShadowReport, VariantStats } from '../domain/gates';
import { EvaluationScores } from '../domain/gates';
import { fieldIssues } from '../domain/issues';
import { EvaluationMetric } from '../domain/manifest';
import { binomial, keyedRng, poisson, sampleVariant, type IntervalBehaviour } from './sampling';

const Fraction = z.number().min(0).max(1);

/** From `at` (time since the release started) on, the variant behaves like this; unset fields carry over. */
const Point = z
  .object({
    at: Duration.prefault('0s'),
    /** Share of requests that fail. */
    errorRate: Fraction.optional(),
    /** Business metric: share of observed outcomes that succeed. */
    successRate: Fraction.optional(),
    /** Share of requests whose ground truth has arrived by the time it is measured. Default 1. */
    outcomeRate: Fraction.optional(),
    p99Ms: z.number().positive().optional(),
    /** Median latency. Default: half the p99. */
    p50Ms: z.number().positive().optional(),
  })
  .strict();

const ShadowPoint = z
  .object({
    at: Duration.prefault('0s'),
    /** Share of mirrored requests where the challenger's answer differs. */
    divergenceRate: Fraction.optional(),
    psi: z.number().min(0).optional(),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    description: z.string().optional(),
    /** Requests per minute to the model; each variant receives its routed share. Default 1,000. */
    requestsPerMinute: z.number().min(0).max(10_000_000).default(1_000),
    /**
     * A daily cycle both variants share: the named rates are multiplied by 1 + amplitude x sin(2 pi (t -
     * peakAt + 6h) / 24h), so they peak at `peakAt` (time since the release started) every day.
     */
    dailyCycle: z
      .object({
        amplitude: z.number().min(0).max(0.9),
        peakAt: Duration.prefault('0s'),
        metrics: z.array(z.enum(['errorRate', 'successRate'])).min(1).default(['errorRate', 'successRate']),
      })
      .strict()
      .optional(),
    /** Per-variant behaviour over time; the first point defaults to a healthy variant. */
    champion: z.array(Point).default([]),
    candidate: z.array(Point).default([]),
    shadow: z.array(ShadowPoint).default([]),
    /** The offline evaluation's scores. Default: the candidate slightly better. */
    evaluation: z
      .object({ metric: EvaluationMetric.default('accuracy'), samples: z.number().int().min(0).default(5_000), champion: EvaluationScores, candidate: EvaluationScores })
      .strict()
      .optional(),
    /** How humans answer approvals: approve or reject after a delay, or never (the deadline policy applies). */
    approvals: z
      .object({ decision: z.enum(['approve', 'reject', 'never']).default('approve'), after: Duration.prefault('1h'), by: z.string().min(1).default('simulator') })
      .strict()
      .prefault({}),
  })
  .strict();
export type Scenario = z.infer<typeof ScenarioSchema>;

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

export function parseScenario(raw: unknown): Scenario {
  const p = ScenarioSchema.safeParse(raw);
  if (p.success) return p.data;
  throw new ScenarioError(`invalid metric scenario:\n${fieldIssues(p.error).map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
}

const HEALTHY = { errorRate: 0.01, successRate: 0.3, outcomeRate: 1, p99Ms: 80, p50Ms: 0 };
export const DEFAULT_EVALUATION: EvaluationReport = {
  metric: 'accuracy',
  samples: 5_000,
  champion: { score: 0.9, slices: {}, fairnessGap: 0.02, p99LatencyMs: 60 },
  candidate: { score: 0.91, slices: {}, fairnessGap: 0.02, p99LatencyMs: 60 },
};

export type Behaviour = typeof HEALTHY;
export type Series = { at: number; b: Behaviour }[];

export function variantSeries(points: Scenario['champion']): Series {
  return segments(points, HEALTHY);
}

const DAY = 86_400_000;

/** The daily cycle's factor on `metric` at t (ms since the start); 1 without a cycle. */
export function cycleFactor(s: Scenario, metric: 'errorRate' | 'successRate', t: number): number {
  const c = s.dailyCycle;
  if (!c || !c.metrics.includes(metric)) return 1;
  return 1 + c.amplitude * Math.sin((2 * Math.PI * (t - c.peakAt + DAY / 4)) / DAY);
}

/**
 * What a variant is expected to do over [from, to) (ms since the start) at `perMs` requests a ms: rates
 * are request-weighted over the segments the window covers, each at the cycle's value mid-segment.
 */
export function intervalBehaviour(s: Scenario, segs: Series, from: number, to: number, perMs: number): IntervalBehaviour {
  let requests = 0;
  let errors = 0;
  let outcomes = 0;
  let successes = 0;
  let p99 = 0;
  let p50 = 0;
  for (const { b, start, ms } of overlaps(segs, from, to)) {
    const mid = start + ms / 2;
    const n = perMs * ms;
    requests += n;
    errors += n * Math.min(1, b.errorRate * cycleFactor(s, 'errorRate', mid));
    outcomes += n * b.outcomeRate;
    successes += n * b.outcomeRate * Math.min(1, b.successRate * cycleFactor(s, 'successRate', mid));
    if (b.p99Ms > p99) {
      p99 = b.p99Ms;
      p50 = b.p50Ms || b.p99Ms / 2;
    }
  }
  const r = Math.max(requests, 1e-12);
  const o = Math.max(outcomes, 1e-12);
  const last = behaviourAt(segs, to);
  return {
    requests,
    errorRate: errors / r,
    successRate: successes / o,
    outcomeRate: outcomes / r,
    p99Ms: p99 || last.p99Ms,
    p50Ms: p50 || last.p50Ms || last.p99Ms / 2,
  };
}

/**
 * A series as segments: each point's start and the behaviour in force from it on (points in order,
 * later fields overriding), computed once, so a measurement integrates segment by segment.
 */
export function segments<T extends object>(points: ({ at: number } & Partial<T>)[], base: T): { at: number; b: T }[] {
  const sorted = [...points].sort((a, b) => a.at - b.at);
  const out: { at: number; b: T }[] = [{ at: -Infinity, b: base }];
  for (const p of sorted) {
    const set = Object.fromEntries(Object.entries(p).filter(([k, v]) => k !== 'at' && v !== undefined));
    out.push({ at: p.at, b: { ...(out[out.length - 1] as { b: T }).b, ...set } });
  }
  return out;
}

/** The parts of [from, to) (ms since the start) each segment covers, with where they start and their lengths. */
export function overlaps<T>(segs: { at: number; b: T }[], from: number, to: number): { b: T; start: number; ms: number }[] {
  return segs
    .map((seg, i) => {
      const start = Math.max(from, seg.at);
      return { b: seg.b, start, ms: Math.min(to, (segs[i + 1] as { at: number } | undefined)?.at ?? Infinity) - start };
    })
    .filter((o) => o.ms > 0);
}

/** The behaviour in force at `t` (ms since the start). */
export function behaviourAt<T>(segs: { at: number; b: T }[], t: number): T {
  let b = (segs[0] as { b: T }).b;
  for (const s of segs) if (s.at <= t) b = s.b;
  return b;
}

const SHADOW_CHUNK_MS = 5 * 60_000;

export class ScenarioPorts implements Ports {
  private readonly routes = new Map<string, RouteSpec>();
  /** Every route each model had, from when (release time): a window that spans a change counts each share for its part. */
  private readonly routeHistory = new Map<string, { at: number; route: RouteSpec }[]>();
  private readonly series: { champion: { at: number; b: Behaviour }[]; candidate: { at: number; b: Behaviour }[] };
  private readonly shadowSeries: { at: number; b: { divergenceRate: number; psi: number } }[];
  /** Release start in the server's (skipped) time: set by the first activity. */
  private t0: number | null = null;
  onApprovalRequested: (n: Notification) => void = () => undefined;

  constructor(
    private readonly scenario: Scenario,
    private readonly champion: string,
    /** Every measurement's noise is drawn from this seed and the measurement's own key (variant, window). */
    private readonly seed = 1,
  ) {
    this.series = { champion: variantSeries(scenario.champion), candidate: variantSeries(scenario.candidate) };
    this.shadowSeries = segments(scenario.shadow, { divergenceRate: 0.01, psi: 0.02 });
  }

  private now(): number {
    let t = Date.now();
    try {
      t = Context.current().info.currentAttemptScheduledTimestampMs;
    } catch {
      /* outside an activity */
    }
    this.t0 ??= t;
    return t;
  }

  /** A window's edges on a 10 s grid (ms since the start), so one seed gives one run (see variantStats). */
  private onGrid(w: TimeWindow): [number, number] {
    return [w.from, w.to].map((ms) => Math.round(this.since(ms) / 10_000) * 10_000) as [number, number];
  }

  private since(t: number): number {
    return t - (this.t0 ?? t);
  }

  /** The variant's share of the model's traffic over [from, to) (release time), weighted by how long each route held. */
  private share(model: string, version: string, from: number, to: number): number {
    const weight = (r: RouteSpec) => (r.variants.find((v) => v.version === version)?.weight ?? 0) / 100;
    const history = this.routeHistory.get(model) ?? [];
    const current = this.routes.get(model);
    if (to <= from) return current ? weight(current) : 0;
    // Before the release's first route, the champion served everything.
    const first = history[0]?.at ?? Infinity;
    let sum = Math.max(0, Math.min(to, first) - from) * (version === this.champion ? 1 : 0);
    history.forEach((h, i) => {
      const end = history[i + 1]?.at ?? Infinity;
      const overlap = Math.min(to, end) - Math.max(from, h.at);
      if (overlap > 0) sum += overlap * weight(h.route);
    });
    return sum / (to - from);
  }

  readonly router = {
    apply: async (route: RouteSpec) => {
      this.now();
      const current = this.routes.get(route.model);
      if (current && current.releaseId === route.releaseId && current.generation >= route.generation) return;
      this.routes.set(route.model, structuredClone(route));
      const history = this.routeHistory.get(route.model) ?? [];
      history.push({ at: this.since(this.now()), route: structuredClone(route) });
      this.routeHistory.set(route.model, history);
    },
    read: async (model: string) => structuredClone(this.routes.get(model) ?? null),
    healthy: async () => true,
  };

  readonly metrics = {
    variantStats: async (model: string, version: string, w: TimeWindow): Promise<VariantStats> => {
      this.now();
      const segs = version === this.champion ? this.series.champion : this.series.candidate;
      // Expected over the window segment by segment, at the share the router gave the variant over it (the
      // rollback's impact window spans every step); then drawn with noise keyed by the variant and the
      // window, so call order does not change the draws. Window edges on a 10 s grid: the time-skipping
      // server fires timers a few ms late, differently on each run, and one seed must give one run.
      const [from, to] = this.onGrid(w);
      const perMs = (this.scenario.requestsPerMinute * this.share(model, version, from, to)) / 60_000;
      const b = intervalBehaviour(this.scenario, segs, from, to, perMs);
      return sampleVariant(keyedRng(this.seed, `${version}/${from}/${to}`), b);
    },

  };

  readonly shadow = {
    analyze: async (q: { model: string } & TimeWindow): Promise<ShadowReport> => {
      this.now();
      // Mirrored requests and their divergence drawn chunk by chunk from the window's start, each chunk
      // keyed by its position, so a later, longer window counts the same requests again plus new ones.
      // The output distribution's PSI is not additive: it is the one in force at the window's end.
      const perMs = (this.scenario.requestsPerMinute * (this.routes.get(q.model)?.shadow?.sampleRate ?? 0)) / 60_000;
      // On the grid too: the chunk in progress was counted to the millisecond the late timer fired at, so
      // one seed gave 2,879,992 mirrored requests in one run and 2,879,991 in the next.
      const [from, to] = this.onGrid(q);
      let requests = 0;
      let divergent = 0;
      for (let k = 0, start = from; start < to; k++, start += SHADOW_CHUNK_MS) {
        const end = Math.min(to, start + SHADOW_CHUNK_MS);
        const rng = keyedRng(this.seed, `shadow/${Math.round(from / 10_000)}/${k}`);
        let n = poisson(rng, perMs * SHADOW_CHUNK_MS);
        const rate = overlaps(this.shadowSeries, start, start + SHADOW_CHUNK_MS)[0]?.b.divergenceRate ?? 0;
        let d = binomial(rng, n, rate);
        if (end - start < SHADOW_CHUNK_MS) {
          // The chunk in progress: the part of its requests that have arrived by the window's end.
          const kept = binomial(rng, n, (end - start) / SHADOW_CHUNK_MS);
          d = binomial(rng, d, n ? kept / n : 0);
          n = kept;
        }
        requests += n;
        divergent += d;
      }
      return { requests, divergent: Math.min(requests, divergent), psi: requests ? behaviourAt(this.shadowSeries, to).psi : null };
    },
  };

  readonly evaluator = {
    evaluate: async () => (this.now(), this.scenario.evaluation ?? DEFAULT_EVALUATION),
    smoke: async (q: { requests: number }) => {
      this.now();
      const b = behaviourAt(this.series.candidate, 0);
      return { requests: q.requests, errors: binomial(keyedRng(this.seed, 'smoke'), q.requests, b.errorRate), latencyP99Ms: b.p99Ms };
    },
  };

  readonly registry = {
    getAlias: async (_model: string, alias: string) => (alias === 'champion' ? this.champion : null),
    setAlias: async () => undefined,
    recordOutcome: async (_m: string, _v: string, _r: ReleaseOutcomeRecord) => undefined,
    lastRollbackAt: async () => null,
    archive: async () => undefined,
  };

  readonly notifier = {
    notify: async (n: Notification) => {
      this.now();
      if (n.title.startsWith('Approval needed')) this.onApprovalRequested(n);
    },
  };
}

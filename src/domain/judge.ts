// The gates' judgement under continuous monitoring: each comparison is an anytime-valid sequential test
// (src/domain/sequential.ts) fed one measurement interval at a time, with the champion measured over the
// same interval as the reference. The release's false-rollback budget is shared out across its gated
// steps and their tests (`allocateBudget`). Pure: the workflow and the Monte Carlo simulator run this code.
import { psiGate, type GateName, type GateOutcome, type GateResult, type ShadowReport, type VariantStats } from './gates';
import { DEFAULT_WATCH_HOLDBACK, type Gates, type PlanStep } from './manifest';
import { histogramQuantile } from './quantile';
import {
  NO_EVIDENCE,
  alwaysValidPValue,
  binomialIncrement,
  detectableExcess,
  differenceIncrement,
  logEValue,
  newSequentialState,
  observe,
  rateInterval,
  rateUpperBound,
  rejects,
  type SequentialState,
} from './sequential';

// ---------------------------------------------------------------------------------------------------------
// Budget

/** The alpha each test of a gated step spends, and the looks the step is planned to take. */
export interface TestBudget {
  alpha: number;
  nominalLooks: number;
}

/** Sequential tests per gated step: business metric, error rate, latency; the shadow has one. */
export const CANARY_TESTS = 3;
export const SHADOW_TESTS = 1;

/**
 * Shares `falseRollbackRate` out across the plan's gated steps (shadow, bakes, watch), then evenly across
 * each step's tests. A step's weight is the variance factor of its comparison, 1/s_cand + 1/s_ref for
 * traffic shares s (1/s for the shadow's one sample): the expected time to detect a given regression is
 * about log(1/alpha_step) times that factor, and weights proportional to it minimise the sum of those
 * times over the steps for a fixed total. So a thin 5% canary, or a watch whose reference is a 5%
 * holdback, gets most of the budget; a 50% bake, with the most information per minute, the least.
 * Returns one entry per plan step (null for steps without gates).
 */
export function allocateBudget(plan: readonly PlanStep[], falseRollbackRate: number): (TestBudget | null)[] {
  let percent = 0;
  const twoSample = (candPercent: number) => 100 / Math.max(candPercent, 0.01) + 100 / Math.max(100 - candPercent, 0.01);
  const weights = plan.map((step) => {
    switch (step.kind) {
      case 'setTraffic':
        percent = step.percent;
        return null;
      case 'fullRollout':
        percent = 100 - (step.holdback ?? DEFAULT_WATCH_HOLDBACK);
        return null;
      case 'shadow':
        return { w: 1 / step.sampleRate, tests: SHADOW_TESTS, looks: Math.ceil(step.minDuration / step.interval) };
      case 'bake':
      case 'watch':
        return { w: twoSample(percent), tests: CANARY_TESTS, looks: Math.ceil(step.duration / step.interval) };
      default:
        return null;
    }
  });
  const total = weights.reduce((sum, w) => sum + (w?.w ?? 0), 0);
  return weights.map((w) => (w ? { alpha: (falseRollbackRate * w.w) / total / w.tests, nominalLooks: w.looks } : null));
}

// ---------------------------------------------------------------------------------------------------------
// Canary and watch: candidate against the champion over the same interval

type Histogram = [number, number][];

interface Totals {
  requests: number;
  errors: number;
  outcomes: number;
  successes: number;
}

export interface CanaryJudgeState {
  business: SequentialState;
  errors: SequentialState;
  latency: SequentialState;
  candidate: Totals;
  reference: Totals;
  /**
   * The champion's requests, errors and latency pooled over the step and the hour before it
   * (`seedReference`): the bound of its error rate and its p99 come from here. Only the tests' variance
   * and the latency threshold read it; every comparison is with the champion over the same interval.
   */
  pool: { requests: number; errors: number; histogram: Histogram };
  /** Requests with a latency measured, and those slower than each interval's threshold. */
  slow: { candidate: number; reference: number; candidateRequests: number; referenceRequests: number };
}

export function newCanaryJudgeState(): CanaryJudgeState {
  const totals = () => ({ requests: 0, errors: 0, outcomes: 0, successes: 0 });
  return {
    business: newSequentialState(),
    errors: newSequentialState(),
    latency: newSequentialState(),
    candidate: totals(),
    reference: totals(),
    pool: { requests: 0, errors: 0, histogram: [] },
    slow: { candidate: 0, reference: 0, candidateRequests: 0, referenceRequests: 0 },
  };
}

/** The hour of the champion's traffic before the step began, pooled in before the step's first look. */
export const REFERENCE_WARMUP_MS = 3_600_000;

export function seedReference(s: CanaryJudgeState, before: VariantStats): CanaryJudgeState {
  return { ...s, pool: pooled(s.pool, before) };
}

function pooled(p: CanaryJudgeState['pool'], v: VariantStats): CanaryJudgeState['pool'] {
  return {
    requests: p.requests + v.requests,
    errors: p.errors + v.errors,
    histogram: v.latencyHistogram ? mergeHistogram(p.histogram, v.latencyHistogram) : p.histogram,
  };
}

/** Of a test's alpha, the share spent on the anytime-valid bound of the champion's rate. */
export const REFERENCE_SHARE = 0.1;

/** Bucket bounds kept in the reference's cumulative histogram; beyond, the tail merges into the top bucket. */
const MAX_BUCKETS = 512;

function mergeHistogram(into: Histogram, add: readonly (readonly [number, number])[]): Histogram {
  const m = new Map(into.map(([b, c]) => [b, c] as [number, number]));
  for (const [b, c] of add) m.set(b, (m.get(b) ?? 0) + c);
  const sorted = [...m.entries()].sort((a, b) => a[0] - b[0]);
  if (sorted.length <= MAX_BUCKETS) return sorted;
  const head = sorted.slice(0, MAX_BUCKETS - 1);
  const tail = sorted.slice(MAX_BUCKETS - 1);
  return [...head, [(tail.at(-1) as [number, number])[0], tail.reduce((s, [, c]) => s + c, 0)]];
}

/** Requests slower than the bound: those in buckets whose upper bound lies above it. */
function slowerThan(h: readonly (readonly [number, number])[], bound: number): { n: number; x: number } {
  let n = 0;
  let x = 0;
  for (const [b, c] of h) {
    n += c;
    if (b > bound) x += c;
  }
  return { n, x };
}

/** The smallest bucket bound at or above t, so both variants' exceedances count whole buckets. */
function snapToBucket(h: readonly (readonly [number, number])[], t: number): number {
  for (const [b] of h) if (b >= t) return b;
  return t;
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));
const pct = (x: number) => `${round(x * 100, 2)}%`;
const rate = (x: number, n: number) => (n > 0 ? x / n : 0);

/** The latency share a p99 may lose: one request in a hundred over the threshold. */
export const LATENCY_TAIL = 0.01;

/**
 * One measurement interval of the candidate and the champion (the reference) → the three canary gates.
 * Each test's outcome: `fail` once its e-value reaches 1/alpha; `insufficient-data` until both variants
 * have `minSampleSize` samples in the step; `pass` otherwise, with the smallest effect it would have
 * caught with 80% power.
 */
export function judgeCanary(
  prev: CanaryJudgeState,
  cand: VariantStats,
  ref: VariantStats,
  g: Gates,
  budget: TestBudget,
  /** Evidence for people (intervals, detectable effects, summaries); off in Monte Carlo runs, decisions the same. */
  detail = true,
): { state: CanaryJudgeState; results: GateResult[] } {
  const s: CanaryJudgeState = {
    ...prev,
    candidate: addTotals(prev.candidate, cand),
    reference: addTotals(prev.reference, ref),
    pool: pooled(prev.pool, ref),
  };
  const looks = budget.nominalLooks;

  const alphaRef = budget.alpha * REFERENCE_SHARE;
  const alphaTest = budget.alpha - alphaRef;

  // Business metric: the champion's share of the interval's successes against p0B, the share it would
  // have if the candidate's rate were exactly (1 - tol) x the champion's; a rate both variants share (a
  // daily cycle) cancels. Valid with the outcomes fixed and whatever the rates in each interval: with
  // d = p1 - p0B > 0, m = n_c (1 - tol), N = n_r + m, the likelihood ratio's expectation is
  // (1 + r_r d N / n_r)^n_r (1 - r_c d N / m)^n_c <= exp(d N (r_r - r_c / (1 - tol))) <= 1 under H0.
  const tolB = g.businessMetric.maxRelativeDrop;
  const okOutcomes = cand.outcomes > 0 && ref.outcomes > 0;
  const p0B = okOutcomes ? ref.outcomes / (ref.outcomes + cand.outcomes * (1 - tolB)) : 1;
  s.business = observe(prev.business, okOutcomes ? binomialIncrement(cand.successes + ref.successes, ref.successes, p0B) : NO_EVIDENCE, looks);

  // Error rate: the candidate's errors against the champion's over the same interval plus the tolerance
  // in points. The champion's rate enters only the test's variance, bounded above by the higher of this
  // interval's rate and an anytime-valid upper bound over the pool (spending alphaRef).
  const tolE = g.errorRate.maxIncreasePoints / 100;
  const refErrorBound = Math.max(rate(ref.errors, ref.requests), rateUpperBound(s.pool.requests, s.pool.errors, alphaRef));
  s.errors = observe(prev.errors, differenceIncrement({ nc: cand.requests, xc: cand.errors, nr: ref.requests, xr: ref.errors, tol: tolE, refRate: refErrorBound }), looks);

  // Latency: the share of the candidate's requests slower than T, against the champion's share over the
  // same interval plus one request in a hundred. T is the SLA, or the allowed regression over the
  // champion's p99 if lower. With a fast champion, "at most 1 point more over T" is "p99 within T"; a
  // slowness both variants share raises both shares and is not the candidate's regression. T comes
  // from the champion's latency before this interval (the hour before the step, and the looks so far),
  // so the interval it is tested on does not choose it; only a step with no history falls back to it.
  const refP99 = histogramQuantile(prev.pool.histogram.length ? prev.pool.histogram : s.pool.histogram, 0.99);
  const floorMs = g.latency.minP99IncreaseMs ?? 0.1 * g.latency.p99SlaMs;
  const regressionMs = refP99 === null ? Infinity : Math.max(refP99 * (1 + g.latency.maxP99Increase), refP99 + floorMs);
  const threshold = snapToBucket(s.pool.histogram, Math.min(g.latency.p99SlaMs, regressionMs));
  const candSlow = slowerThan(cand.latencyHistogram ?? [], threshold);
  const refSlowNow = slowerThan(ref.latencyHistogram ?? [], threshold);
  const refSlowAll = slowerThan(s.pool.histogram, threshold);
  const refSlowBound = Math.max(rate(refSlowNow.x, refSlowNow.n), rateUpperBound(refSlowAll.n, refSlowAll.x, alphaRef));
  s.latency = observe(
    prev.latency,
    cand.latencyHistogram ? differenceIncrement({ nc: candSlow.n, xc: candSlow.x, nr: refSlowNow.n, xr: refSlowNow.x, tol: LATENCY_TAIL, refRate: refSlowBound }) : NO_EVIDENCE,
    looks,
  );
  s.slow = {
    candidate: s.slow.candidate + candSlow.x,
    reference: s.slow.reference + refSlowNow.x,
    candidateRequests: s.slow.candidateRequests + candSlow.n,
    referenceRequests: s.slow.referenceRequests + refSlowNow.n,
  };

  const min = g.minSampleSize;
  const c = s.candidate;
  const r = s.reference;
  const lacking = {
    business: c.outcomes < min || r.outcomes < min,
    errors: c.requests < min || r.requests < min,
    // Latency lacks data until both variants have that many requests in their histograms: a metrics
    // provider that returns no buckets leaves it lacking, never passing.
    latency: s.slow.candidateRequests < min || s.slow.referenceRequests < min,
  };
  const tests: { gate: GateName; state: SequentialState; alpha: number; lacking: boolean }[] = [
    { gate: 'business-metric', state: s.business, alpha: budget.alpha, lacking: lacking.business },
    { gate: 'error-rate', state: s.errors, alpha: alphaTest, lacking: lacking.errors },
    { gate: 'latency-p99', state: s.latency, alpha: alphaTest, lacking: lacking.latency },
  ];
  if (!detail) {
    return { state: s, results: tests.map((t) => ({ gate: t.gate, outcome: outcomeOf(t.state, t.alpha, t.lacking), observed: null, threshold: 0, summary: '', evidence: {} })) };
  }
  const [business, errors, latency] = tests as [(typeof tests)[number], (typeof tests)[number], (typeof tests)[number]];
  const results: GateResult[] = [];
  {
    const rc = rate(c.successes, c.outcomes);
    const rr = rate(r.successes, r.outcomes);
    const drop = rr > 0 ? (rr - rc) / rr : 0;
    // Interval of the ratio rc / rr from that of the champion's share of all successes.
    const share = rateInterval(c.successes + r.successes, r.successes, budget.alpha);
    const ratio = (pi: number) => (pi >= 1 ? 0 : ((1 - pi) / Math.max(pi, 1e-12)) * rate(r.outcomes, c.outcomes));
    const ex = detectableExcess(s.business, budget.alpha);
    // A detectable excess in the champion's share of successes, as a relative drop of the candidate's
    // rate at the null boundary: d(share)/d(ratio) = share (1 - share) / ratio.
    const mde = ex === null || !okOutcomes || p0B >= 1 ? null : tolB + (ex * (1 - tolB)) / (p0B * (1 - p0B));
    results.push(
      verdictOf(business, {
        threshold: tolB,
        observed: round(drop),
        what: `${g.businessMetric.name} ${pct(rc)} vs ${pct(rr)} (${drop > 0 ? '-' : '+'}${pct(Math.abs(drop))} relative, allowed -${pct(tolB)}; last interval ${pct(rate(cand.successes, cand.outcomes))} vs ${pct(rate(ref.successes, ref.outcomes))})`,
        lack: `${c.outcomes} / ${r.outcomes} outcomes, need ${min} per variant`,
        mde: mde === null ? null : `a drop of ${pct(mde)}`,
        evidence: {
          metric: g.businessMetric.name,
          candidateOutcomes: c.outcomes,
          candidateSuccesses: c.successes,
          referenceOutcomes: r.outcomes,
          referenceSuccesses: r.successes,
          candidateRate: round(rc, 6),
          referenceRate: round(rr, 6),
          relativeChange: round(rr > 0 ? rc / rr - 1 : 0, 6),
          relativeChangeLower: round(ratio(share.upper) - 1, 6),
          relativeChangeUpper: round(ratio(share.lower) - 1, 6),
          minDetectableDrop: mde === null ? null : round(mde, 6),
        },
      }),
    );
  }
  {
    const pc = rate(c.errors, c.requests);
    const pr = rate(r.errors, r.requests);
    const points = (pc - pr) * 100;
    const ci = rateInterval(c.requests, c.errors, budget.alpha);
    const ex = detectableExcess(s.errors, alphaTest);
    const mde = ex === null ? null : g.errorRate.maxIncreasePoints + ex * 100;
    results.push(
      verdictOf(errors, {
        threshold: g.errorRate.maxIncreasePoints,
        observed: round(points),
        what: `error rate ${pct(pc)} vs ${pct(pr)} (${points >= 0 ? '+' : ''}${round(points, 2)} pts, allowed +${g.errorRate.maxIncreasePoints}; last interval ${pct(rate(cand.errors, cand.requests))} vs ${pct(rate(ref.errors, ref.requests))})`,
        lack: `${c.requests} / ${r.requests} requests, need ${min} per variant`,
        mde: mde === null ? null : `+${round(mde, 2)} pts`,
        evidence: {
          candidateRequests: c.requests,
          candidateErrors: c.errors,
          referenceRequests: r.requests,
          referenceErrors: r.errors,
          candidateRate: round(pc, 6),
          referenceRate: round(pr, 6),
          referenceRateBound: round(refErrorBound, 6),
          candidateRateLower: round(ci.lower, 6),
          candidateRateUpper: round(ci.upper, 6),
          minDetectableIncreasePoints: mde === null ? null : round(mde, 4),
        },
      }),
    );
  }
  {
    const cSlow = rate(s.slow.candidate, s.slow.candidateRequests);
    const rSlow = rate(s.slow.reference, s.slow.referenceRequests);
    const ci = rateInterval(s.slow.candidateRequests, s.slow.candidate, budget.alpha);
    const ex = detectableExcess(s.latency, alphaTest);
    results.push(
      verdictOf(latency, {
        threshold: g.latency.p99SlaMs,
        observed: cand.latencyP99Ms === null ? null : round(cand.latencyP99Ms, 2),
        what: `${pct(cSlow)} of requests slower than ${round(threshold, 1)} ms vs ${pct(rSlow)} (allowed +${pct(LATENCY_TAIL)}; last interval ${pct(rate(candSlow.x, candSlow.n))} vs ${pct(rate(refSlowNow.x, refSlowNow.n))}; SLA ${g.latency.p99SlaMs} ms, champion p99 ${refP99 === null ? '–' : round(refP99, 1)} ms)`,
        lack: `${s.slow.candidateRequests} / ${s.slow.referenceRequests} requests with a latency histogram, need ${min} per variant`,
        mde: ex === null ? null : `+${pct(LATENCY_TAIL + ex)} over ${round(threshold, 1)} ms`,
        evidence: {
          thresholdMs: round(threshold, 3),
          slaMs: g.latency.p99SlaMs,
          referenceP99Ms: refP99,
          candidateP99Ms: cand.latencyP99Ms,
          candidateSlowShare: round(cSlow, 6),
          candidateSlowShareLower: round(ci.lower, 6),
          candidateSlowShareUpper: round(ci.upper, 6),
          referenceSlowShare: round(rSlow, 6),
          referenceSlowShareBound: round(refSlowBound, 6),
          minDetectableExtraSlowShare: ex === null ? null : round(LATENCY_TAIL + ex, 6),
        },
      }),
    );
  }
  return { state: s, results };
}

function addTotals(t: Totals, v: VariantStats): Totals {
  return { requests: t.requests + v.requests, errors: t.errors + v.errors, outcomes: t.outcomes + v.outcomes, successes: t.successes + v.successes };
}

/** `fail` once the e-value reaches 1/alpha, whatever the sample; else `insufficient-data` until the minimum samples; else `pass`. */
function outcomeOf(s: SequentialState, alpha: number, lacking: boolean): GateOutcome {
  return rejects(s, alpha) ? 'fail' : lacking ? 'insufficient-data' : 'pass';
}

function verdictOf(
  t: { gate: GateName; state: SequentialState; alpha: number; lacking: boolean },
  d: { threshold: number; observed: number | null; what: string; lack: string; mde: string | null; evidence: Record<string, number | string | null> },
): GateResult {
  const { gate, state: s, alpha } = t;
  const outcome = outcomeOf(s, alpha, t.lacking);
  const logE = logEValue(s);
  const e = Math.exp(logE);
  const p = alwaysValidPValue(s);
  const tail =
    outcome === 'fail'
      ? `e-value ${fmt(e)} ≥ ${fmt(1 / alpha)}`
      : outcome === 'pass'
        ? `e-value ${fmt(e)} < ${fmt(1 / alpha)}; could detect ${d.mde ?? '–'}`
        : `insufficient data: ${d.lack}`;
  return {
    gate,
    outcome,
    observed: d.observed,
    threshold: d.threshold,
    summary: `${d.what}; ${tail}`,
    evidence: {
      ...d.evidence,
      test: 'anytime-valid binomial mixture with change detection',
      eValue: Number.isFinite(e) ? round(e, 4) : null,
      log10EValue: round(logE / Math.LN10, 4),
      alwaysValidPValue: round(p, 6),
      alpha: round(alpha, 8),
      looks: s.looks,
      samples: s.n,
    },
  };
}

const fmt = (x: number) => (x >= 1e6 || (x > 0 && x < 1e-3) ? x.toExponential(2) : String(round(x, 3)));

// ---------------------------------------------------------------------------------------------------------
// Shadow: divergence against its allowed rate, one interval at a time

export interface ShadowJudgeState {
  divergence: SequentialState;
  /** The cumulative report at the last look: each look tests the increments since. */
  last: { requests: number; divergent: number };
}

export function newShadowJudgeState(): ShadowJudgeState {
  return { divergence: newSequentialState(), last: { requests: 0, divergent: 0 } };
}

/**
 * The shadow's report covers the step so far; its increment since the last look feeds the divergence
 * test (H0: divergence rate <= maxDivergenceRate). The output distribution's PSI is a distance with no
 * sampling model here: it is compared with its threshold on the whole window, as before.
 */
export function judgeShadow(prev: ShadowJudgeState, r: ShadowReport, g: Gates, budget: TestBudget): { state: ShadowJudgeState; results: GateResult[] } {
  const n = Math.max(0, r.requests - prev.last.requests);
  const x = Math.min(n, Math.max(0, r.divergent - prev.last.divergent));
  const max = g.shadow.maxDivergenceRate;
  const divergence = observe(prev.divergence, binomialIncrement(n, x, max), budget.nominalLooks);
  const state = { divergence, last: { requests: Math.max(prev.last.requests, r.requests), divergent: Math.max(prev.last.divergent, r.divergent) } };
  const enough = r.requests >= g.minSampleSize;
  const observed = rate(r.divergent, r.requests);
  const ci = rateInterval(r.requests, r.divergent, budget.alpha);
  const ex = detectableExcess(divergence, budget.alpha);
  const results: GateResult[] = [
    verdictOf({ gate: 'shadow-divergence', state: divergence, alpha: budget.alpha, lacking: !enough }, {
      threshold: max,
      observed: round(observed, 6),
      what: `divergence ${pct(observed)} of ${r.requests} mirrored requests (allowed ${pct(max)})`,
      lack: `${r.requests} mirrored requests, need ${g.minSampleSize}`,
      mde: ex === null ? null : pct(max + ex),
      evidence: {
        requests: r.requests,
        divergent: r.divergent,
        divergenceLower: round(ci.lower, 6),
        divergenceUpper: round(ci.upper, 6),
        minDetectableDivergence: ex === null ? null : round(max + ex, 6),
      },
    }),
    psiGate(r, g),
  ];
  return { state, results };
}

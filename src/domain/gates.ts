// Gate decisions: pure functions over measurements. A gate's outcome is pass, fail or insufficient-data,
// never a silent pass on missing data. Each result carries its evidence (counts, estimates, p-values).
import { z } from 'zod';
import { EvaluationMetric, type Gates } from './manifest';

export const GateOutcome = z.enum(['pass', 'fail', 'insufficient-data']);
export type GateOutcome = z.infer<typeof GateOutcome>;

export const GateName = z.enum([
  'evaluation-quality',
  'evaluation-slices',
  'evaluation-fairness',
  'evaluation-latency',
  'shadow-divergence',
  'shadow-distribution',
  'smoke',
  'error-rate',
  'business-metric',
  'latency-p99',
]);
export type GateName = z.infer<typeof GateName>;

export const Evidence = z.record(z.string(), z.union([z.number(), z.string(), z.null()]));

export const GateResult = z.object({
  gate: GateName,
  outcome: GateOutcome,
  /** One line a human reads: what was seen against what was allowed. */
  summary: z.string(),
  observed: z.number().nullable(),
  threshold: z.number(),
  evidence: Evidence,
});
export type GateResult = z.infer<typeof GateResult>;

// ---------------------------------------------------------------------------------------------------------
// Measurements (adapter responses are parsed against these at the edge)

export const VariantStats = z.object({
  /** Requests served by the variant in the window. */
  requests: z.number().int().min(0),
  /** Of those, failed requests (5xx, timeouts, invalid outputs). */
  errors: z.number().int().min(0),
  /** Business metric: outcomes observed (ground truth arrives late, so fewer than requests). */
  outcomes: z.number().int().min(0),
  /** Business metric: successful outcomes (conversions, correct decisions, …). */
  successes: z.number().int().min(0),
  /** p99 latency in the window, null with no requests. */
  latencyP99Ms: z.number().min(0).nullable(),
  /**
   * The window's latency distribution as [bucket upper bound ms, requests in the bucket], ascending. With
   * it, latency is compared with the reference by a Mann–Whitney test, not only against the SLA.
   */
  latencyHistogram: z.array(z.tuple([z.number().min(0), z.number().int().min(0)])).optional(),
});
export type VariantStats = z.infer<typeof VariantStats>;

export const EvaluationScores = z.object({
  score: z.number(),
  slices: z.record(z.string(), z.number()),
  /** Gap of the primary metric between the best and worst group of the sensitive attribute. */
  fairnessGap: z.number().min(0),
  p99LatencyMs: z.number().min(0),
});
export const EvaluationReport = z.object({
  metric: EvaluationMetric,
  samples: z.number().int().min(0),
  champion: EvaluationScores,
  candidate: EvaluationScores,
});
export type EvaluationReport = z.infer<typeof EvaluationReport>;

export const ShadowReport = z.object({
  /** Mirrored requests with both answers recorded. */
  requests: z.number().int().min(0),
  /** Of those, requests where the challenger's prediction differs from the champion's. */
  divergent: z.number().int().min(0),
  /** Population stability index between the two output distributions (null with no data). */
  psi: z.number().min(0).nullable(),
});
export type ShadowReport = z.infer<typeof ShadowReport>;

export const SmokeReport = z.object({
  requests: z.number().int().min(0),
  errors: z.number().int().min(0),
  latencyP99Ms: z.number().min(0).nullable(),
});
export type SmokeReport = z.infer<typeof SmokeReport>;

// ---------------------------------------------------------------------------------------------------------
// Statistics

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 on erf; absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/**
 * One-sided two-proportion z-test (pooled) of H1: p1 > p2. Returns the p-value; 1 when there is no
 * variance to test against (both proportions 0 or both 1).
 */
export function proportionGreaterPValue(x1: number, n1: number, x2: number, n2: number): number {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return 1;
  return 1 - normalCdf((x1 / n1 - x2 / n2) / se);
}

const round = (x: number, digits = 4) => Number(x.toFixed(digits));
const pct = (x: number) => `${round(x * 100, 2)}%`;

// ---------------------------------------------------------------------------------------------------------
// Canary and watch: candidate against a reference (the champion's cohort, or its pre-rollout baseline)

/**
 * Error rate: fails when the candidate's rate exceeds the reference's by more than the tolerance AND the
 * excess is significant (the candidate is really worse, not noisy).
 */
export function errorRateGate(cand: VariantStats, ref: VariantStats, g: Gates): GateResult {
  const threshold = g.errorRate.maxIncreasePoints;
  const base = { gate: 'error-rate' as const, threshold };
  if (cand.requests < g.minSampleSize || ref.requests < g.minSampleSize) {
    return insufficient(base, cand.requests, ref.requests, g.minSampleSize, 'requests');
  }
  const pc = cand.errors / cand.requests;
  const pr = ref.errors / ref.requests;
  const points = (pc - pr) * 100;
  const pValue = proportionGreaterPValue(cand.errors, cand.requests, ref.errors, ref.requests);
  const fail = points > threshold && pValue < g.significance;
  return {
    ...base,
    outcome: fail ? 'fail' : 'pass',
    observed: round(points),
    summary: `error rate ${pct(pc)} vs ${pct(pr)} (${points >= 0 ? '+' : ''}${round(points, 2)} pts, allowed +${threshold}; p=${round(pValue)})`,
    evidence: {
      candidateRequests: cand.requests,
      candidateErrors: cand.errors,
      referenceRequests: ref.requests,
      referenceErrors: ref.errors,
      candidateRate: round(pc, 6),
      referenceRate: round(pr, 6),
      pValue: round(pValue, 6),
      test: 'two-proportion z (one-sided)',
    },
  };
}

/**
 * Business metric: fails when the candidate's success rate is below the reference's by more than the
 * allowed relative drop AND the drop is significant.
 */
export function businessMetricGate(cand: VariantStats, ref: VariantStats, g: Gates): GateResult {
  const threshold = g.businessMetric.maxRelativeDrop;
  const base = { gate: 'business-metric' as const, threshold };
  if (cand.outcomes < g.minSampleSize || ref.outcomes < g.minSampleSize) {
    return insufficient(base, cand.outcomes, ref.outcomes, g.minSampleSize, 'outcomes');
  }
  const rc = cand.successes / cand.outcomes;
  const rr = ref.successes / ref.outcomes;
  const drop = rr === 0 ? 0 : (rr - rc) / rr;
  const pValue = proportionGreaterPValue(ref.successes, ref.outcomes, cand.successes, cand.outcomes);
  const fail = drop > threshold && pValue < g.significance;
  return {
    ...base,
    outcome: fail ? 'fail' : 'pass',
    observed: round(drop),
    summary: `${g.businessMetric.name} ${pct(rc)} vs ${pct(rr)} (${drop > 0 ? '-' : '+'}${pct(Math.abs(drop))} relative, allowed -${pct(threshold)}; p=${round(pValue)})`,
    evidence: {
      metric: g.businessMetric.name,
      candidateOutcomes: cand.outcomes,
      candidateSuccesses: cand.successes,
      referenceOutcomes: ref.outcomes,
      referenceSuccesses: ref.successes,
      candidateRate: round(rc, 6),
      referenceRate: round(rr, 6),
      pValue: round(pValue, 6),
      test: 'two-proportion z (one-sided)',
    },
  };
}

/**
 * Mann–Whitney U on binned samples: each bucket is one tie group at its upper bound, so histograms from
 * the gateway or Prometheus (whose buckets both variants share) are tested without raw samples. Returns
 * the one-sided p-value of H1 "a is stochastically greater than b" (normal approximation, tie-corrected),
 * and U of a. Buckets are [upper bound, count].
 */
export function mannWhitneyGreater(a: readonly (readonly [number, number])[], b: readonly (readonly [number, number])[]): { u: number; z: number; pValue: number; n1: number; n2: number } {
  const bounds = [...new Set([...a.map(([x]) => x), ...b.map(([x]) => x)])].sort((x, y) => x - y);
  const count = (h: readonly (readonly [number, number])[]) => {
    const m = new Map<number, number>();
    for (const [x, n] of h) m.set(x, (m.get(x) ?? 0) + n);
    return m;
  };
  const ca = count(a);
  const cb = count(b);
  let n1 = 0;
  let n2 = 0;
  let u = 0;
  let tieTerm = 0;
  let bBelow = 0;
  for (const x of bounds) {
    const ai = ca.get(x) ?? 0;
    const bi = cb.get(x) ?? 0;
    u += ai * (bBelow + bi / 2);
    bBelow += bi;
    n1 += ai;
    n2 += bi;
    const t = ai + bi;
    tieTerm += t ** 3 - t;
  }
  const n = n1 + n2;
  if (n1 === 0 || n2 === 0) return { u, z: 0, pValue: 1, n1, n2 };
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, pValue: 1, n1, n2 };
  // Continuity correction of 0.5 towards the null.
  const zScore = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return { u, z: zScore, pValue: 1 - normalCdf(zScore), n1, n2 };
}

/**
 * Latency: fails on a p99 above the SLA; and, with both variants' distributions, on a regression against
 * the reference: the candidate significantly slower (Mann–Whitney, one-sided) AND its p99 more than the
 * allowed relative increase above the reference's. A shift that is significant but small, or large but
 * noise, passes.
 */
export function latencyGate(cand: VariantStats, ref: VariantStats | null, g: Gates): GateResult {
  const threshold = g.latency.p99SlaMs;
  const base = { gate: 'latency-p99' as const, threshold };
  if (cand.requests < g.minSampleSize || cand.latencyP99Ms === null) {
    return insufficient(base, cand.requests, ref?.requests ?? null, g.minSampleSize, 'requests');
  }
  const p99 = cand.latencyP99Ms;
  const refP99 = ref?.latencyP99Ms ?? null;
  const evidence: Record<string, number | string | null> = { candidateP99Ms: round(p99, 3), referenceP99Ms: refP99, requests: cand.requests, slaMs: threshold };
  let regression = false;
  let shift = '';
  if (cand.latencyHistogram && ref?.latencyHistogram && refP99 !== null && ref.requests >= g.minSampleSize) {
    const mw = mannWhitneyGreater(cand.latencyHistogram, ref.latencyHistogram);
    const increase = refP99 > 0 ? p99 / refP99 - 1 : 0;
    const floorMs = g.latency.minP99IncreaseMs ?? 0.1 * threshold;
    regression = mw.pValue < g.significance && increase > g.latency.maxP99Increase && p99 - refP99 > floorMs;
    Object.assign(evidence, {
      test: 'Mann-Whitney U (one-sided, binned, tie-corrected)',
      u: round(mw.u, 1),
      z: round(mw.z, 4),
      pValue: round(mw.pValue, 6),
      p99Increase: round(increase, 4),
      maxP99Increase: g.latency.maxP99Increase,
      minP99IncreaseMs: round(floorMs, 3),
    });
    shift = `; vs reference ${round(refP99, 1)} ms: ${increase >= 0 ? '+' : ''}${pct(increase)} (allowed +${pct(g.latency.maxP99Increase)} or +${round(floorMs, 1)} ms), Mann-Whitney p=${round(mw.pValue)}`;
  } else if (refP99 !== null) {
    shift = `; reference ${round(refP99, 1)} ms`;
  }
  return {
    ...base,
    outcome: p99 > threshold || regression ? 'fail' : 'pass',
    observed: round(p99, 2),
    summary: `p99 ${round(p99, 1)} ms (SLA ${threshold} ms${shift})${regression ? ': significantly slower than the reference' : ''}`,
    evidence,
  };
}

function insufficient(
  base: { gate: GateName; threshold: number },
  cand: number,
  ref: number | null,
  min: number,
  what: string,
): GateResult {
  return {
    ...base,
    outcome: 'insufficient-data',
    observed: null,
    summary: `insufficient data: ${cand}${ref === null ? '' : ` / ${ref}`} ${what}, need ${min} per variant`,
    evidence: { candidateSamples: cand, referenceSamples: ref, minSampleSize: min },
  };
}

/** The three canary gates: business impact, errors, latency. */
export function canaryGates(cand: VariantStats, ref: VariantStats, g: Gates): GateResult[] {
  return [businessMetricGate(cand, ref, g), errorRateGate(cand, ref, g), latencyGate(cand, ref, g)];
}

/**
 * After 100% there is no champion cohort: the candidate's window is compared with the champion's
 * pre-rollout baseline. Without a baseline, the comparisons lack data; they never pass by default.
 */
export function watchGates(cand: VariantStats, baseline: VariantStats | null, g: Gates): GateResult[] {
  if (baseline) return canaryGates(cand, baseline, g);
  const none = { requests: 0, errors: 0, outcomes: 0, successes: 0, latencyP99Ms: null };
  return [businessMetricGate(cand, none, g), errorRateGate(cand, none, g), latencyGate(cand, null, g)];
}

// ---------------------------------------------------------------------------------------------------------
// Offline evaluation, shadow, smoke

export function evaluationGates(r: EvaluationReport, g: Gates): GateResult[] {
  const e = g.evaluation;
  const lowerIsBetter = r.metric === 'rmse';
  // Positive = candidate worse, in the metric's own units.
  const regression = (cand: number, champ: number) => (lowerIsBetter ? cand - champ : champ - cand);
  const results: GateResult[] = [];

  const reg = regression(r.candidate.score, r.champion.score);
  const belowMin =
    e.minScore !== undefined && (lowerIsBetter ? r.candidate.score > e.minScore : r.candidate.score < e.minScore);
  results.push({
    gate: 'evaluation-quality',
    outcome: reg > e.maxRegression || belowMin ? 'fail' : 'pass',
    observed: round(r.candidate.score),
    threshold: e.minScore ?? round(r.champion.score - (lowerIsBetter ? -e.maxRegression : e.maxRegression)),
    summary: `${r.metric} ${round(r.candidate.score)} vs champion ${round(r.champion.score)}${e.minScore !== undefined ? `, minimum ${e.minScore}` : ''} on ${r.samples} samples`,
    evidence: { candidate: r.candidate.score, champion: r.champion.score, regression: round(reg, 6), samples: r.samples },
  });

  const sliceRegs = Object.entries(r.champion.slices)
    .filter(([name]) => r.candidate.slices[name] !== undefined)
    .map(([name, champ]) => ({ name, reg: regression(r.candidate.slices[name] as number, champ) }))
    .sort((a, b) => b.reg - a.reg);
  const worst = sliceRegs[0];
  results.push({
    gate: 'evaluation-slices',
    outcome: worst && worst.reg > e.maxSliceRegression ? 'fail' : 'pass',
    observed: worst ? round(worst.reg) : 0,
    threshold: e.maxSliceRegression,
    summary: worst ? `worst slice ${worst.name}: regression ${round(worst.reg)} (allowed ${e.maxSliceRegression})` : 'no slices reported',
    evidence: Object.fromEntries(sliceRegs.map((s) => [s.name, round(s.reg, 6)])),
  });

  results.push({
    gate: 'evaluation-fairness',
    outcome: r.candidate.fairnessGap > e.maxFairnessGap ? 'fail' : 'pass',
    observed: round(r.candidate.fairnessGap),
    threshold: e.maxFairnessGap,
    summary: `fairness gap ${round(r.candidate.fairnessGap)} (champion ${round(r.champion.fairnessGap)}, allowed ${e.maxFairnessGap})`,
    evidence: { candidate: r.candidate.fairnessGap, champion: r.champion.fairnessGap },
  });

  results.push({
    gate: 'evaluation-latency',
    outcome: r.candidate.p99LatencyMs > g.latency.p99SlaMs ? 'fail' : 'pass',
    observed: round(r.candidate.p99LatencyMs, 2),
    threshold: g.latency.p99SlaMs,
    summary: `p99 under load ${round(r.candidate.p99LatencyMs, 1)} ms (SLA ${g.latency.p99SlaMs} ms; champion ${round(r.champion.p99LatencyMs, 1)} ms)`,
    evidence: { candidateP99Ms: r.candidate.p99LatencyMs, championP99Ms: r.champion.p99LatencyMs },
  });
  return results;
}

export function shadowGates(r: ShadowReport, g: Gates): GateResult[] {
  const enough = r.requests >= g.minSampleSize;
  const rate = r.requests ? r.divergent / r.requests : 0;
  return [
    enough
      ? {
          gate: 'shadow-divergence',
          outcome: rate > g.shadow.maxDivergenceRate ? 'fail' : 'pass',
          observed: round(rate, 6),
          threshold: g.shadow.maxDivergenceRate,
          summary: `divergence ${pct(rate)} of ${r.requests} mirrored requests (allowed ${pct(g.shadow.maxDivergenceRate)})`,
          evidence: { requests: r.requests, divergent: r.divergent },
        }
      : insufficient({ gate: 'shadow-divergence', threshold: g.shadow.maxDivergenceRate }, r.requests, null, g.minSampleSize, 'mirrored requests'),
    psiGate(r, g),
  ];
}

/** The output distribution's PSI over the shadow's window against its threshold (a distance, no sampling model). */
export function psiGate(r: ShadowReport, g: Gates): GateResult {
  return r.requests >= g.minSampleSize && r.psi !== null
    ? {
        gate: 'shadow-distribution',
        outcome: r.psi > g.shadow.maxPsi ? 'fail' : 'pass',
        observed: round(r.psi),
        threshold: g.shadow.maxPsi,
        summary: `output distribution PSI ${round(r.psi)} (allowed ${g.shadow.maxPsi})`,
        evidence: { psi: r.psi, requests: r.requests },
      }
    : insufficient({ gate: 'shadow-distribution', threshold: g.shadow.maxPsi }, r.requests, null, g.minSampleSize, 'mirrored requests');
}

export function smokeGate(r: SmokeReport, maxErrorRate: number, g: Gates): GateResult {
  const rate = r.requests ? r.errors / r.requests : 1;
  const slow = r.latencyP99Ms !== null && r.latencyP99Ms > g.latency.p99SlaMs;
  return {
    gate: 'smoke',
    outcome: r.requests === 0 || rate > maxErrorRate || slow ? 'fail' : 'pass',
    observed: round(rate, 6),
    threshold: maxErrorRate,
    summary: `smoke: ${r.errors}/${r.requests} errors, p99 ${r.latencyP99Ms ?? '–'} ms (SLA ${g.latency.p99SlaMs} ms)`,
    evidence: { requests: r.requests, errors: r.errors, latencyP99Ms: r.latencyP99Ms },
  };
}

/** One verdict over several gates: any fail fails; else any missing data is insufficient; else pass. */
export function verdict(results: GateResult[]): GateOutcome {
  if (results.some((r) => r.outcome === 'fail')) return 'fail';
  if (results.some((r) => r.outcome === 'insufficient-data')) return 'insufficient-data';
  return 'pass';
}

import { STANDARD_GATES } from '../../../src/domain/manifest';
import {
  businessMetricGate,
  errorRateGate,
  evaluationGates,
  latencyGate,
  mannWhitneyGreater,
  normalCdf,
  proportionGreaterPValue,
  shadowGates,
  verdict,
  watchGates,
  type VariantStats,
} from '../../../src/domain/gates';

const stats = (s: Partial<VariantStats> = {}): VariantStats => ({
  requests: 10_000, errors: 100, outcomes: 10_000, successes: 3_000, latencyP99Ms: 80, ...s,
});
const g = STANDARD_GATES;

describe('statistics', () => {
  it('matches the standard normal table', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
    expect(normalCdf(-1.645)).toBeCloseTo(0.05, 3);
  });
  it('gives a small p-value only for a real difference', () => {
    expect(proportionGreaterPValue(200, 1000, 100, 1000)).toBeLessThan(0.001);
    expect(proportionGreaterPValue(105, 1000, 100, 1000)).toBeGreaterThan(0.3);
    expect(proportionGreaterPValue(0, 1000, 0, 1000)).toBe(1);
  });
});

describe('error-rate gate', () => {
  it('given an increase of 3 points on 10k requests, then it fails with its evidence', () => {
    const r = errorRateGate(stats({ errors: 400 }), stats(), g);
    expect(r.outcome).toBe('fail');
    expect(r.observed).toBeCloseTo(3);
    expect(r.evidence).toMatchObject({ candidateErrors: 400, referenceErrors: 100 });
    expect(Number(r.evidence.pValue)).toBeLessThan(0.001);
  });
  it('given an increase within 0.5 points, then it passes', () => {
    expect(errorRateGate(stats({ errors: 140 }), stats(), g).outcome).toBe('pass');
  });
  it('given 0.7 points more on a noisy 1,000 requests (p≈0.09), then it does not fail on noise', () => {
    const small = { ...g, minSampleSize: 100 };
    expect(errorRateGate(stats({ requests: 1000, errors: 17 }), stats({ requests: 1000, errors: 10 }), small).outcome).toBe('pass');
    expect(errorRateGate(stats({ requests: 1000, errors: 20 }), stats({ requests: 1000, errors: 10 }), small).outcome).toBe('fail');
  });
  it('given fewer requests than the minimum, then it is insufficient data, never a pass', () => {
    const r = errorRateGate(stats({ requests: 50, errors: 50 }), stats(), g);
    expect(r.outcome).toBe('insufficient-data');
    expect(r.summary).toMatch(/need 1000/);
  });
});

describe('business-metric gate', () => {
  it('given a 10% relative drop, then it fails', () => {
    expect(businessMetricGate(stats({ successes: 2_700 }), stats(), g).outcome).toBe('fail');
  });
  it('given a 1% relative drop, then it passes (allowed 2%)', () => {
    expect(businessMetricGate(stats({ successes: 2_970 }), stats(), g).outcome).toBe('pass');
  });
  it('given outcomes not yet observed, then it is insufficient data', () => {
    expect(businessMetricGate(stats({ outcomes: 10 }), stats(), g).outcome).toBe('insufficient-data');
  });
});

describe('latency and watch gates', () => {
  it('fails above the p99 SLA', () => {
    expect(latencyGate(stats({ latencyP99Ms: 300 }), null, g).outcome).toBe('fail');
    expect(latencyGate(stats({ latencyP99Ms: 200 }), null, g).outcome).toBe('pass');
  });
  it('Mann-Whitney on binned samples matches the textbook value, ties included', () => {
    const one = (xs: number[]) => xs.map((x) => [x, 1] as [number, number]);
    // scipy.stats.mannwhitneyu([4,5,6], [1,2,3], alternative='greater', method='asymptotic') -> U=9, p=0.0404
    const mw = mannWhitneyGreater(one([4, 5, 6]), one([1, 2, 3]));
    expect(mw.u).toBe(9);
    expect(mw.pValue).toBeCloseTo(0.0404, 3);
    expect(mannWhitneyGreater(one([1, 2, 3]), one([4, 5, 6])).pValue).toBeGreaterThan(0.95);
    // Identical histograms: U is exactly half of n1*n2, no evidence of a shift.
    const h: [number, number][] = [[10, 500], [20, 400], [40, 100]];
    const same = mannWhitneyGreater(h, h);
    expect(same.u).toBe(500_000);
    expect(same.pValue).toBeGreaterThan(0.45);
  });

  it('fails a candidate significantly slower than the champion by more than the allowed increase, within the SLA', () => {
    const ref = stats({ latencyP99Ms: 40, latencyHistogram: [[10, 5_000], [20, 4_000], [40, 1_000]] });
    const slower = stats({ latencyP99Ms: 80, latencyHistogram: [[10, 2_000], [20, 4_000], [40, 3_000], [80, 1_000]] });
    const r = latencyGate(slower, ref, g);
    expect(r).toMatchObject({ outcome: 'fail', evidence: { test: expect.stringMatching(/Mann-Whitney/), p99Increase: 1 } });
    expect(r.evidence.pValue as number).toBeLessThan(0.001);
    expect(r.summary).toMatch(/significantly slower/);
    // The same distributions both ways: no regression.
    expect(latencyGate(ref, ref, g).outcome).toBe('pass');
    // Faster candidate: passes.
    expect(latencyGate(ref, slower, g).outcome).toBe('pass');
  });

  it('passes a significant, relatively large shift that stays far inside the SLA budget', () => {
    // +17 ms on a 1,000 ms SLA: below the default floor of 10% of the SLA.
    const loose = { ...g, latency: { ...g.latency, p99SlaMs: 1_000 } };
    const ref = stats({ latencyP99Ms: 20, latencyHistogram: [[10, 5_000], [20, 5_000]] });
    const cand = stats({ latencyP99Ms: 37, latencyHistogram: [[10, 3_000], [20, 5_000], [37, 2_000]] });
    const r = latencyGate(cand, ref, loose);
    expect(r.evidence.pValue as number).toBeLessThan(0.001);
    expect(r).toMatchObject({ outcome: 'pass', evidence: { minP99IncreaseMs: 100 } });
    expect(latencyGate(cand, ref, { ...loose, latency: { ...loose.latency, minP99IncreaseMs: 10 } }).outcome).toBe('fail');
  });

  it('passes a large p99 increase that the test cannot tell from noise', () => {
    const ref = stats({ requests: 1_000, latencyP99Ms: 20, latencyHistogram: [[10, 500], [20, 500]] });
    const cand = stats({ requests: 1_000, latencyP99Ms: 80, latencyHistogram: [[10, 500], [20, 480], [80, 20]] });
    const r = latencyGate(cand, ref, g);
    expect(r.outcome).toBe('pass');
    expect(r.evidence.pValue as number).toBeGreaterThan(0.05);
  });

  it('without a baseline, the comparisons lack data instead of passing', () => {
    expect(watchGates(stats(), null, g).map((r) => r.outcome)).toEqual(['insufficient-data', 'insufficient-data', 'pass']);
    expect(verdict(watchGates(stats(), null, g))).toBe('insufficient-data');
  });
});

describe('evaluation and shadow gates', () => {
  const report = {
    metric: 'accuracy' as const,
    samples: 1000,
    champion: { score: 0.9, slices: { a: 0.9, b: 0.8 }, fairnessGap: 0.02, p99LatencyMs: 50 },
    candidate: { score: 0.91, slices: { a: 0.92, b: 0.7 }, fairnessGap: 0.02, p99LatencyMs: 50 },
  };
  it('fails a candidate that is better overall but regresses on a slice', () => {
    const r = evaluationGates(report, g);
    expect(r.find((x) => x.gate === 'evaluation-slices')).toMatchObject({ outcome: 'fail', summary: expect.stringMatching(/worst slice b/) });
    expect(r.find((x) => x.gate === 'evaluation-quality')?.outcome).toBe('pass');
  });
  it('treats rmse as lower-is-better', () => {
    const rmse = { ...report, metric: 'rmse' as const, candidate: { ...report.candidate, score: 0.95, slices: {} } };
    expect(evaluationGates(rmse, g).find((x) => x.gate === 'evaluation-quality')?.outcome).toBe('fail');
  });
  it('fails divergent shadows and waits on too little shadow data', () => {
    expect(shadowGates({ requests: 5000, divergent: 500, psi: 0.01 }, g)[0]?.outcome).toBe('fail');
    expect(shadowGates({ requests: 5000, divergent: 50, psi: 0.5 }, g)[1]?.outcome).toBe('fail');
    expect(verdict(shadowGates({ requests: 10, divergent: 0, psi: 0 }, g))).toBe('insufficient-data');
  });
});

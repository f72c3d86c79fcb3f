// The gates' judgement, one interval at a time: the domain's questions and outcomes on top of the
// sequential tests, the budget's share-out, and the step rules the workflow and the simulator share.
import { analysisExit, recordLook, type AnalysisProgress } from '../../../src/domain/analysis';
import type { GateResult, VariantStats } from '../../../src/domain/gates';
import { allocateBudget, judgeCanary, judgeShadow, newCanaryJudgeState, newShadowJudgeState, seedReference, type CanaryJudgeState } from '../../../src/domain/judge';
import { parseManifest, STANDARD_GATES } from '../../../src/domain/manifest';
import { expandPlan } from '../../../src/domain/plan';
import { expectedLatencyHistogram } from '../../../src/simulate/sampling';

const g = STANDARD_GATES;
const budget = { alpha: 0.005, nominalLooks: 288 };

/** An interval's expected counts: n requests at these rates, latency with this p99 (median half of it). */
const interval = (n: number, r: { errorRate?: number; successRate?: number; p99Ms?: number } = {}): VariantStats => {
  const p99 = r.p99Ms ?? 80;
  return {
    requests: n,
    errors: Math.round(n * (r.errorRate ?? 0.01)),
    outcomes: n,
    successes: Math.round(n * (r.successRate ?? 0.3)),
    latencyP99Ms: p99,
    latencyHistogram: expectedLatencyHistogram(n, p99 / 2, p99),
  };
};

function run(looks: number, cand: (i: number) => VariantStats, ref: (i: number) => VariantStats, state: CanaryJudgeState = newCanaryJudgeState()) {
  let s = state;
  let results: GateResult[] = [];
  const history: GateResult[][] = [];
  for (let i = 0; i < looks; i++) {
    ({ state: s, results } = judgeCanary(s, cand(i), ref(i), g, budget));
    history.push(results);
  }
  return { state: s, results, history };
}
const outcome = (results: GateResult[], gate: string) => results.find((r) => r.gate === gate)?.outcome;

describe('canary gates, one interval at a time', () => {
  it('given too few samples, then every gate lacks data, never passes', () => {
    const { results } = run(1, () => interval(250), () => interval(250));
    expect(results.map((r) => r.outcome)).toEqual(['insufficient-data', 'insufficient-data', 'insufficient-data']);
  });

  it('given an identical candidate, then every gate passes, saying what it could have detected', () => {
    const { results, history } = run(48, () => interval(250), () => interval(4750));
    expect(results.map((r) => r.outcome)).toEqual(['pass', 'pass', 'pass']);
    expect(history.flat().some((r) => r.outcome === 'fail')).toBe(false);
    const errors = results.find((r) => r.gate === 'error-rate') as GateResult;
    expect(errors.summary).toMatch(/could detect \+\d+(\.\d+)? pts/);
    expect(Number(errors.evidence.minDetectableIncreasePoints)).toBeGreaterThan(g.errorRate.maxIncreasePoints);
    expect(errors.evidence).toMatchObject({ test: 'anytime-valid binomial mixture with change detection', looks: 48 });
    expect(Number(errors.evidence.eValue)).toBeLessThan(1 / Number(errors.evidence.alpha));
  });

  it('given errors at 3% against 1%, then the error-rate gate fails with its e-value, p-value and bounds', () => {
    const { results, history } = run(12, () => interval(250, { errorRate: 0.03 }), () => interval(4750));
    const firstFail = history.findIndex((rs) => outcome(rs, 'error-rate') === 'fail');
    expect(firstFail).toBeGreaterThanOrEqual(0);
    expect(firstFail).toBeLessThan(8);
    const e = (results.find((r) => r.gate === 'error-rate') as GateResult).evidence;
    expect(Number(e.eValue)).toBeGreaterThanOrEqual(1 / Number(e.alpha));
    expect(Number(e.alwaysValidPValue)).toBeLessThanOrEqual(Number(e.alpha));
    expect(Number(e.candidateRateLower)).toBeGreaterThan(0.015);
    expect(outcome(results, 'business-metric')).not.toBe('fail');
  });

  it('given an increase inside the tolerance (+0.4 points), then it never fails however long it runs', () => {
    const { history } = run(288, () => interval(250, { errorRate: 0.014 }), () => interval(4750));
    expect(history.some((rs) => outcome(rs, 'error-rate') === 'fail')).toBe(false);
  });

  it('given a 10% relative drop of the business metric, then it fails on business impact', () => {
    const { history } = run(288, () => interval(2500, { successRate: 0.27 }), () => interval(2500));
    expect(history.some((rs) => outcome(rs, 'business-metric') === 'fail')).toBe(true);
  });

  it('given a ±10% daily cycle both variants share, then the business gate does not take the cycle for a regression', () => {
    const cycle = (i: number) => 0.3 * (1 + 0.1 * Math.sin((2 * Math.PI * i) / 288));
    const { history } = run(288, (i) => interval(250, { successRate: cycle(i) }), (i) => interval(4750, { successRate: cycle(i) }));
    expect(history.some((rs) => rs.some((r) => r.outcome === 'fail'))).toBe(false);
  });

  it('given a candidate p99 of 400 ms against 80 ms (SLA 250 ms), then the latency gate fails', () => {
    const { history } = run(24, () => interval(2500, { p99Ms: 400 }), () => interval(2500));
    expect(history.some((rs) => outcome(rs, 'latency-p99') === 'fail')).toBe(true);
  });

  it('given one slow interval that hit both variants, then latency does not fail, then or later', () => {
    const spike = (i: number) => (i === 3 ? { p99Ms: 2000 } : {});
    const { history } = run(48, (i) => interval(250, spike(i)), (i) => interval(4750, spike(i)));
    expect(history.some((rs) => outcome(rs, 'latency-p99') === 'fail')).toBe(false);
  });

  it('given the champion’s hour before the step, then its rate bound is tight from the first look', () => {
    const seeded = seedReference(newCanaryJudgeState(), interval(60_000));
    const cold = judgeCanary(newCanaryJudgeState(), interval(250), interval(4750), g, budget).results;
    const warm = judgeCanary(seeded, interval(250), interval(4750), g, budget).results;
    const bound = (rs: GateResult[]) => Number((rs.find((r) => r.gate === 'error-rate') as GateResult).evidence.referenceRateBound);
    expect(bound(warm)).toBeLessThan(bound(cold));
    expect(bound(warm)).toBeLessThan(0.0125);
  });
});

describe('shadow divergence', () => {
  it('fails a divergence well above the allowed rate, and passes a low one once enough is mirrored', () => {
    let bad = newShadowJudgeState();
    let good = newShadowJudgeState();
    let badResults: GateResult[] = [];
    let goodResults: GateResult[] = [];
    for (let i = 1; i <= 12; i++) {
      ({ state: bad, results: badResults } = judgeShadow(bad, { requests: 1000 * i, divergent: 120 * i, psi: 0.05 }, g, budget));
      ({ state: good, results: goodResults } = judgeShadow(good, { requests: 1000 * i, divergent: 15 * i, psi: 0.05 }, g, budget));
    }
    expect(outcome(badResults, 'shadow-divergence')).toBe('fail');
    expect(goodResults.map((r) => r.outcome)).toEqual(['pass', 'pass']);
  });
});

describe('the false-rollback budget', () => {
  const m = parseManifest({ apiVersion: 'model-rollout/v1', kind: 'Release', model: 'm', candidate: 'v2', champion: 'v1' });
  const plan = expandPlan(m, { lastRollbackAt: null, now: 0 });
  const budgets = allocateBudget(plan, 0.05);

  it('is shared out across the gated steps and their tests, and spends exactly the release’s rate', () => {
    const tests = plan.map((s) => (s.kind === 'shadow' ? 1 : s.kind === 'bake' || s.kind === 'watch' ? 3 : 0));
    const total = budgets.reduce((sum, b, i) => sum + (b ? b.alpha * (tests[i] as number) : 0), 0);
    expect(total).toBeCloseTo(0.05, 12);
    expect(plan.filter((_, i) => budgets[i]).map((s) => s.kind)).toEqual(['shadow', 'bake', 'bake', 'bake', 'watch']);
  });

  it('gives the thin 5% canary the largest share and the 50% bake the smallest of the bakes', () => {
    const bakes = budgets.filter((b, i) => b && plan[i]?.kind === 'bake').map((b) => b!.alpha);
    expect(bakes[0]).toBeGreaterThan(bakes[1] as number);
    expect(bakes[1]).toBeGreaterThan(bakes[2] as number);
    // 1/s_cand + 1/s_ref: 21.05 at 5%, 4 at 50%.
    expect((bakes[0] as number) / (bakes[2] as number)).toBeCloseTo((100 / 5 + 100 / 95) / 4, 6);
  });
});

describe('the rules of an analysis step', () => {
  const fresh = (): AnalysisProgress => ({ consecutiveFailures: 0, lastOutcome: null, lastResults: [], lastMeasuredElapsed: -1 });
  const result = (outcome: GateResult['outcome']): GateResult[] => [{ gate: 'error-rate', outcome, summary: '', observed: null, threshold: 0, evidence: {} }];

  it('ends on a pass taken at or after the minimum, and not before', () => {
    const p = fresh();
    recordLook(p, result('pass'), 50, 1);
    expect(analysisExit(p, { minMs: 100, maxMs: 200 }, 50, false, true)).toBeNull();
    recordLook(p, result('pass'), 100, 1);
    expect(analysisExit(p, { minMs: 100, maxMs: 200 }, 100, false, true)).toBe('done');
  });

  it('rolls back after failureLimit breaches in a row, and a pass in between resets the count', () => {
    const p = fresh();
    expect(recordLook(p, result('fail'), 10, 2)).toBe(false);
    expect(recordLook(p, result('pass'), 20, 2)).toBe(false);
    expect(recordLook(p, result('fail'), 30, 2)).toBe(false);
    expect(recordLook(p, result('fail'), 40, 2)).toBe(true);
  });

  it('at the maximum, lacking data is not a pass; paused time does not run out', () => {
    const p = fresh();
    recordLook(p, result('insufficient-data'), 200, 1);
    expect(analysisExit(p, { minMs: 100, maxMs: 200 }, 200, false, true)).toBe('lacking');
    expect(analysisExit(p, { minMs: 100, maxMs: 200 }, 200, true, true)).toBeNull();
  });
});

describe('latency without histograms', () => {
  it('given a metrics provider that returns no latency buckets, then latency lacks data, never passes', () => {
    const bare = (n: number): VariantStats => ({ ...interval(n), latencyHistogram: [] });
    const { results } = run(48, () => bare(250), () => bare(4750));
    expect(outcome(results, 'latency-p99')).toBe('insufficient-data');
    expect(outcome(results, 'error-rate')).toBe('pass');
  });

  it('given a tolerance of 100%, then the business gate never fails and says nothing it cannot compute', () => {
    const gates = { ...g, businessMetric: { ...g.businessMetric, maxRelativeDrop: 1 } };
    const { results } = judgeCanary(newCanaryJudgeState(), interval(5000, { successRate: 0 }), interval(5000), gates, budget);
    const business = results.find((r) => r.gate === 'business-metric') as GateResult;
    expect(business.outcome).toBe('pass');
    expect(business.summary).not.toMatch(/NaN/);
  });
});

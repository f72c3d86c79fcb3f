// The anytime-valid tests behind the gates: checked against confseq's reference values, against a
// brute-force sum over change points, and by Monte Carlo for their error rates and power.
import fs from 'node:fs';
import path from 'node:path';
import {
  CUMULATIVE_THETAS,
  W_CUMULATIVE,
  binomialIncrement,
  detectableExcess,
  differenceIncrement,
  logEValue,
  logLikelihoodRatio,
  logSumExp,
  newSequentialState,
  normalMixtureBound,
  observe,
  optimalRho,
  rateInterval,
  rateUpperBound,
  rejects,
  restartWeight,
  CHANGE_THETAS,
  type Increment,
} from '../../../src/domain/sequential';
import { binomial, keyedRng, type Rng } from '../../../src/simulate/sampling';

interface ReferenceCase {
  name: string;
  p0: number;
  thetas: number[];
  weights: number[];
  x: number[];
  log_M: Record<string, number>;
}
const reference = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/sequential-reference.json'), 'utf8')) as {
  cases: ReferenceCase[];
  normal_mixture: { v: number; alpha: number; v_opt: number; alpha_opt: number; is_one_sided: boolean; bound: number; rho: number }[];
};

describe('against confseq (test/fixtures/sequential-reference.json, scripts/reference/sequential_reference.py)', () => {
  it.each(reference.cases.map((c) => [c.name, c] as const))('case %s: the likelihood-ratio mixture equals confseq’s diversified betting martingale', (_name, c) => {
    expect(c.thetas.length).toBeGreaterThan(1);
    for (const [tText, expected] of Object.entries(c.log_M)) {
      const t = Number(tText);
      const successes = c.x.slice(0, t).reduce((a, b) => a + b, 0);
      // One batch of t trials is the product of t single-trial factors: order does not matter.
      const ours = logSumExp(c.thetas.map((theta, k) => Math.log(c.weights[k] as number) + logLikelihoodRatio(t, successes, c.p0, theta)));
      expect(ours).toBeCloseTo(expected, 9);
    }
  });

  it('the one-sided normal-mixture boundary matches confseq’s normal_mixture_bound, and so does its choice of rho', () => {
    const oneSided = reference.normal_mixture.filter((r) => r.is_one_sided);
    expect(oneSided.length).toBeGreaterThanOrEqual(4);
    for (const r of oneSided) {
      // confseq tunes a one-sided boundary with 2 x alpha_opt.
      expect(optimalRho(r.v_opt, 2 * r.alpha_opt)).toBeCloseTo(r.rho, 8);
      expect(normalMixtureBound(r.v, r.alpha, r.rho) / r.bound).toBeCloseTo(1, 6);
    }
  });
});

describe('the e-value of a test', () => {
  it('equals the brute-force sum over every restart of the change detector', () => {
    const rng = keyedRng(3, 'brute');
    const batches = Array.from({ length: 25 }, (_, i) => ({ n: 200, x: binomial(rng, 200, i < 15 ? 0.01 : 0.04), p0: 0.015 }));
    const N = 20;
    let s = newSequentialState();
    for (const b of batches) s = observe(s, binomialIncrement(b.n, b.x, b.p0), N);
    const lr = (theta: number, from: number) => batches.slice(from).reduce((sum, b) => sum + logLikelihoodRatio(b.n, b.x, b.p0, theta), 0);
    const cumulative = W_CUMULATIVE * CUMULATIVE_THETAS.reduce((sum, t) => sum + Math.exp(lr(t, 0)), 0) / CUMULATIVE_THETAS.length;
    let change = 0;
    for (let j = 1; j <= batches.length; j++) {
      change += restartWeight(j, N) * CHANGE_THETAS.reduce((sum, t) => sum + Math.exp(lr(t, j - 1)), 0) / CHANGE_THETAS.length;
    }
    expect(logEValue(s)).toBeCloseTo(Math.log(cumulative + change), 9);
  });

  it('spends at most its whole weight: the restart weights and the first-look share sum to no more than 1', () => {
    for (const N of [1, 12, 288, 864]) {
      let sum = W_CUMULATIVE;
      for (let j = 1; j <= 100 * N; j++) sum += restartWeight(j, N);
      expect(sum).toBeLessThanOrEqual(1 + 1e-12);
      expect(sum).toBeGreaterThan(0.99);
    }
  });
});

/** Runs a test over `looks` batches; true if it ever rejects at alpha. */
function everRejects(rng: Rng, looks: number, alpha: number, batch: (rng: Rng, look: number) => Increment): boolean {
  let s = newSequentialState();
  for (let i = 0; i < looks; i++) {
    s = observe(s, batch(rng, i), looks);
    if (rejects(s, alpha)) return true;
  }
  return false;
}

const share = (runs: number, f: (rng: Rng, run: number) => boolean) => {
  let hits = 0;
  for (let r = 0; r < runs; r++) if (f(keyedRng(11, `run/${r}`), r)) hits += 1;
  return hits / runs;
};

describe('error rates, measured by Monte Carlo with sampling noise', () => {
  const alpha = 0.05;

  it('at the null boundary (p = p0), 100 looks reject in at most alpha of 1,000 runs, however often it looks', () => {
    const rate = share(1000, (rng) => everRejects(rng, 100, alpha, (r) => binomialIncrement(250, binomial(r, 250, 0.015), 0.015)));
    expect(rate).toBeLessThanOrEqual(alpha);
  });

  it('two samples at the boundary (candidate = champion + tolerance), with the champion’s rate bounded from its data, reject in at most alpha of 1,000 runs', () => {
    const tol = 0.005;
    const rate = share(1000, (rng) => {
      let s = newSequentialState();
      let nr = 0;
      let xr = 0;
      for (let i = 0; i < 100; i++) {
        const xRef = binomial(rng, 2500, 0.01);
        nr += 2500;
        xr += xRef;
        const bound = Math.max(xRef / 2500, rateUpperBound(nr, xr, alpha / 10));
        s = observe(s, differenceIncrement({ nc: 2500, xc: binomial(rng, 2500, 0.01 + tol), nr: 2500, xr: xRef, tol, refRate: bound }), 100);
        if (rejects(s, alpha - alpha / 10)) return true;
      }
      return false;
    });
    expect(rate).toBeLessThanOrEqual(alpha);
  });

  it('detects a real excess: 1% → 3% errors against p0 = 1.5% within 40 looks of 250 in nearly every run', () => {
    const power = share(500, (rng) => everRejects(rng, 40, 0.01, (r) => binomialIncrement(250, binomial(r, 250, 0.03), 0.015)));
    expect(power).toBeGreaterThan(0.95);
  });

  it('the detectable effect it reports is one it detects with about 80% power', () => {
    const looks = 40;
    const n = 500;
    const p0 = 0.02;
    const alphaTest = 0.01;
    let planned = newSequentialState();
    for (let i = 0; i < looks; i++) planned = observe(planned, binomialIncrement(n, 0, p0), looks);
    const excess = detectableExcess(planned, alphaTest) as number;
    expect(excess).toBeGreaterThan(0);
    const power = share(600, (rng) => everRejects(rng, looks, alphaTest, (r) => binomialIncrement(n, binomial(r, n, p0 + excess), p0)));
    // At least 80% (the other bets and the change detector only add), and not wildly more: the claim is tight.
    expect(power).toBeGreaterThan(0.75);
    expect(power).toBeLessThan(0.99);
    // Twice the data, a smaller detectable effect.
    let more = planned;
    for (let i = 0; i < looks; i++) more = observe(more, binomialIncrement(n, 0, p0), looks);
    expect(detectableExcess(more, alphaTest) as number).toBeLessThan(excess * 0.8);
  });

  it('the detectable effect of a two-sample test against a small holdback is one it detects, too', () => {
    // The watch: 4,500 candidate and 500 champion requests an interval, 1% errors, tolerance 0.5 points.
    const looks = 36;
    const tol = 0.005;
    const inc = (xc: number, xr: number) => differenceIncrement({ nc: 4500, xc, nr: 500, xr, tol, refRate: 0.01 });
    let planned = newSequentialState();
    for (let i = 0; i < looks; i++) planned = observe(planned, inc(0, 0), looks);
    const excess = detectableExcess(planned, 0.005) as number;
    const power = share(400, (rng) => everRejects(rng, looks, 0.005, (r) => inc(binomial(r, 4500, 0.01 + tol + excess), binomial(r, 500, 0.01))));
    expect(power).toBeGreaterThan(0.75);
  });

  it('the reference’s rate bound covers the true rate at every look in at least 1 - alpha of runs', () => {
    const miss = share(1000, (rng) => {
      let n = 0;
      let x = 0;
      for (let i = 0; i < 100; i++) {
        n += 250;
        x += binomial(rng, 250, 0.01);
        if (rateUpperBound(n, x, alpha) < 0.01) return true;
      }
      return false;
    });
    expect(miss).toBeLessThanOrEqual(alpha);
  });

  it('the rate interval shown as evidence contains the estimate and narrows with data', () => {
    const a = rateInterval(1000, 30, 0.01);
    const b = rateInterval(10000, 300, 0.01);
    expect(a.lower).toBeLessThan(0.03);
    expect(a.upper).toBeGreaterThan(0.03);
    expect(b.upper - b.lower).toBeLessThan(a.upper - a.lower);
    expect(b.lower).toBeGreaterThan(0.02);
    expect(b.upper).toBeLessThan(0.04);
  });
});

// Anytime-valid sequential tests for the gates. Pure arithmetic, no imports, so it bundles into workflow
// code and runs unchanged in the Monte Carlo simulator.
//
// A test is fed one measurement interval at a time. Each look turns the interval's counts into one log
// increment per alternative (a grid of effect sizes); the product of increments for one alternative is a
// nonnegative supermartingale under the null, so any mixture of such products with weights summing to at
// most 1 is an e-process, and Ville's inequality bounds P(it ever reaches 1/alpha) by alpha, however
// often it is looked at. Two kinds of increments:
//
// - `binomialIncrement`: n trials, x bad events, H0: p <= p0 with p0 known for the interval. The
//   likelihood ratio against p1 = expit(logit(p0) + theta). For a constant p0 it is the betting
//   martingale prod(1 + lambda (X - p0)) of Waudby-Smith & Ramdas with lambda = (p1 - p0)/(p0(1 - p0)),
//   and the grid is their diversified Kelly mixture: test/fixtures/sequential-reference.json holds
//   confseq's values for it.
// - `differenceIncrement`: two samples over the same interval, H0: p_cand <= p_ref + tol. With
//   Z = x_c - (n_c/n_r) x_r - n_c tol, the binomial moment bound E e^{lambda X} <= e^{n p (e^lambda - 1)}
//   gives E e^{lambda Z - psi(lambda)} <= 1 for every lambda > 0 and every p_ref <= pRef, with
//   psi = n_c q (e^l - 1 - l) + n_r pRef (e^{-l k} - 1 + l k), q = pRef + tol, k = n_c/n_r. The unknown
//   reference rate enters only psi, increasingly, so an upper confidence bound for it keeps the test valid.
//
// The e-value of a test is the sum of two parts (weights sum to 1):
// - the mixture from the step's first look, weight W_CUMULATIVE: most power for a difference present
//   from the start;
// - a change detector: Shiryaev-Roberts restarts at every look j, each with its own weight w_j, so a
//   degradation that starts late is judged on the data since its onset, not diluted by what came before
//   (e-detectors, Shin, Ramdas & Rinaldo 2023). With sum_j w_j <= 1 - W_CUMULATIVE, R_n + sum_{j>n} w_j
//   is a nonnegative supermartingale, and Ville's inequality bounds its false alarms over the whole step.

/** Effect sizes mixed from the first look (log-odds shifts, or log rate ratios): ratios from 1.05 to about 12. */
export const CUMULATIVE_THETAS = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.5] as const;
/** Alternatives of the change detector: a late onset worth acting on within minutes is a large one. */
export const CHANGE_THETAS = [0.5, 1, 2] as const;
/** Share of a test's alpha spent on the mixture from the first look; the rest on the change detector. */
export const W_CUMULATIVE = 0.3;
/** Of the change detector's share, the part kept for looks beyond the step's nominal count. */
const TAIL_SHARE = 0.1;

export interface SequentialState {
  /** Looks so far (with or without data). */
  looks: number;
  /** log of each cumulative mixture component (one per CUMULATIVE_THETAS). */
  logM: number[];
  /** log of each change-detector statistic R (one per CHANGE_THETAS); -Infinity before any look. */
  logR: number[];
  /** Largest log e-value seen: the always-valid p-value is min(1, exp(-maxLogE)). */
  maxLogE: number;
  /** Trials fed (the candidate's). */
  n: number;
  /**
   * Per first-look alternative, sums over the looks of: the expected log increment at the null boundary
   * (<= 0), its slope in the candidate's excess rate, and its variance there: what the detectable effect
   * is computed from, for the bets the mixture really makes.
   */
  drift: number[];
  slope: number[];
  variance: number[];
}

export function newSequentialState(): SequentialState {
  return {
    looks: 0,
    logM: CUMULATIVE_THETAS.map(() => 0),
    logR: CHANGE_THETAS.map(() => -Infinity),
    maxLogE: -Infinity,
    n: 0,
    drift: CUMULATIVE_THETAS.map(() => 0),
    slope: CUMULATIVE_THETAS.map(() => 0),
    variance: CUMULATIVE_THETAS.map(() => 0),
  };
}

/**
 * One interval's evidence: the log increment of each alternative; its trials; and, at the null boundary,
 * each alternative's expected increment, slope in the candidate's excess rate (per trial) and variance.
 */
export interface Increment {
  logInc: (theta: number) => number;
  n: number;
  atNull: (theta: number) => { drift: number; slope: number; variance: number };
}

const EPS = 1e-9;
const clampP = (p: number) => Math.min(1 - EPS, Math.max(EPS, p));
const logit = (p: number) => Math.log(p / (1 - p));
const expit = (z: number) => 1 / (1 + Math.exp(-z));

/** log L(theta) for one batch of n Bernoulli trials with x bad events against p0. */
export function logLikelihoodRatio(n: number, x: number, p0: number, theta: number): number {
  if (n <= 0) return 0;
  const q0 = clampP(p0);
  const p1 = clampP(expit(logit(q0) + theta));
  return x * Math.log(p1 / q0) + (n - x) * Math.log((1 - p1) / (1 - q0));
}

export function binomialIncrement(n: number, x: number, p0: number): Increment {
  const q = clampP(p0);
  return {
    logInc: (theta) => logLikelihoodRatio(n, x, q, theta),
    n,
    atNull: (theta) => {
      if (n <= 0) return { drift: 0, slope: 0, variance: 0 };
      // log L = x A + n log((1-p1)/(1-p0)), A = logit(p1) - logit(p0) = theta.
      const p1 = clampP(expit(logit(q) + theta));
      return { drift: n * (q * theta + Math.log((1 - p1) / (1 - q))), slope: n * theta, variance: theta * theta * n * q * (1 - q) };
    },
  };
}

/**
 * H0: p_cand <= p_ref + tol over one interval of both samples; `refRate` must bound the reference's rate
 * from above (see the header). An interval without both samples carries no evidence.
 */
export function differenceIncrement(d: { nc: number; xc: number; nr: number; xr: number; tol: number; refRate: number }): Increment {
  if (d.nc <= 0 || d.nr <= 0) return NO_EVIDENCE;
  const k = d.nc / d.nr;
  const pr = Math.max(d.refRate, EPS);
  const q = pr + d.tol;
  const z = d.xc - k * d.xr - d.nc * d.tol;
  // Alternatives on the scale of a log rate ratio while the reference is the larger sample; a smaller
  // reference (a holdback) weighs each of its events k times, so the bets shrink by k.
  const scale = 1 / Math.max(1, k);
  const psi = (l: number) => d.nc * q * (Math.expm1(l) - l) + d.nr * pr * (Math.expm1(-l * k) + l * k);
  return {
    logInc: (theta) => {
      const l = theta * scale;
      return l * z - psi(l);
    },
    n: d.nc,
    atNull: (theta) => {
      const l = theta * scale;
      return { drift: -psi(l), slope: l * d.nc, variance: l * l * (d.nc * q * (1 - q) + k * k * d.nr * pr * (1 - pr)) };
    },
  };
}

export function logSumExp(xs: readonly number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * Weight of a change-detector restart at look `j` (1-based) in a step of `nominalLooks` looks: uniform up
 * to the nominal count, then a summable tail (1/(k(k+1))) for looks an extension or pause adds.
 */
export function restartWeight(j: number, nominalLooks: number): number {
  const share = 1 - W_CUMULATIVE;
  const N = Math.max(1, nominalLooks);
  if (j <= N) return (share * (1 - TAIL_SHARE)) / N;
  const k = j - N;
  return (share * TAIL_SHARE) / (k * (k + 1));
}

/** One look. Returns the new state. */
export function observe(s: SequentialState, inc: Increment, nominalLooks: number): SequentialState {
  const looks = s.looks + 1;
  const logW = Math.log(restartWeight(looks, nominalLooks));
  const logM = s.logM.map((m, k) => m + inc.logInc(CUMULATIVE_THETAS[k] as number));
  const logR = s.logR.map((r, k) => logSumExp([r, logW]) + inc.logInc(CHANGE_THETAS[k] as number));
  const atNull = CUMULATIVE_THETAS.map((t) => inc.atNull(t));
  const next: SequentialState = {
    looks,
    logM,
    logR,
    maxLogE: s.maxLogE,
    n: s.n + inc.n,
    drift: s.drift.map((v, k) => v + (atNull[k] as { drift: number }).drift),
    slope: s.slope.map((v, k) => v + (atNull[k] as { slope: number }).slope),
    variance: s.variance.map((v, k) => v + (atNull[k] as { variance: number }).variance),
  };
  next.maxLogE = Math.max(s.maxLogE, logEValue(next));
  return next;
}

/** A look without usable data: no evidence, but the change detector's restart weights follow the look count. */
export const NO_EVIDENCE: Increment = { logInc: () => 0, n: 0, atNull: () => ({ drift: 0, slope: 0, variance: 0 }) };

/** log of the test's e-value now: W_CUMULATIVE x mean of the mixture, plus the change detector. */
export function logEValue(s: SequentialState): number {
  const cumulative = Math.log(W_CUMULATIVE) + logSumExp(s.logM) - Math.log(s.logM.length);
  const change = logSumExp(s.logR) - Math.log(s.logR.length);
  return logSumExp([cumulative, change]);
}

/** The always-valid p-value: the smallest alpha at which the test would have rejected by now. */
export function alwaysValidPValue(s: SequentialState): number {
  return Math.min(1, Math.exp(-s.maxLogE));
}

export function rejects(s: SequentialState, alpha: number): boolean {
  return logEValue(s) >= Math.log(1 / alpha);
}

/** log e-value of the first-look mixture for one batch taken whole (a fixed null rate). */
function cumulativeLogE(n: number, x: number, p0: number, thetas: readonly number[]): number {
  return logSumExp(thetas.map((t) => logLikelihoodRatio(n, x, p0, t))) - Math.log(thetas.length);
}

function bisect(lo: number, hi: number, rejectedAtLo: boolean, rejected: (q: number) => boolean, steps = 40): number {
  for (let i = 0; i < steps; i++) {
    const mid = (lo + hi) / 2;
    if (rejected(mid) === rejectedAtLo) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * An anytime-valid confidence interval for a constant rate from x bad events in n trials: the rates the
 * mixture (upward and downward) has not rejected at alpha/2 each. Shown as evidence.
 */
export function rateInterval(n: number, x: number, alpha: number): { lower: number; upper: number } {
  if (n <= 0) return { lower: 0, upper: 1 };
  const bound = Math.log(2 / alpha);
  const up = [...CUMULATIVE_THETAS];
  const down = CUMULATIVE_THETAS.map((t) => -t);
  const tooLow = (q: number) => cumulativeLogE(n, x, q, up) >= bound;
  const tooHigh = (q: number) => cumulativeLogE(n, x, q, down) >= bound;
  const est = x / n;
  const lower = tooLow(EPS) ? bisect(EPS, est, true, tooLow, 22) : 0;
  const upper = tooHigh(1 - EPS) ? bisect(est, 1 - EPS, false, tooHigh, 22) : 1;
  return { lower, upper };
}

// ---------------------------------------------------------------------------------------------------------
// The one-sided normal mixture (Robbins; Howard et al. 2021, section 3.2): for S_t with variance process
// V_t and a half-normal mixture over lambda >= 0 of precision rho,
//   M = 2 sqrt(rho / (V + rho)) Phi(S / sqrt(V + rho)) exp(S^2 / (2 (V + rho))),
// an e-process whenever exp(lambda S - lambda^2 V / 2) is a supermartingale for every lambda >= 0.
// The lower tail of a count of events is such a case with V = n p (E e^{-l X} <= e^{-l p + l^2 p / 2} for X
// in [0, 1]): it gives a closed-form upper confidence sequence for a rate, used to bound the reference.

/** log of the normal CDF: Numerical Recipes' erfc, and Mills-ratio asymptotics far in the lower tail. */
function logNormalCdf(z: number): number {
  if (z > -5) {
    const x = Math.abs(z) / Math.SQRT2;
    const t = 1 / (1 + 0.5 * x);
    // Numerical Recipes erfc (fractional error < 1.2e-7 everywhere).
    const erfc = t * Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return Math.log(z >= 0 ? 1 - erfc / 2 : erfc / 2);
  }
  // Mills ratio asymptotics far in the lower tail.
  return -0.5 * z * z - Math.log(-z) - 0.5 * Math.log(2 * Math.PI) + Math.log(1 - 1 / (z * z) + 3 / z ** 4);
}

export function normalMixtureLogE(s: number, v: number, rho: number): number {
  const w = v + rho;
  return Math.log(2) + 0.5 * Math.log(rho / w) + logNormalCdf(s / Math.sqrt(w)) + (s * s) / (2 * w);
}

/** The mixture precision that makes the boundary tightest at intrinsic time vOpt (confseq's choice). */
export function optimalRho(vOpt: number, alpha: number): number {
  const l = 2 * Math.log(1 / alpha);
  return vOpt / (l + Math.log(1 + l));
}

/** The smallest s at which the one-sided normal mixture reaches 1/alpha at intrinsic time v. */
export function normalMixtureBound(v: number, alpha: number, rho: number): number {
  const target = Math.log(1 / alpha);
  let hi = Math.sqrt(v + rho) * 10 + 10;
  let lo = 0;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalMixtureLogE(mid, v, rho) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Events by which the reference's rate bound is tuned: it is tightest near this many. */
const RATE_BOUND_V_OPT = 30;

/**
 * An anytime-valid upper bound for a rate from x events in n trials, at level alpha: the largest p for
 * which n p - x has not crossed the normal-mixture boundary of intrinsic time n p.
 */
export function rateUpperBound(n: number, x: number, alpha: number): number {
  if (n <= 0) return 1;
  const rho = optimalRho(RATE_BOUND_V_OPT, alpha);
  const target = Math.log(1 / alpha);
  const rejected = (p: number) => normalMixtureLogE(n * p - x, n * p, rho) >= target;
  // Bracket first: the bound lies a few standard deviations above the estimate.
  let hi = Math.min(1, (x + 4 * Math.sqrt((x + rho + 1) * (target + 5)) + 10) / n);
  while (hi < 1 && !rejected(hi)) hi = Math.min(1, 2 * hi);
  if (!rejected(hi)) return 1;
  return bisect(x / n, hi, false, rejected, 30);
}

const Z_POWER_80 = 0.8416;

/**
 * The smallest excess of the candidate's rate over the null boundary that the data fed so far would
 * detect with 80% power: for each bet of the first-look mixture, the excess at which its expected log
 * wealth clears the rejection level (log(K / (W alpha)), its share of the mixture) by 0.84 standard
 * deviations; the smallest over the bets. Conservative: the other bets and the change detector only
 * add. With little data this is large, and the audit record says so.
 */
export function detectableExcess(s: SequentialState, alpha: number): number | null {
  const level = Math.log(CUMULATIVE_THETAS.length / (W_CUMULATIVE * alpha));
  let best = Infinity;
  s.slope.forEach((slope, k) => {
    if (slope <= 0) return;
    const needed = level - (s.drift[k] as number) + Z_POWER_80 * Math.sqrt(s.variance[k] as number);
    best = Math.min(best, needed / slope);
  });
  return Number.isFinite(best) ? best : null;
}

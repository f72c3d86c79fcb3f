// Sampling noise for simulations: counts drawn from their distributions and latency drawn from a
// log-normal into the gateway's buckets. One set of draws serves the single-run simulation (through the
// real workflow) and the Monte Carlo runs, so both see the same noise model.
import type { VariantStats } from '../domain/gates';
import { histogramQuantile } from '../domain/quantile';
import { seeded } from '../shared/random';

export type Rng = () => number;

/** A generator seeded by a seed and a key: the same key draws the same numbers, in any call order. */
export function keyedRng(seed: number, key: string): Rng {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return seeded(h);
}

export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Exact inversion below a mean of 30, normal approximation above (the error there is far below the tests' tolerances). */
export function poisson(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rng)));
  let k = 0;
  let p = Math.exp(-mean);
  let cdf = p;
  const u = rng();
  while (u > cdf && k < 1000) {
    k += 1;
    p *= mean / k;
    cdf += p;
  }
  return k;
}

export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  const mean = n * p;
  if (mean >= 30) return Math.min(n, Math.max(0, Math.round(mean + Math.sqrt(mean * (1 - p)) * normal(rng))));
  // Inversion: walk the CDF from 0 (expected steps: the mean).
  let k = 0;
  let pk = Math.exp(n * Math.log1p(-p));
  let cdf = pk;
  const u = rng();
  const odds = p / (1 - p);
  while (u > cdf && k < n) {
    pk *= ((n - k) / (k + 1)) * odds;
    k += 1;
    cdf += pk;
  }
  return k;
}

// ---------------------------------------------------------------------------------------------------------
// Latency: log-normal with a given median and p99, into the embedded gateway's buckets (10% wide).

const Z99 = 2.326348;
const bucketUpper = (i: number) => 0.1 * 1.1 ** i;
const bucketOf = (ms: number) => Math.max(0, Math.ceil(Math.log(Math.max(ms, 0.1) / 0.1) / Math.log(1.1)));

function normalCdf(z: number): number {
  // erfc via Abramowitz & Stegun 7.1.26; ample for bucket masses.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

const bucketCache = new Map<string, { bounds: number[]; probs: number[] }>();

/** The bucket masses of a log-normal with this median and p99, trimmed to where they matter. */
function latencyBuckets(p50Ms: number, p99Ms: number): { bounds: number[]; probs: number[] } {
  const key = `${p50Ms}/${p99Ms}`;
  const hit = bucketCache.get(key);
  if (hit) return hit;
  const mu = Math.log(p50Ms);
  const sigma = Math.max(1e-3, Math.log(Math.max(p99Ms, p50Ms * 1.001) / p50Ms) / Z99);
  const cdf = (ms: number) => normalCdf((Math.log(ms) - mu) / sigma);
  const lo = bucketOf(Math.exp(mu - 5 * sigma));
  const hi = bucketOf(Math.exp(mu + 6 * sigma));
  const bounds: number[] = [];
  const probs: number[] = [];
  let prev = 0;
  for (let i = lo; i <= hi; i++) {
    const upper = bucketUpper(i);
    const c = i === hi ? 1 : cdf(upper);
    bounds.push(Number(upper.toPrecision(6)));
    probs.push(Math.max(0, c - prev));
    prev = c;
  }
  const out = { bounds, probs };
  bucketCache.set(key, out);
  return out;
}

/** n requests' latencies as the expected histogram (no noise): for stub ports in workflow tests. */
export function expectedLatencyHistogram(n: number, p50Ms: number, p99Ms: number): [number, number][] {
  const { bounds, probs } = latencyBuckets(p50Ms, p99Ms);
  const out: [number, number][] = [];
  let given = 0;
  let mass = 0;
  for (let i = 0; i < bounds.length; i++) {
    mass += probs[i] as number;
    const upTo = i === bounds.length - 1 ? n : Math.round(n * mass);
    if (upTo > given) out.push([bounds[i] as number, upTo - given]);
    given = upTo;
  }
  return out;
}

/** n requests' latencies as a histogram: a multinomial over the buckets, drawn as conditional binomials. */
export function sampleLatency(rng: Rng, n: number, p50Ms: number, p99Ms: number): [number, number][] {
  const { bounds, probs } = latencyBuckets(p50Ms, p99Ms);
  const out: [number, number][] = [];
  let left = n;
  let massLeft = 1;
  for (let i = 0; i < bounds.length && left > 0; i++) {
    const p = probs[i] as number;
    const k = i === bounds.length - 1 ? left : binomial(rng, left, massLeft > 0 ? Math.min(1, p / massLeft) : 1);
    if (k > 0) out.push([bounds[i] as number, k]);
    left -= k;
    massLeft -= p;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

/** How a variant behaves over an interval: its rates, and the requests it is expected to receive. */
export interface IntervalBehaviour {
  requests: number;
  errorRate: number;
  successRate: number;
  outcomeRate: number;
  p50Ms: number;
  p99Ms: number;
}

/** One interval's measurement of a variant, with sampling noise. */
export function sampleVariant(rng: Rng, b: IntervalBehaviour): VariantStats {
  const requests = poisson(rng, b.requests);
  const errors = binomial(rng, requests, b.errorRate);
  const outcomes = binomial(rng, requests, b.outcomeRate);
  const successes = binomial(rng, outcomes, b.successRate);
  const latencyHistogram = sampleLatency(rng, requests, b.p50Ms, b.p99Ms);
  return { requests, errors, outcomes, successes, latencyP99Ms: histogramQuantile(latencyHistogram, 0.99), latencyHistogram };
}

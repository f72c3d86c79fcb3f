// Windowed statistics the embedded metrics provider and shadow analyzer read: per-second buckets per
// model version, kept for a bounded retention. Latency goes into log-spaced buckets (10% wide), so a
// window's p99 (src/domain/quantile.ts: the upper bound of the bucket it falls in) is exact to within 10%.
import { histogramQuantile } from '../domain/quantile';

const LOG_BASE = Math.log(1.1);
const latencyBucket = (ms: number) => Math.max(0, Math.ceil(Math.log(Math.max(ms, 0.1) / 0.1) / LOG_BASE));
const bucketUpperMs = (i: number) => 0.1 * 1.1 ** i;

interface Second {
  requests: number;
  errors: number;
  outcomes: number;
  successes: number;
  latency: Map<number, number>;
  labels: Map<string, number>;
}

interface ShadowSecond {
  compared: number;
  divergent: number;
  served: Map<string, number>;
  shadow: Map<string, number>;
}

export interface WindowStats {
  requests: number;
  errors: number;
  outcomes: number;
  successes: number;
  latencyP99Ms: number | null;
  /** [bucket upper bound ms, requests], ascending; the buckets are the same for every variant. */
  latencyHistogram: [number, number][];
  labels: Record<string, number>;
}

export interface ShadowWindow {
  requests: number;
  divergent: number;
  psi: number | null;
}

const newSecond = (): Second => ({ requests: 0, errors: 0, outcomes: 0, successes: 0, latency: new Map(), labels: new Map() });
const add = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export class StatsStore {
  private readonly variants = new Map<string, Map<number, Second>>();
  private readonly shadows = new Map<string, Map<number, ShadowSecond>>();

  constructor(
    private readonly retentionSeconds = 24 * 3600,
    private readonly now: () => number = Date.now,
  ) {}

  private second(model: string, version: string, at: number): Second {
    const key = `${model}\u0000${version}`;
    let series = this.variants.get(key);
    if (!series) this.variants.set(key, (series = new Map()));
    const s = Math.floor(at / 1000);
    let b = series.get(s);
    if (!b) {
      series.set(s, (b = newSecond()));
      this.prune(series, s);
    }
    return b;
  }

  private prune<T>(series: Map<number, T>, current: number): void {
    if (series.size % 512 !== 0) return;
    for (const s of series.keys()) if (s < current - this.retentionSeconds) series.delete(s);
  }

  recordRequest(model: string, version: string, r: { latencyMs: number; ok: boolean; label?: string }): void {
    const b = this.second(model, version, this.now());
    b.requests += 1;
    if (!r.ok) b.errors += 1;
    add(b.latency, latencyBucket(r.latencyMs));
    if (r.label !== undefined) add(b.labels, r.label);
  }

  /** Ground truth arrives late: it counts at the time it arrives, against the version that served. */
  recordOutcome(model: string, version: string, success: boolean): void {
    const b = this.second(model, version, this.now());
    b.outcomes += 1;
    if (success) b.successes += 1;
  }

  recordShadowPair(model: string, served: string, shadow: string): void {
    let series = this.shadows.get(model);
    if (!series) this.shadows.set(model, (series = new Map()));
    const s = Math.floor(this.now() / 1000);
    let b = series.get(s);
    if (!b) {
      series.set(s, (b = { compared: 0, divergent: 0, served: new Map(), shadow: new Map() }));
      this.prune(series, s);
    }
    b.compared += 1;
    if (served !== shadow) b.divergent += 1;
    add(b.served, served);
    add(b.shadow, shadow);
  }

  window(model: string, version: string, from: number, to: number): WindowStats {
    const out: WindowStats = { requests: 0, errors: 0, outcomes: 0, successes: 0, latencyP99Ms: null, latencyHistogram: [], labels: {} };
    const latency = new Map<number, number>();
    for (const [s, b] of this.variants.get(`${model}\u0000${version}`) ?? []) {
      if (s * 1000 < from || s * 1000 >= to) continue;
      out.requests += b.requests;
      out.errors += b.errors;
      out.outcomes += b.outcomes;
      out.successes += b.successes;
      for (const [k, n] of b.latency) add(latency, k, n);
      for (const [k, n] of b.labels) out.labels[k] = (out.labels[k] ?? 0) + n;
    }
    out.latencyHistogram = [...latency.entries()].sort(([a], [b]) => a - b).map(([k, n]) => [Number(bucketUpperMs(k).toFixed(3)), n]);
    out.latencyP99Ms = histogramQuantile(out.latencyHistogram, 0.99);
    return out;
  }

  shadowWindow(model: string, from: number, to: number): ShadowWindow {
    let requests = 0;
    let divergent = 0;
    const served = new Map<string, number>();
    const shadow = new Map<string, number>();
    for (const [s, b] of this.shadows.get(model) ?? []) {
      if (s * 1000 < from || s * 1000 >= to) continue;
      requests += b.compared;
      divergent += b.divergent;
      for (const [k, n] of b.served) add(served, k, n);
      for (const [k, n] of b.shadow) add(shadow, k, n);
    }
    return { requests, divergent, psi: requests ? psi(served, shadow) : null };
  }
}

/** Population stability index of two categorical distributions (empty cells smoothed by 1e-4). */
export function psi(expected: Map<string, number>, actual: Map<string, number>): number {
  const keys = new Set([...expected.keys(), ...actual.keys()]);
  const te = [...expected.values()].reduce((a, b) => a + b, 0);
  const ta = [...actual.values()].reduce((a, b) => a + b, 0);
  let sum = 0;
  for (const k of keys) {
    const e = Math.max((expected.get(k) ?? 0) / te, 1e-4);
    const a = Math.max((actual.get(k) ?? 0) / ta, 1e-4);
    sum += (a - e) * Math.log(a / e);
  }
  return Number(sum.toFixed(6));
}

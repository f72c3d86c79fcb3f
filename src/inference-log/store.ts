// The inference log: request/response pairs from each model server, joined by request id into
// champion/candidate comparisons. Envoy mirrors a request to the shadow and throws its answer away; the
// model servers' loggers (KServe's inference logger, or anything that posts the same CloudEvents) send
// both answers here, and shadow analysis reads divergence and PSI from the joined pairs.
//
// Bounded: a response waits for its partner at most `pairTimeoutMs` (default 5 min) and the unmatched
// ones are capped (`maxPending`, oldest dropped first); joined pairs are kept as per-second counts for
// `retentionMs` (default 24 h), swept by time over every series, and a series left empty is deleted; at
// most `maxSeries` (model, version pair) series exist at once (default 1,000; a new one beyond is not
// recorded, and counted). Labels are bounded per model as the gateway bounds them.
import { LabelBudget } from '../gateway/metrics';
import { psi } from '../gateway/stats';

interface Pending {
  model: string;
  version: string;
  label: string;
  at: number;
}

interface Second {
  compared: number;
  divergent: number;
  /** Labels, per version. */
  labels: Map<string, Map<string, number>>;
}

export interface InferenceLogOptions {
  pairTimeoutMs?: number;
  maxPending?: number;
  retentionMs?: number;
  maxSeries?: number;
  now?: () => number;
}

export interface ShadowWindowReport {
  requests: number;
  divergent: number;
  psi: number | null;
}

const pairKey = (model: string, a: string, b: string) => [model, ...[a, b].sort()].join('\u0000');
const add = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export class InferenceLog {
  private readonly pending = new Map<string, Pending[]>();
  /** Per model and pair of versions (sorted): second → counts. */
  private readonly seconds = new Map<string, Map<number, Second>>();
  private readonly labels = new LabelBudget();
  private readonly now: () => number;
  private pendingCount = 0;
  /** Responses dropped unmatched, for the operator's metrics. */
  dropped = 0;
  /** Pairs not recorded because the series limit was reached. */
  refused = 0;
  private lastSweep = 0;

  constructor(private readonly o: InferenceLogOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  /** Records one version's answer to a request; joins it with the other versions' answers to the same id. */
  record(e: { model: string; version: string; requestId: string; label: string }): void {
    const at = this.now();
    this.expire(at);
    this.sweep(at);
    const key = `${e.model}\u0000${e.requestId}`;
    const label = this.labels.label(e.model, e.label);
    const others = this.pending.get(key) ?? [];
    if (others.some((o) => o.version === e.version)) return; // a retried delivery of the same event
    for (const o of others) this.pair(e.model, o, { ...e, label, at }, at);
    others.push({ model: e.model, version: e.version, label, at });
    if (others.length === 1) {
      this.pending.set(key, others);
    }
    this.pendingCount += 1;
    if (this.pendingCount > (this.o.maxPending ?? 200_000)) this.dropOldest();
  }

  private pair(model: string, a: Pending, b: Pending, at: number): void {
    const key = pairKey(model, a.version, b.version);
    let series = this.seconds.get(key);
    if (!series) {
      if (this.seconds.size >= (this.o.maxSeries ?? 1_000)) {
        this.refused += 1;
        return;
      }
      this.seconds.set(key, (series = new Map()));
    }
    const s = Math.floor(at / 1000);
    let sec = series.get(s);
    if (!sec) series.set(s, (sec = { compared: 0, divergent: 0, labels: new Map() }));
    sec.compared += 1;
    if (a.label !== b.label) sec.divergent += 1;
    for (const p of [a, b]) {
      let m = sec.labels.get(p.version);
      if (!m) sec.labels.set(p.version, (m = new Map()));
      add(m, p.label);
    }
  }

  /** Drops seconds past the retention from every series, and empty series; at most once a minute. */
  private sweep(at: number): void {
    if (at - this.lastSweep < 60_000) return;
    this.lastSweep = at;
    const oldest = (at - (this.o.retentionMs ?? 24 * 3_600_000)) / 1000;
    for (const [key, series] of this.seconds) {
      for (const s of series.keys()) if (s < oldest) series.delete(s);
      if (series.size === 0) this.seconds.delete(key);
    }
  }

  /** How many (model, version pair) series are kept. */
  get seriesCount(): number {
    return this.seconds.size;
  }

  private expire(at: number): void {
    const limit = at - (this.o.pairTimeoutMs ?? 5 * 60_000);
    // Insertion order is arrival order: the oldest come first.
    for (const [key, list] of this.pending) {
      if ((list[0] as Pending).at >= limit) break;
      if (list.length === 1) this.dropped += 1;
      this.pendingCount -= list.length;
      this.pending.delete(key);
    }
  }

  private dropOldest(): void {
    const first = this.pending.keys().next();
    if (first.done) return;
    const list = this.pending.get(first.value) as Pending[];
    if (list.length === 1) this.dropped += 1;
    this.pendingCount -= list.length;
    this.pending.delete(first.value);
  }

  /** Joined answers of the champion and the candidate in [from, to): how many, how many differ, and PSI. */
  shadowWindow(q: { model: string; champion: string; candidate: string; from: number; to: number }): ShadowWindowReport {
    let requests = 0;
    let divergent = 0;
    const champion = new Map<string, number>();
    const candidate = new Map<string, number>();
    for (const [s, sec] of this.seconds.get(pairKey(q.model, q.champion, q.candidate)) ?? []) {
      if (s * 1000 < q.from || s * 1000 >= q.to) continue;
      requests += sec.compared;
      divergent += sec.divergent;
      for (const [k, n] of sec.labels.get(q.champion) ?? []) add(champion, k, n);
      for (const [k, n] of sec.labels.get(q.candidate) ?? []) add(candidate, k, n);
    }
    return { requests, divergent, psi: requests ? psi(champion, candidate) : null };
  }

  get pendingSize(): number {
    return this.pendingCount;
  }
}

// What the release report draws, from the release's status and its full record (every entry and every
// check, src/workflows/release-record.ts). Pure: unit-tested without Temporal or a browser.
//
// Each gate's series is in the unit its test reasons in, with the line its null hypothesis allows:
// the business metric as the candidate's relative change against the champion (fails below the line),
// error rate and slow-request share as the candidate's rate against the champion's plus the tolerance,
// shadow divergence against its allowed rate (all three fail above the line).
import type { GateName, GateOutcome, GateResult } from '../domain/gates';
import { LATENCY_TAIL } from '../domain/judge';
import type { PlanStep } from '../domain/manifest';
import type { ReleaseStatus, RollbackRecord, TimelineEntry } from '../domain/release';
import type { ReleaseEvent } from './record';

/** Points a gate's chart keeps at most: a 72-hour watch measured every 5 minutes has 864 checks. */
export const MAX_POINTS = 240;

export interface StepSpan {
  index: number;
  kind: PlanStep['kind'];
  description: string;
  from: number;
  /** null while running or never reached. */
  to: number | null;
  state: 'done' | 'running' | 'ended-here' | 'not-reached';
}

export interface TrafficPoint {
  at: number;
  candidate: number;
  champion: number;
  /** Share of requests mirrored to the candidate (shadow), percent. */
  shadow: number;
}

export interface ActionMark {
  at: number;
  action: string;
  by: string;
  reason: string;
  /** How many identical refusals this mark stands for. */
  count: number;
  refused: boolean;
}

export interface GatePoint {
  at: number;
  step: number;
  outcome: GateOutcome;
  estimate: number | null;
  lower: number | null;
  upper: number | null;
  /** The line the test allows (the champion's value plus the tolerance, or the fixed threshold). */
  tolerance: number | null;
  /** The champion's (reference's) value, where the gate compares with it. */
  reference: number | null;
  /** On a pass: the value a real effect would need to reach to be caught with 80% power. */
  mde: number | null;
  /** log10 of e-value × alpha: reaching 0 is a rollback. null for gates without an e-value. */
  evidence: number | null;
  summary: string;
  /** Checks this point stands for (more than 1 where the series is thinned). */
  checks: number;
}

export interface GateSeries {
  gate: GateName;
  title: string;
  unit: string;
  /** Which side of the tolerance line fails. */
  failsWhen: 'above' | 'below';
  points: GatePoint[];
  counts: Record<GateOutcome, number>;
}

export interface ReportModel {
  status: ReleaseStatus;
  t0: number;
  t1: number;
  steps: StepSpan[];
  traffic: TrafficPoint[];
  actions: ActionMark[];
  gates: GateSeries[];
  /** Gates measured once (offline evaluation, smoke): their results, at their step. */
  oneOff: { at: number; step: number; results: GateResult[] }[];
  /** Each step's last results: what the step ended on. */
  lastByStep: { step: number; at: number; results: GateResult[] }[];
  rollback: (RollbackRecord & { breachAt: number | null }) | null;
  checks: number;
  /** Whether the record came from the event history (complete) or only the bounded timeline. */
  complete: boolean;
}

const ONE_OFF = new Set<GateName>(['evaluation-quality', 'evaluation-slices', 'evaluation-fairness', 'evaluation-latency', 'smoke']);

const TITLES: Partial<Record<GateName, { title: string; unit: string; failsWhen: 'above' | 'below' }>> = {
  'business-metric': { title: 'Business metric: candidate vs champion, relative change', unit: '%', failsWhen: 'below' },
  'error-rate': { title: 'Error rate of the candidate', unit: '%', failsWhen: 'above' },
  'latency-p99': { title: 'Latency: share of requests slower than the threshold', unit: '%', failsWhen: 'above' },
  'shadow-divergence': { title: 'Shadow: predictions that differ from the champion', unit: '%', failsWhen: 'above' },
  'shadow-distribution': { title: 'Shadow: output distribution shift (PSI)', unit: 'PSI', failsWhen: 'above' },
};

const ms = (iso: string) => Date.parse(iso);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const pct = (v: unknown): number | null => {
  const n = num(v);
  return n === null ? null : n * 100;
};
const plus = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);

/** One check of one gate in the unit of its chart. */
export function gatePoint(r: GateResult, at: number, step: number): GatePoint {
  const e = r.evidence;
  const alpha = num(e.alpha);
  const log10E = num(e.log10EValue);
  const base = { at, step, outcome: r.outcome, summary: r.summary, checks: 1, evidence: alpha !== null && log10E !== null && alpha > 0 ? log10E + Math.log10(alpha) : null };
  const pass = r.outcome === 'pass';
  switch (r.gate) {
    case 'business-metric':
      if (e.relativeChange !== undefined) {
        return {
          ...base,
          estimate: pct(e.relativeChange),
          lower: pct(e.relativeChangeLower),
          upper: pct(e.relativeChangeUpper),
          tolerance: -r.threshold * 100,
          reference: 0,
          mde: pass && num(e.minDetectableDrop) !== null ? -(num(e.minDetectableDrop) as number) * 100 : null,
        };
      }
      break;
    case 'error-rate':
      if (e.candidateRateLower !== undefined) {
        const ref = pct(e.referenceRate);
        return {
          ...base,
          estimate: pct(e.candidateRate),
          lower: pct(e.candidateRateLower),
          upper: pct(e.candidateRateUpper),
          tolerance: plus(ref, r.threshold),
          reference: ref,
          mde: pass ? plus(ref, num(e.minDetectableIncreasePoints)) : null,
        };
      }
      break;
    case 'latency-p99':
      if (e.candidateSlowShare !== undefined) {
        const ref = pct(e.referenceSlowShare);
        return {
          ...base,
          estimate: pct(e.candidateSlowShare),
          lower: pct(e.candidateSlowShareLower),
          upper: pct(e.candidateSlowShareUpper),
          tolerance: plus(ref, LATENCY_TAIL * 100),
          reference: ref,
          mde: pass ? plus(ref, pct(e.minDetectableExtraSlowShare)) : null,
        };
      }
      break;
    case 'shadow-divergence':
      if (e.divergenceLower !== undefined) {
        return {
          ...base,
          estimate: pct(r.observed),
          lower: pct(e.divergenceLower),
          upper: pct(e.divergenceUpper),
          tolerance: r.threshold * 100,
          reference: null,
          mde: pass ? pct(e.minDetectableDivergence) : null,
        };
      }
      break;
    default:
      break;
  }
  const none = { lower: null, upper: null, reference: null, mde: null };
  // No measurement (metrics unavailable): a check to mark, nothing to draw.
  if (r.observed === null) return { ...base, ...none, estimate: null, tolerance: null };
  // Releases judged by the fixed-horizon gates, in the same units as the sequential ones where they have them.
  switch (r.gate) {
    case 'business-metric':
      // `observed` is the relative drop, positive when the candidate is worse.
      return { ...base, ...none, estimate: -r.observed * 100, tolerance: -r.threshold * 100, reference: 0 };
    case 'error-rate': {
      const ref = pct(e.referenceRate);
      return { ...base, ...none, estimate: pct(e.candidateRate), tolerance: plus(ref, r.threshold), reference: ref };
    }
    case 'shadow-divergence':
      return { ...base, ...none, estimate: r.observed * 100, tolerance: r.threshold * 100 };
    case 'latency-p99':
      // A p99 in ms has no place on the slow-share axis: the check is marked, its numbers are in the tables.
      return { ...base, ...none, estimate: null, tolerance: null };
    default:
      // PSI: a distance against its threshold.
      return { ...base, ...none, estimate: r.observed, tolerance: r.threshold };
  }
}

const WORST: Record<GateOutcome, number> = { pass: 0, 'insufficient-data': 1, fail: 2 };

/**
 * At most `max` points: the axis is cut into equal buckets, each keeping its last check (bounds narrow
 * as data grows, so the last is the one that stands) with the worst outcome of the bucket; every fail is
 * kept as it was.
 */
export function thin(points: GatePoint[], t0: number, t1: number, max = MAX_POINTS): GatePoint[] {
  if (points.length <= max) return points;
  const fails = points.filter((p) => p.outcome === 'fail').length;
  const buckets = Math.max(1, max - fails);
  const width = Math.max(1, (t1 - t0) / buckets);
  const out: GatePoint[] = [];
  // Each bucket's point stays open across the fails in it (they stand alone), so fails never add buckets.
  let bucket: { key: number; index: number } | null = null;
  for (const p of points) {
    if (p.outcome === 'fail') {
      out.push(p);
      continue;
    }
    const key = Math.min(buckets - 1, Math.floor((p.at - t0) / width));
    const last = bucket && bucket.key === key ? out[bucket.index] : undefined;
    if (bucket && last) {
      // The bucket's point moves to its latest check, after any fail drawn in between.
      out.splice(bucket.index, 1);
      out.push({ ...p, checks: last.checks + 1, outcome: WORST[last.outcome] > WORST[p.outcome] ? last.outcome : p.outcome, mde: p.mde ?? last.mde });
    } else out.push({ ...p });
    bucket = { key, index: out.length - 1 };
  }
  return out;
}

function spans(s: ReleaseStatus, entries: TimelineEntry[], t1: number): StepSpan[] {
  const started = new Map<number, number>();
  const completed = new Map<number, number>();
  for (const e of entries) {
    if (e.step === undefined) continue;
    if (e.type === 'step-started' && !started.has(e.step)) started.set(e.step, ms(e.at));
    if (e.type === 'step-completed') completed.set(e.step, ms(e.at));
  }
  return s.plan.map((p, index) => {
    const from = started.get(index);
    const to = completed.get(index);
    if (from === undefined) return { index, kind: p.kind, description: p.description, from: t1, to: null, state: 'not-reached' as const };
    if (to !== undefined) return { index, kind: p.kind, description: p.description, from, to, state: 'done' as const };
    return { index, kind: p.kind, description: p.description, from, to: s.outcome ? t1 : null, state: s.outcome ? ('ended-here' as const) : ('running' as const) };
  });
}

function trafficOf(s: ReleaseStatus, entries: TimelineEntry[], t0: number): TrafficPoint[] {
  const out: TrafficPoint[] = [{ at: t0, candidate: 0, champion: 100, shadow: 0 }];
  for (const e of entries) {
    const d = e.data as { variants?: { version: string; weight: number }[]; shadow?: { sampleRate: number } | null } | undefined;
    if (e.type !== 'traffic' || !d?.variants) continue;
    const weight = (v: string) => d.variants?.find((x) => x.version === v)?.weight ?? 0;
    out.push({ at: ms(e.at), candidate: weight(s.candidate), champion: weight(s.champion), shadow: (d.shadow?.sampleRate ?? 0) * 100 });
  }
  // The rollback's own routes: traffic verified back on the champion (the shadow kept), then the shadow off.
  const back = s.rollback?.trafficRestoredAt;
  const before = (at: number) => [...out].reverse().find((p) => p.at <= at) ?? (out[0] as TrafficPoint);
  if (back) out.push({ at: ms(back), candidate: 0, champion: 100, shadow: before(ms(back)).shadow });
  const shadowOff = entries.find((e) => e.type === 'compensation' && e.message === 'shadow off');
  if (shadowOff) out.push({ ...before(ms(shadowOff.at)), at: ms(shadowOff.at), shadow: 0 });
  return out.sort((a, b) => a.at - b.at);
}

function actionsOf(entries: TimelineEntry[]): ActionMark[] {
  const out: ActionMark[] = [];
  for (const e of entries) {
    if (e.type !== 'action' && e.type !== 'action-ignored') continue;
    const refused = e.type === 'action-ignored';
    const last = out[out.length - 1];
    // A flood of the same refusal is one mark with a count, as in the timeline.
    if (refused && last?.refused && last.action === e.message && last.by === (e.by ?? '')) {
      last.count += 1;
      continue;
    }
    out.push({ at: ms(e.at), action: e.message, by: e.by ?? '', reason: e.reason ?? '', count: e.count ?? 1, refused });
  }
  return out;
}

/** The full record, or what the bounded timeline kept of it when no history is at hand. */
function recordOrTimeline(s: ReleaseStatus, record: ReleaseEvent[] | null): ReleaseEvent[] {
  if (record) return record;
  return s.timeline.map((entry): ReleaseEvent => {
    if (entry.type === 'measurement' && Array.isArray(entry.data)) return { kind: 'measurement', at: entry.lastAt ?? entry.at, step: entry.step ?? 0, results: entry.data as GateResult[] };
    return { kind: 'entry', entry };
  });
}

/**
 * When a gate's breach began: for a rollback a gate caused, the first of the run of failing checks (with
 * `failureLimit` above 1 there are several) that ends at the rollback; null for any other trigger.
 */
function breachOf(rb: RollbackRecord, measurements: { at: string; step: number; results: GateResult[] }[]): number | null {
  const gates = new Set(rb.evidence.filter((r) => r.outcome === 'fail').map((r) => r.gate));
  if (!gates.size) return null;
  const started = ms(rb.startedAt);
  const failing = (m: { results: GateResult[] }) => m.results.some((r) => r.outcome === 'fail' && gates.has(r.gate));
  const before = measurements.filter((m) => ms(m.at) <= started);
  let i = before.length - 1;
  while (i >= 0 && !failing(before[i] as (typeof before)[number])) i -= 1;
  if (i < 0) return null;
  const step = (before[i] as (typeof before)[number]).step;
  while (i > 0 && (before[i - 1] as (typeof before)[number]).step === step && failing(before[i - 1] as (typeof before)[number])) i -= 1;
  return ms((before[i] as (typeof before)[number]).at);
}

export function buildReport(s: ReleaseStatus, record: ReleaseEvent[] | null, o: { now?: number; maxPoints?: number } = {}): ReportModel {
  const now = o.now ?? Date.now();
  const events = recordOrTimeline(s, record);
  const entries = events.flatMap((e) => (e.kind === 'entry' ? [e.entry] : []));
  const measurements = events.flatMap((e) => (e.kind === 'measurement' ? [e] : []));
  const t0 = ms(s.startedAt);
  const end = entries.find((e) => e.type === 'completed');
  const lastAt = Math.max(t0 + 1_000, ...events.map((e) => ms(e.kind === 'entry' ? (e.entry.lastAt ?? e.entry.at) : e.at)));
  const t1 = end ? Math.max(ms(end.at), lastAt) : Math.max(lastAt, s.outcome ? lastAt : Math.min(now, ms(s.updatedAt)));

  const series = new Map<GateName, GatePoint[]>();
  const oneOff: ReportModel['oneOff'] = [];
  const lastByStep = new Map<number, { step: number; at: number; results: GateResult[] }>();
  for (const m of measurements) {
    const at = ms(m.at);
    lastByStep.set(m.step, { step: m.step, at, results: m.results });
    const once = m.results.filter((r) => ONE_OFF.has(r.gate));
    if (once.length) oneOff.push({ at, step: m.step, results: once });
    for (const r of m.results) {
      if (ONE_OFF.has(r.gate)) continue;
      const list = series.get(r.gate) ?? [];
      list.push(gatePoint(r, at, m.step));
      series.set(r.gate, list);
    }
  }
  const order: GateName[] = ['shadow-divergence', 'shadow-distribution', 'business-metric', 'error-rate', 'latency-p99'];
  const gates = [...series.entries()]
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([gate, points]): GateSeries => {
      const counts: Record<GateOutcome, number> = { pass: 0, fail: 0, 'insufficient-data': 0 };
      for (const p of points) counts[p.outcome] += 1;
      const t = TITLES[gate] ?? { title: gate, unit: '', failsWhen: 'above' as const };
      return { gate, ...t, points: thin(points, t0, t1, o.maxPoints), counts };
    });

  let rollback: ReportModel['rollback'] = null;
  if (s.rollback) {
    rollback = { ...s.rollback, breachAt: breachOf(s.rollback, measurements) };
  }
  return {
    status: s,
    t0,
    t1,
    steps: spans(s, entries, t1),
    traffic: trafficOf(s, entries, t0),
    actions: actionsOf(entries),
    gates,
    oneOff,
    lastByStep: [...lastByStep.values()],
    rollback,
    checks: measurements.length,
    complete: record !== null,
  };
}

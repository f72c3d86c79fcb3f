// The release report from a status and a full record: what each chart draws, how a 72-hour watch is
// thinned, and that the page is self-contained and escapes what people typed.
import type { GateResult } from '../../../src/domain/gates';
import { judgeCanary, judgeShadow, newCanaryJudgeState, newShadowJudgeState } from '../../../src/domain/judge';
import { STANDARD_GATES } from '../../../src/domain/manifest';
import type { ReleaseStatus, TimelineEntry } from '../../../src/domain/release';
import { bins, renderOperatingCharacteristicsReport, renderReleaseReport } from '../../../src/report/html';
import { buildReport, gatePoint, MAX_POINTS, thin, type GatePoint } from '../../../src/report/model';
import { temporal } from '@temporalio/proto';
import { decidedPart, type ReleaseEvent } from '../../../src/report/record';
import { anInterval } from '../../helpers/builders';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const stats = anInterval;

const built = new Map<string, { status: ReleaseStatus; record: ReleaseEvent[] }>();
/** A release: shadow, 25% bake, approval, then a 72-hour watch checked every 5 minutes; optionally a late breach. Built once per shape (judging 900 checks takes seconds). */
function aRelease(o: { breachAtLook?: number; refusals?: number } = {}): { status: ReleaseStatus; record: ReleaseEvent[] } {
  const key = JSON.stringify(o);
  const done = built.get(key) ?? build(o);
  built.set(key, done);
  return done;
}

function build(o: { breachAtLook?: number; refusals?: number }): { status: ReleaseStatus; record: ReleaseEvent[] } {
  const record: ReleaseEvent[] = [];
  const entry = (at: number, e: Omit<TimelineEntry, 'at'>) => record.push({ kind: 'entry', entry: { at: iso(at), ...e } });
  const plan = [
    { kind: 'shadow' as const, description: 'shadow 100% for 2h' },
    { kind: 'setTraffic' as const, description: 'traffic → 25%' },
    { kind: 'bake' as const, description: 'bake 1h' },
    { kind: 'approval' as const, description: 'approval: final' },
    { kind: 'fullRollout' as const, description: 'full rollout' },
    { kind: 'watch' as const, description: 'watch 72h' },
  ];
  entry(T0, { type: 'started', message: 'release started', by: 'ci' });
  entry(T0, { type: 'step-started', step: 0, message: plan[0]?.description ?? '' });
  entry(T0, { type: 'traffic', step: 0, message: 'shadow', data: { variants: [{ version: 'v1', weight: 100 }, { version: 'v2', weight: 0 }], shadow: { version: 'v2', sampleRate: 1 } } });
  let shadow = newShadowJudgeState();
  for (let i = 1; i <= 24; i++) {
    const judged = judgeShadow(shadow, { requests: 500 * i, divergent: 10 * i, psi: 0.01 }, STANDARD_GATES, { alpha: 0.001, nominalLooks: 24 });
    shadow = judged.state;
    record.push({ kind: 'measurement', at: iso(T0 + i * 5 * MIN), step: 0, results: judged.results });
  }
  let t = T0 + 120 * MIN;
  entry(t, { type: 'step-completed', step: 0, message: plan[0]?.description ?? '' });
  entry(t, { type: 'step-started', step: 1, message: plan[1]?.description ?? '' });
  entry(t, { type: 'traffic', step: 1, message: 'traffic → 25%', data: { variants: [{ version: 'v1', weight: 75 }, { version: 'v2', weight: 25 }], shadow: null } });
  entry(t, { type: 'step-completed', step: 1, message: plan[1]?.description ?? '' });
  entry(t, { type: 'step-started', step: 2, message: plan[2]?.description ?? '' });
  let canary = newCanaryJudgeState();
  for (let i = 1; i <= 12; i++) {
    const judged = judgeCanary(canary, stats(250, 0.01), stats(750, 0.01), STANDARD_GATES, { alpha: 0.01, nominalLooks: 12 });
    canary = judged.state;
    record.push({ kind: 'measurement', at: iso(t + i * 5 * MIN), step: 2, results: judged.results });
  }
  t += 60 * MIN;
  entry(t, { type: 'step-completed', step: 2, message: plan[2]?.description ?? '' });
  entry(t, { type: 'step-started', step: 3, message: plan[3]?.description ?? '' });
  for (let i = 0; i < (o.refusals ?? 0); i++) entry(t + i, { type: 'action-ignored', message: 'approve ignored: mallory is not an approver', by: 'mallory' });
  t += 30 * MIN;
  entry(t, { type: 'action', message: 'approve', by: 'alice', reason: 'dashboards <b>green</b>' });
  entry(t, { type: 'step-completed', step: 3, message: plan[3]?.description ?? '' });
  entry(t, { type: 'step-started', step: 4, message: plan[4]?.description ?? '' });
  entry(t, { type: 'traffic', step: 4, message: 'traffic → 90%', data: { variants: [{ version: 'v1', weight: 10 }, { version: 'v2', weight: 90 }], shadow: null } });
  entry(t, { type: 'step-completed', step: 4, message: plan[4]?.description ?? '' });
  entry(t, { type: 'step-started', step: 5, message: plan[5]?.description ?? '' });
  canary = newCanaryJudgeState();
  let breachAt: number | null = null;
  for (let i = 1; i <= 864; i++) {
    const bad = o.breachAtLook !== undefined && i >= o.breachAtLook;
    const judged = judgeCanary(canary, stats(900, bad ? 0.05 : 0.01), stats(100, 0.01), STANDARD_GATES, { alpha: 0.013, nominalLooks: 864 });
    canary = judged.state;
    const at = t + i * 5 * MIN;
    record.push({ kind: 'measurement', at: iso(at), step: 5, results: judged.results });
    if (judged.results.some((r) => r.outcome === 'fail')) {
      breachAt = at;
      break;
    }
  }
  const end = breachAt ?? t + 72 * 60 * MIN;
  const rollback =
    breachAt === null
      ? null
      : {
          trigger: 'watch-breach' as const,
          reason: 'watch: error-rate breached',
          startedAt: iso(breachAt),
          trafficRestoredAt: iso(breachAt + 1_500),
          completedAt: iso(breachAt + 3_000),
          evidence: ((record[record.length - 1] as { results: GateResult[] }).results).filter((r) => r.outcome === 'fail'),
          impact: { candidateRequests: 777_600, candidateErrors: 9_000 },
          compensationFailures: [],
        };
  if (rollback) entry(breachAt as number, { type: 'rollback-started', message: 'watch-breach' });
  entry(end + 3_000, { type: 'completed', message: rollback ? 'rolled-back' : 'promoted' });
  const status: ReleaseStatus = {
    releaseId: 'release/fraud/run-1',
    model: 'fraud',
    candidate: 'v2',
    champion: 'v1',
    strategy: 'custom',
    blastRadius: 'high',
    phase: rollback ? 'rolled-back' : 'promoted',
    outcome: rollback ? 'rolled-back' : 'promoted',
    stepIndex: rollback ? 5 : 6,
    plan,
    traffic: { candidatePercent: rollback ? 0 : 100, mode: 'weighted', shadowSampleRate: 0, previousWarm: true },
    gates: {},
    pendingApproval: null,
    paused: null,
    nextTransitionAt: null,
    startedAt: iso(T0),
    updatedAt: iso(end + 3_000),
    rollback,
    timeline: record.flatMap((e) => (e.kind === 'entry' ? [e.entry] : [])).slice(0, 30),
    run: 3,
  };
  return { status, record };
}

/** n checks one millisecond apart, each with the outcome given for its index. */
const checksAt = (n: number, outcome: (i: number) => GatePoint['outcome']): GatePoint[] =>
  Array.from({ length: n }, (_, i) => ({ at: i, step: 0, outcome: outcome(i), estimate: i, lower: null, upper: null, tolerance: null, reference: null, mde: null, evidence: null, summary: '', checks: 1 }));

describe('the report model', () => {
  it('given a 72-hour watch with 864 checks, then each gate keeps at most its point budget and counts every check', () => {
    const { status, record } = aRelease();
    const m = buildReport(status, record);
    const errors = m.gates.find((g) => g.gate === 'error-rate');
    expect((errors?.counts.pass ?? 0) + (errors?.counts['insufficient-data'] ?? 0)).toBe(12 + 864);
    expect(errors?.points.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(errors?.points.reduce((n, p) => n + p.checks, 0)).toBe(12 + 864);
    expect(m.checks).toBe(24 + 12 + 864);
    expect(m.gates.map((g) => g.gate)).toEqual(['shadow-divergence', 'shadow-distribution', 'business-metric', 'error-rate', 'latency-p99']);
  });

  it('given a breach late in the watch, then the fail is kept as it was, and the rollback marks the breach and the traffic back', () => {
    const { status, record } = aRelease({ breachAtLook: 800 });
    const m = buildReport(status, record);
    const errors = m.gates.find((g) => g.gate === 'error-rate');
    const fails = errors?.points.filter((p) => p.outcome === 'fail') ?? [];
    expect(fails).toHaveLength(1);
    expect(fails[0]?.checks).toBe(1);
    expect(m.rollback?.breachAt).toBe(fails[0]?.at);
    expect(m.traffic.at(-1)).toMatchObject({ at: Date.parse(status.rollback?.trafficRestoredAt as string), candidate: 0, champion: 100 });
    expect(m.steps[5]).toMatchObject({ state: 'ended-here' });
  });

  it('maps each gate to the unit it reasons in: the error rate against the champion plus the tolerance, a pass with what it could detect', () => {
    const { status, record } = aRelease();
    const m = buildReport(status, record);
    const last = m.gates.find((g) => g.gate === 'error-rate')?.points.at(-1) as GatePoint;
    expect(last.outcome).toBe('pass');
    expect(last.estimate).toBeCloseTo(1, 1);
    expect(last.lower as number).toBeLessThan(last.estimate as number);
    expect(last.upper as number).toBeGreaterThan(last.estimate as number);
    expect(last.tolerance).toBeCloseTo((last.reference as number) + STANDARD_GATES.errorRate.maxIncreasePoints, 6);
    expect(last.mde as number).toBeGreaterThan(last.tolerance as number);
    expect(last.evidence as number).toBeLessThan(0);
    const business = m.gates.find((g) => g.gate === 'business-metric')?.points.at(-1) as GatePoint;
    expect(business.tolerance).toBeCloseTo(-STANDARD_GATES.businessMetric.maxRelativeDrop * 100, 6);
    expect(business.mde as number).toBeLessThan(business.tolerance as number);
  });

  it('given a gate with no bounds (PSI), then it draws the observed value against its threshold', () => {
    const p = gatePoint({ gate: 'shadow-distribution', outcome: 'pass', summary: '', observed: 0.03, threshold: 0.2, evidence: { psi: 0.03 } }, 1, 0);
    expect(p).toMatchObject({ estimate: 0.03, tolerance: 0.2, lower: null, upper: null, evidence: null });
  });

  it('thins to buckets that keep their worst outcome', () => {
    const pts = checksAt(1_000, (i) => (i === 500 ? 'insufficient-data' : 'pass'));
    const out = thin(pts, 0, 1_000, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.some((p) => p.outcome === 'insufficient-data')).toBe(true);
    expect(out.reduce((n, p) => n + p.checks, 0)).toBe(1_000);
  });

  it('given fails interleaved with passes, then thinning keeps every fail and still stays within its budget', () => {
    const pts = checksAt(600, (i) => (i % 3 === 0 ? 'fail' : 'pass'));
    const out = thin(pts, 0, 600, 240);
    expect(out.filter((p) => p.outcome === 'fail')).toHaveLength(200);
    expect(out.length).toBeLessThanOrEqual(240);
    expect(out.reduce((n, p) => n + p.checks, 0)).toBe(600);
    expect(out.map((p) => p.at)).toEqual([...out.map((p) => p.at)].sort((a, b) => a - b));
  });

  it('given the fixed-horizon gates of an older release, then each is drawn in its chart\'s unit, and a metrics outage draws no line', () => {
    const business = gatePoint({ gate: 'business-metric', outcome: 'fail', summary: '', observed: 0.0667, threshold: 0.02, evidence: {} }, 1, 0);
    expect(business).toMatchObject({ estimate: -6.67, tolerance: -2 });
    const errors = gatePoint({ gate: 'error-rate', outcome: 'pass', summary: '', observed: 0.2, threshold: 0.5, evidence: { candidateRate: 0.012, referenceRate: 0.01 } }, 1, 0);
    expect(errors.estimate).toBeCloseTo(1.2, 9);
    expect(errors.tolerance).toBeCloseTo(1.5, 9);
    expect(gatePoint({ gate: 'latency-p99', outcome: 'pass', summary: '', observed: 80, threshold: 250, evidence: {} }, 1, 0)).toMatchObject({ estimate: null, tolerance: null });
    expect(gatePoint({ gate: 'shadow-divergence', outcome: 'pass', summary: '', observed: 0.02, threshold: 0.05, evidence: {} }, 1, 0)).toMatchObject({ estimate: 2, tolerance: 5 });
    expect(gatePoint({ gate: 'error-rate', outcome: 'insufficient-data', summary: 'metrics unavailable', observed: null, threshold: 0, evidence: { error: 'down' } }, 1, 0)).toMatchObject({ estimate: null, tolerance: null });
  });

  it('given a rollback no gate caused, then no breach is drawn, even after an earlier isolated fail', () => {
    const { status, record } = aRelease({ breachAtLook: 800 });
    const aborted = { ...status, rollback: { ...(status.rollback as NonNullable<ReleaseStatus['rollback']>), trigger: 'manual-abort' as const, evidence: [] } };
    expect(buildReport(aborted, record).rollback?.breachAt).toBeNull();
  });

  it('given a flood of refused actions, then they are one mark with a count, and the approval is a mark of its own', () => {
    const { status, record } = aRelease({ refusals: 5_000 });
    const m = buildReport(status, record);
    expect(m.actions).toHaveLength(2);
    expect(m.actions[0]).toMatchObject({ refused: true, count: 5_000, by: 'mallory' });
    expect(m.actions[1]).toMatchObject({ refused: false, action: 'approve', by: 'alice' });
  });

  it('without a record, then it draws what the bounded timeline kept and says so', () => {
    const { status } = aRelease();
    const m = buildReport(status, null);
    expect(m.complete).toBe(false);
    expect(renderReleaseReport(m)).toContain('from the bounded timeline only');
  });
});

describe('the report page', () => {
  const external = (html: string) => [...html.matchAll(/(?:src|href)\s*=|<script|<link|<img|@import|url\((?!#)|https?:\/\/(?!www\.w3\.org\/)/gi)].map((x) => x[0]);

  it('given a rolled-back release, then it is one self-contained page with every chart, the rollback and the approver by name', () => {
    const { status, record } = aRelease({ breachAtLook: 800 });
    const html = renderReleaseReport(buildReport(status, record), { generatedAt: T0 });
    expect(external(html)).toEqual([]);
    // Plan, traffic, five gates and the evidence.
    expect(html.match(/<svg /g)).toHaveLength(8);
    expect(html).toContain('id="rollback"');
    expect(html).toContain('watch-breach');
    expect(html).toContain('alice');
    // What people typed is text, never markup.
    expect(html).toContain('dashboards &lt;b&gt;green&lt;/b&gt;');
    expect(html).not.toContain('<b>green</b>');
    expect(html).toContain('@media print');
  });

  it('given a promoted release, then there is no rollback section and the story says what the gates could detect', () => {
    const { status, record } = aRelease();
    const html = renderReleaseReport(buildReport(status, record));
    expect(html).not.toContain('id="rollback"');
    expect(html).toMatch(/Promoted after 3d 3h: 900 checks, 0 failed\. At their last pass the gates could have detected/);
  });

  it('draws the outcomes and detection delays of simulated runs', () => {
    const runs = [
      ...Array.from({ length: 90 }, () => ({ outcome: 'rolled-back' as const, stage: 'bake 5%', gate: 'error-rate', atMs: 3_600_000 + Math.random() * 600_000, intoStageMs: 0 })),
      ...Array.from({ length: 10 }, () => ({ outcome: 'promoted' as const, stage: null, gate: null, atMs: 0, intoStageMs: 0 })),
    ];
    const oc = { policy: 'sequential' as const, runs: 100, seed: 1, promoted: 10, rolledBack: 90, held: 0, rejected: 0, caught: { 'bake 5% / error-rate': 90 }, delayAfterOnsetMs: { p10: 60_000, p50: 300_000, p90: 540_000 }, intoStageMs: null, rolledBackBeforeFull: 90, wallMs: 1_000 };
    const html = renderOperatingCharacteristicsReport(oc, runs, { manifest: 'fraud v2', onsetMs: 3_600_000 });
    expect(external(html)).toEqual([]);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain('90 (90.0%)');
  });

  it('bins at a round width over the values\' range, every value counted once', () => {
    const b = bins([0, 1, 2.5, 9.9, 10]);
    expect(b[0]?.from).toBe(0);
    expect((b[1]?.from ?? 0) - (b[0]?.from ?? 0)).toBe(0.5);
    expect(b.reduce((n, x) => n + x.count, 0)).toBe(5);
    const late = bins([60.1, 60.2, 60.4, 61.3]);
    expect(late[0]?.from).toBe(60.1);
    expect(late.at(-1)?.to).toBeGreaterThan(61.3);
    expect(late.reduce((n, x) => n + x.count, 0)).toBe(4);
  });
});

describe('the histories replayed', () => {
  const T = temporal.api.enums.v1.EventType;
  const events = (...types: temporal.api.enums.v1.EventType[]) => ({ events: types.map((eventType) => ({ eventType })) });

  it('given a run in flight, then it is replayed up to its last completed workflow task, not into the tail nothing has decided on', () => {
    const h = events(T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, T.EVENT_TYPE_WORKFLOW_TASK_STARTED, T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, T.EVENT_TYPE_TIMER_STARTED, T.EVENT_TYPE_TIMER_FIRED, T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    expect(decidedPart(h).events?.map((e) => e.eventType)).toEqual(h.events.slice(0, 4).map((e) => e.eventType));
  });

  it('given a closed run, then all of it is replayed', () => {
    const h = events(T.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, T.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
    expect(decidedPart(h).events).toHaveLength(3);
  });
});

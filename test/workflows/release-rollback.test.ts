import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ReleaseStatus } from '../../src/domain/release';
import { actionUpdates, statusQuery } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { BROKEN, GOOD_EVALUATION, HEALTHY, StubPorts } from '../helpers/stub-ports';

let h: Harness;
beforeAll(async () => void (h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

/** After any rollback: all traffic on the champion, no shadow, aliases as before, candidate marked. */
function expectRestored(ports: StubPorts, model: string, outcome: string): void {
  const route = ports.routes.get(model);
  if (route) {
    expect(route.variants).toEqual([{ version: 'v1', weight: 100 }]);
    expect(route.shadow).toBeNull();
  }
  expect(ports.aliases.has(`${model}:challenger`)).toBe(false);
  expect(ports.aliases.get(`${model}:champion`) ?? 'v1').toBe('v1');
  expect(ports.outcomes.at(-1)).toMatchObject({ version: 'v2', outcome });
}

const trafficAt = (s: ReleaseStatus, percent: number) =>
  s.timeline.find((e) => e.type === 'traffic' && (e.data as { variants: { version: string; weight: number }[] }).variants.some((v) => v.version === 'v2' && v.weight === percent));

describe('automatic rollback', () => {
  it('given a candidate worse than the champion offline, when evaluated, then the release stops before any traffic moves', async () => {
    const ports = new StubPorts({ evaluation: { ...GOOD_EVALUATION, candidate: { ...GOOD_EVALUATION.candidate, score: 0.85 } } });
    const m = aManifest();
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('rolled-back');
    expect(result.status.rollback?.trigger).toBe('evaluation-failed');
    expect(result.status.rollback?.evidence.map((e) => e.gate)).toEqual(['evaluation-quality']);
    expect(ports.routeLog).toEqual([]);
    expectRestored(ports, m.model, 'rolled-back');
  });

  it('given a shadow whose predictions diverge, when measured, then the shadow is switched off and the release rolls back', async () => {
    const ports = new StubPorts({ shadowDivergence: 0.2 });
    const m = aManifest();
    const result = await h.release(ports, m);
    expect(result.status.rollback?.trigger).toBe('shadow-failed');
    expect(result.status.rollback?.evidence[0]?.gate).toBe('shadow-divergence');
    expectRestored(ports, m.model, 'rolled-back');
  });

  it('given too little shadow traffic and an abort policy, when the shadow period runs out, then it rolls back for insufficient data', async () => {
    const ports = new StubPorts({ shadowRpm: 1 });
    const m = aManifest({ gates: { minSampleSize: 200, onInsufficientData: 'abort' } });
    const result = await h.release(ports, m);
    expect(result.status.rollback?.trigger).toBe('insufficient-data');
    const started = Date.parse(result.status.startedAt);
    expect(Date.parse(result.status.rollback!.startedAt) - started).toBeGreaterThanOrEqual(6 * 3_600_000);
    expectRestored(ports, m.model, 'rolled-back');
  });

  it('given too little shadow traffic and a hold policy, when the period runs out, then it waits for a human, who can let it proceed', async () => {
    const ports = new StubPorts({ shadowRpm: 1 });
    const m = aManifest({ gates: { minSampleSize: 200, onInsufficientData: 'hold' }, plan: [{ kind: 'shadow', minRequests: 1000, minDuration: '1h', maxDuration: '2h' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const held = await h.until(handle, 'awaiting-approval');
      expect(held.pendingApproval?.reason).toMatch(/^hold: shadow: gates still lack data/);
      await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'low-traffic model, accepted' }] });
      expect((await handle.result()).outcome).toBe('promoted');
    });
  });

  it.each([5, 25, 50])('given canary at %i%%, when the error rate breaches, then traffic returns to the champion within one interval', async (stage) => {
    const ports = new StubPorts();
    const m = aManifest();
    ports.behaviours.v2 = () => (ports.candidateWeight(m.model, 'v2') === stage ? BROKEN : HEALTHY);
    const result = await h.release(ports, m);
    const s = result.status;
    expect(s.rollback?.trigger).toBe('gate-breach');
    expect(s.rollback?.evidence.map((e) => e.gate)).toEqual(['error-rate']);
    // The anytime-valid test crossed its share of the release's false-rollback budget.
    const evidence = s.rollback!.evidence[0]!.evidence;
    expect(evidence.alwaysValidPValue).toBeLessThanOrEqual(Number(evidence.alpha));
    expect(Number(evidence.alpha)).toBeLessThan(0.05);
    const breachStarted = Date.parse(trafficAt(s, stage)!.at);
    expect(Date.parse(s.rollback!.trafficRestoredAt!) - breachStarted).toBeLessThanOrEqual(5 * 60_000 + 5_000);
    expect(s.rollback?.impact.candidateRequests).toBeGreaterThan(0);
    expectRestored(ports, m.model, 'rolled-back');
    expect(ports.notifications.at(-1)).toMatchObject({ severity: 'critical' });
  });

  it('given a business metric 10% below the champion, when the canary bakes, then it rolls back on business impact', async () => {
    const ports = new StubPorts();
    const m = aManifest();
    ports.behaviours.v2 = { ...HEALTHY, successRate: 0.27 };
    const result = await h.release(ports, m);
    expect(result.status.rollback?.evidence.map((e) => e.gate)).toEqual(['business-metric']);
  });

  it('given a clean canary, when latency breaches during the watch, then the previous version takes all traffic back', async () => {
    const ports = new StubPorts();
    const m = aManifest();
    // Slow once it serves all but the champion's holdback.
    ports.behaviours.v2 = () => ((ports.candidateWeight(m.model, 'v2') ?? 0) >= 90 ? { ...HEALTHY, p99Ms: 900 } : HEALTHY);
    const result = await h.release(ports, m);
    expect(result.status.rollback?.trigger).toBe('watch-breach');
    expect(result.status.rollback?.evidence.map((e) => e.gate)).toEqual(['latency-p99']);
    expectRestored(ports, m.model, 'rolled-back');
    expect(ports.archived).toEqual([]);
  });

  it('given a breach, when the router is down during the rollback, then it retries until the router confirms and never ends split', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 25 }, { kind: 'bake', duration: '2h' }, { kind: 'fullRollout' }] });
    let down = false;
    ports.routerDown = () => down;
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, (s) => s.plan[s.stepIndex]?.kind === 'bake');
      down = true;
      ports.behaviours.v2 = BROKEN;
      const retrying = await h.until(handle, (s) => (s.timeline.at(-1)?.type === 'compensation-retry' && (s.timeline.at(-1)?.count ?? 1) >= 3), { step: 5_000 });
      expect(retrying.phase).toBe('rolling-back');
      expect(ports.candidateWeight(m.model, 'v2')).toBe(25);
      down = false;
      const result = await handle.result();
      expect(result.outcome).toBe('rolled-back');
      expect(result.status.rollback?.trafficRestoredAt).toBeDefined();
      expectRestored(ports, m.model, 'rolled-back');
    });
  });
});

describe('a route the router refuses', () => {
  it('given a candidate the router has no backend for, when the canary routes to it, then the step fails naming it and the release rolls back at once', async () => {
    const ports = new StubPorts();
    ports.refusedVersions.add('v2');
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '1h' }, { kind: 'fullRollout' }] });
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('failed');
    expect(result.status.rollback).toMatchObject({ trigger: 'error', reason: expect.stringMatching(/router refused .*variants: \S+ v2 has no backend/) });
    // No retry loop: one refusal, then the undo.
    expect(result.status.timeline.filter((e) => e.type === 'router-retry')).toEqual([]);
    expectRestored(ports, m.model, 'failed');
  });
});

describe('refused aborts', () => {
  it('given a finished release, when aborted, then the update is refused with the reason', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await handle.result();
      const err = await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave' }] }).catch((e: unknown) => e);
      // A closed workflow takes no update at all; the server refuses it.
      expect(err).toBeInstanceOf(Error);
      expect(await handle.query(statusQuery).then((s) => s.outcome)).toBe('promoted');
    });
  });

  it('given a release, when an update carries no actor, then it is refused naming the field', async () => {
    const ports = new StubPorts();
    const m = aManifest();
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const err = await handle.executeUpdate(actionUpdates.abort, { args: [{ by: ' ' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((err as WorkflowUpdateFailedError).cause?.message)).toMatch(/^by: who is acting: "by" must name/);
      await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave' }] });
      await handle.result();
    });
  });
});

// `temporal workflow cancel` (or the Web UI's Cancel) is an abort by "temporal-cancel". Every wait and
// every look runs in a scope of its own whose parent is replaced every 64 scopes, so the SDK can let go of
// them (src/workflows/release-support.ts): the cancellation must still reach whatever the release is
// waiting on, long after the first parent was replaced.
describe('cancelled from Temporal', () => {
  const cancelledHistory = async (handle: Awaited<ReturnType<Harness['start']>>) => (await handle.fetchHistory()).events ?? [];

  it('given a bake whose looks the workflow takes, after 100 looks, when the workflow is cancelled, then its timer is cancelled and the release is undone as an abort', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h', interval: '1m' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m, { looks: 'workflow' });
      await h.until(handle, 'canary');
      await h.env.sleep(100 * 60_000);
      await handle.cancel();
      const result = await handle.result();
      expect(result.outcome).toBe('aborted');
      expect(result.status.rollback).toMatchObject({ trigger: 'manual-abort', by: 'temporal-cancel', reason: 'workflow cancelled' });
      const events = await cancelledHistory(handle);
      expect(events.filter((e) => e.timerFiredEventAttributes).length).toBeGreaterThanOrEqual(100);
      expect(events.filter((e) => e.timerCanceledEventAttributes)).toHaveLength(1);
      expectRestored(ports, m.model, 'aborted');
    });
  }, 90_000);

  it('given a bake whose looks takeChecks takes, after 100 looks the workflow took, when the workflow is cancelled, then the activity is asked to stop and the release is undone as an abort', async () => {
    const ports = new StubPorts();
    // 100 looks a minute apart (about 200 scopes: the first parents long replaced), then looks every 10 s.
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '100m', interval: '1m' }, { kind: 'setTraffic', percent: 20 }, { kind: 'bake', duration: '24h', interval: '10s' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const last = await h.until(handle, (s) => s.plan[s.stepIndex]?.kind === 'bake' && s.plan[s.stepIndex - 1]?.description.includes('20%') === true, { step: 60_000 });
      expect(last.phase).toBe('canary');
      const running = async () => (await handle.describe()).raw.pendingActivities?.some((a) => a.activityType?.name === 'takeChecks');
      for (let i = 0; !(await running()); i++) {
        if (i > 100) throw new Error('takeChecks never ran');
        await new Promise((r) => setTimeout(r, 100));
      }
      await handle.cancel();
      const result = await handle.result();
      expect(result.outcome).toBe('aborted');
      expect(result.status.rollback).toMatchObject({ trigger: 'manual-abort', by: 'temporal-cancel' });
      const events = await cancelledHistory(handle);
      expect(events.filter((e) => e.timerFiredEventAttributes).length).toBeGreaterThanOrEqual(100);
      expect(events.filter((e) => e.activityTaskCancelRequestedEventAttributes)).toHaveLength(1);
      expectRestored(ports, m.model, 'aborted');
    });
  }, 90_000);
});

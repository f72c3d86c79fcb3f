import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { ReleaseConflictError, startRelease } from '../../src/client/releases';
import { ManifestError } from '../../src/domain/manifest';
import type { ReleaseStatus } from '../../src/domain/release';
import { actionSignals, actionUpdates, releaseWorkflow, statusQuery } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';

let h: Harness;
let env: TestWorkflowEnvironment;
beforeAll(async () => void ({ env } = h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

const candidateWeights = (ports: StubPorts) => ports.routeLog.map((r) => r.variants.find((v) => v.version === 'v2')?.weight);

/** Approves every approval the release asks for, as alice, until it finishes. */
async function approveAll(handle: WorkflowHandle<typeof releaseWorkflow>): Promise<number> {
  let approvals = 0;
  for (;;) {
    const s: ReleaseStatus = await handle.query(statusQuery);
    if (s.outcome) return approvals;
    if (s.pendingApproval) {
      await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'metrics look fine' }] });
      approvals += 1;
    } else {
      await env.sleep(10 * 60_000);
    }
  }
}

describe('clean promotion through every preset', () => {
  it('given healthy metrics, when the standard plan runs, then the candidate ends at 100% and the champion is retired', async () => {
    const ports = new StubPorts();
    const m = aManifest();
    const result = await h.release(ports, m);

    expect(result.outcome).toBe('promoted');
    expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
    // 90%: the champion keeps a 10% holdback through the watch, as its concurrent reference.
    expect(candidateWeights(ports)).toEqual([0, 0, 5, 25, 50, 90, 100]);
    expect(ports.routeLog[0]?.shadow).toEqual({ version: 'v2', sampleRate: 1 });
    expect(ports.routeLog[1]?.shadow).toBeNull();
    expect(ports.aliases.get(`${m.model}:champion`)).toBe('v2');
    expect(ports.aliases.has(`${m.model}:challenger`)).toBe(false);
    expect(ports.archived).toEqual([`${m.model}:v1`]);
    expect(ports.outcomes.map((o) => o.outcome)).toEqual(['promoted']);
    expect(result.status.plan.map((s) => s.kind)).toEqual([
      'evaluate', 'shadow', 'setTraffic', 'bake', 'setTraffic', 'bake', 'setTraffic', 'bake', 'fullRollout', 'watch', 'retire',
    ]);
    expect(Object.keys(result.status.gates).sort()).toEqual([
      'business-metric', 'error-rate', 'evaluation-fairness', 'evaluation-latency', 'evaluation-quality',
      'evaluation-slices', 'latency-p99', 'shadow-distribution', 'shadow-divergence',
    ]);
  });

  it('given the high-stakes preset, when alice approves each raise, then it asks before every traffic increase and before 100%', async () => {
    const ports = new StubPorts();
    const m = aManifest({ strategy: 'high-stakes', blastRadius: 'high', timings: { ...aManifest().timings, canarySteps: undefined } });
    const approvals = await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const n = await approveAll(handle);
      expect((await handle.result()).outcome).toBe('promoted');
      return n;
    });
    expect(approvals).toBe(5); // 1%, 5%, 25%, 50%, 100%
    expect(candidateWeights(ports)).toEqual([0, 0, 1, 5, 25, 50, 90, 100]);
  });

  it('given the blue-green preset, when smoke checks pass, then traffic switches atomically with the champion kept warm during the watch', async () => {
    const ports = new StubPorts();
    const m = aManifest({ strategy: 'blue-green' });
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('promoted');
    expect(result.status.plan.map((s) => s.kind)).toEqual(['evaluate', 'warm', 'smoke', 'fullRollout', 'watch', 'retire']);
    expect(ports.routeLog.map((r) => r.variants)).toEqual([
      [{ version: 'v1', weight: 100 }, { version: 'v2', weight: 0 }],
      [{ version: 'v1', weight: 10 }, { version: 'v2', weight: 90 }],
      [{ version: 'v2', weight: 100 }],
    ]);
  });

  it('given the cohort preset, when it runs, then traffic is split by sticky cohort before promotion', async () => {
    const ports = new StubPorts();
    const m = aManifest({ strategy: 'cohort', timings: { ...aManifest().timings, canarySteps: undefined } });
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('promoted');
    expect(ports.routeLog.slice(0, 2).map((r) => [r.mode, r.variants[1]?.weight])).toEqual([
      ['cohort', 10],
      ['cohort', 50],
    ]);
  });
});

describe('human controls on a healthy release', () => {
  it('given a bake of 24h, when bob promotes, then the rest of the bake is skipped', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, (s) => s.plan[s.stepIndex]?.kind === 'bake');
      const ack = await handle.executeUpdate(actionUpdates.promote, { args: [{ by: 'bob', reason: 'hotfix, metrics clean' }] });
      expect(ack.accepted).toBe(true);
      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      const started = Date.parse(result.status.startedAt);
      const finished = Date.parse(result.status.timeline.at(-1)!.at);
      expect(finished - started).toBeLessThan(2 * 3_600_000);
      expect(result.status.timeline.some((e) => e.type === 'action' && e.message === 'promote' && e.by === 'bob')).toBe(true);
    });
  });

  it('given a 1h bake, when paused for 3h and resumed, then the bake clock stood still while paused', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '1h', interval: '5m' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, (s) => s.plan[s.stepIndex]?.kind === 'bake');
      await handle.executeUpdate(actionUpdates.pause, { args: [{ by: 'carol', reason: 'checking a dashboard' }] });
      await env.sleep(3 * 3_600_000);
      const paused = await handle.query(statusQuery);
      expect(paused.paused?.by).toBe('carol');
      expect(paused.outcome).toBeNull();
      expect(paused.plan[paused.stepIndex]?.kind).toBe('bake');
      await handle.executeUpdate(actionUpdates.resume, { args: [{ by: 'carol', reason: 'all good' }] });
      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      const bake = result.status.timeline.filter((e) => e.type === 'step-started' || e.type === 'step-completed').filter((e) => e.step === 1);
      const took = Date.parse(bake[1]!.at) - Date.parse(bake[0]!.at);
      expect(took).toBeGreaterThanOrEqual(4 * 3_600_000);
      expect(took).toBeLessThan(4 * 3_600_000 + 10 * 60_000);
    });
  });

  it('given a pause, when nobody resumes before the deadline, then the release rolls back', async () => {
    const ports = new StubPorts();
    const m = aManifest({ pause: { timeout: '2h' }, plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, (s) => s.plan[s.stepIndex]?.kind === 'bake');
      await handle.signal(actionSignals.pause, { by: 'carol', reason: 'lunch' });
      const result = await handle.result();
      expect(result.outcome).toBe('rolled-back');
      expect(result.status.rollback?.trigger).toBe('pause-timeout');
      expect(ports.candidateWeight(m.model, 'v2')).toBeUndefined();
    });
  });
});

describe('bounded history', () => {
  it('given a 12h watch with 1-minute checks, when history passes the limit, then the release continues as new carrying its state and timeline', async () => {
    const ports = new StubPorts();
    const m = aManifest({
      plan: [{ kind: 'setTraffic', percent: 50 }, { kind: 'bake', duration: '1h' }, { kind: 'fullRollout' }, { kind: 'watch', duration: '12h', interval: '1m' }, { kind: 'retire' }],
    });
    const result = await h.release(ports, m, { historyEventLimit: 1_500 });
    expect(result.outcome).toBe('promoted');
    expect(result.status.run).toBeGreaterThan(1);
    expect(result.status.timeline.filter((e) => e.type === 'continued-as-new').length).toBe(result.status.run - 1);
    expect(result.status.timeline[0]?.type).toBe('started');
    // 12h at one check a minute, merged per run into one entry each.
    const checks = result.status.timeline.filter((e) => e.type === 'measurement' && e.step === 3).reduce((n, e) => n + (e.count ?? 1), 0);
    expect(checks).toBeGreaterThanOrEqual(12 * 60);
  });
});

describe('one release per model', () => {
  it('given a release in flight, when the same version starts again it is returned, and a different version is refused', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h' }, { kind: 'fullRollout' }] });
    await h.withWorker(ports, async (taskQueue) => {
      const first = await startRelease(env.client, m, { requestedBy: 'ci', taskQueue });
      const again = await startRelease(env.client, m, { requestedBy: 'ci', taskQueue });
      expect(first.existing).toBe(false);
      expect(again.existing).toBe(true);
      expect(again.runId).toBe(first.runId);
      await expect(startRelease(env.client, { ...m, candidate: 'v3' }, { requestedBy: 'ci', taskQueue })).rejects.toThrow(ReleaseConflictError);
      await expect(startRelease(env.client, { ...m, candidate: 'v3' }, { requestedBy: 'ci', taskQueue })).rejects.toThrow(/version v2 in flight/);
      await first.handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'ci', reason: 'test over' }] });
      expect((await first.handle.result()).outcome).toBe('aborted');
    });
  });

  it('given a manifest with bad fields, when started, then it is refused naming each field and nothing starts', async () => {
    const m = aManifest({ blastRadius: 'high', approvals: { approvers: [] }, timings: { bake: '24 hours' } } as never);
    const err = await startRelease(env.client, m, { requestedBy: 'ci', taskQueue: 'nowhere' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    const paths = (err as ManifestError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['timings.bake', 'approvals.approvers']));
    await expect(env.client.workflow.getHandle(`release/${m.model}`).describe()).rejects.toThrow();
  });
});

describe('durable time', () => {
  it('given a 72-hour watch, when run under the time-skipping server, then it completes without waiting 72 hours', async () => {
    const ports = new StubPorts();
    const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 50 }, { kind: 'bake', duration: '1h', interval: '30m' }, { kind: 'fullRollout' }, { kind: 'watch', duration: '72h', interval: '12h' }, { kind: 'retire' }] });
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('promoted');
    const watch = result.status.timeline.filter((e) => e.step === 3 && (e.type === 'step-started' || e.type === 'step-completed'));
    expect(Date.parse(watch[1]!.at) - Date.parse(watch[0]!.at)).toBeGreaterThanOrEqual(72 * 3_600_000);
  });
});

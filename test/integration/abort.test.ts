// Abort in every phase, on the real dev server with seconds-long steps: the undo runs newest first,
// traffic is verified on the champion before anything else, and nothing is left changed.
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { startRelease } from '../../src/client/releases';
import type { Phase, ReleaseStatus } from '../../src/domain/release';
import { actionSignals, actionUpdates, releaseWorkflow, statusQuery } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { HEALTHY, StubPorts } from '../helpers/stub-ports';
import { uniqueQueue, useDevServer } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const ctx = useDevServer();

const release = (blastRadius: 'low' | 'high') =>
  aManifest({
    blastRadius,
    approvals: { approvers: ['alice'], timeout: '1m' },
    gates: { minSampleSize: 50 },
    plan: [
      { kind: 'evaluate' },
      { kind: 'shadow', minRequests: 100, minDuration: '3s', maxDuration: '20s', interval: '1s' },
      { kind: 'setTraffic', percent: 20 },
      { kind: 'bake', duration: '3s', interval: '1s', extension: '5s' },
      { kind: 'fullRollout' },
      { kind: 'watch', duration: '30s', interval: '1s', window: '5s' },
      { kind: 'retire' },
    ],
  });

async function reach(handle: WorkflowHandle<typeof releaseWorkflow>, phase: Phase): Promise<ReleaseStatus> {
  for (let i = 0; i < 300; i++) {
    const s = await handle.query(statusQuery);
    if (s.phase === phase) return s;
    if (s.outcome) throw new Error(`release finished (${s.outcome}) before reaching ${phase}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`release never reached ${phase}`);
}

const cases: [Phase, 'low' | 'high'][] = [
  ['evaluating', 'low'],
  ['shadowing', 'low'],
  ['canary', 'low'],
  ['awaiting-approval', 'high'],
  ['watching', 'low'],
];

describe('abort in every phase', () => {
  it.each(cases)('given a release %s, when aborted, then traffic is verified on the champion first and every change is undone', async (phase, blastRadius) => {
    const ports = new StubPorts({ shadowRpm: 60_000, behaviours: { v1: { ...HEALTHY, rpm: 60_000 }, v2: { ...HEALTHY, rpm: 60_000 } } });
    if (phase === 'evaluating') ports.evaluationDelayMs = 30_000;
    const m = release(blastRadius);
    const taskQueue = uniqueQueue('abort');
    const worker = await Worker.create({
      connection: ctx.server.native,
      taskQueue,
      workflowBundle: ctx.workflowBundle,
      activities: createActivities(ports),
      sinks: releaseRecordSinks(),
      maxHeartbeatThrottleInterval: '1s',
    });
    await worker.runUntil(async () => {
      const { handle } = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue });
      await reach(handle, phase);
      const t0 = Date.now();
      const ack = await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave', reason: 'customer complaint' }] });
      expect(ack.message).toMatch(/abort accepted/);
      const result = await handle.result();
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(result.outcome).toBe('aborted');
      expect(result.status.rollback).toMatchObject({ trigger: 'manual-abort', by: 'dave', reason: 'customer complaint' });
      const route = ports.routes.get(m.model);
      if (phase === 'evaluating') {
        expect(route).toBeUndefined();
      } else {
        expect(route?.variants).toEqual([{ version: 'v1', weight: 100 }]);
        expect(route?.shadow).toBeNull();
        const undo = result.status.timeline.filter((e) => e.type === 'compensation').map((e) => e.message);
        expect(undo[0]).toBe('traffic verified on v1');
        expect(undo.at(-1)).toBe('challenger alias restored to (none)');
      }
      expect(ports.aliases.get(`${m.model}:champion`) ?? 'v1').toBe('v1');
      expect(ports.aliases.has(`${m.model}:challenger`)).toBe(false);
      expect(ports.outcomes.at(-1)).toMatchObject({ version: 'v2', outcome: 'aborted' });
    });
  });

  it('given a release paused mid-canary, when aborted by signal as the temporal CLI sends it, then it rolls back', async () => {
    const ports = new StubPorts({ shadowRpm: 60_000, behaviours: { v1: { ...HEALTHY, rpm: 60_000 }, v2: { ...HEALTHY, rpm: 60_000 } } });
    const m = release('low');
    const taskQueue = uniqueQueue('abort');
    const worker = await Worker.create({ connection: ctx.server.native, taskQueue, workflowBundle: ctx.workflowBundle, activities: createActivities(ports), sinks: releaseRecordSinks() });
    await worker.runUntil(async () => {
      const { handle } = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue });
      await reach(handle, 'canary');
      await handle.signal(actionSignals.pause, { by: 'erin' });
      await handle.signal(actionSignals.abort, { by: 'erin', reason: 'bad dashboard' });
      const result = await handle.result();
      expect(result.outcome).toBe('aborted');
      expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
    });
  });
});

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { actionSignals, actionUpdates, statusQuery } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';

let h: Harness;
let env: TestWorkflowEnvironment;
beforeAll(async () => void ({ env } = h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

const short = () => aManifest({ blastRadius: 'high', plan: [{ kind: 'setTraffic', percent: 50 }, { kind: 'bake', duration: '30m' }, { kind: 'fullRollout' }] });

describe('approval before 100%', () => {
  it('given a high blast radius, when alice approves, then it proceeds and the timeline records who and why', async () => {
    const ports = new StubPorts();
    const m = short();
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const waiting = await h.until(handle, 'awaiting-approval');
      expect(waiting.pendingApproval).toMatchObject({ approvers: ['alice', 'bob'], onTimeout: 'abort' });
      expect(waiting.pendingApproval?.reason).toMatch(/blast radius is high/);
      const ack = await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'dashboards green' }] });
      expect(ack).toMatchObject({ accepted: true, action: 'approve' });
      const result = await handle.result();
      expect(result.outcome).toBe('promoted');
      expect(result.status.timeline).toContainEqual(expect.objectContaining({ type: 'action', message: 'approve', by: 'alice', reason: 'dashboards green' }));
    });
  });

  it('given a pending approval, when mallory approves, then the update is refused and the signal is ignored and recorded', async () => {
    const ports = new StubPorts();
    const m = short();
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, 'awaiting-approval');
      const err = await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'mallory' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(String((err as WorkflowUpdateFailedError).cause?.message)).toMatch(/mallory is not an approver/);
      await handle.signal(actionSignals.approve, { by: 'mallory', reason: 'trust me' });
      const s = await handle.query(statusQuery);
      expect(s.phase).toBe('awaiting-approval');
      expect(s.timeline.at(-1)).toMatchObject({ type: 'action-ignored', by: 'mallory' });
      await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'alice' }] });
      await handle.result();
    });
  });

  it('given a pending approval, when bob rejects, then the release rolls back as rejected', async () => {
    const ports = new StubPorts();
    const m = short();
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      await h.until(handle, 'awaiting-approval');
      await handle.signal(actionSignals.reject, { by: 'bob', reason: 'not during the sale' });
      const result = await handle.result();
      expect(result.outcome).toBe('rejected');
      expect(result.status.rollback).toMatchObject({ trigger: 'rejected', by: 'bob', reason: 'not during the sale' });
      expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
    });
  });

  it('given nobody answers, when the deadline passes, then a reminder went out before it and the release rolls back', async () => {
    const ports = new StubPorts();
    const m = short();
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('rolled-back');
    expect(result.status.rollback?.trigger).toBe('approval-timeout');
    const reminder = result.status.timeline.find((e) => e.type === 'approval-reminder')!;
    const requested = result.status.timeline.find((e) => e.type === 'approval-requested')!;
    const after = Date.parse(reminder.at) - Date.parse(requested.at);
    expect(after).toBeGreaterThanOrEqual(90 * 60_000);
    expect(after).toBeLessThan(91 * 60_000);
    expect(ports.notifications.map((n) => n.title)).toEqual(expect.arrayContaining([expect.stringMatching(/^Reminder: approval due/)]));
  });

  it('given onTimeout hold, when the deadline passes, then it pages and holds until the hold runs out', async () => {
    const ports = new StubPorts();
    const m = { ...short(), approvals: { approvers: ['alice'], timeout: '2h', onTimeout: 'hold' as const, holdFor: '4h' } };
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const paged = await h.until(handle, (s) => s.pendingApproval?.held === true, { step: 10 * 60_000 });
      expect(paged.phase).toBe('awaiting-approval');
      expect(ports.notifications.some((n) => n.severity === 'critical' && n.title.startsWith('PAGE'))).toBe(true);
      const result = await handle.result();
      expect(result.status.rollback?.trigger).toBe('approval-timeout');
    });
  });

  it('given a rollback of this model three days ago, when a low blast radius release runs, then it still asks before 100%', async () => {
    const ports = new StubPorts();
    ports.lastRollback = (await env.currentTimeMs()) - 3 * 86_400_000;
    const m = { ...short(), blastRadius: 'low' as const };
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, m);
      const s = await h.until(handle, 'awaiting-approval');
      expect(s.pendingApproval?.reason).toMatch(/was rolled back at/);
      await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'bob' }] });
      expect((await handle.result()).outcome).toBe('promoted');
    });
  });
});

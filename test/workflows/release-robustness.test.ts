// No input, typo or flood may strand a release: each defect the drills found, replayed here, ends in a
// clear outcome or a bounded state from which the release still reaches its rollback.
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import fc from 'fast-check';
import { ApplicationFailure } from '@temporalio/common';
import { releaseWorkflowId } from '../../src/constants';
import type { LooksReply, LooksRequest } from '../../src/domain/looks';
import { TIMELINE_LIMITS } from '../../src/domain/timeline';
import { actionSignals, actionUpdates, releaseWorkflow, statusQuery } from '../../src/workflows/release';
import { createActivities } from '../../src/activities';
import { aManifest } from '../helpers/builders';
import { instantLooks } from '../helpers/recorded-looks';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';
import { uniqueModel } from '../helpers/temporal';

let h: Harness;
beforeAll(async () => void (h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

it.each([
  ['null', null],
  ['no manifest', { requestedBy: 'ci' }],
  ['a manifest of null', { manifest: null }],
  ['an unknown field', { manifest: aManifest(), typo: 1 }],
])('given %s as the workflow input, then the release fails at once naming the field, and starts nothing', async (_what, input) => {
  const ports = new StubPorts();
  await h.withWorker(ports, async (q) => {
    const handle = await h.env.client.workflow.start(releaseWorkflow, { taskQueue: q, workflowId: releaseWorkflowId(uniqueModel('input')), args: [input as never] });
    const err = await handle.result().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidManifest');
    expect(cause.message).toMatch(/^invalid (workflow input|release manifest):\n {2}(input|\S)/);
  });
  expect(ports.routeLog).toEqual([]);
});

it('given a flood of refused actions with long reasons while it waits for approval, then its state stays bounded, it continues-as-new, and abort still rolls back', async () => {
  const ports = new StubPorts();
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }] });
  await h.withWorker(ports, async (q) => {
    const handle = await h.start(q, m, { historyEventLimit: 400 });
    await h.until(handle, 'awaiting-approval');
    const reason = 'r'.repeat(2000);
    for (let i = 0; i < 1200; i += 40) {
      // Refused: nothing is paused; and an unknown signal name on the way.
      await Promise.all(Array.from({ length: 40 }, (_, k) => handle.signal(actionSignals.resume, { by: `flooder-${(i + k) % 3}`, reason })));
    }
    await handle.signal('approv', { by: 'typo', reason: 'misspelt' });
    const s = await handle.query(statusQuery);
    expect(s.phase).toBe('awaiting-approval');
    expect(s.run).toBeGreaterThan(1);
    expect(s.timeline.length).toBeLessThanOrEqual(TIMELINE_LIMITS.entries);
    expect(s.timeline.filter((e) => e.type === 'action-ignored').length).toBeLessThanOrEqual(TIMELINE_LIMITS.ignored);
    expect(s.timeline.some((e) => /unknown signal "approv"/.test(e.message))).toBe(true);
    expect(JSON.stringify(s).length).toBeLessThan(200_000);
    const ack = await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave', reason: 'enough' }] });
    expect(ack.accepted).toBe(true);
    const result = await handle.result();
    expect(result.outcome).toBe('aborted');
    expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
  });
}, 120_000);

it('given an update whose payload has an unknown field, then the update is refused and the release goes on', async () => {
  const ports = new StubPorts();
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }] });
  await h.withWorker(ports, async (q) => {
    const handle = await h.start(q, m);
    await h.until(handle, 'awaiting-approval');
    const refused = await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'ok', urgent: true } as never] }).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/urgent/);
    await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'ok' }] });
    expect((await handle.result()).outcome).toBe('promoted');
  });
});

/**
 * A 2-minute bake looked at every 10 s, with the worker's `takeChecks` replaced: the release's result, and
 * the message of every workflow task the workflow refused on the way.
 */
async function bakeWith(takeChecks: (req: LooksRequest) => Promise<LooksReply>): Promise<{ result: Awaited<ReturnType<typeof releaseWorkflow>>; refused: (string | null | undefined)[] | undefined }> {
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '2m', interval: '10s' }, { kind: 'fullRollout' }] });
  return h.withWorker(
    new StubPorts(),
    async (q) => {
      const handle = await h.start(q, m);
      const result = await handle.result();
      const failed = (await handle.fetchHistory()).events?.filter((e) => e.workflowTaskFailedEventAttributes);
      return { result, refused: failed?.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message) };
    },
    { takeChecks },
  );
}

/**
 * A query replayed on a worker that does not cache the release delivers a takeChecks reply on the clock of
 * the task that scheduled it (the drills' "status queries while the worker holding the release is dead").
 * Here the reply says it ran 3 s when the workflow's clock says no time has passed: the workflow refuses the
 * task, naming the stale clock, and decides once a task's clock is past the activity's return.
 */
it('given a takeChecks reply that ran longer than the workflow clock has moved, then the task is refused as a stale activation and the release goes on once the clock has caught up', async () => {
  let calls = 0;
  const { result, refused } = await bakeWith(async (req: LooksRequest): Promise<LooksReply> => ({ looks: [], progress: req.progress, requests: req.requests, ranMs: calls++ === 0 ? 3_000 : 0 }));
  expect(result.outcome).toBe('promoted');
  expect(refused).toEqual([expect.stringMatching(/^takeChecks (back after 3000 ms|settled after its scheduling) at .* came with the workflow clock at .*: stale activation, not deciding on it$/)]);
  expect(calls).toBeGreaterThanOrEqual(1);
}, 60_000);

it('given a takeChecks that fails, then no task is refused as stale: the release notes it, takes its looks itself and is promoted', async () => {
  const { result, refused } = await bakeWith(async (): Promise<LooksReply> => {
    throw ApplicationFailure.nonRetryable('metrics backend gone', 'MetricsDown');
  });
  expect(result.outcome).toBe('promoted');
  expect(result.status.timeline.filter((e) => e.type === 'looks-failed').length).toBeGreaterThanOrEqual(1);
  expect(result.status.timeline.some((e) => e.type === 'measurement')).toBe(true);
  expect(refused).toEqual([]);
}, 60_000);

/**
 * A release outside a worker's cache replays its run's history at each task, at a cost that grows with it
 * (`npm run bench:replay`): a run continues as new at 1 MiB. Forty replies of twelve recorded looks (about
 * 35 KiB each) come back at once, then the release takes its own looks to the bake's end.
 */
it('given a bake looked at every 10 s, when its run passes 1 MiB of history, then it continues as new with every look kept, and is promoted', async () => {
  const { result, refused } = await bakeWith(instantLooks(12, 40));
  expect(result.outcome).toBe('promoted');
  expect(refused).toEqual([]);
  const continued = result.status.timeline.filter((e) => e.type === 'continued-as-new');
  expect(continued).toHaveLength(1);
  expect(result.status.run).toBe(2);
  // Past 1 MiB by less than a reply: the run ends at the first task over the limit.
  const kib = Number(/ events \((\d+) KiB\)$/.exec(continued[0]?.message ?? '')?.[1]);
  expect(kib).toBeGreaterThanOrEqual(1024);
  expect(kib).toBeLessThan(1024 + 40);
  const measured = result.status.timeline.filter((e) => e.type === 'measurement' && e.step === 1).reduce((n, e) => n + (e.count ?? 1), 0);
  expect(measured).toBeGreaterThanOrEqual(40 * 12);
}, 120_000);

/**
 * A run that starts with its history already past the size limit (the state it carries, in UTF-8) must not
 * continue as new at once, and again, forever: it goes on until it has added half the limit of its own.
 * The carried state is a real one (the input of a run continued while waiting for approval), with a
 * timeline of non-ASCII messages making the new run's first event about 1.4 MiB.
 */
it('given a run that starts past 1 MiB of history, then it does not continue as new at once, and approval still promotes', async () => {
  const ports = new StubPorts();
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }] });
  await h.withWorker(ports, async (q) => {
    const first = await h.start(q, m, { historyEventLimit: 100 });
    await h.until(first, 'awaiting-approval');
    for (let i = 0; i < 60; i++) await first.signal('approv', { by: 'typo', reason: `misspelt ${i}` });
    await h.until(first, (s) => s.run > 1);
    // The latest run's input: the state carried into it.
    const latest = h.env.client.workflow.getHandle(first.workflowId);
    const input = (await latest.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const carried = (JSON.parse(Buffer.from(input as Uint8Array).toString('utf8')) as { carried?: Record<string, unknown> }).carried;
    expect(carried).toMatchObject({ phase: 'awaiting-approval' });
    await first.terminate('its carried state taken');
    // 800 entries of 600 three-byte characters: about 1.4 MiB of messages.
    const big = { ...carried, timeline: Array.from({ length: 800 }, (_, i) => ({ at: new Date(Date.UTC(2026, 11, 6, 0, 0, i)).toISOString(), type: 'action-ignored', message: '€'.repeat(600) })) };
    const second = await h.env.client.workflow.start(releaseWorkflow, {
      taskQueue: q,
      workflowId: first.workflowId,
      args: [{ manifest: m, requestedBy: 'ci', options: { historySizeLimit: 1024 * 1024 }, carried: big } as never],
    });
    const s = await h.until(second, 'awaiting-approval');
    const started = (await second.fetchHistory()).events?.find((e) => e.workflowTaskStartedEventAttributes)?.workflowTaskStartedEventAttributes;
    expect(Number(started?.historySizeBytes)).toBeGreaterThan(1024 * 1024);
    await second.signal(actionSignals.approve, { by: 'alice', reason: 'ok' });
    const result = await second.result();
    expect(result.outcome).toBe('promoted');
    expect(result.status.run).toBe(s.run);
  });
}, 120_000);

describe('accepted manifests, generated', () => {
  // fast-check draws plausible edits of a short release; every manifest the schema accepts must end in
  // one of the five outcomes under time skipping, with nobody answering its approvals.
  const edits = fc.record(
    {
      strategy: fc.constantFrom('standard', 'high-stakes', 'blue-green', 'cohort'),
      blastRadius: fc.constantFrom('low', 'medium', 'high'),
      canarySteps: fc.uniqueArray(fc.integer({ min: 1, max: 99 }), { minLength: 1, maxLength: 4 }).map((a) => a.sort((x, y) => x - y)),
      minSampleSize: fc.integer({ min: 1, max: 5_000 }),
      falseRollbackRate: fc.constantFrom(0.01, 0.05, 0.2),
      onTimeout: fc.constantFrom('abort', 'hold'),
      onInsufficientData: fc.constantFrom('hold', 'abort'),
      watchHoldback: fc.integer({ min: 1, max: 20 }),
    },
    { requiredKeys: [] },
  );
  const samples = fc.sample(edits, { numRuns: 10, seed: 11 });

  it.each(samples.map((e, i) => [i, e] as const))('manifest %i runs to an outcome', async (_i, e) => {
    const base = aManifest();
    const raw = {
      ...base,
      ...(e.strategy ? { strategy: e.strategy } : {}),
      ...(e.blastRadius ? { blastRadius: e.blastRadius } : {}),
      timings: { ...base.timings, ...(e.canarySteps ? { canarySteps: e.canarySteps } : {}), ...(e.watchHoldback ? { watchHoldback: e.watchHoldback } : {}) },
      gates: { ...base.gates, ...(e.minSampleSize ? { minSampleSize: e.minSampleSize } : {}), ...(e.falseRollbackRate ? { falseRollbackRate: e.falseRollbackRate } : {}), ...(e.onInsufficientData ? { onInsufficientData: e.onInsufficientData } : {}) },
      approvals: { ...base.approvals, ...(e.onTimeout ? { onTimeout: e.onTimeout } : {}) },
    };
    const result = await h.release(new StubPorts(), raw as typeof base);
    expect(['promoted', 'rolled-back', 'rejected', 'aborted', 'failed']).toContain(result.outcome);
  }, 60_000);
});

/**
 * The two measurements of a look run side by side. When one fails, the look is judged without data, and
 * the other, still running, was never cancelled: cancelling it would add a command the histories of
 * releases in flight do not have (for runs from before local measurements, a RequestCancelActivityTask).
 * Each look now runs in a scope of its own (`scoped()`), which must leave it running.
 */
it('given a look whose candidate measurement fails while the champion is still measured, then the champion measurement is not cancelled', async () => {
  const ports = new StubPorts();
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '15m', interval: '5m' }, { kind: 'fullRollout' }] });
  let failed = 0;
  const real = createActivities(ports).measureVariant;
  const measureVariant = async (q: Parameters<typeof real>[0]) => {
    if (failed === 0 && q.version === 'v2') {
      failed += 1;
      throw ApplicationFailure.nonRetryable('metrics backend gone', 'MetricsDown');
    }
    // The champion's measurement is still running when the candidate's has failed.
    if (failed === 1 && q.version === 'v1') {
      failed += 1;
      await new Promise((r) => setTimeout(r, 1_500));
    }
    return real(q);
  };
  await h.withWorker(
    ports,
    async (q) => {
      const handle = await h.start(q, m);
      expect((await handle.result()).outcome).toBe('promoted');
      expect(failed).toBe(2);
      const markers = ((await handle.fetchHistory()).events ?? []).filter((e) => e.markerRecordedEventAttributes);
      expect(markers.filter((e) => e.markerRecordedEventAttributes?.failure?.applicationFailureInfo?.type === 'MetricsDown')).toHaveLength(1);
      expect(markers.filter((e) => e.markerRecordedEventAttributes?.failure?.canceledFailureInfo)).toEqual([]);
    },
    { measureVariant },
  );
}, 60_000);

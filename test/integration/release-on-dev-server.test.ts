// Releases on a real Temporal dev server (one per test run): visibility, and durability across workers.
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { actionsFromHistory } from '../../src/client/actions-history';
import { startRelease } from '../../src/client/releases';
import { actionSignals, actionUpdates, statusQuery } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { cli } from '../helpers/cli';
import { HEALTHY, StubPorts } from '../helpers/stub-ports';
import { uniqueQueue, useDevServer } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const ctx = useDevServer();

/** Seconds-long steps and a busy model, so gates have data within one interval. */
const fastRelease = () =>
  aManifest({
    gates: { minSampleSize: 50 },
    plan: [
      { kind: 'setTraffic', percent: 20 },
      { kind: 'bake', duration: '6s', interval: '2s', extension: '4s' },
      { kind: 'fullRollout' },
      { kind: 'watch', duration: '4s', interval: '2s', window: '4s' },
      { kind: 'retire' },
    ],
  });

const busy = () => new StubPorts({ behaviours: { v1: { ...HEALTHY, rpm: 60_000 }, v2: { ...HEALTHY, rpm: 60_000 } } });

function newWorker(taskQueue: string, ports: StubPorts, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  return Worker.create({ connection: ctx.server.native, taskQueue, workflowBundle: ctx.workflowBundle, activities: createActivities(ports), sinks: releaseRecordSinks(), ...options });
}

it('given a release on the dev server, then it is promoted and the Web UI can find it by model and phase', async () => {
  const taskQueue = uniqueQueue('dev');
  const ports = busy();
  const m = fastRelease();
  const worker = await newWorker(taskQueue, ports);
  const result = await worker.runUntil(async () => {
    const started = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue });
    return started.handle.result();
  });
  expect(result.outcome).toBe('promoted');
  expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);

  // Looks every 2 s are taken by one takeChecks activity per step (the bake and the watch are shorter
  // than its 2-minute wake), not by a timer and two local activities each.
  const history = await ctx.server.client.workflow.getHandle(`release/${m.model}`).fetchHistory();
  const events = history.events ?? [];
  const checks = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'takeChecks');
  const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
  const looks = result.status.timeline.filter((e) => e.type === 'measurement').reduce((n, e) => n + (e.count ?? 1), 0);
  expect(checks).toHaveLength(2);
  expect(markers).toHaveLength(0);
  expect(looks).toBeGreaterThanOrEqual(5);

  // Visibility is eventually consistent: poll briefly.
  let found: string[] = [];
  for (let i = 0; i < 50 && found.length === 0; i++) {
    found = [];
    for await (const wf of ctx.server.client.workflow.list({ query: `RolloutModel = '${m.model}' AND RolloutPhase = 'promoted' AND RolloutCandidateVersion = 'v2'` })) {
      found.push(wf.workflowId);
    }
    if (!found.length) await new Promise((r) => setTimeout(r, 200));
  }
  expect(found).toEqual([`release/${m.model}`]);
});

it('given a worker that stops mid-bake, when a new worker takes over, then the release finishes with the same outcome', async () => {
  const taskQueue = uniqueQueue('crash');
  const ports = busy();
  const m = fastRelease();
  const first = await newWorker(taskQueue, ports);
  const firstRun = first.run();
  const started = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue });
  for (let i = 0; i < 100; i++) {
    const s = await started.handle.query(statusQuery);
    if (s.plan[s.stepIndex]?.kind === 'bake') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Looks every 2 s are taken by the takeChecks activity: stop the worker after its first.
  await new Promise((r) => setTimeout(r, 2_500));
  first.shutdown();
  await firstRun;
  expect(ports.candidateWeight(m.model, 'v2')).toBe(20);

  // A new worker with an empty workflow cache must rebuild the release from its event history.
  const second = await newWorker(taskQueue, ports);
  const result = await second.runUntil(started.handle.result());
  expect(result.outcome).toBe('promoted');
  expect(result.status.timeline.filter((e) => e.type === 'step-started').map((e) => e.step)).toEqual([0, 1, 2, 3, 4]);
  expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
});

it('given a bake whose looks a takeChecks is taking, when a human promotes, then the release takes one look itself before skipping the rest, and is promoted', async () => {
  const taskQueue = uniqueQueue('promote');
  const ports = busy();
  const m = aManifest({ gates: { minSampleSize: 50 }, plan: [{ kind: 'setTraffic', percent: 20 }, { kind: 'bake', duration: '10m', interval: '1s' }, { kind: 'fullRollout' }] });
  // Heartbeats reach the server every second here (by default at most every 16 s, 80% of the heartbeat timeout).
  const worker = await newWorker(taskQueue, ports, { maxHeartbeatThrottleInterval: '1s' });
  const result = await worker.runUntil(async () => {
    const { handle } = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue });
    for (let i = 0; i < 100 && (await handle.query(statusQuery)).plan[(await handle.query(statusQuery)).stepIndex]?.kind !== 'bake'; i++) await new Promise((r) => setTimeout(r, 100));
    // Well inside takeChecks' wake: its looks so far are in the activity, none back in the workflow yet.
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await handle.query(statusQuery)).timeline.some((e) => e.type === 'measurement')).toBe(false);
    // `rollout status` shows them anyway, from the activity's heartbeat.
    const env = { TEMPORAL_ADDRESS: ctx.server.address, TEMPORAL_TASK_QUEUE: taskQueue };
    const [json, text] = await Promise.all([cli(['status', m.model, '--json'], env), cli(['status', m.model], env)]);
    expect(json.code).toBe(0);
    const live = (JSON.parse(json.stdout) as { liveLooks?: { looks: number; last?: { outcome: string } } }).liveLooks;
    expect(live?.looks).toBeGreaterThanOrEqual(1);
    expect(live?.last?.outcome).toMatch(/^(pass|fail|insufficient-data)$/);
    expect(text.stdout).toMatch(/^ {2}looks {6}\d+ taken in the worker since \d\d:\d\d:\d\d, not yet above; last \d\d:\d\d:\d\d /m);
    await handle.executeUpdate(actionUpdates.promote, { args: [{ by: 'bob', reason: 'hotfix, dashboards clean' }] });
    return handle.result();
  });
  expect(result.outcome).toBe('promoted');
  const t = result.status.timeline;
  const promotedAt = t.findIndex((e) => e.type === 'action' && e.message === 'promote' && e.by === 'bob');
  const skippedAt = t.findIndex((e) => e.type === 'step-completed' && /promoted, rest of the bake skipped/.test(e.message));
  expect(promotedAt).toBeGreaterThanOrEqual(0);
  expect(skippedAt).toBeGreaterThan(promotedAt);
  // The look the workflow took itself, over everything since the bake began, between the two.
  expect(t.slice(promotedAt, skippedAt).filter((e) => e.type === 'measurement')).toHaveLength(1);
});

it('given ten identical CI starts at once, then there is one release, and only the call that created it says existing: false', async () => {
  const taskQueue = uniqueQueue('race');
  const m = fastRelease();
  const starts = await Promise.all(Array.from({ length: 10 }, () => startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue })));
  expect(new Set(starts.map((s) => s.runId)).size).toBe(1);
  expect(starts.filter((s) => !s.existing)).toHaveLength(1);
  await starts[0]?.handle.terminate('test over');
});

it('given 2,000 refused actions with 2,000-character reasons flooding a release that waits for approval, then its state stays bounded, it continues-as-new, and abort still rolls it back', async () => {
  const taskQueue = uniqueQueue('flood');
  const ports = busy();
  const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }] });
  const worker = await newWorker(taskQueue, ports);
  await worker.runUntil(async () => {
    const { handle } = await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue, options: { historyEventLimit: 1_000 } });
    for (let i = 0; i < 50 && (await handle.query(statusQuery)).phase !== 'awaiting-approval'; i++) await new Promise((r) => setTimeout(r, 200));
    const reason = 'r'.repeat(2000);
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => handle.signal(actionSignals.approve, { by: `mallory-${(i + k) % 7}`, reason })));
    }
    const s = await handle.query(statusQuery);
    expect(s.phase).toBe('awaiting-approval');
    expect(s.run).toBeGreaterThan(1);
    expect(s.timeline.filter((e) => e.type === 'action-ignored').length).toBeLessThanOrEqual(30);
    expect(JSON.stringify(s).length).toBeLessThan(200_000);
    await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave', reason: 'flood over' }] });
    const result = await handle.result();
    expect(result.outcome).toBe('aborted');
    expect(result.status.timelineTrimmed).toBeGreaterThan(0);
    // Nothing is lost: the event history of every run still has each action, with who and why.
    const actions = await actionsFromHistory(ctx.server.client, handle.workflowId, (await handle.describe()).runId);
    expect(actions.filter((a) => a.kind === 'signal' && a.name === 'approve')).toHaveLength(2000);
    expect(actions.at(-1)).toMatchObject({ kind: 'update', name: 'abort', by: 'dave', reason: 'flood over' });
  });
  expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
}, 120_000);

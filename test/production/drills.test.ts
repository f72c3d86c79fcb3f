// Failover drills on the production topology as processes (npm run prod-stack): PostgreSQL, the full
// Temporal server on it, two worker processes on one task queue. Each drill runs a real release on the
// embedded gateway with live model servers, real traffic and ground truth, and a fast plan, and checks
// the outcome and the router's state:
//   - a worker SIGKILLed in the shadow, the bake, the approval, the watch and the rollback;
//   - the Temporal server restarted mid-bake, then PostgreSQL;
//   - ten identical CI starts at once;
//   - a deploy of new workflow code (build B) in the middle of a release on build A (Worker Versioning).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { FileRegistry } from '../../src/adapters/file-registry';
import type { ReleaseStatus } from '../../src/domain/release';
import { Gateway } from '../../src/gateway/server';
import { actionUpdates, statusQuery, type releaseWorkflow } from '../../src/workflows/release';
import { startRelease } from '../../src/client/releases';
import { writeWorkflowBundle } from '../../src/workers/bundle';
import { startProdStack, type ProdStack } from '../../support/prod-stack';
import { cli } from '../helpers/cli';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const TOKEN = 'drill-admin-token-000000';
let dir: string;
let stack: ProdStack;
let gateway: Gateway;
let gatewayUrl: string;
let client: Client;
let connection: Connection;
let champion: FakeModel;
let candidate: FakeModel;
let failingModel: string | null = null;

const classify = (t: number) => (d: unknown[]) => ((d[0] as number) > t ? 'yes' : 'no');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drills-'));
  gateway = new Gateway({ adminToken: TOKEN, stateFile: path.join(dir, 'gateway-routes.json') });
  gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
  champion = await fakeModelServer({ label: '', predict: classify(0.51) });
  // Healthy, except for the model a drill marks failing: then a third of its answers are errors.
  candidate = await fakeModelServer({
    label: '',
    predict: classify(0.5),
    failEvery: 3,
    failWhen: () => failingModel !== null && (gateway.routes.get(failingModel)?.variants.find((v) => v.version === 'v2')?.weight ?? 0) > 0,
  });
  stack = await startProdStack({
    dir: path.join(dir, 'stack'),
    workers: 2,
    workerEnv: { MODEL_ROLLOUT_DATA_DIR: dir, GATEWAY_URL: gatewayUrl, GATEWAY_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'info' },
  });
  connection = await Connection.connect({ address: stack.address });
  client = new Client({ connection, namespace: stack.namespace });
}, 600_000);

/** A drill that started and has not finished: a failure or a timeout leaves it set, for the post-mortem below. */
let unfinished: string | null = null;

afterAll(async () => {
  await connection?.close();
  await stack?.close();
  await Promise.all([gateway?.close(), champion?.close(), candidate?.close()]);
  // A drill that did not finish prints the end of every log in the stack's directory, so a CI run that
  // fails once shows why without a rerun.
  if (unfinished !== null) {
    try {
      const logs = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log'));
      for (const f of logs) {
        const lines = fs.readFileSync(path.join(dir, f), 'utf8').trimEnd().split('\n');
        process.stdout.write(`--- ${unfinished}: last 60 lines of ${f} ---\n${lines.slice(-60).join('\n')}\n`);
      }
    } catch (err) {
      process.stdout.write(`drill logs unreadable: ${String(err)}\n`);
    }
  }
  // DRILLS_KEEP=1 keeps the stack's logs (PostgreSQL, Temporal, each worker) for a post-mortem.
  if (process.env.DRILLS_KEEP) process.stdout.write(`drill logs kept in ${dir}\n`);
  else fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

async function prepare(model: string): Promise<void> {
  gateway.serveModel(model, { v1: champion.url, v2: candidate.url }, 'v1');
  await new FileRegistry(path.join(dir, 'registry.json')).register(model, 'v1', true);
}

/** Requests with ground truth for each answer, about 100 a second, until stopped. */
function traffic(model: string): { stop: () => Promise<void> } {
  let running = true;
  const loop = async () => {
    while (running) {
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          const x = Math.random();
          const r = await fetch(`${gatewayUrl}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [x] }] }) }).catch(() => null);
          if (!r?.ok) return;
          const body = (await r.json()) as { id: string; outputs: { data: string[] }[] };
          await fetch(`${gatewayUrl}/v2/models/${model}/feedback`, { method: 'POST', body: JSON.stringify({ id: body.id, success: body.outputs[0]?.data[0] === (x > 0.5 ? 'yes' : 'no') }) }).catch(() => null);
        }),
      );
      await new Promise((r) => setTimeout(r, 40));
    }
  };
  const done = loop();
  return { stop: async () => ((running = false), await done) };
}

/** Every (release, generation) the gateway served, sampled every 50 ms: generations must never go back. */
function watchGenerations(model: string): { stop: () => { releaseId: string; generation: number }[] } {
  const seen: { releaseId: string; generation: number }[] = [];
  const timer = setInterval(() => {
    const r = gateway.routes.get(model);
    if (r && (seen.at(-1)?.generation !== r.generation || seen.at(-1)?.releaseId !== r.releaseId)) seen.push({ releaseId: r.releaseId, generation: r.generation });
  }, 50);
  return { stop: () => (clearInterval(timer), seen) };
}

function expectMonotonic(seen: { releaseId: string; generation: number }[]): void {
  const last = new Map<string, number>();
  for (const s of seen) {
    expect({ ...s, before: last.get(s.releaseId) ?? -1 }).toEqual(expect.objectContaining({ generation: Math.max(s.generation, last.get(s.releaseId) ?? -1) }));
    last.set(s.releaseId, s.generation);
  }
}

const manifest = (model: string, plan: unknown[]) => ({
  apiVersion: 'model-rollout/v1',
  kind: 'Release',
  model,
  candidate: 'v2',
  approvals: { approvers: ['alice'] },
  gates: { minSampleSize: 40, latency: { p99SlaMs: 2_000, maxP99Increase: 10 } },
  plan,
});

const FULL_PLAN = [
  { kind: 'shadow', minRequests: 40, minDuration: '6s', maxDuration: '60s', interval: '1s', sampleRate: 1 },
  { kind: 'setTraffic', percent: 30 },
  { kind: 'bake', duration: '8s', interval: '1s', extension: '60s' },
  { kind: 'approval', reason: 'sign-off' },
  { kind: 'fullRollout' },
  { kind: 'watch', duration: '8s', interval: '1s', window: '6s', extension: '60s' },
  { kind: 'retire' },
];

async function until(handle: WorkflowHandle<typeof releaseWorkflow>, what: string, ok: (s: ReleaseStatus) => boolean, ms = 120_000): Promise<ReleaseStatus> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await handle.query(statusQuery).catch(() => null);
    if (s && ok(s)) return s;
    if (s?.outcome) throw new Error(`release ended ${s.outcome} before ${what}: ${s.rollback?.reason ?? ''}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; phase ${s?.phase}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const kinds = (s: ReleaseStatus) => s.plan[s.stepIndex]?.kind;

/**
 * SIGKILLs the worker that ran the release's latest workflow task (the one holding it in its sticky
 * cache, the hard case: its next task times out and another worker replays the history), else one at
 * random, and starts a replacement, so two keep polling.
 */
async function killAWorker(handle?: WorkflowHandle<typeof releaseWorkflow>): Promise<void> {
  const alive = stack.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  let victim = alive[Math.floor(Math.random() * alive.length)];
  if (handle) {
    const events = (await handle.fetchHistory()).events ?? [];
    const identity = events.filter((e) => e.workflowTaskStartedEventAttributes).at(-1)?.workflowTaskStartedEventAttributes?.identity ?? '';
    victim = alive.find((w) => identity.startsWith(`${w.child.pid}@`)) ?? victim;
  }
  await victim?.stop('SIGKILL');
  stack.startWorker();
}

/**
 * Waits for a phase through the release's search attributes (describe): nothing is asked of a worker,
 * as an operator watching the Web UI's list asks nothing. With `queries`, through the status query every
 * 200 ms, as `rollout watch` does.
 */
async function reach(handle: WorkflowHandle<typeof releaseWorkflow>, phase: string, queries: boolean): Promise<void> {
  if (queries) {
    await until(handle, phase, (s) => s.phase === phase, 300_000);
    return;
  }
  const deadline = Date.now() + 300_000;
  for (;;) {
    const d = await handle.describe();
    if ((d.searchAttributes as Record<string, unknown[] | undefined>).RolloutPhase?.[0] === phase) return;
    if (d.status.name !== 'RUNNING') throw new Error(`release ended (${d.status.name}) before ${phase}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for phase ${phase}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A release through every kind of step, the worker holding it SIGKILLed in each. */
async function killDrill(queries: boolean): Promise<void> {
  const model = uniqueModel('drill-kill');
  unfinished = `kill drill${queries ? ' with status queries' : ''} (${model})`;
  await prepare(model);
  const load = traffic(model);
  const gens = watchGenerations(model);
  try {
    const { handle } = await startRelease(client, manifest(model, FULL_PLAN), { requestedBy: 'drill', taskQueue: stack.taskQueue });
    const kills: string[] = [];
    for (const [phase, label] of [['shadowing', 'shadow'], ['canary', 'bake']] as const) {
      await reach(handle, phase, queries);
      // Into the step's measurements, so the killed worker holds timers and activities in flight.
      await new Promise((r) => setTimeout(r, 1_500));
      await killAWorker(handle);
      kills.push(label);
    }
    await reach(handle, 'awaiting-approval', queries);
    await killAWorker(handle);
    kills.push('approval');
    await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'drill: approved with a worker down' }] });
    await reach(handle, 'watching', queries);
    await killAWorker(handle);
    kills.push('watch');
    const result = await handle.result();
    expect(kills).toEqual(['shadow', 'bake', 'approval', 'watch']);
    expect(result.outcome).toBe('promoted');
    expect(gateway.routes.get(model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
    expect(result.status.timeline.filter((e) => e.type === 'action').map((e) => e.by)).toContain('alice');
    unfinished = null;
  } finally {
    await load.stop();
    expectMonotonic(gens.stop());
  }
}

it('given the stack, then its workers run on jemalloc, as the image runs the worker', () => {
  expect(stack.workers).toHaveLength(2);
  for (const w of stack.workers) {
    const started = fs.readFileSync(w.logFile, 'utf8').split('\n').filter((l) => l.includes('"worker started"'));
    expect(started.map((l) => (JSON.parse(l) as { allocator?: string }).allocator)).toEqual(['jemalloc']);
  }
});

it('given the worker holding the release SIGKILLed in the shadow, the bake, the approval and the watch, then the release is promoted as without them, and generations never go back', () => killDrill(false), 600_000);

/**
 * The same drill, with the release's status queried every 200 ms (as `rollout watch`, a dashboard or the
 * Web UI does) while the worker holding it is dead. The SDK then replays the release for a query on a
 * worker that does not cache it, resolving the timer that fired during the outage on the previous task's
 * clock; deciding on that clock used to cache a second timer that no later replay reproduced
 * ("[TMPRL1100] Nondeterminism error: No command scheduled for event TimerStarted"), and the release was
 * stuck. `StaleClock` now refuses that activation. The same holds for a takeChecks that came back during
 * the outage: its reply says how long it ran, and a clock behind its scheduling plus that is refused (CI
 * saw this drill stuck for 600 s before); and for any other event, by the interceptor in
 * src/workflows/interceptors.ts. DRILLS_KEEP=1 keeps every process's log; the workers' logs show
 * "stale activation, not deciding on it" where a guard acted.
 */
it('given status queries while the worker holding the release is dead, then the release still ends promoted', () => killDrill(true), 600_000);

it('given a breach, when a worker is SIGKILLed as the rollback starts, then the rollback completes and traffic is verified on the champion', async () => {
  const model = uniqueModel('drill-rollback');
  failingModel = model;
  await prepare(model);
  const load = traffic(model);
  const gens = watchGenerations(model);
  try {
    const { handle } = await startRelease(
      client,
      manifest(model, [{ kind: 'setTraffic', percent: 50 }, { kind: 'bake', duration: '60s', interval: '1s', extension: '60s' }, { kind: 'fullRollout' }]),
      { requestedBy: 'drill', taskQueue: stack.taskQueue },
    );
    await until(handle, 'the rollback', (s) => s.phase === 'rolling-back' || s.rollback !== null, 180_000).catch(async (err: unknown) => {
      // A fast rollback may finish between two looks: then it is checked below all the same.
      if (!/ended rolled-back/.test(String(err))) throw err;
    });
    await killAWorker(handle);
    const result = await handle.result();
    expect(result.outcome).toBe('rolled-back');
    expect(result.status.rollback?.trafficRestoredAt).toBeDefined();
    expect(gateway.routes.get(model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
  } finally {
    failingModel = null;
    await load.stop();
    expectMonotonic(gens.stop());
  }
}, 600_000);

it('given the Temporal server restarted mid-bake, then PostgreSQL, then the release resumes and no action is lost', async () => {
  const model = uniqueModel('drill-restart');
  await prepare(model);
  const load = traffic(model);
  try {
    const { handle } = await startRelease(
      client,
      manifest(model, [{ kind: 'setTraffic', percent: 30 }, { kind: 'bake', duration: '40s', interval: '2s', extension: '60s' }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }]),
      { requestedBy: 'drill', taskQueue: stack.taskQueue },
    );
    await until(handle, 'the bake', (s) => kinds(s) === 'bake');
    await handle.executeUpdate(actionUpdates.pause, { args: [{ by: 'bob', reason: 'drill: pause before the server restart' }] });
    await stack.restartServer();
    await handle.executeUpdate(actionUpdates.resume, { args: [{ by: 'bob', reason: 'drill: resume after it' }] });
    await stack.restartPostgres();
    await until(handle, 'the approval', (s) => s.pendingApproval !== null, 240_000);
    await handle.executeUpdate(actionUpdates.approve, { args: [{ by: 'alice', reason: 'drill: approve after both restarts' }] });
    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    // pause and resume by bob, the approval by alice: each recorded once, none lost across the restarts.
    const actions = result.status.timeline.filter((e) => e.type === 'action').map((e) => e.by);
    expect(actions.filter((by) => by === 'bob')).toHaveLength(2);
    expect(actions.filter((by) => by === 'alice')).toHaveLength(1);
  } finally {
    await load.stop();
  }
}, 600_000);

it('given ten identical CI starts at once, then exactly one release runs and all ten name it', async () => {
  const model = uniqueModel('drill-ci');
  await prepare(model);
  const file = path.join(dir, `${model}.yaml`);
  fs.writeFileSync(file, stringify(manifest(model, [{ kind: 'setTraffic', percent: 10 }, { kind: 'approval', reason: 'hold' }, { kind: 'fullRollout' }])));
  const env = { TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: stack.taskQueue };
  const runs = await Promise.all(Array.from({ length: 10 }, () => cli(['start', '-f', file, '--json'], env)));
  expect(runs.map((r) => r.code)).toEqual(Array(10).fill(0));
  const started = runs.map((r) => JSON.parse(r.stdout) as { workflowId: string; runId: string; existing: boolean });
  expect(new Set(started.map((s) => s.runId)).size).toBe(1);
  expect(started.filter((s) => !s.existing)).toHaveLength(1);
  const listed = await cli(['list', '--all', '--model', model, '--json'], env);
  // Visibility on PostgreSQL is eventually consistent: the one execution shows within seconds.
  let rows = JSON.parse(listed.stdout) as unknown[];
  for (let i = 0; i < 20 && rows.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    rows = JSON.parse((await cli(['list', '--all', '--model', model, '--json'], env)).stdout) as unknown[];
  }
  expect(rows).toHaveLength(1);
  await cli(['abort', model, '--reason', 'drill over', '--as', 'ci'], env);
}, 300_000);

/**
 * Build B: these workflow sources with a real change, behind patched() as every change to the commands
 * must be: each measurement's timeline line is marked, and the patch marker is a new command.
 */
async function buildB(): Promise<string> {
  const root = path.resolve(__dirname, '../..');
  const tree = fs.mkdtempSync(path.join(dir, 'build-b-'));
  fs.cpSync(path.join(root, 'src'), path.join(tree, 'src'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(tree, 'node_modules'));
  const file = path.join(tree, 'src/workflows/release.ts');
  const before = fs.readFileSync(file, 'utf8');
  const after = before.replace(
    'const message = `${outcome}: ${results.map((r) => r.summary).join(\'; \')}`;',
    'const message = `${patched(\'drill-build-b\') ? \'[build B] \' : \'\'}${outcome}: ${results.map((r) => r.summary).join(\'; \')}`;',
  );
  expect(after).not.toBe(before);
  fs.writeFileSync(file, after);
  const bundle = path.join(tree, 'workflow-bundle.js');
  await writeWorkflowBundle(bundle, path.join(tree, 'src/workflows/index.ts'));
  return bundle;
}

// Last in this file: it leaves build B current and build A's workers stopped.
it('given a release in its bake on build A, when build B with a workflow change is deployed and made current, then the release moves to B (auto-upgrade) and is promoted, and its history replays on B', async () => {
  const model = uniqueModel('drill-upgrade');
  await prepare(model);
  const bundle = await buildB();
  const load = traffic(model);
  const gens = watchGenerations(model);
  try {
    const { handle } = await startRelease(
      client,
      manifest(model, [{ kind: 'setTraffic', percent: 30 }, { kind: 'bake', duration: '25s', interval: '1s', extension: '60s' }, { kind: 'fullRollout' }]),
      { requestedBy: 'drill', taskQueue: stack.taskQueue },
    );
    await reach(handle, 'canary', false);
    const versionOf = async () => (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
    expect(await versionOf()).toMatchObject({ behavior: 2 /* AUTO_UPGRADE */, deploymentVersion: { deploymentName: stack.deployment.name, buildId: stack.deployment.buildId } });

    // The deploy: build B's worker starts, B is made current, build A's workers drain and stop.
    const buildA = stack.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const b = stack.startWorker({ TEMPORAL_WORKER_BUILD_ID: 'B', WORKFLOW_BUNDLE: bundle });
    for (let i = 0; !/worker started/.test(b.log()); i++) {
      if (i > 600) throw new Error(`build B's worker did not start:\n${b.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await stack.setCurrentVersion('B');
    await Promise.all(buildA.map((w) => w.stop('SIGTERM')));

    const result = await handle.result();
    expect(result.outcome).toBe('promoted');
    expect(gateway.routes.get(model)?.variants.find((v) => v.version === 'v2')?.weight).toBe(100);
    expect(await versionOf()).toMatchObject({ behavior: 2, deploymentVersion: { deploymentName: stack.deployment.name, buildId: 'B' } });
    // Asked for under A, recorded under B: one release, two builds, no restart. B's change shows as
    // its patch marker, recorded once, by B.
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const isMarker = (name: string) => (e: (typeof events)[number]) => e.markerRecordedEventAttributes?.markerName === name;
    const isBuildB = (e: (typeof events)[number]) =>
      isMarker('core_patch')(e) && Object.values(e.markerRecordedEventAttributes?.details ?? {}).some((p) => Buffer.from(p.payloads?.[0]?.data ?? []).toString().includes('drill-build-b'));
    const patchAt = events.findIndex(isBuildB);
    expect(patchAt).toBeGreaterThan(0);
    // Looks every second are taken by a takeChecks activity that a task on A's worker asked for; B
    // recorded what it brought back, each look's line marked by B's change.
    const taskBy = (at: number) => [...events.slice(0, at)].reverse().find((e) => e.workflowTaskStartedEventAttributes)?.workflowTaskStartedEventAttributes?.identity?.split('@')[0];
    const askedByA = events.some(
      (e, i) => i < patchAt && e.activityTaskScheduledEventAttributes?.activityType?.name === 'takeChecks' && buildA.some((w) => String(w.child.pid) === taskBy(i)),
    );
    expect(askedByA).toBe(true);
    expect(result.status.timeline.filter((e) => e.type === 'measurement' && e.message.startsWith('[build B] ')).length).toBeGreaterThan(0);
    const tasksBy = (from: number, to: number) => new Set(events.slice(from, to).flatMap((e) => e.workflowTaskStartedEventAttributes?.identity?.split('@')[0] ?? []));
    expect([...tasksBy(patchAt, events.length)]).toEqual([String(b.child.pid)]);
    expect([...tasksBy(0, patchAt)].some((pid) => buildA.some((w) => String(w.child.pid) === pid))).toBe(true);
    // The history, half A and half B, replays on B: what CI's replay tests guard for every change.
    await Worker.runReplayHistory({ workflowBundle: { codePath: bundle }, sinks: releaseRecordSinks() }, history);
  } finally {
    await load.stop();
    expectMonotonic(gens.stop());
  }
}, 600_000);

// A worker process killed with SIGKILL mid-release (no shutdown, no drain): the release waits in
// Temporal with its traffic where it was; a new worker process picks it up from history, and the
// approval sent afterwards promotes it. Worker, gateway and CLI are the user's own entrypoints.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { FileRegistry } from '../../src/adapters/file-registry';
import { releaseWorkflowId } from '../../src/constants';
import { Gateway } from '../../src/gateway/server';
import { cli } from '../helpers/cli';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel, uniqueQueue } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'crash-admin-token-00000';
let dir: string;
let gateway: Gateway;
let gatewayUrl: string;
let models: FakeModel[] = [];
const workers: ChildProcess[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crash-'));
  gateway = new Gateway({ adminToken: TOKEN, stateFile: null });
  gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
  models = [await fakeModelServer({ label: 'a' }), await fakeModelServer({ label: 'b' })];
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await Promise.all([gateway?.close(), ...models.map((m) => m.close())]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function startWorker(env: Record<string, string>): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/workers/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"worker started"')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`worker exited with ${code}: ${out.slice(-500)}`)));
  });
  started.catch(() => undefined);
  return { child, started };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A model served by the gateway and registered, a worker environment on a queue of its own, and a manifest: 30%, then an approval. */
async function aRelease(prefix: string): Promise<{ model: string; env: Record<string, string>; file: string }> {
  const model = uniqueModel(prefix);
  gateway.serveModel(model, { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url }, 'v1');
  await new FileRegistry(path.join(dir, 'registry.json')).register(model, 'v1', true);
  const env = {
    TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS as string,
    TEMPORAL_TASK_QUEUE: uniqueQueue(prefix),
    MODEL_ROLLOUT_DATA_DIR: dir,
    GATEWAY_URL: gatewayUrl,
    GATEWAY_ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
  };
  const file = path.join(dir, `${prefix}.yaml`);
  fs.writeFileSync(file, stringify({ apiVersion: 'model-rollout/v1', kind: 'Release', model, candidate: 'v2', approvals: { approvers: ['alice'] }, plan: [{ kind: 'setTraffic', percent: 30 }, { kind: 'approval', reason: 'sign-off' }, { kind: 'fullRollout' }] }));
  return { model, env, file };
}

it('given a worker killed with SIGKILL while a release waits at 30%, then a new worker process carries it to promotion', async () => {
  const { model, env, file } = await aRelease('crash');

  const first = startWorker(env);
  await first.started;
  const started = await cli(['start', '-f', file, '--wait', '--until', 'approval', '--json'], env);
  expect(started.code).toBe(20);

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  expect(first.child.signalCode).toBe('SIGKILL');
  // Nothing moved while no worker runs: the router still holds the canary.
  expect(gateway.routes.get(model)?.variants).toContainEqual({ version: 'v2', weight: 30 });

  const second = startWorker(env);
  await second.started;
  const approved = await cli(['approve', model, '--as', 'alice', '--reason', 'after the crash'], env);
  expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
  await until('promotion', () => gateway.routes.get(model)?.variants.find((v) => v.version === 'v2')?.weight === 100);
  const status = await cli(['status', model, '--json'], env);
  expect(JSON.parse(status.stdout)).toMatchObject({ outcome: 'promoted', phase: 'promoted' });
  second.child.kill('SIGTERM');
  await new Promise((r) => second.child.once('exit', r));
}, 120_000);

/**
 * WORKER_STACK_TRACES=off (src/workers/stack-traces.ts): the worker's workflow thread runs without the SDK's
 * stack-trace hook, so the stack-trace query answers with no stacks; a worker with the default answers
 * with the release's own. The release moves between the two as between any workers.
 */
it('given WORKER_STACK_TRACES=off, then the stack-trace query has no stacks, a default worker shows the release waiting, and the release is promoted', async () => {
  const { model, env, file } = await aRelease('stacks');
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const handle = new Client({ connection }).workflow.getHandle(releaseWorkflowId(model));
    const stacks = (): Promise<string> => handle.query<string>('__stack_trace');

    const off = startWorker({ ...env, WORKER_STACK_TRACES: 'off' });
    await off.started;
    const started = await cli(['start', '-f', file, '--wait', '--until', 'approval', '--json'], env);
    expect(started.code).toBe(20);
    expect(await stacks()).toBe('');
    off.child.kill('SIGTERM');
    await new Promise((r) => off.child.once('exit', r));

    const on = startWorker(env);
    await on.started;
    // A new worker replays the release to answer: the stacks are those of the release waiting for approval.
    expect(await stacks()).toMatch(/src\/workflows\/release\.ts/);
    const approved = await cli(['approve', model, '--as', 'alice', '--reason', 'stacks seen'], env);
    expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
    await until('promotion', () => gateway.routes.get(model)?.variants.find((v) => v.version === 'v2')?.weight === 100);
    on.child.kill('SIGTERM');
    await new Promise((r) => on.child.once('exit', r));
  } finally {
    await connection.close();
  }
}, 120_000);

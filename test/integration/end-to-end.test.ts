// A release end to end on the dev server with every real adapter the worker builds (gateway router,
// gateway metrics and shadow, file registry, OIP evaluator, notifier), real HTTP traffic and ground truth.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { buildPorts } from '../../src/adapters';
import { FileRegistry } from '../../src/adapters/file-registry';
import { startRelease } from '../../src/client/releases';
import { loadConfig } from '../../src/config';
import { Gateway } from '../../src/gateway/server';
import { createLogger } from '../../src/logger';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel, uniqueQueue, useDevServer } from '../helpers/temporal';

const ctx = useDevServer();
let dir: string;
let gateway: Gateway;
let gatewayUrl: string;
let good: FakeModel;
let better: FakeModel;
let flaky: FakeModel;
let flakyModel: string | null = null;

const classify = (t: number) => (d: unknown[]) => ((d[0] as number) > t ? 'yes' : 'no');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-'));
  gateway = new Gateway({ adminToken: 'e2e-admin-token-0000', stateFile: path.join(dir, 'gateway-routes.json') });
  gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
  // The two healthy models disagree on 1% of inputs: well inside the 5% shadow divergence allowed.
  good = await fakeModelServer({ label: '', predict: classify(0.51) });
  better = await fakeModelServer({ label: '', predict: classify(0.5) });
  // Passes offline and in the shadow; fails a quarter of its requests once it serves live traffic.
  flaky = await fakeModelServer({
    label: '',
    predict: classify(0.5),
    failEvery: 4,
    failWhen: () => flakyModel !== null && (gateway.routes.get(flakyModel)?.variants.find((v) => v.version === 'v2')?.weight ?? 0) > 0,
  });
});
afterAll(async () => {
  await Promise.all([gateway.close(), good.close(), better.close(), flaky.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function prepare(model: string, candidateServer: FakeModel): Promise<void> {
  fs.mkdirSync(path.join(dir, 'datasets'), { recursive: true });
  const rows = Array.from({ length: 60 }, (_, i) => ({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [i / 60] }], label: i / 60 > 0.5 ? 'yes' : 'no' }));
  fs.writeFileSync(path.join(dir, 'datasets', `${model}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n'));
  gateway.serveModel(model, { v1: good.url, v2: candidateServer.url }, 'v1');
  await new FileRegistry(path.join(dir, 'registry.json')).register(model, 'v1', true);
}

/** Production-like traffic: requests with ground truth fed back for each answer, until stopped. */
function traffic(model: string): { stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  const loop = async () => {
    while (running) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const x = Math.random();
          const r = await fetch(`${gatewayUrl}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [x] }] }) }).catch(() => null);
          sent += 1;
          if (!r?.ok) return;
          const body = (await r.json()) as { id: string; outputs: { data: string[] }[] };
          const success = body.outputs[0]?.data[0] === (x > 0.5 ? 'yes' : 'no');
          await fetch(`${gatewayUrl}/v2/models/${model}/feedback`, { method: 'POST', body: JSON.stringify({ id: body.id, success }) }).catch(() => null);
        }),
      );
      // About 300 requests a second at most: production-like, without starving the server under test.
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const done = loop();
  return { stop: async () => ((running = false), await done, sent) };
}

const plan = () => ({
  // The latency SLA suits a shared 2-core CI machine; these tests are about traffic and breaches.
  gates: { minSampleSize: 60, latency: { p99SlaMs: 2_000, maxP99Increase: 10 } },
  plan: [
    { kind: 'evaluate' as const },
    { kind: 'shadow' as const, minRequests: 50, minDuration: '3s', maxDuration: '30s', interval: '1s', sampleRate: 1 },
    { kind: 'setTraffic' as const, percent: 50 },
    { kind: 'bake' as const, duration: '4s', interval: '1s', extension: '20s' },
    { kind: 'fullRollout' as const },
    { kind: 'watch' as const, duration: '3s', interval: '1s', window: '3s', extension: '20s' },
    { kind: 'retire' as const },
  ],
});

async function run(model: string) {
  const config = loadConfig({ MODEL_ROLLOUT_DATA_DIR: dir, GATEWAY_URL: gatewayUrl, GATEWAY_ADMIN_TOKEN: 'e2e-admin-token-0000', LOG_LEVEL: 'silent' });
  const taskQueue = uniqueQueue('e2e');
  const worker = await Worker.create({
    connection: ctx.server.native,
    taskQueue,
    workflowBundle: ctx.workflowBundle,
    activities: createActivities(buildPorts(config, createLogger('silent'))),
  });
  const load = traffic(model);
  try {
    return await worker.runUntil(async () => {
      const { handle } = await startRelease(ctx.server.client, { apiVersion: 'model-rollout/v1', kind: 'Release', model, candidate: 'v2', ...plan() }, { requestedBy: 'e2e', taskQueue });
      return handle.result();
    });
  } finally {
    await load.stop();
  }
}

it('given a better candidate and real traffic through the gateway, then it is promoted and the champion retired', async () => {
  const model = uniqueModel('e2e-good');
  await prepare(model, better);
  const result = await run(model);
  expect({ outcome: result.outcome, reason: result.status.rollback?.reason }).toMatchObject({ outcome: 'promoted' });
  expect(gateway.routes.get(model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
  const registry = new FileRegistry(path.join(dir, 'registry.json'));
  expect(await registry.getAlias(model, 'champion')).toBe('v2');
  expect(result.status.gates['shadow-divergence']?.outcome).toBe('pass');
  expect(result.status.gates['error-rate']?.evidence.candidateRequests).toBeGreaterThanOrEqual(60);
});

it('given a candidate failing a quarter of its requests, then the canary breach rolls traffic back to the champion', async () => {
  const model = uniqueModel('e2e-flaky');
  flakyModel = model;
  await prepare(model, flaky);
  const result = await run(model);
  // On failure, the reason and evidence print with the trigger.
  expect({ trigger: result.status.rollback?.trigger, reason: result.status.rollback?.reason }).toMatchObject({ trigger: 'gate-breach' });
  expect(result.outcome).toBe('rolled-back');
  expect(result.status.rollback?.evidence.map((e) => e.gate)).toContain('error-rate');
  expect(gateway.routes.get(model)?.variants).toEqual([{ version: 'v1', weight: 100 }]);
  expect(result.status.rollback?.impact.candidateRequests).toBeGreaterThan(0);
  expect(await new FileRegistry(path.join(dir, 'registry.json')).lastRollbackAt(model)).not.toBeNull();
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { MAX_LABELS_PER_MODEL, OTHER_LABEL } from '../../../src/gateway/metrics';
import { Gateway } from '../../../src/gateway/server';
import type { Route } from '../../../src/gateway/routes';
import { fakeModelServer, seeded, type FakeModel } from '../../helpers/model-server';

const TOKEN = 'test-token';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted on, field by field
const json = async (r: Response): Promise<any> => r.json();
let dir: string;
let champion: FakeModel;
let candidate: FakeModel;
const open: Gateway[] = [];

beforeAll(async () => {
  champion = await fakeModelServer({ label: 'approve' });
  candidate = await fakeModelServer({ label: 'decline' });
});
afterAll(async () => {
  await Promise.all([champion.close(), candidate.close()]);
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((g) => g.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(opts: Partial<ConstructorParameters<typeof Gateway>[0]> = {}): Promise<{ gw: Gateway; base: string }> {
  const gw = new Gateway({ adminToken: TOKEN, stateFile: path.join(dir, 'routes.json'), ...opts });
  open.push(gw);
  const port = await gw.listen(0);
  return { gw, base: `http://127.0.0.1:${port}` };
}

const admin = (base: string, method: string, p: string, body?: unknown, token: string | null = TOKEN) =>
  fetch(`${base}/admin/${p}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const route = (over: Partial<Route> = {}): Route => ({
  model: 'fraud',
  releaseId: 'release/fraud/r1',
  generation: 1,
  mode: 'weighted',
  variants: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }],
  shadow: null,
  ...over,
});

async function setup(base: string, r: Route): Promise<void> {
  expect((await admin(base, 'PUT', 'backends/fraud/v1', { url: champion.url })).status).toBe(200);
  expect((await admin(base, 'PUT', 'backends/fraud/v2', { url: candidate.url })).status).toBe(200);
  expect((await admin(base, 'PUT', 'routes/fraud', r)).status).toBe(200);
}

const infer = (base: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/v2/models/fraud/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }),
  });

it('given an 80/20 split, when 4,000 requests arrive, then the candidate serves 20% ± 1.5 points', async () => {
  const { base } = await start({ random: seeded(7) });
  await setup(base, route());
  const served: Record<string, number> = {};
  // 50 at a time: the seeded draws are the same 4,000 whatever order requests arrive in.
  for (let batch = 0; batch < 80; batch++) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const r = await infer(base);
        const v = r.headers.get('x-model-version') as string;
        served[v] = (served[v] ?? 0) + 1;
        expect((await json(r)).outputs[0].data[0]).toBe(v === 'v1' ? 'approve' : 'decline');
      }),
    );
  }
  expect(Math.abs((served.v2 ?? 0) / 4000 - 0.2)).toBeLessThan(0.015);
});

it('given cohort mode, then each user always gets the same variant and cohorts follow the weights', async () => {
  const { base } = await start();
  await setup(base, route({ mode: 'cohort', variants: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }] }));
  let v2Users = 0;
  for (let u = 0; u < 400; u++) {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add((await infer(base, { 'x-user-id': `user-${u}` })).headers.get('x-model-version') as string);
    expect(seen.size).toBe(1);
    if (seen.has('v2')) v2Users += 1;
  }
  expect(v2Users).toBeGreaterThan(150);
  expect(v2Users).toBeLessThan(250);
});

it('given a slow shadow, then it is never served, never slows the served path, and both answers are compared', async () => {
  const slowShadow = await fakeModelServer({ label: 'decline', delayMs: 400 });
  try {
    const { gw, base } = await start();
    await admin(base, 'PUT', 'backends/fraud/v3', { url: slowShadow.url });
    await setup(base, route({ variants: [{ version: 'v1', weight: 100 }], shadow: { version: 'v3', sampleRate: 1 } }));
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      const r = await infer(base);
      expect(r.headers.get('x-model-version')).toBe('v1');
      expect((await json(r)).outputs[0].data[0]).toBe('approve');
    }
    // On the served path, 10 sequential requests would take at least 10 × 400 ms.
    expect(performance.now() - t0).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 600));
    expect(gw.stats.shadowWindow('fraud', 0, Date.now() + 1000)).toMatchObject({ requests: 10, divergent: 10 });
    expect(gw.stats.window('fraud', 'v3', 0, Date.now() + 1000).requests).toBe(0);
  } finally {
    await slowShadow.close();
  }
});

it('given applied routes, when the gateway restarts on the same state file, then the split and backends are kept', async () => {
  const first = await start();
  await setup(first.base, route({ generation: 4 }));
  await first.gw.close();
  open.splice(open.indexOf(first.gw), 1);
  const second = await start({ random: () => 0.99 });
  const r = await admin(second.base, 'GET', 'routes/fraud');
  expect(await json(r)).toMatchObject({ generation: 4, variants: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }] });
  expect((await infer(second.base)).headers.get('x-model-version')).toBe('v2');
});

it('given 200 route changes at once, then each is acknowledged only once on disk, and they share a few writes of the table', async () => {
  const { gw, base } = await start();
  const file = path.join(dir, 'routes.json');
  const models = Array.from({ length: 200 }, (_, i) => `m${i}`);
  for (const m of models) gw.setBackend(m, 'v1', champion.url);
  await gw.routes.flush();
  const rename = jest.spyOn(fs.promises, 'rename');
  try {
    const onDisk = await Promise.all(
      models.map(async (model) => {
        const r = await admin(base, 'PUT', `routes/${model}`, route({ model, releaseId: `release/${model}/r1`, variants: [{ version: 'v1', weight: 100 }] }));
        expect(r.status).toBe(200);
        // Read as the reply arrives: the route it acknowledged is already in the file.
        const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { routes: Route[] };
        return saved.routes.find((x) => x.model === model)?.releaseId;
      }),
    );
    expect(onDisk).toEqual(models.map((m) => `release/${m}/r1`));
    const writes = rename.mock.calls.filter(([, to]) => to === file).length;
    // One write per change before; grouped, a handful (the first, then one per batch that arrived meanwhile).
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThan(50);
  } finally {
    rename.mockRestore();
  }
});

it('given a state file that cannot be written, then a route change is refused with an error, not acknowledged', async () => {
  const blocker = path.join(dir, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  const { gw, base } = await start({ stateFile: path.join(blocker, 'routes.json') });
  expect((await admin(base, 'PUT', 'backends/fraud/v1', { url: champion.url })).status).toBe(500);
  const r = await admin(base, 'PUT', 'routes/fraud', route({ variants: [{ version: 'v1', weight: 100 }] }));
  expect(r.status).toBe(500);
  expect((await json(r)).error).toMatch(/not-a-dir/);
  // Closing says so too: what was changed in memory never reached the disk.
  open.splice(open.indexOf(gw), 1);
  await expect(gw.close()).rejects.toThrow(/not-a-dir/);
});

it('given no token or a wrong one, then the admin API refuses and nothing changes', async () => {
  const { base } = await start();
  await setup(base, route());
  expect((await admin(base, 'PUT', 'routes/fraud', route({ generation: 2, variants: [{ version: 'v2', weight: 100 }] }), null)).status).toBe(401);
  expect((await admin(base, 'PUT', 'routes/fraud', route({ generation: 2 }), 'wrong-token')).status).toBe(401);
  expect((await json(await admin(base, 'GET', 'routes/fraud'))).generation).toBe(1);
});

it('given generation 3 applied, when generation 2 of the same release arrives late, then it is ignored', async () => {
  const { base } = await start();
  await setup(base, route({ generation: 3, variants: [{ version: 'v1', weight: 100 }] }));
  const stale = await admin(base, 'PUT', 'routes/fraud', route({ generation: 2 }));
  expect(stale.status).toBe(409);
  expect((await json(stale)).result).toBe('stale');
  expect((await json(await admin(base, 'PUT', 'routes/fraud', route({ generation: 3, variants: [{ version: 'v1', weight: 100 }] })))).result).toBe('unchanged');
  expect((await json(await admin(base, 'GET', 'routes/fraud'))).variants).toEqual([{ version: 'v1', weight: 100 }]);
});

it('given a bad route, then it is refused naming the field', async () => {
  const { base } = await start();
  const r = await admin(base, 'PUT', 'routes/fraud', route({ variants: [{ version: 'v1', weight: 70 }] }));
  expect(r.status).toBe(400);
  expect((await json(r)).error).toMatch(/^variants: weights must sum to 100/);
});

it('given served requests and late ground truth, then stats and /metrics count them per version', async () => {
  const failing = await fakeModelServer({ label: 'decline', failEvery: 2 });
  try {
    const { base } = await start({ random: () => 0.9 });
    await setup(base, route());
    await admin(base, 'PUT', 'backends/fraud/v2', { url: failing.url });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await infer(base);
      if (r.ok) ids.push(r.headers.get('x-request-id') as string);
      else expect(r.status).toBe(502);
    }
    for (const id of ids) {
      const fb = await fetch(`${base}/v2/models/fraud/feedback`, { method: 'POST', body: JSON.stringify({ id, success: true }) });
      expect(fb.status).toBe(202);
    }
    const stats = await json(await fetch(`${base}/stats/fraud/v2?from=0&to=${Date.now() + 1000}`));
    expect(stats).toMatchObject({ requests: 4, errors: 2, outcomes: 2, successes: 2, labels: { decline: 2 } });
    expect(stats.latencyP99Ms).toBeGreaterThan(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('gateway_requests_total{model="fraud",version="v2",result="error"} 2');
    expect(metrics).toContain('gateway_request_duration_seconds_count{model="fraud",version="v2"} 4');
  } finally {
    await failing.close();
  }
});

it('given a model name and a prediction with quotes and newlines, then /metrics escapes them and every line parses', async () => {
  const odd = await fakeModelServer({ label: 'say "no"\nthen\\stop' });
  try {
    const { base } = await start();
    const model = 'fraud "eu"\nv';
    expect((await admin(base, 'PUT', `backends/${encodeURIComponent(model)}/v1`, { url: odd.url })).status).toBe(200);
    expect((await admin(base, 'PUT', `routes/${encodeURIComponent(model)}`, route({ model, variants: [{ version: 'v1', weight: 100 }] }))).status).toBe(200);
    const r = await fetch(`${base}/v2/models/${encodeURIComponent(model)}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }) });
    expect(r.status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('gateway_predictions_total{model="fraud \\"eu\\"\\nv",version="v1",label="say \\"no\\"\\nthen\\\\stop"} 1');
    // The exposition format: comments, or a metric name, optional {label="value",...} with escaped values, a number.
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? [-+0-9.eEInfa]+$/;
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(sample);
  } finally {
    await odd.close();
  }
});

it('given a model with unbounded outputs, then its prediction labels stop at the budget and the rest count as one', async () => {
  let n = 0;
  const regression = await fakeModelServer({ label: '', predict: () => `score-${n++}` });
  try {
    const { base, gw } = await start({ random: () => 0.1 });
    await setup(base, route({ variants: [{ version: 'v1', weight: 100 }] }));
    await admin(base, 'PUT', 'backends/fraud/v1', { url: regression.url });
    for (let i = 0; i < MAX_LABELS_PER_MODEL + 30; i++) expect((await infer(base)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('gateway_predictions_total{model="fraud"'));
    expect(series).toHaveLength(MAX_LABELS_PER_MODEL + 1);
    expect(text).toContain(`gateway_predictions_total{model="fraud",version="v1",label="${OTHER_LABEL}"} 30`);
    const stats = gw.stats.window('fraud', 'v1', 0, Date.now() + 1000);
    expect(Object.keys(stats.labels)).toHaveLength(MAX_LABELS_PER_MODEL + 1);
    expect(stats.labels[OTHER_LABEL]).toBe(30);
  } finally {
    await regression.close();
  }
});

it('given an access log, then each request is one line with the version, release and request id that served it, and no token', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
  const { base } = await start({ accessLog: pino({ level: 'info' }, sink), random: () => 0.9 });
  await setup(base, route());
  const r = await infer(base);
  const id = r.headers.get('x-request-id');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const served = lines.find((l) => (l.req as { url: string }).url === '/v2/models/fraud/infer');
  expect(served).toMatchObject({ level: 30, model: 'fraud', version: 'v2', release: 'release/fraud/r1', generation: 1, requestId: id, res: { statusCode: 200 } });
  expect(typeof served?.responseTime).toBe('number');
  const admins = lines.filter((l) => (l.req as { url: string }).url.startsWith('/admin/'));
  expect(admins.length).toBeGreaterThanOrEqual(3);
  expect(JSON.stringify(lines)).not.toContain(TOKEN);
  expect((await fetch(`${base}/v2/models/nope/infer`, { method: 'POST', body: '{}' })).status).toBe(404);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(lines.at(-1)).toMatchObject({ level: 40, res: { statusCode: 404 } });
});

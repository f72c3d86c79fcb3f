// The Prometheus metrics provider against a real Prometheus (Debian's package) scraping the real
// gateway every second, with real traffic: counts, error rates, the latency distribution and the gates
// computed from them agree with what was sent.
import { ApplicationFailure } from '@temporalio/common';
import { PrometheusMetrics, renderQuery } from '../../../src/adapters/prometheus';
import { canaryGates } from '../../../src/domain/gates';
import { GatesSchema } from '../../../src/domain/manifest';
import { Gateway } from '../../../src/gateway/server';
import { startPrometheus, type Backend } from '../../helpers/backends';
import { fakeModelServer, seeded, type FakeModel } from '../../helpers/model-server';

let gw: Gateway;
let prom: Backend;
let models: FakeModel[] = [];
let base: string;
let metrics: PrometheusMetrics;
let t0: number;
let t1: number;
const sent = { v1: 0, v2: 0 };

beforeAll(async () => {
  const v1 = await fakeModelServer({ label: 'a' });
  // The candidate: 60 ms slower and failing one request in four. 60 ms, so that the regression stays
  // beyond the gate's 25 ms floor even when a loaded machine pushes the champion's p99 into the 25 ms bucket.
  const v2 = await fakeModelServer({ label: 'b', delayMs: 60, failEvery: 4 });
  models = [v1, v2];
  gw = new Gateway({ adminToken: 'tok-tok-tok-tok-tok', stateFile: null, random: seeded(7) });
  const port = await gw.listen(0);
  base = `http://127.0.0.1:${port}`;
  gw.setBackend('fraud', 'v1', v1.url);
  gw.setBackend('fraud', 'v2', v2.url);
  const res = await fetch(`${base}/admin/routes/fraud`, {
    method: 'PUT',
    headers: { authorization: 'Bearer tok-tok-tok-tok-tok', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'fraud', releaseId: 'r1', generation: 1, mode: 'weighted', variants: [{ version: 'v1', weight: 50 }, { version: 'v2', weight: 50 }], shadow: null }),
  });
  expect(res.status).toBe(200);
  prom = await startPrometheus([`127.0.0.1:${port}`]);
  metrics = new PrometheusMetrics({ url: prom.url });
  // Wait for Prometheus to hold the zero-valued series (its first scrape comes up to 5 s after start):
  // the window then begins on zero samples, as a bake's window does on steady traffic, and increase()
  // need not extrapolate back over a burst.
  const scraped = async () => (await metrics.query('count(gateway_requests_total{model="fraud"})', Date.now())).length > 0;
  for (let i = 0; i < 100 && !(await scraped()); i++) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2_100));
  t0 = Date.now() - 2_000;
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${base}/v2/models/fraud/infer`, { method: 'POST', body: JSON.stringify({ id: `q${i}`, inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [i] }] }) });
    const served = r.headers.get('x-model-version') as 'v1' | 'v2';
    sent[served] += 1;
  }
  // Three more scrapes after the last request.
  await new Promise((r) => setTimeout(r, 3_500));
  t1 = Date.now();
}, 90_000);

afterAll(async () => {
  await Promise.all([gw?.close(), prom?.close(), ...models.map((m) => m.close())]);
});

it('given real traffic, then Prometheus counts each variant within the extrapolation of increase()', async () => {
  expect(sent.v1 + sent.v2).toBe(600);
  const [s1, s2] = await Promise.all([metrics.variantStats('fraud', 'v1', { from: t0, to: t1 }), metrics.variantStats('fraud', 'v2', { from: t0, to: t1 })]);
  // increase() extrapolates to the window's end: at most one 1 s scrape over a window of about 15 s.
  for (const [s, n] of [[s1, sent.v1], [s2, sent.v2]] as const) {
    expect(s.requests / n).toBeGreaterThan(0.97);
    expect(s.requests / n).toBeLessThan(1.1);
  }
  expect(s1.errors).toBe(0);
  expect(s2.errors / s2.requests).toBeGreaterThan(0.2);
  expect(s2.errors / s2.requests).toBeLessThan(0.3);
  // Latency: v1 answers at once, v2 after 60 ms. The p99 is the upper bound of the bucket it falls in
  // (src/domain/quantile.ts), as the embedded provider reports it: 75 ms on a quiet machine, not an
  // interpolation; on a loaded one (CI once measured it so) a few answers fall in the next bucket, 100 ms.
  expect(s1.latencyP99Ms).toBeLessThanOrEqual(25);
  expect([75, 100]).toContain(s2.latencyP99Ms);
  expect(s2.latencyHistogram?.map(([bound]) => bound)).toContain(s2.latencyP99Ms);
  // Two series, each extrapolated by increase() and rounded: they agree within a request or two (CI saw 338 and 337).
  expect(Math.abs((s2.latencyHistogram?.reduce((a, [, n]) => a + n, 0) ?? 0) - s2.requests)).toBeLessThanOrEqual(Math.max(2, s2.requests * 0.01));
});

it('given those measurements, then the canary gates fail the candidate on errors and on a significant latency regression', async () => {
  const gates = GatesSchema.parse({ minSampleSize: 100 });
  const [champ, cand] = await Promise.all([metrics.variantStats('fraud', 'v1', { from: t0, to: t1 }), metrics.variantStats('fraud', 'v2', { from: t0, to: t1 })]);
  const results = canaryGates(cand, champ, gates);
  expect(results.find((r) => r.gate === 'error-rate')).toMatchObject({ outcome: 'fail' });
  const latency = results.find((r) => r.gate === 'latency-p99');
  expect(latency).toMatchObject({ outcome: 'fail', evidence: { test: expect.stringMatching(/Mann-Whitney/) } });
  expect(latency?.evidence.pValue as number).toBeLessThan(0.001);
  // The champion against itself passes.
  expect(canaryGates(champ, champ, gates).find((r) => r.gate === 'latency-p99')?.outcome).toBe('pass');
});

it('given a window before any traffic, then the counts are zero and p99 is null', async () => {
  const s = await metrics.variantStats('fraud', 'v2', { from: t0 - 1_000, to: t0 + 1_500 });
  expect(s).toMatchObject({ requests: 0, errors: 0, latencyP99Ms: null });
});

it('given a custom template, then its variables are filled and the team’s own metric names are used', async () => {
  expect(renderQuery('sum(rate(x{m="$model",v="$version"}[$window]))', { model: 'a"b', version: 'v1', windowSeconds: 299.6 })).toBe('sum(rate(x{m="a\\"b",v="v1"}[300s]))');
  const custom = new PrometheusMetrics({ url: prom.url, queries: { requests: 'sum(increase(gateway_requests_total{model="$model",version="$version",result="ok"}[$window]))' } });
  const s = await custom.variantStats('fraud', 'v2', { from: t0, to: t1 });
  expect(s.requests).toBeLessThan((await metrics.variantStats('fraud', 'v2', { from: t0, to: t1 })).requests);
});

it('given a query Prometheus refuses, then the failure is not retryable and names Prometheus and the query', async () => {
  const bad = new PrometheusMetrics({ url: prom.url, queries: { errors: 'sum(increase(gateway_requests_total{[$window])' } });
  const err = await bad.variantStats('fraud', 'v2', { from: t0, to: t1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ nonRetryable: true, type: 'BadMetricsQuery', message: expect.stringMatching(/^prometheus http:\/\/127\.0\.0\.1:\d+ refused sum\(increase/) });
});

it('given Prometheus unreachable or answering something else, then the failure is retryable and names it', async () => {
  const down = new PrometheusMetrics({ url: 'http://127.0.0.1:1', timeoutMs: 2_000 });
  await expect(down.variantStats('fraud', 'v1', { from: t0, to: t1 })).rejects.toMatchObject({ nonRetryable: false, type: 'MetricsUnavailable', message: expect.stringMatching(/prometheus http:\/\/127\.0\.0\.1:1 unreachable/) });
  // The gateway is not Prometheus: its 404 body is not the API's answer.
  const wrong = new PrometheusMetrics({ url: base });
  await expect(wrong.variantStats('fraud', 'v1', { from: t0, to: t1 })).rejects.toMatchObject({ nonRetryable: false, type: 'BadBackendResponse' });
});

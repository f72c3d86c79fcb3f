// The activities' view of the gateway: the real activities over the real gateway, over HTTP.
import { createActivities } from '../../../src/activities';
import { GatewayClient } from '../../../src/adapters/gateway';
import type { Ports, RouteSpec } from '../../../src/activities/ports';
import { Gateway } from '../../../src/gateway/server';
import { fakeModelServer, type FakeModel } from '../../helpers/model-server';
import { activityEnv } from '../../helpers/temporal';

let gw: Gateway;
let base: string;
let v1: FakeModel;
let v2: FakeModel;
let client: GatewayClient;
let acts: ReturnType<typeof createActivities>;
const env = activityEnv();

beforeAll(async () => {
  v1 = await fakeModelServer({ label: 'a' });
  v2 = await fakeModelServer({ label: 'b' });
  gw = new Gateway({ adminToken: 'tok-tok-tok-tok-tok', stateFile: null, random: () => 0.5 });
  base = `http://127.0.0.1:${await gw.listen(0)}`;
  gw.setBackend('fraud', 'v1', v1.url);
  gw.setBackend('fraud', 'v2', v2.url);
  client = new GatewayClient({ baseUrl: base, adminToken: 'tok-tok-tok-tok-tok' });
  acts = createActivities({ router: client, metrics: client, shadow: client } as unknown as Ports);
});
afterAll(async () => {
  await Promise.all([gw.close(), v1.close(), v2.close()]);
});

const route = (generation: number, candidate: number): RouteSpec => ({
  model: 'fraud',
  releaseId: 'release/fraud/r9',
  generation,
  mode: 'weighted',
  variants: [{ version: 'v1', weight: 100 - candidate }, { version: 'v2', weight: candidate }],
  shadow: { version: 'v2', sampleRate: 1 },
});

it('given a route, when applied through the activity, then it returns only what the gateway reads back', async () => {
  const applied = await env.run(acts.applyRoute, route(1, 25));
  expect(applied).toMatchObject({ generation: 1, variants: [{ version: 'v1', weight: 75 }, { version: 'v2', weight: 25 }] });
  // A late retry of an older generation is accepted by the read-back: the router has moved on.
  expect((await env.run(acts.applyRoute, route(0, 5))).generation).toBe(1);
});

it('given traffic through the gateway, then the metrics and shadow adapters read it per version', async () => {
  await env.run(acts.applyRoute, route(2, 50));
  const t0 = Date.now() - 1000;
  for (let i = 0; i < 6; i++) {
    await fetch(`${base}/v2/models/fraud/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [i] }] }) });
  }
  await new Promise((r) => setTimeout(r, 100));
  const stats = await env.run(acts.measureVariant, { model: 'fraud', version: 'v2', from: t0, to: Date.now() + 1000 });
  expect(stats.requests).toBe(6); // random() = 0.5 serves v2 at a 50/50 split
  const shadow = await env.run(acts.analyzeShadow, { model: 'fraud', champion: 'v1', candidate: 'v2', from: t0, to: Date.now() + 1000 });
  expect(shadow.requests).toBe(0); // the shadow is never mirrored to the version that served
  expect(await env.run(acts.checkHealth, { model: 'fraud', version: 'v2' })).toBe(true);
  expect(await env.run(acts.checkHealth, { model: 'fraud', version: 'v9' })).toBe(false);
});

it('given a gateway that is down, then the activity fails retryably and names the gateway', async () => {
  const down = new GatewayClient({ baseUrl: 'http://127.0.0.1:9', adminToken: 'x', timeoutMs: 500 });
  const a = createActivities({ router: down, metrics: down, shadow: down } as unknown as Ports);
  await expect(env.run(a.applyRoute, route(3, 10))).rejects.toMatchObject({ type: 'RouterUnavailable', message: expect.stringMatching(/^router did not take generation 3: gateway http:\/\/127.0.0.1:9 unreachable/) });
});

it('given a version without a backend, then the gateway refuses the route naming it, and the activity says so without retry', async () => {
  const a = createActivities({ router: client } as unknown as Ports);
  const r = { ...route(5, 10), variants: [{ version: 'v1', weight: 90 }, { version: 'v7', weight: 10 }] };
  await expect(env.run(a.applyRoute, r)).rejects.toMatchObject({ type: 'RouteRefused', nonRetryable: true, message: expect.stringMatching(/variants\[1\]\.version: fraud v7 has no backend/) });
});

it('given a wrong token, then the router refuses for good, not retryably', async () => {
  const wrong = new GatewayClient({ baseUrl: base, adminToken: 'nope' });
  await expect(wrong.apply(route(4, 10))).rejects.toMatchObject({ type: 'RouterUnavailable', nonRetryable: true });
});

// A change Envoy itself rejects fails at once, naming the version, and is undone, so the files stay what
// Envoy serves; a release whose candidate therefore has no cluster fails its step, naming the version,
// and the rollback and a restart both work.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../../src/activities';
import type { Ports } from '../../../src/activities/ports';
import { EnvoyRouter } from '../../../src/adapters/envoy';
import { startEnvoy, type EnvoyProcess } from '../../../src/envoy/process';
import { freePort } from '../../helpers/backends';
import { fakeModelServer, type FakeModel } from '../../helpers/model-server';

let dir: string;
let envoy: EnvoyProcess;
const models: FakeModel[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envoy-rejected-'));
  models.push(await fakeModelServer({ label: 'a' }), await fakeModelServer({ label: 'b' }));
  envoy = await startEnvoy({ configDir: dir, adminPort: await freePort(), listenerPort: await freePort() });
}, 60_000);
afterAll(async () => {
  await envoy?.stop();
  await Promise.all(models.map((m) => m.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

it('given a version Envoy refuses (a newline cannot go into its x-model-version header), then registering it and the step that routes to it fail naming it, and the rollback applies', async () => {
  const router = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir });
  const bad = 'v2\nbeta';
  await router.serveModel('fraud', { v1: (models[0] as FakeModel).url }, 'v1');
  await expect(router.setBackend('fraud', bad, (models[1] as FakeModel).url)).rejects.toThrow('Envoy rejected the backend of fraud "v2\\nbeta" (see Envoy\'s log for its reason); the previous configuration is back in force');
  const activities = createActivities({ router } as unknown as Ports);
  const canary = { model: 'fraud', releaseId: 'release/fraud/r1', generation: 1, mode: 'weighted' as const, variants: [{ version: 'v1', weight: 90 }, { version: bad, weight: 10 }], shadow: null };
  const failure = await activities.applyRoute(canary).then(() => null, (e: unknown) => e);
  // RouteRefused, without retry: the workflow's forward path rolls back on it.
  expect(failure).toMatchObject({ type: 'RouteRefused', nonRetryable: true });
  expect((failure as Error).message).toMatch(/variants: fraud v2\nbeta has no backend registered with the Envoy router/);
  // Envoy still serves the champion, and the files say so too.
  expect(await router.read('fraud')).toMatchObject({ releaseId: 'bootstrap', generation: 0 });
  const rollback = { ...canary, generation: 2, variants: [{ version: 'v1', weight: 100 }] };
  expect(await activities.applyRoute(rollback)).toEqual(rollback);
  await envoy.stop();
  envoy = await startEnvoy({ configDir: dir, adminPort: Number(new URL(envoy.adminUrl).port), listenerPort: Number(new URL(envoy.listenerUrl).port) });
  expect(await new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: dir }).read('fraud')).toEqual(rollback);
}, 60_000);

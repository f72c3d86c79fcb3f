// The Temporal Web UI as an operator uses it, in headless Debian Chromium: a release waiting at its
// approval is found by filtering the workflow list on the model's search attribute, and its page shows
// the release's current details (phase, traffic). A screenshot is kept in test-artifacts/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { chromium, type Browser } from 'playwright-core';
import { createActivities } from '../../src/activities';
import { buildPorts } from '../../src/adapters';
import { FileRegistry } from '../../src/adapters/file-registry';
import { startRelease } from '../../src/client/releases';
import { loadConfig } from '../../src/config';
import { Gateway } from '../../src/gateway/server';
import { createLogger } from '../../src/logger';
import { statusQuery } from '../../src/workflows/release';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel, uniqueQueue, useDevServer } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
let worker: Worker;
let running: Promise<void>;
afterAll(async () => {
  worker?.shutdown();
  await running;
});
const ctx = useDevServer();
let dir: string;
let gateway: Gateway;
let models: FakeModel[] = [];
let browser: Browser;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-'));
  gateway = new Gateway({ adminToken: 'ui-admin-token-0000000', stateFile: null });
  const gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
  models = [await fakeModelServer({ label: 'a' }), await fakeModelServer({ label: 'b' })];
  const config = loadConfig({ MODEL_ROLLOUT_DATA_DIR: dir, GATEWAY_URL: gatewayUrl, GATEWAY_ADMIN_TOKEN: 'ui-admin-token-0000000', LOG_LEVEL: 'silent' });
  const taskQueue = uniqueQueue('ui');
  worker = await Worker.create({ connection: ctx.server.native, taskQueue, workflowBundle: ctx.workflowBundle, activities: createActivities(buildPorts(config, createLogger('silent'))), sinks: releaseRecordSinks() });
  running = worker.run();
  (ctx as unknown as { taskQueue: string }).taskQueue = taskQueue;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
});
afterAll(async () => {
  await browser?.close();
  await Promise.all([gateway?.close(), ...models.map((m) => m.close())]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function releaseAtApproval(model: string): Promise<string> {
  gateway.serveModel(model, { v1: (models[0] as FakeModel).url, v2: (models[1] as FakeModel).url }, 'v1');
  await new FileRegistry(path.join(dir, 'registry.json')).register(model, 'v1', true);
  const { handle } = await startRelease(
    ctx.server.client,
    { apiVersion: 'model-rollout/v1', kind: 'Release', model, candidate: 'v2', approvals: { approvers: ['alice'] }, plan: [{ kind: 'setTraffic', percent: 25 }, { kind: 'approval', reason: 'risk team signs off' }, { kind: 'fullRollout' }] },
    { requestedBy: 'ui-test', taskQueue: (ctx as unknown as { taskQueue: string }).taskQueue },
  );
  for (let i = 0; i < 100; i++) {
    if ((await handle.query(statusQuery)).phase === 'awaiting-approval') return handle.workflowId;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the release did not reach its approval');
}

it('given releases in flight, when an operator filters by model in the Web UI, then the release shows its phase and traffic', async () => {
  const ui = process.env.TEMPORAL_TEST_UI_URL;
  if (!ui) throw new Error('TEMPORAL_TEST_UI_URL is not set: the dev-server global setup starts the UI');
  const model = uniqueModel('ui-fraud');
  const other = uniqueModel('ui-other');
  const workflowId = await releaseAtApproval(model);
  await releaseAtApproval(other);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  try {
    // The list, filtered on the search attribute the way the UI's own filter bar writes it to the URL.
    // Never reload while the UI's list request is in flight: a visibility query cancelled mid-way once
    // left the run's dev server (in-memory SQLite) answering every later query with "interrupted (9)",
    // and the test files after this one failed with it.
    const listed = () =>
      page
        .waitForEvent('requestfinished', { predicate: (r) => r.url().includes('/api/v1/namespaces/default/workflows?') && ['fetch', 'xhr'].includes(r.resourceType()), timeout: 15_000 })
        .catch(() => null);
    let answered = listed();
    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(`RolloutModel="${model}"`)}`);
    const link = page.getByRole('link', { name: workflowId });
    // Visibility is eventually consistent: reload until the release is listed.
    for (let i = 0; i < 20; i++) {
      await answered;
      if (await link.first().waitFor({ timeout: 1_000 }).then(() => true, () => false)) break;
      answered = listed();
      await page.reload();
    }
    await link.first().waitFor({ timeout: 15_000 });
    expect(await page.getByRole('link', { name: `release/${other}` }).count()).toBe(0);

    await link.first().click();
    await page.waitForURL(/\/workflows\/release%2F|\/workflows\/release\//, { timeout: 15_000 });
    // Current details come from the workflow itself (setCurrentDetails); UI 2.42 shows them under
    // the workflow's User Metadata tab: phase and traffic.
    await page.getByText('User Metadata', { exact: true }).first().click();
    // The UI renders workflow-supplied Markdown in a sandboxed iframe.
    const details = page.frameLocator('iframe').last();
    await details.getByText(`${model} v2 — awaiting-approval`).first().waitFor({ timeout: 20_000 });
    await details.getByText(/25% candidate v2, 75% champion v1/).first().waitFor({ timeout: 5_000 });
    await details.getByText(/Awaiting approval/).first().waitFor({ timeout: 5_000 });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-release.png'), fullPage: true });
  } catch (err) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-failure.png'), fullPage: true }).catch(() => undefined);
    throw err;
  } finally {
    await page.close();
  }
});

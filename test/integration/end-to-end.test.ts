// A release end to end on the dev server with every real adapter the worker builds (gateway router,
// gateway metrics and shadow, file registry, OIP evaluator, notifier), real HTTP traffic and ground truth;
// then each release's report, as `rollout history --format html` writes it, opened in headless Chromium.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { chromium } from 'playwright-core';
import { createActivities } from '../../src/activities';
import { buildPorts } from '../../src/adapters';
import { FileRegistry } from '../../src/adapters/file-registry';
import { startRelease } from '../../src/client/releases';
import { loadConfig } from '../../src/config';
import { Gateway } from '../../src/gateway/server';
import { createLogger } from '../../src/logger';
import { actionSignals, statusQuery } from '../../src/workflows/release';
import { cli } from '../helpers/cli';
import { fakeModelServer, type FakeModel } from '../helpers/model-server';
import { uniqueModel, uniqueQueue, useDevServer } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const ctx = useDevServer();
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
/** The models released by the tests below, for their reports. */
const released: { promoted?: string; rolledBack?: string } = {};
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
    { kind: 'approval' as const, reason: 'product owner signs off' },
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
    sinks: releaseRecordSinks(),
  });
  const load = traffic(model);
  try {
    return await worker.runUntil(async () => {
      const { handle } = await startRelease(ctx.server.client, { apiVersion: 'model-rollout/v1', kind: 'Release', model, candidate: 'v2', ...plan() }, { requestedBy: 'e2e', taskQueue });
      // A human approves once the release asks: the report marks who and why.
      let finished = false;
      const approver = (async () => {
        while (!finished) {
          const s = await handle.query(statusQuery).catch(() => null);
          if (s?.phase === 'awaiting-approval') return handle.signal(actionSignals.approve, { by: 'alice', reason: 'dashboards green' });
          if (s?.outcome) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        return await handle.result();
      } finally {
        finished = true;
        await approver;
      }
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
  expect(result.status.timeline.find((e) => e.type === 'action')).toMatchObject({ message: 'approve', by: 'alice' });
  released.promoted = model;
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
  released.rolledBack = model;
});

describe('the release report of each, from the CLI, in headless Chromium', () => {
  /** `rollout history MODEL --format html -o FILE`, opened from disk, with a screenshot in test-artifacts/. */
  async function report(model: string, name: string) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.html`);
    const r = await cli(['history', model, '--format', 'html', '--output', file], { TEMPORAL_ADDRESS: ctx.server.address });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: `report written to ${file}\n` });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      // Self-contained: the page asks nothing of any network.
      const requests: string[] = [];
      page.on('request', (req) => void (req.url().startsWith('file:') || requests.push(req.url())));
      await page.goto(`file://${file}`);
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
      const panels = await page.locator('.panel h3').allTextContents();
      // Every chart drew its series: the SVG has paths, not just axes.
      const paths = await page.locator('.panel svg').evaluateAll((svgs) => svgs.map((s) => s.querySelectorAll('path').length));
      // The rollback's markers: vertical lines at the breach (red) and at the traffic verified back (dark, dashed), per panel.
      const markers = await page.locator('.panel svg').evaluateAll((svgs) =>
        svgs.map((s) => {
          const vertical = [...s.querySelectorAll('path')].filter((p) => /^M([\d.]+) [\d.]+L\1 [\d.]+$/.test(p.getAttribute('d') ?? '') && p.getAttribute('stroke-width') === '2');
          return { breach: vertical.filter((p) => p.getAttribute('stroke') === '#d0392f').length, back: vertical.filter((p) => p.getAttribute('stroke') === '#1f2328' && p.hasAttribute('stroke-dasharray')).length };
        }),
      );
      return { panels, paths, markers, requests, html: fs.readFileSync(file, 'utf8') };
    } finally {
      // The page's DOM was read above; the browser may go.
      await browser.close();
    }
  }

  it('given the promoted release, then its page draws the plan, the traffic and every gate over time, and the approver by name', async () => {
    if (!released.promoted) throw new Error('the promoted release did not run');
    const r = await report(released.promoted, 'report-promoted');
    expect(r.requests).toEqual([]);
    expect(r.panels).toEqual(
      expect.arrayContaining(['Plan', 'Traffic', 'Shadow: predictions that differ from the champion', 'Shadow: output distribution shift (PSI)', 'Business metric: candidate vs champion, relative change', 'Error rate of the candidate', 'Latency: share of requests slower than the threshold', 'Evidence against the candidate']),
    );
    expect(Math.min(...r.paths)).toBeGreaterThan(5);
    expect(r.html).toContain('<span class="badge promoted">promoted</span>');
    expect(r.html).not.toContain('id="rollback"');
    expect(r.markers.every((m) => m.breach === 0 && m.back === 0)).toBe(true);
    expect(r.html).toMatch(/<td>approve<\/td><td>alice<\/td><td>dashboards green<\/td>/);
  });

  it('given the rolled-back release, then its page shows the breach, the traffic verified back, the trigger and the evidence', async () => {
    if (!released.rolledBack) throw new Error('the rolled-back release did not run');
    const r = await report(released.rolledBack, 'report-rolled-back');
    expect(r.requests).toEqual([]);
    expect(r.html).toContain('id="rollback"');
    expect(r.html).toMatch(/<th>Trigger<\/th><td>gate-breach<\/td>/);
    expect(r.html).toMatch(/<th>Traffic verified on the champion<\/th><td>[^<]*after the breach\)/);
    // The breach marker and the traffic-back marker are drawn on every time panel (all but the plan band).
    expect(r.markers.slice(1).every((m) => m.breach === 1 && m.back === 1)).toBe(true);
    expect(r.markers.length).toBeGreaterThanOrEqual(6);
    expect(r.html).toMatch(/<span class="out-fail">fail<\/span>/);
  });
});

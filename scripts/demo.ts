// `npm run demo`: two real releases on the embedded stack, start to finish, in a few minutes.
//
// Three versions of a penguin-species classifier are trained at start-up on the Palmer penguins that the
// vega-datasets npm package ships, and served over the Open Inference Protocol behind the gateway:
//   good      (champion) beak length, beak depth, flipper length
//   better    adds body mass, reading the field scale's 0 as a missing value
//   degraded  the same model with a preprocessing regression: it reads that 0 as 0 g
// Live traffic (with 15% broken-scale readings) flows through the gateway, and the species is confirmed
// later, which feeds the business metric. Release 1 (good → better) is promoted to 100%; release 2
// (better → degraded) passes offline evaluation, whose curated holdout has no broken readings, and is
// rolled back automatically when its shadow answers diverge from the champion's on live traffic.
//
//   npm run demo                 runs both, then keeps everything up for the Web UI until Ctrl-C
//   npm run demo -- --ci         non-interactive: exits 0 only if release 1 is promoted and release 2
//                                is rolled back automatically
//   npm run demo -- --router envoy   the same releases with Envoy as the router: Envoy's cluster stats
//                                through Prometheus, the application's own outcome counter, and shadow
//                                answers from the inference log the model servers post to
// Ports: --temporal-port (7233), --ui-port (8233), --gateway-port (8100), --envoy-port (10000),
// --envoy-admin-port (9901).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { FileRegistry } from '../src/adapters/file-registry';
import { followRelease, formatEntry } from '../src/client/progress';
import { startRelease } from '../src/client/releases';
import { loadConfig } from '../src/config';
import { serveModel, type ModelServer } from '../support/demo/model-server';
import { FEATURES, loadPenguins, split } from '../support/demo/penguins';
import { accuracy, train, type ModelSpec } from '../support/demo/softmax';
import { startTraffic } from '../support/demo/traffic';
import { startEnvoyEdge, type EnvoyEdge } from '../support/envoy-edge';
import { startStack } from '../support/stack';
import type { Outcome, ReleaseResult } from '../src/domain/release';
import { createLogger } from '../src/logger';
import { installRuntime, runWorker } from '../src/workers/main';

const MODEL = 'penguin-species';
const VERSIONS: Record<string, ModelSpec> = {
  good: { features: [0, 1, 2], missing: 'impute-mean' },
  better: { features: [0, 1, 2, 3], missing: 'impute-mean' },
  degraded: { features: [0, 1, 2, 3], missing: 'literal' },
};

/** The standard plan with every duration cut to seconds. */
const manifest = (champion: string, candidate: string) => ({
  apiVersion: 'model-rollout/v1',
  kind: 'Release',
  model: MODEL,
  champion,
  candidate,
  strategy: 'standard',
  timings: {
    shadow: { minRequests: 300, minDuration: '15s', maxDuration: '2m', interval: '5s', sampleRate: 0.5 },
    canarySteps: [10, 50],
    bake: '20s',
    interval: '5s',
    bakeExtension: '40s',
    watch: '20s',
    watchWindow: '15s',
  },
  // The gates are anytime-valid: a breach needs evidence that holds however often they look, so one
  // noisy 5-second window on this busy machine does not decide a release (failureLimit stays 1).
  gates: { minSampleSize: 100, businessMetric: { name: 'correct-identifications' }, latency: { p99SlaMs: 1_000 } },
});

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function main(): Promise<number> {
  const { values: flags } = parseArgs({
    options: {
      ci: { type: 'boolean', default: false },
      'temporal-port': { type: 'string', default: '7233' },
      'ui-port': { type: 'string', default: '8233' },
      'gateway-port': { type: 'string', default: '8100' },
      'envoy-port': { type: 'string', default: '10000' },
      'envoy-admin-port': { type: 'string', default: '9901' },
      router: { type: 'string', default: 'gateway' },
      rate: { type: 'string', default: '80' },
    },
  });
  // Every flag is checked before anything starts.
  const port = (name: 'temporal-port' | 'ui-port' | 'gateway-port' | 'envoy-port' | 'envoy-admin-port') => {
    const n = Number(flags[name]);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name}: expected a port from 0 to 65535, got ${flags[name]}`);
    return n;
  };
  const ports = { grpcPort: port('temporal-port'), uiPort: port('ui-port'), gatewayPort: port('gateway-port') };
  const router = flags.router;
  if (router !== 'gateway' && router !== 'envoy') throw new Error(`--router: expected gateway or envoy, got ${router}`);
  const envoyPorts = { listenerPort: port('envoy-port'), adminPort: port('envoy-admin-port') };
  const rate = Number(flags.rate);
  if (!(rate > 0 && rate <= 5_000)) throw new Error(`--rate: expected requests per second above 0 and at most 5000, got ${flags.rate}`);
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const logger = createLogger(config.logLevel);
  installRuntime(logger);
  // The demo's own data directory: its releases stay in its SQLite file across runs, the rest is reset.
  const dataDir = path.resolve(config.dataDir, 'demo');
  fs.mkdirSync(dataDir, { recursive: true });
  for (const f of fs.readdirSync(dataDir)) if (!f.startsWith('temporal.sqlite')) fs.rmSync(path.join(dataDir, f), { recursive: true, force: true });

  const say = (s = '') => process.stdout.write(`${s}\n`);
  say(bold('Training three versions on the Palmer penguins (vega-datasets)…'));
  const { train: trainRows, holdout } = split(loadPenguins());
  const population = [...trainRows, ...holdout];
  const broken = holdout.map((p) => ({ ...p, features: [p.features[0], p.features[1], p.features[2], 0] as typeof p.features }));
  const models = Object.fromEntries(Object.entries(VERSIONS).map(([v, spec]) => [v, train(trainRows, spec)]));
  for (const [v, m] of Object.entries(models)) {
    say(`  ${v.padEnd(9)} features: ${m.spec.features.map((i) => FEATURES[i]).join(', ')}; holdout accuracy ${(accuracy(m, holdout) * 100).toFixed(1)}%, with a broken scale ${(accuracy(m, broken) * 100).toFixed(1)}%`);
  }

  const stack = await startStack({ dataDir, namespace: config.temporal.namespace, ...ports, logger });
  const servers: ModelServer[] = [];
  let stopWorker!: () => void;
  const workerStopped = new Promise<void>((r) => (stopWorker = r));
  let worker: Promise<void> | null = null;
  let traffic: ReturnType<typeof startTraffic> | null = null;
  let edge: EnvoyEdge | null = null;
  try {
    if (router === 'envoy') {
      say(bold('Starting Envoy, the inference log and Prometheus…'));
      edge = await startEnvoyEdge({ dataDir, ...envoyPorts });
    }
    const backends: Record<string, string> = {};
    for (const [v, m] of Object.entries(models)) {
      // Behind Envoy, each version's server logs its answers, as KServe's inference logger would.
      const s = await serveModel(MODEL, v, m, 0, edge ? `${edge.inferenceLogUrl}/log/${MODEL}/${v}` : undefined);
      servers.push(s);
      backends[v] = s.url;
    }
    if (edge) await edge.router.serveModel(MODEL, backends, 'good');
    else stack.gateway.serveModel(MODEL, backends, 'good');
    await new FileRegistry(path.join(dataDir, 'registry.json')).register(MODEL, 'good', true);
    // The curated holdout for offline evaluation: complete rows, sliced by island, grouped by sex.
    fs.mkdirSync(path.join(dataDir, 'datasets'), { recursive: true });
    fs.writeFileSync(
      path.join(dataDir, 'datasets', `${MODEL}.jsonl`),
      holdout.map((p) => JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: p.features }], label: p.species, slice: p.island, group: p.sex })).join('\n'),
    );

    const base = { ...config, dataDir, temporal: { ...config.temporal, address: stack.address }, gateway: { url: stack.gatewayUrl } };
    worker = runWorker(edge ? edge.workerConfig(base) : base, logger, workerStopped);
    const routerUrl = edge ? edge.listenerUrl : stack.gatewayUrl;
    const recordOutcome = edge ? (version: string, success: boolean) => (edge as EnvoyEdge).recordOutcome(MODEL, version, success) : undefined;
    traffic = startTraffic({ routerUrl, recordOutcome, model: MODEL, population, rate, brokenScale: 0.15, truthDelayMs: 1_500 });
    say(`${edge ? `Envoy ${routerUrl} (admin ${edge.envoy.adminUrl}), Prometheus ${edge.prometheusUrl}` : `Gateway ${routerUrl}`}, ${rate} requests/s of live traffic, 15% with a broken scale; ground truth 1.5 s later.`);

    const client = new Client({ connection: await Connection.connect({ address: stack.address }), namespace: config.temporal.namespace });
    const run = async (n: number, champion: string, candidate: string): Promise<ReleaseResult> => {
      say();
      say(bold(`Release ${n}: ${MODEL} ${champion} → ${candidate}`));
      const started = await startRelease(client, manifest(champion, candidate), { requestedBy: 'demo', taskQueue: config.temporal.taskQueue });
      say(`  ${started.workflowId}  ${stack.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(started.workflowId)}/${started.runId}`);
      const { result } = await followRelease(started.handle, { intervalMs: 1_000, onEntry: (e) => say(`  ${formatEntry(e)}`) });
      return result as ReleaseResult;
    };
    const first = await run(1, 'good', 'better');
    const second = await run(2, first.outcome === 'promoted' ? 'better' : 'good', 'degraded');

    say();
    say(bold('Outcome'));
    const line = (n: number, r: ReleaseResult, expected: Outcome) => {
      const ok = r.outcome === expected && (expected !== 'rolled-back' || r.status.rollback?.by === undefined);
      say(`  release ${n} (${r.status.candidate}): ${r.outcome}${r.status.rollback ? ` — trigger ${r.status.rollback.trigger}, traffic back on ${r.status.champion} at ${r.status.rollback.trafficRestoredAt}` : ''}  [${ok ? 'as expected' : `expected ${expected}`}]`);
      for (const e of r.status.rollback?.evidence ?? []) say(`      ${e.gate}: ${e.outcome} — ${e.summary}`);
      return ok;
    };
    const ok = [line(1, first, 'promoted'), line(2, second, 'rolled-back')].every(Boolean);
    say(`  live traffic: ${traffic.stats.sent} requests (${Object.entries(traffic.stats.served).map(([v, n]) => `${v} ${n}`).join(', ')}), ${traffic.stats.truths} confirmed`);
    say(`  Both releases are in the Temporal UI: ${stack.uiUrl}/namespaces/${config.temporal.namespace}/workflows?query=${encodeURIComponent(`RolloutModel="${MODEL}"`)}`);
    if (!flags.ci && process.stdout.isTTY) {
      say('  Everything stays up for you to explore; Ctrl-C stops it.');
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
    return ok ? 0 : 1;
  } finally {
    // The verdict is in: a shutdown step that stalls (a connection held open, a task not finishing) is
    // named and cut short, never left to hang a CI job.
    let step = 'traffic';
    const watchdog = setTimeout(() => {
      process.stderr.write(`demo: shutdown stalled for ${SHUTDOWN_DEADLINE_MS / 1000} s at "${step}"; exiting\n`);
      process.exit(3);
    }, SHUTDOWN_DEADLINE_MS);
    watchdog.unref();
    await traffic?.stop();
    step = 'worker';
    stopWorker();
    await worker?.catch(() => undefined);
    // Envoy before the model servers: it is their client, and holds connections open to them.
    step = 'Envoy, the inference log and Prometheus';
    await edge?.close();
    step = 'model servers';
    await Promise.all(servers.map((s) => s.close()));
    step = 'Temporal and the gateway';
    await stack.close();
    clearTimeout(watchdog);
  }
}

/** How long the demo's shutdown may take once the releases have ended. */
const SHUTDOWN_DEADLINE_MS = 60_000;

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);

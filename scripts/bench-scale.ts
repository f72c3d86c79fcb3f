// Benchmark: what one worker carries. For each N, N releases of N models bake at once on ONE worker
// process (compiled, as the image runs it), each measuring its gates every 10 s (--interval), against a fresh Temporal (the dev server on SQLite, or
// the production-like stack on PostgreSQL). After a warm-up it watches a steady window and prints:
//   - the time to start all N releases, and until half, 99% and all of them bake (past 90%, what a few of
//     those not yet baking wait on, every minute);
//   - workflow-task schedule-to-start latency, p50 and p99 (the SDK's own histogram, from the worker's
//     Prometheus endpoint, over the window);
//   - measurement drift: how late each gate measurement reaches the gateway after it was due (the
//     previous measurement's time plus the interval), p50 and p99;
//   - the worker's RSS (peak over the window), the server's CPU (Temporal, plus PostgreSQL on the stack);
//   - the server's requests per second over the window, by operation (its frontend's service_requests);
//   - visibility: `rollout list --model` and a count by phase, p50 over 20 queries each, with N running;
//     on the dev server, the Web UI too: its workflow list filtered by phase and by model, loaded in
//     headless Chromium until the first release's link shows, p50 of 5 loads each.
//   npm run bench:scale [-- --server dev|prod|both --n 100,500,1000,2000 --minutes 2 --cache 500 --wft 10 --la 200 --acts 5000 --pollers autoscaling|N --growing 20 --stack-traces off --heap 768 --v8=--max-semi-space-size=4 --arenas 2|default --malloc jemalloc|glibc|jemalloc,glibc --interval 10s --memory --snapshot]
// --cache/--wft/--la/--acts set TEMPORAL_MAX_CACHED_WORKFLOWS, TEMPORAL_MAX_CONCURRENT_WORKFLOW_TASKS,
// TEMPORAL_MAX_CONCURRENT_LOCAL_ACTIVITIES and TEMPORAL_MAX_CONCURRENT_ACTIVITIES on the worker, --pollers both
// TEMPORAL_WORKFLOW_TASK_POLLERS and TEMPORAL_ACTIVITY_TASK_POLLERS (`autoscaling` or a maximum); omitted,
// the worker's defaults apply (the SDK's, and 5000 activities). --stack-traces sets WORKER_STACK_TRACES. --growing sets WORKER_HEAP_GROWING_PERCENT
// (how far V8's heaps grow between full collections). --v8 passes other node/V8 flags. --heap sets the worker's V8 heap limit
// (node --max-old-space-size, MiB); the SDK's default sticky cache is sized from that limit. --arenas sets
// MALLOC_ARENA_MAX (default 2, as the image runs the worker; `default` leaves glibc's). --malloc runs the worker
// on jemalloc (preloaded, as the image runs it; the default where libjemalloc2 is installed) or glibc's malloc, or on
// each in turn (`jemalloc,glibc`), and then prints their RSS side by side. --profile DIR
// writes the worker's CPU profiles there (node --cpu-prof; one per thread, the workflows' thread included).
// --memory loads scripts/heap-probe.ts into the worker and adds a table splitting the RSS at its peak: the
// main thread's V8 heap used (activities, the SDK's bridge), the workflow thread's (the cached releases),
// the heaps' resident size, V8's own malloc and external memory, and what lies outside V8 (the SDK's Rust
// core, code, malloc's free lists). --snapshot also
// writes a heap snapshot of each thread after the window, to $TMPDIR/bench-scale-heap-<server>-<N>/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { transformFileSync } from '@swc/core';
import { chromium } from 'playwright-core';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { FileRegistry } from '../src/adapters/file-registry';
import { startRelease } from '../src/client/releases';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { findTemporalServers } from '../src/dev/servers';
import { parseDuration } from '../src/domain/duration';
import { histogramQuantile, sampleQuantile } from '../src/domain/quantile';
import { Gateway } from '../src/gateway/server';
import { findJemalloc, startProdStack, WORKER_MALLOC_ARENA_MAX } from '../support/prod-stack';
import { freePort, requireJemalloc } from './bench-util';

const ROOT = path.resolve(__dirname, '..');
const TOKEN = 'bench-scale-admin-token-0000';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'both' },
    n: { type: 'string', default: '100,500,1000,2000' },
    minutes: { type: 'string', default: '2' },
    cache: { type: 'string' },
    wft: { type: 'string' },
    la: { type: 'string' },
    acts: { type: 'string' },
    pollers: { type: 'string' },
    heap: { type: 'string' },
    v8: { type: 'string' },
    growing: { type: 'string' },
    'stack-traces': { type: 'string' },
    arenas: { type: 'string', default: WORKER_MALLOC_ARENA_MAX },
    malloc: { type: 'string' },
    interval: { type: 'string', default: '10s' },
    profile: { type: 'string' },
    memory: { type: 'boolean', default: false },
    snapshot: { type: 'boolean', default: false },
  },
});
/** --v8's node/V8 flags for the worker, checked in main(). */
const V8_FLAGS = (values.v8 ?? '').split(/\s+/).filter(Boolean);
/** How often each release measures its gates: under a minute in `takeChecks`, a minute or more in the workflow. */
const INTERVAL_MS = parseDuration(values.interval ?? '10s');
type Malloc = 'jemalloc' | 'glibc';
/** jemalloc on this machine (Debian's libjemalloc2), or null. */
const JEMALLOC = findJemalloc();
/** --malloc: the allocators to run the worker on, each N on each; jemalloc by default, as the image runs the worker. */
const mallocs = (values.malloc ?? (JEMALLOC ? 'jemalloc' : 'glibc')).split(',') as Malloc[];

interface Row {
  /** How the tables name the run: the server, and the allocator when the run compares them. */
  server: string;
  kind: 'dev' | 'prod';
  malloc: Malloc;
  n: number;
  startS: number;
  baking: Partial<Record<'half' | 'p99' | 'all', number>>;
  s2sP50: number;
  s2sP99: number;
  driftP50: number;
  driftP99: number;
  measurements: number;
  expected: number;
  rssMiB: number;
  workerCpu: number;
  serverCpu: number;
  listMs: number;
  countMs: number;
  /** The Web UI's list filtered by phase (all N match) and by one model, to the first link; NaN without a UI. */
  uiPhaseMs: number;
  uiModelMs: number;
  memory: Breakdown | null;
  /** The server's requests per second over the window, by operation, busiest first. */
  requests: [string, number][];
}

/** Peak-RSS sample of the window, split by --memory's probe into what V8's isolates hold and what lies outside them. */
interface Breakdown {
  rssMiB: number;
  mainMiB: number;
  workflowsMiB: number;
  /** The isolates' heaps, resident (total_physical_size). */
  heapsMiB: number;
  /** V8's own malloc and the isolates' external memory (ArrayBuffers, strings outside the heap). */
  v8OtherMiB: number;
  outsideMiB: number;
}

function heapBreakdown(file: string, since: number): Breakdown | null {
  const mib = (b: number) => b / 2 ** 20;
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  type Stats = { physical: number; malloced: number; external: number } | null;
  type Sample = { t: number; rss: number; main: { used: number; v8: Stats }; threads: { url: string; used: number; v8: Stats }[] };
  const samples = lines.map((l) => JSON.parse(l) as Sample).filter((s) => s.t >= since && s.threads.every((t) => t.v8));
  const peak = samples.reduce<Sample | null>((a, s) => (a === null || s.rss > a.rss ? s : a), null);
  if (!peak) return null;
  const isolates = [peak.main.v8, ...peak.threads.map((t) => t.v8)].filter((x): x is NonNullable<Stats> => x !== null);
  const heaps = isolates.reduce((a, x) => a + x.physical, 0);
  const other = isolates.reduce((a, x) => a + x.malloced + x.external, 0);
  return {
    rssMiB: mib(peak.rss),
    mainMiB: mib(peak.main.used),
    // The SDK's workflow thread(s), by their entry point, or with no URL: started as an eval preamble
    // (WORKER_STACK_TRACES=off, src/workers/stack-traces.ts). Other worker threads would be left out.
    workflowsMiB: mib(peak.threads.filter((t) => /workflow-worker-thread/.test(t.url) || t.url === '').reduce((a, t) => a + t.used, 0)),
    heapsMiB: mib(heaps),
    v8OtherMiB: mib(other),
    outsideMiB: mib(peak.rss - heaps - other),
  };
}

/** utime + stime of a process, in seconds (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return 0;
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every process whose command line contains all the needles (the dev server is the SDK's child). */
function pidsMatching(...needles: string[]): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return needles.every((n) => cmd.includes(n));
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The SDK's cumulative histogram buckets (le → count) for one metric, summed over label sets. */
async function histogram(metricsUrl: string, name: string): Promise<Map<number, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const v = Number(line.split(' ').at(-1));
    if (!le) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + v);
  }
  return buckets;
}

/** The server's requests so far by operation, as its frontend counts them (service_requests). */
async function serverRequests(metricsUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('service_requests{') || !line.includes('service_name="frontend"')) continue;
    const op = /operation="([^"]+)"/.exec(line)?.[1];
    if (op) out.set(op, (out.get(op) ?? 0) + Number(line.split(' ').at(-1)));
  }
  return out;
}

/** The q-quantile of the window's observations, by the project's one rule (the bucket bound where q·n is reached). */
function bucketQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  return histogramQuantile(bounds.map((b, i) => [b, (cumulative[i] ?? 0) - (cumulative[i - 1] ?? 0)] as const), q) ?? NaN;
}

async function poll(what: string, ok: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function timeQueries(fn: () => Promise<unknown>, times = 20): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return sampleQuantile(ms, 0.5) ?? NaN;
}

/**
 * The Web UI as an operator opens it: its workflow list, filtered the way its filter bar writes the URL,
 * loaded in headless Debian Chromium until the first release's link shows. p50 of 5 loads per query.
 */
async function timeWebUi(ui: string, queries: string[]): Promise<number[]> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${ui}/namespaces/default/workflows`); // warm: the UI's own assets, once
    const out: number[] = [];
    for (const q of queries) {
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent(q)}`);
        await page.getByRole('link', { name: /^release\// }).first().waitFor({ timeout: 60_000 });
        ms.push(performance.now() - t0);
      }
      out.push(sampleQuantile(ms, 0.5) ?? NaN);
    }
    return out;
  } finally {
    await browser.close();
  }
}

/**
 * A burst's tail: what a few of the releases not yet baking are waiting on. Their phase as visibility
 * has it, the workflow task pending (attempt, state, how long since scheduled), each pending activity
 * (type, attempt, state, last failure) and the history's length.
 */
async function describeStragglers(client: Client): Promise<void> {
  const now = Date.now();
  let shown = 0;
  for await (const w of client.workflow.list({ query: `ExecutionStatus = "Running" AND RolloutPhase != "canary"` })) {
    if (shown++ >= 5) break;
    const d = await client.workflow.getHandle(w.workflowId).describe();
    const raw = d.raw;
    const wft = raw.pendingWorkflowTask;
    const since = (t?: { seconds?: unknown } | null) => (t?.seconds ? `${Math.round((now - Number(t.seconds) * 1000) / 1000)} s ago` : '');
    const acts = (raw.pendingActivities ?? []).map(
      (a) => `${a.activityType?.name} attempt ${a.attempt} ${a.state}${a.lastFailure?.message ? ` (${a.lastFailure.message.slice(0, 80)})` : ''} scheduled ${since(a.scheduledTime)}`,
    );
    process.stderr.write(
      `    ${w.workflowId}: phase ${String(w.searchAttributes?.RolloutPhase ?? '?')}, ${d.historyLength} events` +
        (wft ? `; workflow task attempt ${wft.attempt} ${wft.state} scheduled ${since(wft.scheduledTime)}` : '; no workflow task pending') +
        (acts.length ? `; ${acts.join('; ')}` : '') +
        '\n',
    );
  }
}

async function runOne(kind: 'dev' | 'prod', malloc: Malloc, n: number, minutes: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-scale-${kind}-${n}-`));
  const closers: (() => Promise<unknown>)[] = [];
  try {
    // The gateway every release routes through and measures from; each stats read is a measurement.
    const gateway = new Gateway({ adminToken: TOKEN, stateFile: path.join(dir, 'gateway-routes.json') });
    const gatewayUrl = `http://127.0.0.1:${await gateway.listen(0)}`;
    closers.push(() => gateway.close());
    const reads: { model: string; to: number; at: number }[] = [];
    let recording = false;
    gateway.httpServer.prependListener('request', (req) => {
      if (!recording || req.method !== 'GET' || !req.url?.startsWith('/stats/')) return;
      const url = new URL(req.url, 'http://gateway');
      const [, model, version] = url.pathname.split('/').filter(Boolean);
      if (version === 'v2' && model) reads.push({ model: decodeURIComponent(model), to: Number(url.searchParams.get('to')), at: Date.now() });
    });
    const registry = new FileRegistry(path.join(dir, 'registry.json'));
    const models = Array.from({ length: n }, (_, i) => `scale-${String(i).padStart(4, '0')}`);
    for (const m of models) {
      gateway.serveModel(m, { v1: 'http://127.0.0.1:9', v2: 'http://127.0.0.1:9' }, 'v1');
      await registry.register(m, 'v1', true);
    }

    // Temporal: a fresh dev server (SQLite file, as `npm run dev`), or the production-like stack without workers.
    let address: string;
    let serverPids: () => number[];
    let uiUrl: string | null = null;
    let serverMetricsUrl: string;
    if (kind === 'dev') {
      const port = await freePort();
      const uiPort = await freePort();
      const serverMetricsPort = await freePort();
      const env = await TestWorkflowEnvironment.createLocal({
        server: {
          executable: findTemporalServers(true).devServer,
          ip: '127.0.0.1',
          port,
          ui: true,
          uiPort,
          dbFilename: path.join(dir, 'temporal.sqlite'),
          searchAttributes: ALL_SEARCH_ATTRIBUTES,
          extraArgs: ['--metrics-port', String(serverMetricsPort)],
        },
      });
      serverMetricsUrl = `http://127.0.0.1:${serverMetricsPort}/metrics`;
      uiUrl = `http://127.0.0.1:${uiPort}`;
      closers.push(() => env.teardown());
      address = env.address;
      const pids = pidsMatching('start-dev', `--port ${port}`);
      serverPids = () => pids;
    } else {
      const stack = await startProdStack({ dir: path.join(dir, 'stack'), workers: 0 });
      closers.push(() => stack.close());
      address = stack.address;
      serverMetricsUrl = stack.metricsUrl;
      serverPids = () => [stack.server.child.pid ?? 0, ...pidsMatching('postgres', path.join(dir, 'stack'))];
    }

    // ONE worker process, the product's entry point, with the SDK's metrics exposed.
    const metricsPort = await freePort();
    const workerEnv: Record<string, string> = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: 'model-rollout',
      MODEL_ROLLOUT_DATA_DIR: dir,
      GATEWAY_URL: gatewayUrl,
      GATEWAY_ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: 'warn',
      TEMPORAL_METRICS_BIND: `127.0.0.1:${metricsPort}`,
      ...(values.cache ? { TEMPORAL_MAX_CACHED_WORKFLOWS: values.cache } : {}),
      ...(values.wft ? { TEMPORAL_MAX_CONCURRENT_WORKFLOW_TASKS: values.wft } : {}),
      ...(values.la ? { TEMPORAL_MAX_CONCURRENT_LOCAL_ACTIVITIES: values.la } : {}),
      ...(values.acts ? { TEMPORAL_MAX_CONCURRENT_ACTIVITIES: values.acts } : {}),
      ...(values.growing ? { WORKER_HEAP_GROWING_PERCENT: values.growing } : {}),
      ...(values['stack-traces'] ? { WORKER_STACK_TRACES: values['stack-traces'] } : {}),
      ...(values.pollers ? { TEMPORAL_WORKFLOW_TASK_POLLERS: values.pollers, TEMPORAL_ACTIVITY_TASK_POLLERS: values.pollers } : {}),
    };
    // As the image and docker-compose.yml run it; `--arenas default` leaves glibc's own (8 per core).
    const inherited = { ...process.env };
    delete inherited.MALLOC_ARENA_MAX;
    const arenaEnv = values.arenas === 'default' ? {} : { MALLOC_ARENA_MAX: values.arenas };
    // The allocator: jemalloc preloaded, as the image runs the worker, or glibc's malloc.
    delete inherited.LD_PRELOAD;
    const mallocEnv = malloc === 'jemalloc' ? { LD_PRELOAD: JEMALLOC as string } : {};
    const log = fs.openSync(path.join(dir, 'worker.log'), 'a');
    const heap = values.heap ? [`--max-old-space-size=${values.heap}`] : [];
    const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
    const probeFile = path.join(dir, 'heap-probe.jsonl');
    const probe = values.memory || values.snapshot ? ['-r', compiledProbe(dir)] : [];
    // The worker as the image runs it: compiled (main()'s `npm run build`), with the prebuilt bundle.
    const worker: ChildProcess = spawn(process.execPath, [...heap, ...V8_FLAGS, ...profile, ...probe, path.join(ROOT, 'dist', 'workers', 'main.js')], {
      cwd: ROOT,
      env: { ...inherited, ...arenaEnv, ...mallocEnv, ...workerEnv, NODE_ENV: 'production', WORKFLOW_BUNDLE: path.join(ROOT, 'dist', 'workflow-bundle.js'), ...(probe.length ? { HEAP_PROBE_FILE: probeFile } : {}) },
      stdio: ['ignore', log, log],
    });
    closers.push(async () => {
      worker.kill('SIGTERM');
      await new Promise((r) => (worker.exitCode !== null ? r(null) : worker.once('exit', r)));
    });
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const workerLog = path.join(dir, 'worker.log');
    await poll(
      'the worker',
      async () => {
        if (worker.exitCode !== null || worker.signalCode !== null) throw new Error(`the worker exited (${worker.exitCode ?? worker.signalCode}) before it polled:\n${fs.readFileSync(workerLog, 'utf8').slice(-2_000)}`);
        return (await fetch(metricsUrl).catch(() => null))?.ok === true;
      },
      120_000,
    );

    const connection = await Connection.connect({ address });
    closers.push(() => connection.close());
    const client = new Client({ connection });

    // Start N releases, 50 requests in flight.
    const manifest = (model: string) => ({
      apiVersion: 'model-rollout/v1',
      kind: 'Release',
      model,
      candidate: 'v2',
      plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '2h', interval: values.interval }, { kind: 'fullRollout' }],
    });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < models.length) {
          const m = models[next++] as string;
          await startRelease(client, manifest(m), { requestedBy: 'bench', taskQueue: 'model-rollout' });
        }
      }),
    );
    const startS = (performance.now() - t0) / 1000;
    process.stderr.write(`  ${kind} N=${n}: started in ${startS.toFixed(1)} s; waiting for all to bake\n`);
    // How long until half, 99% and all of them bake, from the first start: a burst's tail shows here.
    const baking: Partial<Record<'half' | 'p99' | 'all', number>> = {};
    let lastReport = 0;
    await poll(
      'every release in its bake',
      async () => {
        const count = (await client.workflow.count(`RolloutPhase = "canary"`)).count;
        const s = (performance.now() - t0) / 1000;
        if (count >= n / 2) baking.half ??= s;
        if (count >= 0.99 * n) baking.p99 ??= s;
        if (count >= n) baking.all ??= s;
        if (s - lastReport >= 60) {
          lastReport = s;
          process.stderr.write(`  ${Math.round(s)} s: ${count} of ${n} baking\n`);
          if (count >= 0.9 * n && count < n) await describeStragglers(client);
        }
        return count >= n;
      },
      Math.max(300_000, n * 600),
    );
    // One and a half intervals, so every release is on its rhythm and the window does not open or close
    // on the beat of releases started together; then the window.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 1.5));
    const s2sBefore = await histogram(metricsUrl, 'temporal_workflow_task_schedule_to_start_latency');
    const requestsBefore = await serverRequests(serverMetricsUrl);
    const cpuBefore = serverPids().reduce((a, p) => a + cpuSeconds(p), 0);
    const workerCpuBefore = cpuSeconds(worker.pid ?? 0);
    const windowStart = Date.now();
    recording = true;
    let rssPeak = 0;
    const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(worker.pid ?? 0))), 2_000);
    await new Promise((r) => setTimeout(r, minutes * 60_000));
    recording = false;
    clearInterval(rssTimer);
    const memory = probe.length ? heapBreakdown(probeFile, windowStart) : null;
    const windowS = (Date.now() - windowStart) / 1000;
    const serverCpu = (serverPids().reduce((a, p) => a + cpuSeconds(p), 0) - cpuBefore) / windowS;
    const workerCpu = (cpuSeconds(worker.pid ?? 0) - workerCpuBefore) / windowS;
    const s2sAfter = await histogram(metricsUrl, 'temporal_workflow_task_schedule_to_start_latency');
    const requestsAfter = await serverRequests(serverMetricsUrl);
    const requests = [...requestsAfter]
      .map(([op, v]): [string, number] => [op, (v - (requestsBefore.get(op) ?? 0)) / windowS])
      .filter(([, rate]) => rate > 0)
      .sort((a, b) => b[1] - a[1]);

    // Drift: each measurement's arrival after its due time (the previous measurement's time + 10 s).
    const byModel = new Map<string, { to: number; at: number }[]>();
    for (const r of reads) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
    const drift: number[] = [];
    for (const rs of byModel.values()) {
      for (let i = 1; i < rs.length; i++) drift.push((rs[i] as { at: number }).at - ((rs[i - 1] as { to: number }).to + INTERVAL_MS));
    }

    if (values.snapshot) {
      const keep = path.join(os.tmpdir(), `bench-scale-heap-${kind}-${n}`);
      fs.mkdirSync(keep, { recursive: true });
      fs.writeFileSync(`${probeFile}.snapshot`, '');
      await poll('heap snapshots', async () => fs.existsSync(`${probeFile}.snapshot-done`), 900_000);
      const failed = fs.readFileSync(`${probeFile}.snapshot-done`, 'utf8');
      if (failed) process.stderr.write(`  heap snapshot failed: ${failed}\n`);
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'))) fs.renameSync(path.join(dir, f), path.join(keep, f));
      process.stderr.write(`  heap snapshots in ${keep}\n`);
    }
    const listMs = await timeQueries(async () => {
      for await (const _ of client.workflow.list({ query: `RolloutModel = "${models[Math.floor(n / 2)]}"` })) void _;
    });
    const countMs = await timeQueries(() => client.workflow.count(`RolloutPhase = "canary"`));
    const [uiPhaseMs = NaN, uiModelMs = NaN] = uiUrl ? await timeWebUi(uiUrl, [`RolloutPhase="canary"`, `RolloutModel="${models[Math.floor(n / 2)]}"`]) : [NaN, NaN];
    return {
      server: mallocs.length > 1 ? `${kind}, ${malloc}` : kind,
      kind,
      malloc,
      n,
      startS,
      baking,
      s2sP50: bucketQuantile(s2sBefore, s2sAfter, 0.5),
      s2sP99: bucketQuantile(s2sBefore, s2sAfter, 0.99),
      driftP50: sampleQuantile(drift, 0.5) ?? NaN,
      driftP99: sampleQuantile(drift, 0.99) ?? NaN,
      measurements: reads.length,
      expected: Math.round((n * windowS * 1000) / INTERVAL_MS),
      rssMiB: rssPeak,
      workerCpu,
      serverCpu,
      listMs,
      countMs,
      uiPhaseMs,
      uiModelMs,
      memory,
      requests,
    };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    if (!process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`  kept ${dir}\n`);
  }
}

function print(rows: Row[]): void {
  const sec = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(0)} s`);
  const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(0)} s` : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
  console.log('');
  console.log(`| Server | Releases | Start all | Baking: half / 99% / all | WFT schedule-to-start p50 / p99 | Measurement drift p50 / p99 | Measurements taken / due | Worker RSS peak | CPU, worker / server (cores) | list by model / count by phase, p50 | Web UI list by phase / by model, p50 |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const withMemory = rows.filter((r) => r.memory);
  for (const r of rows) {
    console.log(
      `| ${r.server} | ${r.n} | ${r.startS.toFixed(1)} s | ${sec(r.baking.half)} / ${sec(r.baking.p99)} / ${sec(r.baking.all)} | ≤${ms(r.s2sP50)} / ≤${ms(r.s2sP99)} | ${ms(r.driftP50)} / ${ms(r.driftP99)} | ${r.measurements} / ${r.expected} (${((100 * r.measurements) / r.expected).toFixed(0)}%) | ${r.rssMiB.toFixed(0)} MiB | ${r.workerCpu.toFixed(2)} / ${r.serverCpu.toFixed(2)} | ${ms(r.listMs)} / ${ms(r.countMs)} | ${ms(r.uiPhaseMs)} / ${ms(r.uiModelMs)} |`,
    );
  }
  // What the releases ask of the server in the steady window: the busiest operations of its frontend.
  console.log('');
  console.log('| Server | Releases | Server requests per second in the window, busiest first (frontend) |');
  console.log('|---|---|---|');
  for (const r of rows) {
    const total = r.requests.reduce((a, [, v]) => a + v, 0);
    console.log(`| ${r.server} | ${r.n} | ${total.toFixed(0)} in all: ${r.requests.slice(0, 8).map(([op, v]) => `${op} ${v.toFixed(1)}`).join(', ')} |`);
  }
  if (withMemory.length === 0) return;
  console.log('');
  console.log('| Server | Releases | RSS at its peak | Main thread heap, used | Workflow thread heap, used | V8 heaps, resident | V8 malloc + external | Outside V8 | RSS per release |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of withMemory) {
    const m = r.memory as Breakdown;
    console.log(`| ${r.server} | ${r.n} | ${m.rssMiB.toFixed(0)} MiB | ${m.mainMiB.toFixed(0)} MiB | ${m.workflowsMiB.toFixed(0)} MiB | ${m.heapsMiB.toFixed(0)} MiB | ${m.v8OtherMiB.toFixed(0)} MiB | ${m.outsideMiB.toFixed(0)} MiB | ${((m.rssMiB * 1024) / r.n).toFixed(0)} KiB |`);
  }
}

/** With --malloc jemalloc,glibc: each N's RSS and CPU on the two allocators side by side. */
function compareMallocs(rows: Row[]): void {
  const pairs = rows.filter((r) => r.malloc === 'jemalloc').flatMap((j) => rows.filter((g) => g.malloc === 'glibc' && g.kind === j.kind && g.n === j.n).map((g) => [j, g] as const));
  if (pairs.length === 0) return;
  const outside = (r: Row) => (r.memory ? `${r.memory.outsideMiB.toFixed(0)} MiB` : 'n/a (--memory)');
  console.log('');
  console.log('| Server | Releases | Worker RSS peak, glibc / jemalloc | jemalloc / glibc | Outside V8, glibc / jemalloc | Worker CPU, glibc / jemalloc (cores) | Drift p99, glibc / jemalloc |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [j, g] of pairs) {
    console.log(`| ${j.kind} | ${j.n} | ${g.rssMiB.toFixed(0)} / ${j.rssMiB.toFixed(0)} MiB | ${(j.rssMiB / g.rssMiB).toFixed(2)} | ${outside(g)} / ${outside(j)} | ${g.workerCpu.toFixed(2)} / ${j.workerCpu.toFixed(2)} | ${Math.round(g.driftP99)} / ${Math.round(j.driftP99)} ms |`);
  }
}

/**
 * scripts/heap-probe.ts as plain JavaScript in `dir`, with the module it imports in the same relative place, to
 * preload into the compiled worker without a TypeScript loader.
 */
function compiledProbe(dir: string): string {
  const compile = (from: string) => {
    const { code } = transformFileSync(path.join(ROOT, from), { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } });
    const out = path.join(dir, 'probe', from.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, code);
    return out;
  };
  compile('support/thread-inspector.ts');
  return compile('scripts/heap-probe.ts');
}

async function main(): Promise<void> {
  const ns = (values.n ?? '').split(',').map(Number).filter((x) => x > 0);
  const kinds = values.server === 'both' ? (['dev', 'prod'] as const) : [values.server as 'dev' | 'prod'];
  const minutes = Number(values.minutes);
  const tuning = ['cache', 'wft', 'la', 'acts', 'pollers', 'heap', 'growing', 'stack-traces', 'v8', 'arenas'].map((k) => `${k}=${values[k as 'cache'] ?? 'default'}`).join(' ') + ` malloc=${mallocs.join(',')}`;
  process.stderr.write(`bench:scale ${kinds.join('+')} N=${ns.join(',')} window ${minutes} min, looks every ${values.interval}, one worker (${tuning}), ${os.cpus().length} cores\n`);
  if (minutes * 60_000 < 2 * INTERVAL_MS) throw new Error(`--minutes ${minutes}: a window under two intervals (--interval ${values.interval}) measures no drift; give --minutes ${Math.ceil((2 * INTERVAL_MS) / 60_000)} or more`);
  for (const f of V8_FLAGS) if (!f.startsWith('--')) throw new Error(`--v8 '${values.v8}': expected node/V8 flags, each starting with --, e.g. --v8=--max-semi-space-size=4`);
  if (!/^(\d+|default)$/.test(values.arenas ?? '')) throw new Error(`--arenas ${values.arenas}: expected a number of malloc arenas, or default`);
  if (mallocs.some((m) => m !== 'jemalloc' && m !== 'glibc') || new Set(mallocs).size !== mallocs.length) throw new Error(`--malloc ${values.malloc}: expected jemalloc, glibc, or both comma-separated, each once`);
  if (mallocs.includes('jemalloc')) requireJemalloc();
  // Measure the worker the image runs: compiled JavaScript and the prebuilt bundle of today's sources. Run
  // from the TypeScript (`-r @swc-node/register`), each of its two threads would also load the TypeScript
  // compiler and source maps: about 75 MiB more RSS in all, none of it the product's.
  process.stderr.write('  npm run build (the worker and its workflow bundle, as the image builds them)\n');
  const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error(`npm run build failed (exit ${built.status ?? built.signal})`);
  const rows: Row[] = [];
  for (const kind of kinds) {
    for (const n of ns) {
      for (const malloc of mallocs) {
        rows.push(await runOne(kind, malloc, n, minutes));
        print(rows.slice(-1));
      }
    }
  }
  print(rows);
  compareMallocs(rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

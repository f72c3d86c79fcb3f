// Benchmark: what a cached release costs the worker's memory as its run grows. bench:scale's windows
// watch releases minutes old; a release looked at every 10 s gets a takeChecks reply every 2 minutes, and
// its run grows by one until it continues as new at 1 MiB (about 30 replies, an hour). A release looked at
// every 5 minutes (the presets) takes each look in the workflow, and its run grows by one look at a time.
//
// Looks every 10 s (the default): one in-process worker on a fresh dev server, N releases baking. takeChecks
// answers at once with the 12 looks of a recorded reply (real gates' evidence) while a release has replies
// left in its allowance, then holds, heartbeating; the allowance grows step by step (--replies).
// Looks in the workflow (--workflow-looks 10,100,200): the same worker on a time-skipping server, N releases
// baking with looks every 5 minutes, the stub ports measuring; the server skips to each step's look.
// At each step, with nothing in flight: the workflow thread's live heap (after a full collection, through
// the inspector) and its allocated heap, the process's RSS, each per release over the same worker with no
// release, and one release's run: its history, and whether it has continued as new.
//   npm run bench:memory [-- --n 200 --replies 1,10,20,28,40]
//   npm run bench:memory -- --workflow-looks 10,100,200,300 [--n 200]
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { startRelease } from '../src/client/releases';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { findTemporalServers } from '../src/dev/servers';
import { releaseRecordSinks } from '../src/report/record';
import { registerSearchAttributes } from '../src/simulate/run';
import { statusQuery } from '../src/workflows/release';
import { isWorkflowThread, ThreadInspector } from '../support/thread-inspector';
import { aManifest } from '../test/helpers/builders';
import { heldLooks } from '../test/helpers/recorded-looks';
import { StubPorts } from '../test/helpers/stub-ports';
import { bundle, quietRuntime, timeSkippingEnv } from '../test/helpers/temporal';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, replies: { type: 'string' }, 'workflow-looks': { type: 'string' } },
});
const N = Number(values.n);
const WORKFLOW = values['workflow-looks'] !== undefined;
if (WORKFLOW && values.replies !== undefined) throw new Error('--replies and --workflow-looks: give one (replies are takeChecks\', looks the workflow\'s)');
const flag = WORKFLOW ? '--workflow-looks' : '--replies';
const given = values['workflow-looks'] ?? values.replies ?? '1,10,20,28,40';
const STEPS = given.split(',').map((s) => Number(s.trim()));
const MAX_STEP = WORKFLOW ? 2000 : 200;
if (!Number.isInteger(N) || N < 1 || N > 2000) throw new Error(`--n '${values.n}': expected a whole number from 1 to 2000`);
for (let i = 0; i < STEPS.length; i++) {
  const k = STEPS[i] as number;
  if (!Number.isInteger(k) || k < 1 || k > MAX_STEP || (i > 0 && k <= (STEPS[i - 1] as number))) {
    throw new Error(`${flag} '${given}': expected rising whole numbers from 1 to ${MAX_STEP}, e.g. ${flag} 1,10,20`);
  }
}

const kib = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} KiB`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024).toLocaleString('en-US')} MiB`;
const LOOK_EVERY_MS = 5 * 60_000;

type Handle = Awaited<ReturnType<typeof startRelease>>['handle'];

async function main(): Promise<void> {
  quietRuntime();
  const env = WORKFLOW
    ? await timeSkippingEnv()
    : await TestWorkflowEnvironment.createLocal({ server: { executable: findTemporalServers(true).devServer, ip: '127.0.0.1', searchAttributes: ALL_SEARCH_ATTRIBUTES } });
  try {
    await measure(env);
  } finally {
    await env.teardown();
  }
}

async function measure(env: TestWorkflowEnvironment): Promise<void> {
  if (WORKFLOW) await registerSearchAttributes(env);
  const looks = heldLooks(12);
  const taskQueue = 'bench-memory';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(),
    activities: WORKFLOW ? createActivities(new StubPorts()) : { ...createActivities(new StubPorts()), takeChecks: looks.takeChecks },
    sinks: releaseRecordSinks(),
    maxCachedWorkflows: N + 100,
    maxConcurrentActivityTaskExecutions: N + 100,
  });
  const inspected = new ThreadInspector();
  const workflowThread = async () => {
    const [t] = await inspected.liveHeaps(isWorkflowThread);
    if (!t) throw new Error('no workflow thread found through the inspector');
    const total = Number(await inspected.evaluate(t.sessionId, "process.getBuiltinModule('v8').getHeapStatistics().total_heap_size"));
    return { live: t.used, total };
  };
  try {
    await worker.runUntil(async () => {
      while (inspected.threads.size === 0) await new Promise((r) => setTimeout(r, 100));
      const base = { ...(await workflowThread()), rss: process.memoryUsage().rss };
      console.log(
        WORKFLOW
          ? `bench:memory: ${N} releases looked at every 5 minutes in the workflow on one in-process worker (time-skipping server), the stub ports measuring`
          : `bench:memory: ${N} releases looked at every 10 s on one in-process worker (dev server), takeChecks answering with 12 recorded looks`,
      );
      console.log(`  the worker with no release: workflow thread ${mib(base.live)} live, ${mib(base.total)} allocated; RSS ${mib(base.rss)}`);
      console.log('');
      console.log(`| ${WORKFLOW ? 'Looks' : 'Replies'} in a release | Its run: history, continued as new | Workflow thread live, per release | Allocated, per release | RSS, per release | Time to take them |`);
      console.log('|---|---|---|---|---|---|');
      const handles: Handle[] = [];
      for (let i = 0; i < N; i++) {
        const m = aManifest({
          model: `bench-memory-${i}`,
          plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: WORKFLOW ? '240h' : '24h', interval: WORKFLOW ? '5m' : '10s' }, { kind: 'fullRollout' }],
        });
        const options = WORKFLOW ? { looks: 'workflow' as const } : undefined;
        handles.push((await startRelease(env.client, m, { requestedBy: 'bench', taskQueue, options })).handle);
      }
      let skipped = 0;
      for (const k of STEPS) {
        const t0 = Date.now();
        if (WORKFLOW) {
          // The bake starts a minute or so into the release; k looks are due by k intervals and a minute more.
          // One interval at a time: the test server stalls on a single skip of hours over many releases.
          const to = k * LOOK_EVERY_MS + 2 * 60_000;
          while (skipped < to) {
            if (Date.now() - t0 > 30 * 60_000) throw new Error(`${k} looks not taken in 30 minutes`);
            const step = Math.min(LOOK_EVERY_MS, to - skipped);
            await env.sleep(step);
            skipped += step;
          }
          // The looks due by now are taken once no workflow task is in flight.
          await new Promise((r) => setTimeout(r, 2_000));
        } else {
          looks.state.allowed = k;
          while (!(looks.replies() === N * k && looks.state.holding === N)) {
            if (Date.now() - t0 > 30 * 60_000) throw new Error(`only ${looks.replies()} of ${N * k} replies in 30 minutes`);
            await new Promise((r) => setTimeout(r, 250));
          }
          if (looks.state.retried) throw new Error(`${looks.state.retried} takeChecks attempts were retried (a hold past their timeout): the releases no longer did what this bench measures; try a smaller --n`);
        }
        const took = (Date.now() - t0) / 1000;
        const thread = await workflowThread();
        const rss = process.memoryUsage().rss;
        const first = handles[0] as Handle;
        const history = await env.client.workflow.getHandle(first.workflowId).fetchHistory();
        const bytes = history.events?.reduce((n, e) => n + JSON.stringify(e).length, 0) ?? 0;
        const statuses = await Promise.all(handles.map((h) => h.query(statusQuery)));
        const off = statuses.find((s) => s.phase !== 'canary');
        if (off) throw new Error(`${off.model} is in ${off.phase}, not baking: the releases no longer did what this bench measures`);
        const status = statuses[0] as (typeof statuses)[number];
        const looked = history.events?.filter((e) => e.timerFiredEventAttributes).length ?? 0;
        if (WORKFLOW && looked < k) throw new Error(`${first.workflowId} took ${looked} looks, not ${k}`);
        const continued = status.timeline.filter((e) => e.type === 'continued-as-new').length;
        console.log(
          `| ${k} | ${kib(bytes)} of JSON, ${continued ? `continued as new ${continued}×` : 'first run'} | ${kib((thread.live - base.live) / N)} | ${kib((thread.total - base.total) / N)} | ${kib((rss - base.rss) / N)} | ${took.toFixed(0)} s |`,
        );
      }
      await Promise.all(handles.map((h) => h.terminate('bench:memory done')));
    });
  } finally {
    inspected.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

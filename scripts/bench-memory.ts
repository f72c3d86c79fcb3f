// Benchmark: what a cached release costs the worker's memory as its run grows. bench:scale's windows
// watch releases minutes old; a release looked at every 10 s gets a takeChecks reply every 2 minutes, and
// its run grows by one until it continues as new at 1 MiB (about 30 replies, an hour).
//
// One in-process worker on a fresh dev server, N releases baking with looks every 10 s. takeChecks answers
// at once with the 12 looks of a recorded reply (real gates' evidence) while a release has replies left in
// its allowance, then holds, heartbeating; the allowance grows step by step (--replies). At each step, with
// every release holding: the workflow thread's live heap (after a full collection, through the inspector)
// and its allocated heap, the process's RSS, each per release over the same worker with no release, and
// one release's run: its history, and whether it has continued as new.
//   npm run bench:memory [-- --n 200 --replies 1,10,20,28,40]
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { startRelease } from '../src/client/releases';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { findTemporalServers } from '../src/dev/servers';
import { releaseRecordSinks } from '../src/report/record';
import { statusQuery } from '../src/workflows/release';
import { isWorkflowThread, ThreadInspector } from '../support/thread-inspector';
import { aManifest } from '../test/helpers/builders';
import { heldLooks } from '../test/helpers/recorded-looks';
import { StubPorts } from '../test/helpers/stub-ports';
import { bundle, quietRuntime } from '../test/helpers/temporal';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, replies: { type: 'string', default: '1,10,20,28,40' } } });
const N = Number(values.n);
const STEPS = values.replies.split(',').map((s) => Number(s.trim()));
if (!Number.isInteger(N) || N < 1 || N > 2000) throw new Error(`--n '${values.n}': expected a whole number from 1 to 2000`);
for (let i = 0; i < STEPS.length; i++) {
  const k = STEPS[i] as number;
  if (!Number.isInteger(k) || k < 1 || k > 200 || (i > 0 && k <= (STEPS[i - 1] as number))) throw new Error(`--replies '${values.replies}': expected rising whole numbers from 1 to 200, e.g. --replies 1,10,20`);
}

const kib = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} KiB`;
const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024).toLocaleString('en-US')} MiB`;

async function main(): Promise<void> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: findTemporalServers(true).devServer, ip: '127.0.0.1', searchAttributes: ALL_SEARCH_ATTRIBUTES } });
  const looks = heldLooks(12);
  const taskQueue = 'bench-memory';
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle(),
    activities: { ...createActivities(new StubPorts()), takeChecks: looks.takeChecks },
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
      console.log(`bench:memory: ${N} releases looked at every 10 s on one in-process worker (dev server), takeChecks answering with 12 recorded looks`);
      console.log(`  the worker with no release: workflow thread ${mib(base.live)} live, ${mib(base.total)} allocated; RSS ${mib(base.rss)}`);
      console.log('');
      console.log('| Replies in a release | Its run: history, continued as new | Workflow thread live, per release | Allocated, per release | RSS, per release | Time to take them |');
      console.log('|---|---|---|---|---|---|');
      const handles = [];
      for (let i = 0; i < N; i++) {
        const m = aManifest({ model: `bench-memory-${i}`, plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h', interval: '10s' }, { kind: 'fullRollout' }] });
        handles.push((await startRelease(env.client, m, { requestedBy: 'bench', taskQueue })).handle);
      }
      for (const k of STEPS) {
        const t0 = Date.now();
        looks.state.allowed = k;
        while (!(looks.replies() === N * k && looks.state.holding === N)) {
          if (Date.now() - t0 > 30 * 60_000) throw new Error(`only ${looks.replies()} of ${N * k} replies in 30 minutes`);
          await new Promise((r) => setTimeout(r, 250));
        }
        if (looks.state.retried) throw new Error(`${looks.state.retried} takeChecks attempts were retried (a hold past their timeout): the releases no longer did what this bench measures; try a smaller --n`);
        const took = (Date.now() - t0) / 1000;
        const thread = await workflowThread();
        const rss = process.memoryUsage().rss;
        const first = handles[0] as (typeof handles)[number];
        const history = await env.client.workflow.getHandle(first.workflowId).fetchHistory();
        const bytes = history.events?.reduce((n, e) => n + JSON.stringify(e).length, 0) ?? 0;
        const continued = (await first.query(statusQuery)).timeline.filter((e) => e.type === 'continued-as-new').length;
        console.log(
          `| ${k} | ${kib(bytes)} of JSON, ${continued ? `continued as new ${continued}×` : 'first run'} | ${kib((thread.live - base.live) / N)} | ${kib((thread.total - base.total) / N)} | ${kib((rss - base.rss) / N)} | ${took.toFixed(0)} s |`,
        );
      }
      await Promise.all(handles.map((h) => h.terminate('bench:memory done')));
    });
  } finally {
    inspected.close();
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

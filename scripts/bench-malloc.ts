// Benchmark: what a cached workflow costs a worker's memory on each allocator, and where. One dev server;
// for each allocator a worker process of its own (this script as a child) caches N workflows that only
// wait (scripts/bench-malloc-workflow.ts: no activity, no timer), so what it keeps for each is the SDK's
// own cost. Before and 10 s after they all run, with a full collection in each of the worker's threads, it
// reads the RSS and each V8 isolate's resident heap, malloc'd and external memory (through the inspector for
// the workflow thread); what V8 does not account for is outside V8: the SDK's Rust core, the bridge,
// malloc's free lists. Printed per workflow, the allocators side by side, with their ratio to glibc's.
//   npm run bench:malloc [-- --n 1000 --malloc glibc-8,glibc-2,jemalloc]
// glibc-8 is glibc's malloc with its own arenas (8 per core), glibc-2 with MALLOC_ARENA_MAX=2, jemalloc
// preloads Debian's libjemalloc2 (as the image runs the worker).
// Take N in the thousands: jemalloc also returns what the worker freed before the first reading (bundling,
// start-up), which at N = 200 came out as -140 KiB a workflow.
import { spawn } from 'node:child_process';
import path from 'node:path';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import { findTemporalServers } from '../src/dev/servers';
import { bundleWorkflows } from '../src/workers/bundle';
import { isWorkflowThread, ThreadInspector } from '../support/thread-inspector';
import { quietRuntime } from '../test/helpers/temporal';
import { requireJemalloc } from './bench-util';

const { values } = parseArgs({ options: { n: { type: 'string', default: '1000' }, malloc: { type: 'string', default: 'glibc-8,glibc-2,jemalloc' }, child: { type: 'string' } } });
const N = Number(values.n);

interface Sample {
  rss: number;
  /** The isolates' resident heaps, and V8's malloc'd and external memory, both threads. */
  heaps: number;
  v8Other: number;
  workflowLive: number;
}
const outside = (s: Sample) => s.rss - s.heaps - s.v8Other;

/** The child: a worker on its own task queue, N parked workflows, memory before and after. */
async function child(address: string): Promise<void> {
  quietRuntime();
  const taskQueue = `bench-malloc-${process.pid}`;
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await bundleWorkflows(path.join(__dirname, 'bench-malloc-workflow.ts'), 'ERROR'),
    maxCachedWorkflows: N + 100,
  });
  const inspected = new ThreadInspector();
  const client = new Client({ connection: await Connection.connect({ address }) });
  const sample = async (): Promise<Sample> => {
    const [t] = await inspected.liveHeaps(isWorkflowThread);
    if (!t) throw new Error('no workflow thread found through the inspector');
    const w = JSON.parse(String(await inspected.evaluate(t.sessionId, "JSON.stringify(process.getBuiltinModule('v8').getHeapStatistics())"))) as v8.HeapInfo & { external_memory: number };
    (globalThis as { gc?: () => void }).gc?.();
    const m = v8.getHeapStatistics() as v8.HeapInfo & { external_memory: number };
    return { rss: process.memoryUsage().rss, heaps: m.total_physical_size + w.total_physical_size, v8Other: m.malloced_memory + m.external_memory + w.malloced_memory + w.external_memory, workflowLive: t.used };
  };
  await worker.runUntil(async () => {
    while (inspected.threads.size === 0) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3_000));
    const before = await sample();
    const handles = [];
    for (let i = 0; i < N; i++) handles.push(await client.workflow.start('parked', { taskQueue, workflowId: `${taskQueue}-${i}` }));
    // Every workflow has had its first task once each shows one completed.
    for (let i = 0; i < N; i++) {
      for (;;) {
        const d = await handles[i]?.describe();
        if ((d?.raw.workflowExecutionInfo?.historyLength?.toNumber() ?? 0) >= 4) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // jemalloc gives back what was freed after its decay time (10 s).
    await new Promise((r) => setTimeout(r, 12_000));
    const after = await sample();
    process.stdout.write(`${JSON.stringify({ before, after })}\n`);
    await Promise.all(handles.map((h) => h.signal('release')));
  });
  await connection.close();
}

async function main(): Promise<void> {
  const mallocs = (values.malloc ?? '').split(',');
  for (const m of mallocs) if (!['glibc-8', 'glibc-2', 'jemalloc'].includes(m)) throw new Error(`--malloc ${values.malloc}: expected glibc-8, glibc-2 and/or jemalloc`);
  const jemalloc = mallocs.includes('jemalloc') ? requireJemalloc() : null;
  if (!(N > 0)) throw new Error(`--n ${values.n}: expected a number of workflows`);
  quietRuntime();
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: findTemporalServers(true).devServer, ip: '127.0.0.1' } });
  const address = env.address;
  const rows: { malloc: string; before: Sample; after: Sample }[] = [];
  try {
    process.stderr.write(`bench:malloc: ${N} parked workflows on one worker process per allocator (${mallocs.join(', ')})\n`);
    for (const m of mallocs) {
      const base = { ...process.env };
      delete base.LD_PRELOAD;
      delete base.MALLOC_ARENA_MAX;
      const extra = m === 'jemalloc' ? { LD_PRELOAD: jemalloc as string } : m === 'glibc-2' ? { MALLOC_ARENA_MAX: '2' } : {};
      const out = await new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--expose-gc', '-r', '@swc-node/register', __filename, '--n', String(N), '--child', address], { env: { ...base, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        c.stdout.on('data', (d: Buffer) => (text += d.toString()));
        c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`the ${m} worker exited ${code}`))));
      });
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`the ${m} worker printed no figures`);
      rows.push({ malloc: m, ...(JSON.parse(line) as { before: Sample; after: Sample }) });
      process.stderr.write(`  ${m}: done\n`);
    }
  } finally {
    await env.teardown();
  }
  const kib = (b: number) => `${(b / 1024 / N).toFixed(0)} KiB`;
  const per = (r: (typeof rows)[number], f: (s: Sample) => number) => f(r.after) - f(r.before);
  const glibc = rows.find((r) => r.malloc === 'glibc-8') ?? rows[0];
  console.log('');
  console.log(`| Allocator | RSS per workflow | Ratio to ${glibc?.malloc} | Outside V8 per workflow | V8 heaps, resident | V8 malloc + external | Workflow thread live | Worker RSS with ${N} |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const ratio = glibc ? (per(r, (s) => s.rss) / per(glibc, (s) => s.rss)).toFixed(2) : 'n/a';
    console.log(`| ${r.malloc} | ${kib(per(r, (s) => s.rss))} | ${ratio} | ${kib(per(r, outside))} | ${kib(per(r, (s) => s.heaps))} | ${kib(per(r, (s) => s.v8Other))} | ${kib(per(r, (s) => s.workflowLive))} | ${(r.after.rss / 2 ** 20).toFixed(0)} MiB |`);
  }
}

if (values.child) child(values.child).catch((err: unknown) => (console.error(err), process.exit(1)));
else main().catch((err: unknown) => (console.error(err), process.exit(1)));

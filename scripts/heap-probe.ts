// Bench-only preload (`node -r ./scripts/heap-probe.ts`): where a worker's memory goes, thread by thread.
// Through the inspector it attaches to every worker thread (the SDK runs workflows in one) and, every
// HEAP_PROBE_EVERY_MS (5 s), appends one JSON line to HEAP_PROBE_FILE:
//   { t, rss, main: {used, total, v8}, threads: [{title, url, used, total, v8}], external, arrayBuffers }
// All sizes are bytes, each isolate's from its own v8.getHeapStatistics(): `used` and `total` its heap's
// used and allocated size, `v8` its {physical, malloced, external}.
// `rss` minus what the isolates account for is what V8 does not see: the SDK's Rust core, the binaries'
// code, stacks, malloc's free lists. When the file `${HEAP_PROBE_FILE}.snapshot` appears, it writes a heap
// snapshot of every thread next to it (`<file>.<thread>.heapsnapshot`), removes the trigger and writes
// `${HEAP_PROBE_FILE}.snapshot-done`.
import fs from 'node:fs';
import inspector from 'node:inspector';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import { ThreadInspector } from '../support/thread-inspector';

/** Evaluated in a worker thread: its own isolate's statistics. */
const STATS = "JSON.stringify(process.getBuiltinModule('v8').getHeapStatistics())";
interface Isolate {
  used: number;
  total: number;
  v8: { physical: number; malloced: number; external: number } | null;
}
const pick = (h: v8.HeapInfo & { external_memory?: number }): Isolate => ({
  used: h.used_heap_size,
  total: h.total_heap_size,
  v8: { physical: h.total_physical_size, malloced: h.malloced_memory, external: h.external_memory ?? 0 },
});
const parseStats = (text: string | undefined): Isolate => (text ? pick(JSON.parse(text) as v8.HeapInfo) : { used: NaN, total: NaN, v8: null });

// `-r` preloads into worker threads too; only the main thread probes (it reaches the others).
const file = process.env.HEAP_PROBE_FILE;
if (file && isMainThread) {
  if (typeof process.getBuiltinModule !== 'function') throw new Error(`heap-probe needs Node 20.16 or later (process.getBuiltinModule); this is ${process.version}`);
  start(file, Number(process.env.HEAP_PROBE_EVERY_MS ?? 5_000));
}

function start(out: string, everyMs: number): void {
  /** Open snapshot files by thread session; chunks are written as they come (a snapshot can be GiBs). */
  const snapshotFds = new Map<string, number>();
  const inspected = new ThreadInspector((sessionId, method, params) => {
    const fd = snapshotFds.get(sessionId);
    if (method === 'HeapProfiler.addHeapSnapshotChunk' && fd !== undefined) fs.writeSync(fd, (params as { chunk?: string }).chunk ?? '');
  });
  const threads = inspected.threads;
  const session = new inspector.Session();
  session.connect();
  const ask = inspected.ask.bind(inspected);

  const snapshot = async (): Promise<void> => {
    for (const t of threads.values()) {
      const fd = fs.openSync(`${out}.${t.title}.heapsnapshot`, 'w');
      snapshotFds.set(t.sessionId, fd);
      try {
        await ask(t.sessionId, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false }, 15 * 60_000);
      } finally {
        snapshotFds.delete(t.sessionId);
        fs.closeSync(fd);
      }
    }
    // The main thread's own session delivers every chunk before the call returns: write each at once.
    const fd = fs.openSync(`${out}.main.heapsnapshot`, 'w');
    const write = (m: { params: { chunk: string } }) => fs.writeSync(fd, m.params.chunk);
    session.on('HeapProfiler.addHeapSnapshotChunk', write);
    try {
      await new Promise<void>((resolve, reject) => session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, (err) => (err ? reject(err) : resolve())));
    } finally {
      session.off('HeapProfiler.addHeapSnapshotChunk', write);
      fs.closeSync(fd);
    }
  };

  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const trigger = `${out}.snapshot`;
      if (fs.existsSync(trigger)) {
        fs.rmSync(trigger);
        // The bench waits for this file; it holds the error, if the snapshot failed.
        const failed = await snapshot().then(
          () => '',
          (err: unknown) => String(err),
        );
        fs.writeFileSync(`${out}.snapshot-done`, failed);
      }
      const per = await Promise.all(
        [...threads.values()].map(async (t) => {
          const e = (await ask(t.sessionId, 'Runtime.evaluate', { expression: STATS, returnByValue: true })) as { result?: { value?: string } } | undefined;
          return { title: t.title, url: t.url, ...parseStats(e?.result?.value) };
        }),
      );
      const mem = process.memoryUsage();
      const line = {
        t: Date.now(),
        rss: mem.rss,
        main: pick(v8.getHeapStatistics()),
        threads: per,
        external: mem.external,
        arrayBuffers: mem.arrayBuffers,
      };
      fs.appendFileSync(out, `${JSON.stringify(line)}\n`);
    })()
      // Never an unhandled rejection: that would stop the worker under measurement.
      .catch((err: unknown) => fs.appendFileSync(`${out}.errors`, `${new Date().toISOString()} ${String(err)}\n`))
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
}

// This process's worker threads through the inspector (the SDK runs workflows in one): ask any of them a
// DevTools protocol method from the main thread. For the heap probe (scripts/heap-probe.ts) and the tests
// that measure what a cached release keeps in memory.
import inspector from 'node:inspector';

export interface InspectedThread {
  sessionId: string;
  title: string;
  url: string;
}

interface Pending {
  sessionId: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

export class ThreadInspector {
  readonly threads = new Map<string, InspectedThread>();
  private readonly session = new inspector.Session();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `onEvent` receives the threads' own events (a heap snapshot's chunks, for one). */
  constructor(onEvent: (sessionId: string, method: string, params: unknown) => void = () => undefined) {
    const s = this.session;
    s.connect();
    s.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string; workerInfo: { workerId: string; url: string } } }) => {
      const { sessionId, workerInfo } = m.params;
      this.threads.set(sessionId, { sessionId, title: `thread-${workerInfo.workerId}`, url: workerInfo.url });
    });
    s.on('NodeWorker.detachedFromWorker', (m: { params: { sessionId: string } }) => {
      this.threads.delete(m.params.sessionId);
      for (const [id, p] of this.pending) {
        if (p.sessionId !== m.params.sessionId) continue;
        this.pending.delete(id);
        p.reject(new Error('thread detached'));
      }
    });
    s.on('NodeWorker.receivedMessageFromWorker', (m: { params: { sessionId: string; message: string } }) => {
      const msg = JSON.parse(m.params.message) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: unknown };
      if (msg.id === undefined) {
        if (msg.method) onEvent(m.params.sessionId, msg.method, msg.params);
        return;
      }
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
    s.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  }

  /** One method on one thread; its result. */
  ask(sessionId: string, method: string, params: object = {}, timeoutMs = 30_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      const done =
        <T>(f: (x: T) => void) =>
        (x: T) => {
          clearTimeout(timer);
          f(x);
        };
      this.pending.set(id, { sessionId, resolve: done(resolve), reject: done(reject) });
      this.session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  }

  /** An expression evaluated in a thread, by value. */
  async evaluate(sessionId: string, expression: string): Promise<unknown> {
    const e = (await this.ask(sessionId, 'Runtime.evaluate', { expression, returnByValue: true })) as { result?: { value?: unknown }; exceptionDetails?: { text?: string; exception?: { description?: string } } } | undefined;
    if (e?.exceptionDetails) throw new Error(`${expression}: ${e.exceptionDetails.exception?.description ?? e.exceptionDetails.text ?? 'threw'}`);
    return e?.result?.value;
  }

  /** What each thread's heap (of those `which` picks) holds after a full collection: its live bytes. */
  async liveHeaps(which: (t: InspectedThread) => boolean = () => true): Promise<Array<InspectedThread & { used: number }>> {
    return Promise.all(
      [...this.threads.values()].filter(which).map(async (t) => {
        await this.ask(t.sessionId, 'HeapProfiler.collectGarbage');
        const used = Number(await this.evaluate(t.sessionId, "process.getBuiltinModule('v8').getHeapStatistics().used_heap_size"));
        return { ...t, used };
      }),
    );
  }

  close(): void {
    this.session.disconnect();
  }
}

/** The SDK's workflow thread: its own file, or our preamble's eval thread (WORKER_STACK_TRACES=off). */
export const isWorkflowThread = (t: InspectedThread): boolean => t.url === '' || t.url.includes('workflow-worker-thread');

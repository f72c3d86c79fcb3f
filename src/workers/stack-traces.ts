// WORKER_STACK_TRACES=off: the workflow thread runs without the SDK's promise stack-trace hook.
//
// The SDK (1.24, and its main branch today) installs a V8 promise hook in its workflow thread that, for
// every promise a workflow creates, captures a stack trace, maps each frame through the bundle's source
// map and keeps it until the promise settles: that is what answers the stack-trace query (the Web UI's
// "Stack Trace" tab, `temporal workflow stack`). It has no switch (sdk-typescript#1587). Measured by
// `npm run bench:replay`: about 40% of a replay's CPU, and a replay is what a release evicted from the
// sticky cache pays at each of its workflow tasks.
//
// Off, the SDK's hook is refused in its workflow threads only, and the stack-trace query answers with no
// stacks. Everything else stays: the workflow's errors keep their source-mapped stacks (those are
// V8's, read when an error is made), and Node's own promise hooks (AsyncLocalStorage, which the SDK's
// cancellation scopes run on) are untouched. Commands do not depend on the hook, so histories replay alike
// with it or without (test/workflows/replay-without-stack-traces.test.ts replays every committed one).
import fs from 'node:fs';
import workerThreads from 'node:worker_threads';

/** The SDK's workflow-thread entry, which it starts with `new Worker(path)`. */
const SDK_WORKFLOW_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread\.js$/;

/**
 * Plain JavaScript run first in each workflow thread: wraps `v8.promiseHooks.createHook` so that a call
 * made directly from the SDK's vm-shared module (its compiled file, or its TypeScript source where a
 * source-map hook rewrites stacks, as under swc-node) gets a no-op in place of a hook. Only the direct
 * caller counts: Node's own AsyncLocalStorage asks through the same function, from its internals, while
 * a workflow (run from vm-shared) is on the stack. `globalThis.__modelRolloutRefusedHooks` counts the
 * refusals (the tests read it).
 */
export const REFUSE_SDK_STACK_TRACE_HOOK = `(() => {
  const hooks = require('node:v8').promiseHooks;
  const create = hooks.createHook;
  const fromSdk = /[\\\\/]@temporalio[\\\\/]worker[\\\\/](?:lib|src)[\\\\/]workflow[\\\\/]vm-shared\\.[jt]s:/;
  globalThis.__modelRolloutRefusedHooks = 0;
  hooks.createHook = function createHook(callbacks) {
    // Line 0 is the error's message, line 1 this function, line 2 whoever called it.
    const caller = (new Error().stack || '').split('\\n')[2] || '';
    if (fromSdk.test(caller)) {
      globalThis.__modelRolloutRefusedHooks += 1;
      return () => undefined;
    }
    return create.call(this, callbacks);
  };
})();`;

/**
 * Refuses the SDK's hook in this thread, for the processes that run workflows in their main thread: a
 * replay (`Worker.runReplayHistories`), the benchmarks. Before the first workflow runs here.
 */
export function refuseSdkStackTraceHookHere(): void {
  new Function('require', REFUSE_SDK_STACK_TRACE_HOOK)(require);
}

/**
 * What a `new Worker(filename, options)` starts with WORKER_STACK_TRACES=off: the SDK's workflow thread
 * as an eval script that runs the preamble and then loads the SDK's own entry, with the options the SDK
 * gave (so the thread inherits the process's node and V8 flags as before); any other thread as asked.
 */
export function workflowThreadArgs(filename: string | URL, options?: workerThreads.WorkerOptions): [string | URL, workerThreads.WorkerOptions | undefined] {
  if (typeof filename === 'string' && SDK_WORKFLOW_THREAD.test(filename) && !options?.eval) {
    return [`${REFUSE_SDK_STACK_TRACE_HOOK}\nrequire(${JSON.stringify(filename)});`, { ...options, eval: true }];
  }
  return [filename, options];
}

/**
 * Refuses to apply to an SDK whose layout it does not know, rather than do nothing: the workflow
 * thread's entry must be where the SDK starts it from, and vm-shared must still ask for its hook.
 */
function checkSdkLayout(): void {
  const entry = require.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread');
  const shared = require.resolve('@temporalio/worker/lib/workflow/vm-shared');
  if (!SDK_WORKFLOW_THREAD.test(entry) || !fs.readFileSync(shared, 'utf8').includes('promiseHooks.createHook')) {
    throw new Error(`WORKER_STACK_TRACES=off: this @temporalio/worker does not start its workflow threads from ${entry} with a promise hook in ${shared}; the setting cannot apply (unset it)`);
  }
}

let wrapped: { count: number } | null = null;

/**
 * Makes the SDK start its workflow threads without its stack-trace hook (workflowThreadArgs). Other
 * threads (pino's, the gateway's) start as they would. Call before the worker is created; once per
 * process. Returns how many workflow threads it has started so far, for the worker to check.
 */
export function workflowThreadsWithoutStackTraces(): () => number {
  const w = (wrapped ??= install());
  return () => w.count;
}

function install(): { count: number } {
  checkSdkLayout();
  const w = { count: 0 };
  const Base = workerThreads.Worker;
  class WorkflowThread extends Base {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      const [f, o] = workflowThreadArgs(filename, options);
      super(f, o);
      if (f !== filename) w.count += 1;
    }
  }
  workerThreads.Worker = WorkflowThread;
  return w;
}

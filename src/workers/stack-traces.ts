// WORKER_STACK_TRACES=off: the workflow thread runs without the SDK's promise stack-trace hook.
//
// The SDK (1.24, and its main branch today) installs a V8 promise hook in its workflow thread that, for
// every promise a workflow creates, captures a stack trace, maps each frame through the bundle's source
// map and keeps it until the promise settles: that is what answers the stack-trace query (the Web UI's
// "Stack Trace" tab, `temporal workflow stack`). It has no switch (sdk-typescript#1587). Measured by
// `npm run bench:replay`: most of a replay's CPU beyond the workflow's own code, and the cost of a replay is
// what a release evicted from the sticky cache pays at each of its workflow tasks.
//
// Off, the SDK's hook is refused in its workflow threads only, and the stack-trace query answers with no
// stacks. Everything else stays: the workflow's errors keep their source-mapped stacks (those are
// V8's, read when an error is made), and Node's own promise hooks (AsyncLocalStorage, which the SDK's
// cancellation scopes run on) are untouched. Commands do not depend on the hook, so histories replay alike
// with it or without (test/workflows/replay-without-stack-traces.test.ts replays every committed one).
import workerThreads from 'node:worker_threads';

/** The SDK's workflow-thread entry, which it starts with `new Worker(path)`. */
const SDK_WORKFLOW_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread\.js$/;

/**
 * Plain JavaScript run first in each workflow thread: wraps `v8.promiseHooks.createHook` so that the one
 * call made from the SDK's vm-shared module (its compiled file, or its TypeScript source where a source-map
 * hook rewrites stacks, as under swc-node) gets a no-op in place of a hook. Any other caller is served as
 * before. `globalThis.__modelRolloutRefusedHooks` counts the refusals (the tests read it).
 */
export const REFUSE_SDK_STACK_TRACE_HOOK = `(() => {
  const hooks = require('node:v8').promiseHooks;
  const create = hooks.createHook;
  const fromSdk = /[\\\\/]@temporalio[\\\\/]worker[\\\\/](?:lib|src)[\\\\/]workflow[\\\\/]vm-shared\\.[jt]s:/;
  globalThis.__modelRolloutRefusedHooks = 0;
  hooks.createHook = function createHook(callbacks) {
    if (fromSdk.test(new Error().stack || '')) {
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

let installed = false;

/**
 * Makes the SDK start its workflow threads without its stack-trace hook: each is started as a small eval
 * script that runs REFUSE_SDK_STACK_TRACE_HOOK and then loads the SDK's own entry, with the options the SDK
 * gave (so the thread inherits the process's node and V8 flags as before). Other threads (pino's, the
 * gateway's) start as they would. Call before the worker is created; once per process.
 */
export function workflowThreadsWithoutStackTraces(): void {
  if (installed) return;
  installed = true;
  const Base = workerThreads.Worker;
  class WorkflowThread extends Base {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      if (typeof filename === 'string' && SDK_WORKFLOW_THREAD.test(filename) && !options?.eval) {
        super(`${REFUSE_SDK_STACK_TRACE_HOOK}\nrequire(${JSON.stringify(filename)});`, { ...options, eval: true });
      } else {
        super(filename, options);
      }
    }
  }
  workerThreads.Worker = WorkflowThread;
}

// The preamble WORKER_STACK_TRACES=off runs first in each workflow thread: it refuses the promise hook the
// SDK's vm-shared module asks for, and no other. Run in a thread of its own, so this process keeps its hooks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import workerThreads, { Worker } from 'node:worker_threads';
import { REFUSE_SDK_STACK_TRACE_HOOK, workflowThreadArgs } from '../../../src/workers/stack-traces';

const FILES = ['node_modules/@temporalio/worker/lib/workflow/vm-shared.js', 'node_modules/@temporalio/worker/src/workflow/vm-shared.ts', 'elsewhere/vm-shared.js'];
/** A stand-in for the SDK's module that runs code using AsyncLocalStorage a few calls deep, as it runs a workflow. */
const RUNS_ALS = 'als/node_modules/@temporalio/worker/lib/workflow/vm-shared.js';
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-traces-'));
  // Stand-ins for the SDK's module, compiled and as the TypeScript source a source-map hook shows, and for
  // another module: each asks for a hook that counts the promises it sees.
  const asks = `module.exports = () => { let n = 0; const stop = require('node:v8').promiseHooks.createHook({ init() { n += 1; } }); return Promise.resolve().then(() => { stop(); return n; }); };`;
  for (const f of FILES) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), asks);
  }
  fs.mkdirSync(path.dirname(path.join(dir, RUNS_ALS)), { recursive: true });
  fs.writeFileSync(
    path.join(dir, RUNS_ALS),
    `const { AsyncLocalStorage } = require('node:async_hooks');
     const als = new AsyncLocalStorage();
     const workflow = () => als.run('scope', async () => { await new Promise((r) => setTimeout(r, 1)); await null; return als.getStore(); });
     module.exports = () => [0].map(() => workflow())[0];`,
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function inThread(body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(`${REFUSE_SDK_STACK_TRACE_HOOK}\nconst { parentPort } = require('node:worker_threads');\n(async () => { ${body} })().then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ error: String(e) }));`, { eval: true });
    w.once('message', (m) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
}

it('refuses the hook asked for from the SDK vm-shared module, compiled or as TypeScript source, and serves any other module', async () => {
  const got = await inThread(`
    const counts = {};
    require.extensions['.ts'] = require.extensions['.js']; // the stand-in .ts is plain JavaScript
    for (const f of ${JSON.stringify(FILES)}) counts[f] = await require(${JSON.stringify(dir)} + '/' + f)();
    return { counts, refused: globalThis.__modelRolloutRefusedHooks };
  `);
  expect(got).toEqual({
    counts: {
      'node_modules/@temporalio/worker/lib/workflow/vm-shared.js': 0,
      'node_modules/@temporalio/worker/src/workflow/vm-shared.ts': 0,
      'elsewhere/vm-shared.js': expect.any(Number),
    },
    refused: 2,
  });
  expect((got as { counts: Record<string, number> }).counts['elsewhere/vm-shared.js']).toBeGreaterThan(0);
});

it('leaves Node’s own hooks working: AsyncLocalStorage started while the SDK module is on the stack carries its store across awaits', async () => {
  // However deep the stack is read: only the direct caller of createHook counts.
  const got = await inThread(`
    Error.stackTraceLimit = 50;
    const store = await require(${JSON.stringify(dir)} + '/' + ${JSON.stringify(RUNS_ALS)})();
    return { store, refused: globalThis.__modelRolloutRefusedHooks };
  `);
  expect(got).toEqual({ store: 'scope', refused: 0 });
});

describe('which threads start with the preamble', () => {
  const sdk = '/app/node_modules/@temporalio/worker/lib/workflow/workflow-worker-thread.js';
  it('the SDK workflow thread: an eval of the preamble, then its entry, with the options the SDK gave', () => {
    const shareEnv: workerThreads.WorkerOptions = { env: workerThreads.SHARE_ENV, workerData: { n: 1 } };
    const [code, options] = workflowThreadArgs(sdk, shareEnv);
    expect(code).toBe(`${REFUSE_SDK_STACK_TRACE_HOOK}\nrequire(${JSON.stringify(sdk)});`);
    expect(options).toEqual({ ...shareEnv, eval: true });
    expect(workflowThreadArgs(sdk)[1]).toEqual({ eval: true });
  });
  it('any other thread as asked: another file, a URL, an eval already', () => {
    const url = new URL(`file://${sdk}`);
    for (const [f, o] of [['/app/other.js', undefined], [url, undefined], [sdk, { eval: true }]] as const) expect(workflowThreadArgs(f, o)).toEqual([f, o]);
  });
});

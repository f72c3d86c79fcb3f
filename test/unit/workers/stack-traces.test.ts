// The preamble WORKER_STACK_TRACES=off runs first in each workflow thread: it refuses the promise hook the
// SDK's vm-shared module asks for, and no other. Run in a thread of its own, so this process keeps its hooks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { REFUSE_SDK_STACK_TRACE_HOOK } from '../../../src/workers/stack-traces';

const FILES = ['node_modules/@temporalio/worker/lib/workflow/vm-shared.js', 'node_modules/@temporalio/worker/src/workflow/vm-shared.ts', 'elsewhere/vm-shared.js'];
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

it('leaves Node’s own hooks working: AsyncLocalStorage carries its store across awaits', async () => {
  const got = await inThread(`
    const { AsyncLocalStorage } = require('node:async_hooks');
    const als = new AsyncLocalStorage();
    return als.run('scope', async () => { await new Promise((r) => setTimeout(r, 1)); await null; return als.getStore(); });
  `);
  expect(got).toBe('scope');
});

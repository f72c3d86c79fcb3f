// Shared test plumbing: servers from the global setup, a workflow bundle built once per file.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Connection, Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundleWorkflows } from '../../src/workers/bundle';
import { MockActivityEnvironment, TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalServers } from '../../src/dev/servers';

/**
 * Warnings known to be benign here, so real ones stand out: the Java time-skipping server does not
 * advertise the heartbeat-details capability of Temporal Server 1.16+, and the SDK's core says so at
 * every worker start.
 */
const BENIGN = [/Temporal Server 1\.16\.0 or newer is required/];

let runtimeInstalled = false;
/** The SDK's own logs, core included, stay quiet in tests unless something is wrong. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (BENIGN.some((re) => re.test(entry.message))) return;
      process.stderr.write(`${entry.level} ${entry.message}${entry.meta ? ` ${JSON.stringify(entry.meta)}` : ''}\n`);
    }),
    // Core's logs go through the logger above instead of straight to stderr.
    telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } } },
  });
}

// Every in-process worker a test creates is remembered with its connection, so the code that closes a
// connection (useDevServer's afterAll, Harness.teardown) first stops whatever a test left running there.
// A worker left running (a test that timed out inside `runUntil`, or failed before its `shutdown()`)
// outlives its server: the file's time-skipping server, or the dev server at the run's global
// teardown. Its pollers then retry a closed port every 10 s for ever, and jest never exits. A CI run
// hung that way until its limit, with nothing in its output but those retries.
const created = new Map<Worker, { connection?: NativeConnection; running?: Promise<void> }>();
const createWorker = Worker.create.bind(Worker);
Worker.create = async (options) => {
  const worker = await createWorker(options);
  const entry: { connection?: NativeConnection; running?: Promise<void> } = { connection: options.connection };
  created.set(worker, entry);
  // runUntil calls run too: the promise settles once the worker has let go of its connection.
  const run = worker.run.bind(worker);
  worker.run = () => (entry.running = run());
  return worker;
};

/**
 * Stops the workers still running on a connection about to close, waits (up to 30 s) until they have let
 * go of it, and throws naming their task queues: a test that leaves its worker running has failed, even
 * if its assertions passed. A worker created and never run is named too.
 */
export async function stopLeakedWorkers(connection: NativeConnection): Promise<void> {
  const mine = [...created].filter(([, e]) => e.connection === connection);
  for (const [w] of mine) created.delete(w);
  const leaked = mine.filter(([w, e]) => w.getState() === 'INITIALIZED' || (e.running !== undefined && w.getState() !== 'FAILED' && w.getState() !== 'STOPPED'));
  if (leaked.length === 0) return;
  for (const [w] of leaked) if (w.getState() === 'RUNNING') w.shutdown();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(leaked.map(([, e]) => e.running)),
    new Promise((r) => (timer = setTimeout(r, 30_000))),
  ]);
  clearTimeout(timer);
  const names = leaked.map(([w, e]) => `${w.options.taskQueue}${e.running ? '' : ' (never run)'}`);
  throw new Error(`${leaked.length} worker(s) still running when their connection was to close (task queues ${names.join(', ')}): a test left them polling; they have been shut down`);
}

export const WORKFLOWS_PATH = path.resolve(__dirname, '../../src/workflows/index.ts');

export async function bundle(): Promise<WorkflowBundle> {
  return bundleWorkflows(WORKFLOWS_PATH);
}

export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const p = process.env.TEMPORAL_TEST_SERVER_PATH;
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: p ? { type: 'existing-path', path: p } : findTemporalServers(true).timeSkippingServer },
  });
}

/** Connections to the run's dev server (started by test/setup/dev-server-setup.ts). */
export async function devServer(): Promise<{ address: string; client: Client; connection: Connection; native: NativeConnection; close: () => Promise<void> }> {
  quietRuntime();
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set: integration tests need the dev-server global setup');
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  return {
    address,
    client: new Client({ connection }),
    connection,
    native,
    close: async () => {
      // The leak's own error first: the connection's refusal to close would say less.
      const leak = await stopLeakedWorkers(native).then(
        () => null,
        (err: unknown) => err,
      );
      await connection.close();
      const refused = await native.close().then(
        () => null,
        (err: unknown) => err,
      );
      if (leak ?? refused) throw leak ?? refused;
    },
  };
}

export const uniqueQueue = (name: string) => `test-${name}-${randomUUID().slice(0, 8)}`;
export const uniqueModel = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

/** Jest hooks for a test file on the run's dev server: connections and the workflow bundle. */
export function useDevServer(): { server: Awaited<ReturnType<typeof devServer>>; workflowBundle: WorkflowBundle } {
  const ctx = {} as { server: Awaited<ReturnType<typeof devServer>>; workflowBundle: WorkflowBundle };
  beforeAll(async () => {
    ctx.server = await devServer();
    ctx.workflowBundle = await bundle();
  });
  afterAll(() => ctx.server?.close());
  return ctx;
}

/** An activity context for adapter tests, with the activity's own types kept. */
export function activityEnv(): { run: <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A) => Promise<R> } {
  const mock = new MockActivityEnvironment();
  return { run: (fn, ...args) => mock.run(fn, ...args) };
}

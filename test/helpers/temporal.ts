// Shared test plumbing: servers from the global setup, a workflow bundle built once per file.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Connection, Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type State, type WorkflowBundle } from '@temporalio/worker';
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
const created = new Map<Worker, NativeConnection | undefined>();
const createWorker = Worker.create.bind(Worker);
Worker.create = async (options) => {
  const worker = await createWorker(options);
  created.set(worker, options.connection);
  return worker;
};
const LIVE: readonly State[] = ['RUNNING', 'STOPPING', 'DRAINING', 'DRAINED'];

/**
 * Stops the workers still running on a connection about to close, and throws naming their task queues
 * (a test that leaves its worker running has failed, even if its assertions passed).
 */
export async function stopLeakedWorkers(connection: NativeConnection): Promise<void> {
  const leaked = [...created].filter(([w, c]) => c === connection && LIVE.includes(w.getState())).map(([w]) => w);
  for (const [w, c] of created) if (c === connection && !leaked.includes(w)) created.delete(w);
  if (leaked.length === 0) return;
  for (const w of leaked) if (w.getState() === 'RUNNING') w.shutdown();
  const deadline = Date.now() + 30_000;
  while (leaked.some((w) => LIVE.includes(w.getState())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const w of leaked) created.delete(w);
  throw new Error(`${leaked.length} worker(s) still running when their connection was to close (task queues ${leaked.map((w) => w.options.taskQueue).join(', ')}): a test left them polling; they have been shut down`);
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
      try {
        await stopLeakedWorkers(native);
      } finally {
        await connection.close();
        await native.close();
      }
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

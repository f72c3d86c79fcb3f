// Runs release workflows under the time-skipping server, with stub ports behind the real activities.
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { releaseWorkflowId } from '../../src/constants';
import type { ReleaseManifestInput } from '../../src/domain/manifest';
import type { Phase, ReleaseResult, ReleaseStatus } from '../../src/domain/release';
import { releaseWorkflow, statusQuery, type ReleaseWorkflowOptions } from '../../src/workflows/release';
import type { Ports } from '../../src/activities/ports';
import { bundle, stopLeakedWorkers, timeSkippingEnv, uniqueQueue } from './temporal';

type Activities = ReturnType<typeof createActivities>;

export { registerSearchAttributes } from '../../src/simulate/run';
import { registerSearchAttributes } from '../../src/simulate/run';
import { releaseRecordSinks } from '../../src/report/record';

export class Harness {
  constructor(
    readonly env: TestWorkflowEnvironment,
    readonly workflowBundle: NonNullable<WorkerOptions['workflowBundle']>,
  ) {}

  /** A time-skipping server with our search attributes, and the workflow bundle built once. */
  static async create(workflowBundle?: WorkerOptions['workflowBundle']): Promise<Harness> {
    const env = await timeSkippingEnv();
    await registerSearchAttributes(env);
    return new Harness(env, workflowBundle ?? (await bundle()));
  }

  /** Stops the server; a worker a test left running is stopped first, and named in the error. */
  async teardown(): Promise<void> {
    try {
      await stopLeakedWorkers(this.env.nativeConnection);
    } finally {
      await this.env.teardown();
    }
  }

  /** Runs `fn` while a worker with the stub ports (and any activity replaced) serves a fresh task queue. */
  async withWorker<T>(ports: Ports, fn: (taskQueue: string) => Promise<T>, replaced: Partial<Activities> = {}): Promise<T> {
    const taskQueue = uniqueQueue('release');
    const worker = await Worker.create({
      connection: this.env.nativeConnection,
      namespace: this.env.namespace ?? 'default',
      taskQueue,
      workflowBundle: this.workflowBundle,
      activities: { ...createActivities(ports), ...replaced },
      sinks: releaseRecordSinks(),
      // Cancellation reaches a heartbeating activity within a second, not the default minute.
      maxHeartbeatThrottleInterval: '1s',
    });
    return worker.runUntil(fn(taskQueue));
  }

  start(taskQueue: string, manifest: ReleaseManifestInput, options?: ReleaseWorkflowOptions): Promise<WorkflowHandleWithFirstExecutionRunId<typeof releaseWorkflow>> {
    return this.env.client.workflow.start(releaseWorkflow, {
      taskQueue,
      workflowId: releaseWorkflowId(manifest.model),
      args: [{ manifest, requestedBy: 'ci', options }],
    });
  }

  /** Starts a release and waits for its result, skipping time. */
  async release(ports: Ports, manifest: ReleaseManifestInput, options?: ReleaseWorkflowOptions): Promise<ReleaseResult> {
    return this.withWorker(ports, async (q) => (await this.start(q, manifest, options)).result());
  }

  /** Skips time in steps until the release reaches a phase (or a predicate on its status holds). */
  async until(
    handle: WorkflowHandle,
    want: Phase | ((s: ReleaseStatus) => boolean),
    { step = 60_000, limit = 500 } = {},
  ): Promise<ReleaseStatus> {
    const ok = typeof want === 'function' ? want : (s: ReleaseStatus) => s.phase === want;
    // Skipped time is cheap; real time is not: a stalled server fails here, with the state it is in.
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < limit && Date.now() < deadline; i++) {
      const s = await handle.query(statusQuery);
      if (ok(s)) return s;
      await this.env.sleep(step);
    }
    const s = await handle.query(statusQuery);
    throw new Error(`release never reached the expected state; phase ${s.phase}, step ${s.stepIndex}`);
  }
}

// scoped() on its own: a scope whose work failed while other work in it still runs is never cancelled,
// not even when later scopes would have replaced its parent (src/workflows/release-support.ts).
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stopLeakedWorkers, timeSkippingEnv, uniqueQueue } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
beforeAll(async () => void (env = await timeSkippingEnv()), 120_000);
afterAll(async () => {
  if (!env) return;
  try {
    await stopLeakedWorkers(env.nativeConnection);
  } finally {
    await env.teardown();
  }
});

it('given two activities in a scope left running, when one fails and 100 more scopes follow, then the other is left to finish and never asked to stop', async () => {
  const taskQueue = uniqueQueue('scoped');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: path.resolve(__dirname, '../fixtures/scoped-workflow.ts'),
    activities: {
      // Runs on the wall clock, long enough for the 100 scopes after it (a timer each) to come and go.
      slow: async () => {
        await new Promise((r) => setTimeout(r, 8_000));
        return 'done';
      },
      fail: async () => {
        throw ApplicationFailure.nonRetryable('metrics backend gone');
      },
    },
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start('scopedWorkflow', { taskQueue, workflowId: taskQueue, args: [100] });
    expect(await handle.result()).toBe('pair failed; slow completed');
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.timerFiredEventAttributes)).toHaveLength(100);
    expect(events.filter((e) => e.activityTaskCancelRequestedEventAttributes)).toEqual([]);
  });
}, 90_000);

// What a cached release keeps in the worker's memory as its run grows. Its state is bounded (the timeline
// merges passing looks), so the workflow thread's live heap must not grow with each takeChecks reply. It
// did: the SDK keeps every child cancellation scope for the run's life, and with it the stack of its
// cancellation, whose frames held each takeChecks call's closures and so its reply (32.6 KiB of live heap
// a reply here; 2.1 MiB of RSS a release by the end of a 1 MiB run in bench:memory, against 1.1 after).
// The workflow let go of the reply (0.7 KiB a reply left: the scope itself), then of the scopes too
// (`scoped()` in src/workflows/release-support.ts: nothing measurable left).
// Live heap after a full collection, through the inspector: not a timing, and the same run to run.
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { startRelease } from '../../src/client/releases';
import { releaseRecordSinks } from '../../src/report/record';
import { statusQuery } from '../../src/workflows/release';
import { isWorkflowThread, ThreadInspector } from '../../support/thread-inspector';
import { aManifest } from '../helpers/builders';
import { heldLooks } from '../helpers/recorded-looks';
import { StubPorts } from '../helpers/stub-ports';
import { uniqueModel, uniqueQueue, useDevServer } from '../helpers/temporal';

const ctx = useDevServer();

const RELEASES = 40;
const LOOKS = 12;

async function until(what: string, ok: () => boolean, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('given releases in cache taking their looks by takeChecks, when each gets 16 more replies, then the workflow thread holds no more of them', async () => {
  const taskQueue = uniqueQueue('memory');
  const looks = heldLooks(LOOKS);
  const worker = await Worker.create({
    connection: ctx.server.native,
    taskQueue,
    workflowBundle: ctx.workflowBundle,
    activities: { ...createActivities(new StubPorts()), takeChecks: looks.takeChecks },
    sinks: releaseRecordSinks(),
    maxCachedWorkflows: RELEASES * 2,
  });
  const inspected = new ThreadInspector();
  const handles: Array<Awaited<ReturnType<typeof startRelease>>['handle']> = [];
  try {
    await worker.runUntil(async () => {
      for (let i = 0; i < RELEASES; i++) {
        // A day's bake looked at every 10 s: takeChecks takes its looks. 20 replies of 12 looks stay under
        // the 1 MiB at which a run continues as new, so every reply is in the cached run.
        const m = aManifest({ model: uniqueModel('memory'), plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h', interval: '10s' }, { kind: 'fullRollout' }] });
        handles.push((await startRelease(ctx.server.client, m, { requestedBy: 'ci', taskQueue })).handle);
      }
      const settle = async (allowed: number) => {
        looks.state.allowed = allowed;
        await until(`${RELEASES} releases to take ${allowed} replies`, () => looks.replies() === RELEASES * allowed && looks.state.holding === RELEASES);
        // The workflow task that scheduled the held takeChecks has completed by now (the activity runs).
        const workflows = await inspected.liveHeaps(isWorkflowThread);
        expect(workflows).toHaveLength(1);
        return (workflows[0] as { used: number }).used;
      };
      const early = await settle(4);
      const late = await settle(20);
      const perReply = (late - early) / RELEASES / 16;
      // Before the fixes: 32.6 KiB a reply; then 0.7 KiB (the SDK's scope and its stack); now -0.7 to 0 (noise).
      expect(perReply).toBeLessThan(6 * 1024);
      // Every reply is in the run the worker caches: none continued as new.
      const statuses = await Promise.all(handles.map((h) => h.query(statusQuery)));
      expect(statuses.filter((s) => s.timeline.some((e) => e.type === 'continued-as-new'))).toHaveLength(0);
      expect(looks.state.retried).toBe(0);
      if (process.env.MEMORY_TEST_PRINT) console.log({ early, late, perReply });
    });
  } finally {
    inspected.close();
    // Failed or not, no day-long bake is left on the run's dev server.
    await Promise.all(handles.map((h) => h.terminate('memory test done').catch(() => undefined)));
  }
}, 240_000);

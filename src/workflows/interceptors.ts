// Loaded into every bundle of these workflows (src/workers/bundle.ts): the guard that keeps a release from
// deciding anything on a stale clock, whatever the events that reach it.
import type { ActivateInput, Next, WorkflowInterceptorsFactory, WorkflowInternalsInterceptor } from '@temporalio/workflow';
import type { coresdk } from '@temporalio/proto';
import { StaleClock } from './release-support';

type Job = coresdk.workflow_activation.IWorkflowActivationJob;
type Stamp = { seconds: number; nanos: number };

/**
 * Jobs that bring no new event from the server, so they may share the clock of the activation before: a
 * local activity's result (resolved inside the task that ran it); an activity's cancellation (the release
 * asks for none to wait for the server's confirmation, so the SDK resolves it at once, in the same task);
 * a patch, the random seed, an eviction, a query.
 */
function bringsEvents(job: Job): boolean {
  if (job.resolveActivity) return !job.resolveActivity.isLocal && !job.resolveActivity.result?.cancelled;
  return !(job.notifyHasPatch || job.updateRandomSeed || job.removeFromCache || job.queryWorkflow);
}

function stampOf(ts: NonNullable<ActivateInput['activation']['timestamp']>): Stamp {
  return { seconds: Number(ts.seconds ?? 0), nanos: ts.nanos ?? 0 };
}

function same(a: Stamp, b: Stamp): boolean {
  return a.seconds === b.seconds && a.nanos === b.nanos;
}

const ms = (s: Stamp): number => s.seconds * 1000 + Math.floor(s.nanos / 1e6);

/**
 * Every workflow task that brings events from the server (an activity's result, a timer, a message, a
 * cancellation) starts after the activation before it, on a clock of its own. The SDK (1.24) breaks that
 * in one case: a query replayed on a worker that does not cache the release, when the history ends in
 * events no task has started on yet (the worker that held the release is dead, and `rollout watch` or the
 * Web UI asks for the status). It applies those events on the clock it last had, and the release would
 * decide on it: a step's start from a route change's return, a timer's length, a timeline entry, cached
 * and carried into the next real task, where no later replay reproduces them. Measured by replaying the
 * committed histories cut at such events (test/workflows/replay.test.ts): the trailing activation came
 * with exactly the clock of the activation before it, which is a local activity's return when one came
 * last.
 *
 * This refuses such an activation before the workflow sees it: the activation fails (the query fails, the
 * cached release is evicted) and the next task replays on its own clock. It changes no command, so
 * releases in flight replay as they ran.
 *
 * Not caught: events after a task that brought the workflow nothing (a cancelled activity's confirmation,
 * a local activity's heartbeat task). The SDK moves its clock to that task's start without an activation,
 * so the trailing clock is later than any the workflow saw, yet still before the events. A timer and a
 * takeChecks reply are checked against their own times in the workflow (release-support.ts) and are caught
 * there too; any other activity's result there is decided on a clock behind by the gap since that task.
 *
 * Only the pattern measured is refused: a live activation (not replaying history) on exactly the clock,
 * to the nanosecond, of the one before. A clock that goes back is let through: a local activity's return
 * is stamped with the worker's clock and the next task with the server's, so skew between them, or a
 * server's clock stepping back, must not refuse a real task. And nothing replayed from history is ever
 * refused, so no history recorded before this guard, or on skewed clocks, can fail to replay because of it.
 */
export class ClockGuard implements WorkflowInternalsInterceptor {
  private last?: Stamp;
  private checked = false;

  activate(input: ActivateInput, next: Next<WorkflowInternalsInterceptor, 'activate'>): void {
    // An activation with signals reaches the workflow in two batches, on one clock.
    if (input.batchIndex === 0) this.checked = false;
    const { timestamp } = input.activation;
    const jobs = input.activation.jobs ?? [];
    if (!this.checked && timestamp && !jobs.some((j) => j.queryWorkflow)) {
      const now = stampOf(timestamp);
      if (this.last && !input.activation.isReplaying && jobs.some(bringsEvents) && same(now, this.last)) {
        throw new StaleClock(ms(this.last), ms(now), 'events after the activation');
      }
      this.last = now;
      this.checked = true;
    }
    next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ internals: [new ClockGuard()] });

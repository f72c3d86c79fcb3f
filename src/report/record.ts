// The release's full record (src/workflows/release-record.ts), read back from its event history: each
// run, oldest first, replayed with a sink that collects what the workflow recorded. The replay runs the
// workflow code this package ships, so it sees every check exactly as the release judged it; the
// committed replay histories in CI are what guarantee old histories still replay.
import { IllegalStateError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker, type InjectedSinks, type ReplayWorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { bundleWorkflows, workflowSource } from '../workers/bundle';
import type { ReleaseEvent, ReleaseRecordSinks } from '../workflows/release-record';

export type { ReleaseEvent } from '../workflows/release-record';

const EventType = temporal.api.enums.v1.EventType;
type History = temporal.api.history.v1.IHistory;

/**
 * The sink every worker registers: a no-op on live workers (the record is read back by replay, where it
 * is complete, exactly once per decided task); `collect` receives each event of a replay.
 */
export function releaseRecordSinks(collect?: (event: ReleaseEvent) => void): InjectedSinks<ReleaseRecordSinks> {
  return collect
    ? // A copy: the workflow's sandbox passes its own objects, which later activations may change.
      { releaseRecord: { record: { fn: (_info, event) => collect(structuredClone(event)), callDuringReplay: true } } }
    : { releaseRecord: { record: { fn: () => undefined } } };
}

let quiet = false;
/** The SDK speaks only on errors in a command-line process; a runtime someone else installed stands. */
export function quietSdkRuntime(): void {
  if (quiet) return;
  quiet = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) throw err;
  }
}

const CLOSED = new Set<number>([
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);

/**
 * A run still in flight is replayed up to its last completed workflow task: events after it (a timer
 * fired, a signal waiting) have not been decided on yet, and replaying them would decide on a stale clock.
 */
export function decidedPart(history: History): History {
  const events = history.events ?? [];
  const last = events[events.length - 1];
  if (last && CLOSED.has(last.eventType as number)) return history;
  let end = events.length;
  while (end > 0 && events[end - 1]?.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) end -= 1;
  return { events: events.slice(0, end) };
}

let bundled: Promise<WorkflowBundle> | undefined;
/** The shipped bundle, or the sources bundled once per process (not once per run replayed, nor again for a worker). */
export async function workflowCode(): Promise<NonNullable<ReplayWorkerOptions['workflowBundle']>> {
  const source = workflowSource();
  if (source.workflowBundle) return source.workflowBundle;
  bundled ??= bundleWorkflows(source.workflowsPath as string, 'ERROR');
  return bundled;
}

/** Replays the runs in order and returns everything the release recorded. */
export async function recordFromHistories(workflowId: string, histories: History[], workflowBundle?: ReplayWorkerOptions['workflowBundle']): Promise<ReleaseEvent[]> {
  quietSdkRuntime();
  const code = { workflowBundle: workflowBundle ?? (await workflowCode()) };
  const events: ReleaseEvent[] = [];
  const sinks = releaseRecordSinks((e) => events.push(e));
  for (const history of histories) {
    const part = decidedPart(history);
    if (!part.events?.length) continue;
    await Worker.runReplayHistory({ ...code, sinks, replayName: 'release-report' }, part, workflowId);
  }
  return events;
}

// Every action a release received, read back from its event history. The release's own timeline is
// bounded (src/domain/timeline.ts): past its bounds, `rollout history` rebuilds the complete list of
// signals and accepted updates, with who and why, from the history of each run of the release.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export interface RecordedAction {
  at: string;
  /** A signal (accepted or refused by the workflow) or an update the workflow accepted. */
  kind: 'signal' | 'update';
  name: string;
  by: string | null;
  reason: string | null;
}

const EventType = temporal.api.enums.v1.EventType;

function decode(payload: temporal.api.common.v1.IPayload | null | undefined): { by: string | null; reason: string | null } {
  if (!payload) return { by: null, reason: null };
  try {
    const v = defaultPayloadConverter.fromPayload(payload) as { by?: unknown; reason?: unknown } | null;
    return { by: typeof v?.by === 'string' ? v.by : null, reason: typeof v?.reason === 'string' ? v.reason : null };
  } catch {
    return { by: null, reason: null };
  }
}

function timeOf(t: temporal.api.history.v1.IHistoryEvent['eventTime']): string {
  const ms = Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}

/** Every signal and accepted update in the runs' histories (oldest run first), in time order. */
export function actionsFrom(histories: temporal.api.history.v1.IHistory[]): RecordedAction[] {
  const actions: RecordedAction[] = [];
  for (const history of histories) {
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
        const a = e.workflowExecutionSignaledEventAttributes;
        actions.push({ at: timeOf(e.eventTime), kind: 'signal', name: a?.signalName ?? '?', ...decode(a?.input?.payloads?.[0]) });
      } else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
        const input = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
        actions.push({ at: timeOf(e.eventTime), kind: 'update', name: input?.name ?? '?', ...decode(input?.args?.payloads?.[0]) });
      }
    }
  }
  return actions.sort((a, b) => a.at.localeCompare(b.at));
}

/** Each run's history, oldest first: from the given run back through the runs it continued from (at most `maxRuns`). */
export async function runHistories(client: Client, workflowId: string, runId: string, maxRuns = 200): Promise<temporal.api.history.v1.IHistory[]> {
  const runs: temporal.api.history.v1.IHistory[] = [];
  let run: string | null = runId;
  for (let i = 0; run && i < maxRuns; i++) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, run).fetchHistory();
    runs.unshift(history);
    run = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || null;
  }
  return runs;
}

/** From the given run back through the runs it continued from (at most `maxRuns`), oldest first. */
export async function actionsFromHistory(client: Client, workflowId: string, runId: string, maxRuns = 200): Promise<RecordedAction[]> {
  return actionsFrom(await runHistories(client, workflowId, runId, maxRuns));
}

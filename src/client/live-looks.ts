// What a step's takeChecks activity has looked at since it last woke the workflow: its heartbeat, as the
// server holds it. The release's own status shows a fast step's looks when the activity comes back (at
// the latest WAKE_AFTER_MS later); `rollout status` and `rollout watch` add this line so a human sees the
// latest look now.
import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

const { PendingActivityState } = temporal.api.enums.v1;

const Heartbeat = z.object({
  looks: z.number().int().min(0),
  last: z.object({ at: z.string(), outcome: z.string(), summary: z.string() }).optional(),
});

export interface LiveLooks {
  /** Looks the worker has taken that the release's status does not show yet. */
  looks: number;
  last?: { at: string; outcome: string; summary: string };
  /** When this attempt of the activity started (its looks are counted from there). */
  since: string | null;
  attempt: number;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null =>
  t?.seconds != null ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;

/**
 * The pending takeChecks' progress, or null when none runs, it is being cancelled (its looks in flight are
 * dropped), or its heartbeat is not ours to read. The server keeps the last heartbeat across attempts: one
 * older than the running attempt belongs to an attempt whose looks were lost, and counts none.
 */
export async function liveLooks(handle: WorkflowHandle): Promise<LiveLooks | null> {
  const d = await handle.describe();
  const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'takeChecks');
  if (!pending || pending.state === PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED) return null;
  const started = pending.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED ? ms(pending.lastStartedTime) : null;
  const beat = ms(pending.lastHeartbeatTime);
  const payload = started !== null && beat !== null && beat >= started ? pending.heartbeatDetails?.payloads?.[0] : undefined;
  const parsed = Heartbeat.safeParse(payload ? defaultPayloadConverter.fromPayload(payload) : { looks: 0 });
  if (!parsed.success) return null;
  return { ...parsed.data, since: started !== null ? new Date(started).toISOString() : null, attempt: pending.attempt ?? 1 };
}

// What a step's takeChecks activity has looked at since it last woke the workflow: its heartbeat, as the
// server holds it. The release's own status shows a fast step's looks when the activity comes back (at
// the latest WAKE_AFTER_MS later); `rollout status` and `rollout watch` add this line so a human sees the
// latest look now.
import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';

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

/** The pending takeChecks' progress, or null when none runs (or its heartbeat is not ours to read). */
export async function liveLooks(handle: WorkflowHandle): Promise<LiveLooks | null> {
  const d = await handle.describe();
  const pending = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'takeChecks');
  if (!pending) return null;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  const parsed = Heartbeat.safeParse(payload ? defaultPayloadConverter.fromPayload(payload) : { looks: 0 });
  if (!parsed.success) return null;
  const started = pending.lastStartedTime?.seconds;
  return {
    ...parsed.data,
    since: started != null ? new Date(Number(started) * 1000 + Math.floor((pending.lastStartedTime?.nanos ?? 0) / 1e6)).toISOString() : null,
    attempt: pending.attempt ?? 1,
  };
}

// A takeChecks reply as a release's history records it (real gates, real evidence): the first reply with
// at least `looks` looks in the committed fast-looks history. For the tests and benchmarks that need a
// history of realistic size without waiting for real looks.
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import type { LooksReply, LooksRequest } from '../../src/domain/looks';

const FILE = path.resolve(__dirname, '../replay/histories/fast-looks-promoted.json');

/** The event IDs of a history's takeChecks schedulings: their completions name them. */
export function takeChecksScheduled(events: temporal.api.history.v1.IHistoryEvent[]): Set<number> {
  return new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'takeChecks').map((e) => Number(e.eventId)));
}

export function recordedReply(looks: number): LooksReply {
  const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(FILE, 'utf8')));
  const events = history.events ?? [];
  const takeChecks = takeChecksScheduled(events);
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes;
    const data = done?.result?.payloads?.[0]?.data;
    if (!data || !takeChecks.has(Number(done?.scheduledEventId))) continue;
    const reply = JSON.parse(Buffer.from(data).toString('utf8')) as LooksReply;
    if (reply.looks.length >= looks) return { ...reply, looks: reply.looks.slice(0, looks) };
  }
  throw new Error(`${FILE}: no takeChecks reply with ${looks} looks`);
}

/** The recorded reply as if its looks had just been taken, the last at `now`, over the release's own progress. */
function stamped(recorded: LooksReply, req: LooksRequest, now: number): LooksReply {
  const n = recorded.looks.length;
  return {
    looks: recorded.looks.map((l, i) => ({ at: now - (n - i) * 10, results: l.results })),
    progress: { ...req.progress, ...recorded.progress, startedAt: req.progress.startedAt, lastMeasuredAt: now, judgedTo: now },
    requests: 0,
    ranMs: 0,
  };
}

/**
 * A takeChecks that answers at once with the recorded looks, stamped when the server scheduled it: on the
 * release's clock, which a time-skipping server may have moved years past the wall clock. The release's
 * clock does not move while it answers, so its run's history grows a reply at a time. After `replies`
 * answers it comes back with no look, and the release takes its own looks (on timers, which skip).
 */
export function instantLooks(looks: number, replies = Number.POSITIVE_INFINITY): (req: LooksRequest) => Promise<LooksReply> {
  const recorded = recordedReply(looks);
  let answered = 0;
  return async (req) => {
    if (answered++ >= replies) return { looks: [], progress: req.progress, requests: req.requests, ranMs: 0 };
    const now = Context.current().info.currentAttemptScheduledTimestampMs;
    return stamped(recorded, req, now);
  };
}

/**
 * A takeChecks that answers at once with the recorded looks while a release has replies left in its
 * allowance (`state.allowed` replies in all), then holds, heartbeating, until the allowance grows: the
 * releases stay cached with exactly as many replies in their runs as asked. On a real-time server.
 */
export function heldLooks(looks: number): { state: { allowed: number; holding: number; retried: number }; takeChecks: (req: LooksRequest) => Promise<LooksReply>; replies: () => number } {
  const recorded = recordedReply(looks);
  const answered = new Map<string, number>();
  // Attempts after the first: a hold longer than the activity's start-to-close timeout, which changes
  // what the releases did (their looks fail over to the workflow); the callers refuse such a run.
  const state = { allowed: 0, holding: 0, retried: 0 };
  const takeChecks = async (req: LooksRequest): Promise<LooksReply> => {
    const c = Context.current();
    if (c.info.attempt > 1) state.retried += 1;
    const id = c.info.workflowExecution?.workflowId ?? c.info.activityId;
    if ((answered.get(id) ?? 0) >= state.allowed) {
      state.holding += 1;
      try {
        while ((answered.get(id) ?? 0) >= state.allowed) {
          c.heartbeat();
          await new Promise((r) => setTimeout(r, 200));
          if (c.cancellationSignal.aborted) throw c.cancellationSignal.reason;
        }
      } finally {
        state.holding -= 1;
      }
    }
    answered.set(id, (answered.get(id) ?? 0) + 1);
    const now = c.info.currentAttemptScheduledTimestampMs;
    return stamped(recorded, req, now);
  };
  return { state, takeChecks, replies: () => [...answered.values()].reduce((a, b) => a + b, 0) };
}

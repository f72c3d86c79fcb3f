// The release's timeline: how entries merge, and the bounds that keep it, the status query and the state
// carried across continue-as-new far below the server's payload limits whatever a release meets (a flood
// of refused actions, days of flapping measurements). Pure: unit-tested without Temporal.
//
// What is trimmed is never lost: every signal and update, with its payload, stays in the workflow's
// event history, and every gate decision that rolled back stays in the rollback record.
import type { TimelineEntry } from './release';

export const TIMELINE_LIMITS = {
  /** Entries kept in all. */
  entries: 400,
  /** Characters of an entry's message and of a reason. */
  message: 600,
  reason: 300,
  /** Refused or malformed actions kept one by one; beyond, the oldest are dropped and counted. */
  ignored: 30,
  /** Measurement entries that keep their gate results as data (the latest, and every fail). */
  measurementData: 20,
} as const;

/** Entries that can go when the timeline is full, oldest first: everything but decisions and actions. */
const REMOVABLE = new Set<TimelineEntry['type']>(['measurement', 'action-ignored', 'compensation-retry', 'router-retry', 'notification-failed', 'looks-failed', 'continued-as-new', 'step-started', 'step-completed', 'approval-reminder']);
/** Never removed: how the release began, and how it ended. */
const KEPT = new Set<TimelineEntry['type']>(['started', 'rollback-started', 'rollback-completed', 'completed']);

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Appends an entry, merging it into the last one when they say the same thing again (a retry, a repeated
 * refusal); returns how many entries the bounds removed.
 */
export function appendEntry(t: TimelineEntry[], entry: TimelineEntry): number {
  const e: TimelineEntry = { ...entry, message: clip(entry.message, TIMELINE_LIMITS.message) };
  if (e.reason !== undefined) e.reason = clip(e.reason, TIMELINE_LIMITS.reason);
  const last = t[t.length - 1];
  const repeat =
    last &&
    last.type === e.type &&
    (e.type === 'compensation-retry' || e.type === 'router-retry' || (e.type === 'action-ignored' && last.message === e.message && last.by === e.by));
  if (last && repeat) {
    last.count = (last.count ?? 1) + 1;
    last.lastAt = e.at;
    last.message = e.message;
    if (e.reason !== undefined) last.reason = e.reason;
    return 0;
  }
  t.push(e);
  return bound(t);
}

/**
 * A gate measurement: unchanged verdicts of the same step merge into one entry (a 72-hour watch keeps a
 * short timeline); a fail always stands alone. Returns how many entries the bounds removed.
 */
export function appendMeasurement(t: TimelineEntry[], m: { at: string; step: number; outcome: string; message: string; data: unknown }): number {
  const last = t[t.length - 1];
  const message = clip(m.message, TIMELINE_LIMITS.message);
  if (last && last.type === 'measurement' && last.step === m.step && m.outcome !== 'fail' && last.message.startsWith(`${m.outcome}:`)) {
    last.count = (last.count ?? 1) + 1;
    last.lastAt = m.at;
    last.message = message;
    last.data = m.data;
    return 0;
  }
  return appendEntry(t, { at: m.at, type: 'measurement', step: m.step, message, data: m.data });
}

/** Applies the bounds in place; returns how many entries were removed. */
export function bound(t: TimelineEntry[]): number {
  // Gate results as data only on the latest measurements and on fails.
  let withData = 0;
  for (let i = t.length - 1; i >= 0; i--) {
    const e = t[i] as TimelineEntry;
    if (e.type !== 'measurement' || e.data === undefined || e.message.startsWith('fail:')) continue;
    withData += 1;
    if (withData > TIMELINE_LIMITS.measurementData) delete e.data;
  }
  let removed = 0;
  const drop = (i: number) => {
    t.splice(i, 1);
    removed += 1;
  };
  let ignored = t.filter((e) => e.type === 'action-ignored').length;
  for (let i = 0; i < t.length && ignored > TIMELINE_LIMITS.ignored; ) {
    if ((t[i] as TimelineEntry).type === 'action-ignored') {
      drop(i);
      ignored -= 1;
    } else i += 1;
  }
  for (let i = 0; i < t.length && t.length > TIMELINE_LIMITS.entries; ) {
    if (REMOVABLE.has((t[i] as TimelineEntry).type)) drop(i);
    else i += 1;
  }
  // Past that only decisions and accepted actions remain: the oldest go too (the event history keeps them).
  for (let i = 0; i < t.length && t.length > TIMELINE_LIMITS.entries; ) {
    if (!KEPT.has((t[i] as TimelineEntry).type)) drop(i);
    else i += 1;
  }
  return removed;
}

/**
 * Before state is handed to continue-as-new: while `size()` exceeds `maxBytes`, measurements lose their
 * data, then the oldest entries go (never the start or the end). Returns how many entries were removed.
 */
export function compact(t: TimelineEntry[], size: () => number, maxBytes: number): number {
  if (size() <= maxBytes) return 0;
  for (const e of t) if (e.type === 'measurement') delete e.data;
  let removed = 0;
  for (let i = 0; i < t.length && size() > maxBytes; ) {
    if (KEPT.has((t[i] as TimelineEntry).type)) i += 1;
    else {
      t.splice(i, 1);
      removed += 1;
    }
  }
  return removed;
}

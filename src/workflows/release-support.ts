// Waiting, failures, times and the Web UI's details: the small pieces the release's steps share.
import { CancellationScope, CancelledFailure, condition, sleep } from '@temporalio/workflow';
import type { GateResult } from '../domain/gates';
import type { ReleaseStatus } from '../domain/release';

/**
 * The workflow's clock is behind a timer that has fired, or a takeChecks that has come back: the activation
 * is stamped with an older workflow task's time. The SDK (1.24) does this when it replays a history for a
 * query on a worker that does not cache the release, and the history ends in events no workflow task has
 * started on yet (the worker that held the release died, its sticky task is waiting to time out, and
 * `rollout watch` or the Web UI asks for the status). Deciding on that clock caches state the real task's
 * replay would not reproduce: a second timer, a measurement skipped, and a nondeterminism failure on every
 * later task. Thrown out of the
 * workflow, this fails that activation instead (the query fails, the cached state is evicted) and the next
 * task replays with the right clock. It is a plain Error on purpose: it fails the task, never the release.
 */
export class StaleClock extends Error {
  constructor(due: number, now: number, what = 'timer due') {
    super(`${what} at ${new Date(due).toISOString()} came with the workflow clock at ${new Date(now).toISOString()}: stale activation, not deciding on it`);
    this.name = 'StaleClock';
  }
}

/** On a real task a timer fires at or after its due time: the server starts it after the clock was read. The slack absorbs clock skew between history hosts. */
const CLOCK_SLACK_MS = 100;

/** A scope cancelled with one reason made once, not a failure (and its stack) made at every cancel. */
class ShortScope extends CancellationScope {
  private static readonly ended = new CancelledFailure('the scope\'s work is over');

  override cancel(): void {
    this.reject(ShortScope.ended);
  }
}

// The SDK (1.24, and its main branch) keeps every child scope until its parent is cancelled: the parent's
// promise holds a reaction to it, and the root scope's is never settled. Every timer, condition and
// activity started in a scope hangs a reaction on that scope's promise too. So a look run from the root
// kept about 3 KiB until the release's run continued as new: its timer's scope, with the failure it was
// cancelled with, whose unformatted stack kept the look's closures, and its measurements' reactions on
// the root. `scoped()` runs each piece of work in a scope of its own under a parent of its own, and cancels
// that parent once it has served PER_PARENT scopes and none of them runs: the SDK then lets go of all of
// them. Cancelling a scope whose work is over issues no command, so histories are the same as before.
const PER_PARENT = 64;

interface Parent {
  scope: ShortScope;
  served: number;
  running: number;
  /** Never cancelled: work one of its scopes left running may still be running. */
  kept: boolean;
}

let parent: Parent | null = null;

/**
 * Runs `fn` in a scope of its own. A cancellation of the workflow reaches it, as it reaches the root.
 * When `fn` settles, what it left pending (a timer, a condition, an activity) is cancelled, as every wait
 * always did; with `pending: 'leave'`, only once `fn` succeeded, when nothing is left: the measurements,
 * whose failure can leave the other measurement running, never cancelled before (cancelling it would add
 * a command their histories do not have). Run from another scope (a non-cancellable undo, another
 * `scoped`), or once the workflow is cancelled, it is a child of the current scope, as before.
 */
export async function scoped<T>(fn: () => Promise<T>, pending: 'cancel' | 'leave' = 'cancel'): Promise<T> {
  const current = CancellationScope.current();
  if (current.parent !== undefined || current.consideredCancelled) return within(new ShortScope(), fn, pending);
  const p = (parent ??= { scope: new ShortScope(), served: 0, running: 0, kept: false });
  p.served += 1;
  p.running += 1;
  try {
    return await within(new ShortScope({ cancellable: true, parent: p.scope }), fn, pending);
  } catch (err) {
    if (pending === 'leave') {
      p.kept = true;
      if (parent === p) parent = null;
    }
    throw err;
  } finally {
    p.running -= 1;
    if (p.running === 0 && p.served >= PER_PARENT && !p.kept) {
      p.scope.cancel();
      if (parent === p) parent = null;
    }
  }
}

function within<T>(scope: CancellationScope, fn: () => Promise<T>, pending: 'cancel' | 'leave'): Promise<T> {
  return scope.run(async () => {
    let done = false;
    try {
      const result = await fn();
      done = true;
      return result;
    } finally {
      if (done || pending === 'cancel') scope.cancel();
    }
  });
}

/**
 * A timer that a message can cut short: true if `wake` became true first. The timer carries a summary
 * so the event history reads as a story, and is cancelled when cut short.
 */
export async function sleepUntil(at: number, summary: string, wake: () => boolean): Promise<boolean> {
  if (wake()) return true;
  const ms = at - Date.now();
  if (!Number.isFinite(at)) {
    await condition(wake);
    return true;
  }
  if (ms <= 0) return false;
  const woken = await scoped(() => Promise.race([sleep(ms, { summary }).then(() => false), condition(wake).then(() => true)]));
  if (!woken) clockPast(at, 'timer due');
  return woken;
}

/**
 * Refuses an activation whose clock is before `at`, a time the events it brings prove has passed (a timer's
 * due time; an activity's scheduling plus how long it ran): the stale clock of a query's replay.
 */
function clockPast(at: number, what: string, slackMs = CLOCK_SLACK_MS): void {
  if (Date.now() + slackMs < at) throw new StaleClock(at, Date.now(), what);
}

/**
 * A takeChecks that settled (a reply, or a failure) came in a later task than the one that scheduled it,
 * whose clock is past the attempt's scheduling plus how long it ran. The duration is on the worker's
 * monotonic clock, which NTP may slew by up to 500 ppm: the slack grows with it, so a real task is never
 * refused. A clock not past the scheduling task's own is stale whatever the reply says.
 */
export function clockPastReply(scheduledAt: number, reply: { ranMs?: number; attemptScheduledAt?: number } | undefined): void {
  if (Date.now() <= scheduledAt) throw new StaleClock(scheduledAt, Date.now(), 'takeChecks settled after its scheduling');
  const ran = reply?.ranMs ?? 0;
  const from = Math.max(scheduledAt, reply?.attemptScheduledAt ?? 0);
  clockPast(from + ran, `takeChecks back after ${ran} ms`, CLOCK_SLACK_MS + Math.ceil(ran / 500));
}

export function failed(results: GateResult[]): GateResult[] {
  return results.filter((r) => r.outcome === 'fail');
}

export function failedSummary(results: GateResult[]): string {
  return failed(results).map((r) => `${r.gate} breached: ${r.summary}`).join('; ') || 'gates did not pass';
}

export { CANARY_GATES, SHADOW_GATES, causeOf, unavailable } from '../domain/looks';

/** An ISO time; clamped to the range Date can print, so no clock value or duration can make it throw. */
export function iso(ms: number): string {
  const safe = Number.isFinite(ms) ? Math.max(-8.64e15, Math.min(8.64e15, ms)) : ms > 0 ? 8.64e15 : -8.64e15;
  return new Date(safe).toISOString();
}

export function renderDetails(st: ReleaseStatus): string {
  const lines = [
    `## ${st.model} ${st.candidate} — ${st.phase}`,
    ``,
    `- **Traffic**: ${st.traffic.candidatePercent}% candidate ${st.candidate}, ${100 - st.traffic.candidatePercent}% champion ${st.champion}` +
      (st.traffic.shadowSampleRate ? `; shadow ${st.traffic.shadowSampleRate * 100}%` : ''),
    `- **Step** ${Math.min(st.stepIndex + 1, st.plan.length)} of ${st.plan.length}: ${st.plan[st.stepIndex]?.description ?? ''}`,
  ];
  if (st.nextTransitionAt) lines.push(`- **Next**: ${st.nextTransitionAt}`);
  if (st.pendingApproval) {
    lines.push(`- **Awaiting approval** by ${st.pendingApproval.approvers.join(', ') || 'anyone'} until ${st.pendingApproval.deadline}: ${st.pendingApproval.reason}`);
  }
  if (st.paused) lines.push(`- **Paused** by ${st.paused.by} until ${st.paused.deadline}: ${st.paused.reason}`);
  const gates = Object.values(st.gates);
  if (gates.length) {
    lines.push('', '| gate | outcome | measurement |', '|---|---|---|');
    for (const g of gates) lines.push(`| ${g.gate} | ${g.outcome} | ${g.summary.replace(/\|/g, '/')} |`);
  }
  if (st.rollback) lines.push('', `**Rollback** (${st.rollback.trigger}): ${st.rollback.reason}`);
  return lines.join('\n');
}

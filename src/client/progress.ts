// Following a release from outside: polls the workflow's `status` query and reports each new timeline
// entry once, until the release ends. The demo and `rollout start --wait` print with it.
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { ReleaseResult, ReleaseStatus, TimelineEntry } from '../domain/release';
import { statusQuery, type releaseWorkflow } from '../workflows/release';

export interface FollowOptions {
  intervalMs?: number;
  /** Called with each new timeline entry, and the status it came with. */
  onEntry?: (e: TimelineEntry, s: ReleaseStatus) => void;
  /** Called with every status polled. */
  onStatus?: (s: ReleaseStatus) => void;
  /** Stop following when this returns true (e.g. a pending approval with `--until approval`). */
  until?: (s: ReleaseStatus) => boolean;
  signal?: AbortSignal;
}

/**
 * The release's status from its query. A query that reaches a worker not caching the release, while the
 * worker that did is dead and events wait for a task, is refused as a stale activation
 * (src/workflows/interceptors.ts) until a worker takes that task, within about a workflow-task timeout:
 * asked again meanwhile, every `waitMs / 10`, rather than failing.
 */
export async function queryStatus(handle: Pick<WorkflowHandle<typeof releaseWorkflow>, 'query'>, waitMs = 30_000): Promise<ReleaseStatus> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return await handle.query(statusQuery);
    } catch (err) {
      if (!/stale activation/.test(String((err as Error | undefined)?.message)) || Date.now() >= until) throw err;
      await new Promise((r) => setTimeout(r, waitMs / 10));
    }
  }
}

/** Follows until the release ends (its result) or `until` holds (null). */
export async function followRelease(handle: WorkflowHandle<typeof releaseWorkflow>, opts: FollowOptions = {}): Promise<{ result: ReleaseResult | null; status: ReleaseStatus | null }> {
  const seen = new Map<string, number>();
  let done = false;
  const result = handle.result().then(
    (r) => ((done = true), r),
    (err: unknown) => ((done = true), Promise.reject(err)),
  );
  result.catch(() => undefined);
  while (!done && !opts.signal?.aborted) {
    try {
      const s = await handle.query(statusQuery);
      report(s, seen, opts);
      if (opts.until?.(s)) return { result: null, status: s };
    } catch (err) {
      // Between runs (continue-as-new) or as it closes, a query can miss; the result settles it.
      if (err instanceof WorkflowNotFoundError) throw err;
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, opts.intervalMs ?? 1_000).unref())]);
  }
  const final = await result;
  report(final.status, seen, opts);
  return { result: final, status: final.status };
}

function report(s: ReleaseStatus, seen: Map<string, number>, opts: FollowOptions): void {
  opts.onStatus?.(s);
  for (const e of s.timeline) {
    // Merged measurements come back with a growing count: report the first one only.
    const key = `${e.at}|${e.type}|${e.message}`;
    if (seen.has(key)) continue;
    seen.set(key, 1);
    opts.onEntry?.(e, s);
  }
}

/** One line for an entry: time, type, message, and who and why for human actions. */
export function formatEntry(e: TimelineEntry): string {
  const t = (e.lastAt ?? e.at).slice(11, 19);
  const who = e.by ? ` (${e.by}${e.reason ? `: ${e.reason}` : ''})` : '';
  const times = e.count && e.count > 1 ? ` ×${e.count}` : '';
  return `${t}  ${e.type.padEnd(18)} ${e.message}${who}${times}`;
}

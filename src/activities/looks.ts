// The takeChecks activity: a timed analysis step's looks taken in the worker, with the same rules and
// the same judge as the workflow's own loop (src/domain/looks.ts), so a release checked every few
// seconds wakes its workflow every `wakeAfterMs` instead of at every look.
import { setTimeout as delay } from 'node:timers/promises';
import { CancelledFailure, type Context } from '@temporalio/activity';
import { analysisExit, recordLook } from '../domain/analysis';
import { ShadowReport, VariantStats, verdict } from '../domain/gates';
import { CANARY_GATES, SHADOW_GATES, activeElapsed, canaryLook, lookDue, nextLookAt, shadowLook, unavailable, type LooksReply, type LooksRequest } from '../domain/looks';
import type { Ports } from './ports';

/** A measurement is tried this many times, a second then two apart, before its look is missing data. */
const ATTEMPTS = 3;

/**
 * Sleeps `ms`, or throws the activity's CancelledFailure once it is cancelled. Not `ctx.sleep`: each of its
 * calls hangs a reaction on the activity's `cancelled` promise that keeps the call's timer, closures and
 * promises alive until the activity ends (SDK 1.24), and a takeChecks sleeps once a look for minutes, in
 * each of thousands of releases. Here the abort listener goes when the timer does.
 */
export async function sleepUnlessCancelled(ctx: Pick<Context, 'cancellationSignal'>, ms: number): Promise<void> {
  const signal = ctx.cancellationSignal;
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new CancelledFailure(String(signal.reason));
    throw err;
  }
}

async function retried<T>(ctx: Context, beat: () => void, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= ATTEMPTS || err instanceof CancelledFailure) throw err;
      beat();
      await sleepUnlessCancelled(ctx, 1_000 * 2 ** (attempt - 1));
    }
  }
}

/** What the Web UI shows of the activity while it runs (its heartbeat details): the looks so far, and the last. */
function progressOf(looks: LooksReply['looks']): { looks: number; last?: { at: string; outcome: string; summary: string } } {
  const last = looks.at(-1);
  if (!last) return { looks: 0 };
  return { looks: looks.length, last: { at: new Date(last.at).toISOString(), outcome: verdict(last.results), summary: last.results.map((r) => r.summary).join('; ') } };
}

export async function takeLooks(ports: Pick<Ports, 'metrics' | 'shadow'>, req: LooksRequest, ctx: Context): Promise<LooksReply> {
  const { subject: s, limits: l } = req;
  const p = req.progress;
  let requests = req.requests;
  const looks: LooksReply['looks'] = [];
  const began = Date.now();
  const ran = performance.now();
  const beat = () => ctx.heartbeat(progressOf(looks));
  const measure = (version: string, w: { from: number; to: number }) =>
    retried(ctx, beat, async () => VariantStats.parse(await ports.metrics.variantStats(s.model, version, w)));
  const look = async (at: number) => {
    if (req.kind === 'canary') return canaryLook(p, at, s, measure);
    const report = await retried(ctx, beat, async () => ShadowReport.parse(await ports.shadow.analyze({ model: s.model, champion: s.champion, candidate: s.candidate, from: p.startedAt, to: at })));
    requests = report.requests;
    return shadowLook(p, report, s);
  };
  for (;;) {
    const now = Date.now();
    const enough = req.kind === 'canary' || requests >= l.minRequests;
    if (analysisExit(p, l, activeElapsed(p, now), false, enough) !== null) break;
    if (looks.length > 0 && now - began >= req.wakeAfterMs) break;
    beat();
    const due = nextLookAt(p, l, now);
    if (due > now) await sleepUnlessCancelled(ctx, due - now);
    const at = Date.now();
    if (!lookDue(p, l, at)) continue;
    const results = await look(at).catch((err: unknown) => {
      if (err instanceof CancelledFailure) throw err;
      return unavailable(err, req.kind === 'canary' ? CANARY_GATES : SHADOW_GATES);
    });
    p.lastMeasuredAt = at;
    const breached = recordLook(p, results, activeElapsed(p, at), l.failureLimit);
    looks.push({ at, results });
    if (breached) break;
  }
  return { looks, progress: p, requests, ranMs: Math.floor(performance.now() - ran), attemptScheduledAt: ctx.info.currentAttemptScheduledTimestampMs };
}

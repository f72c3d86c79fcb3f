// The takeChecks activity's loop (src/activities/looks.ts) on the wall clock, with a metrics port that
// answers from a rule: when it comes back (its wake, a breach), what a failed read becomes, and that a
// cancelled release stops it.
import { getEventListeners } from 'node:events';
import { CancelledFailure, Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Ports, TimeWindow } from '../../../src/activities/ports';
import { sleepUnlessCancelled, takeLooks } from '../../../src/activities/looks';
import type { LooksReply, LooksRequest } from '../../../src/domain/looks';
import { STANDARD_GATES } from '../../../src/domain/manifest';
import { anInterval } from '../../helpers/builders';

const stats = anInterval;

/** Metrics by version; `down` makes every read fail. */
function metricsPort(candidateErrors: number, o: { down?: boolean } = {}) {
  const reads: { version: string; w: TimeWindow }[] = [];
  const ports = {
    metrics: {
      async variantStats(_model: string, version: string, w: TimeWindow) {
        reads.push({ version, w });
        if (o.down) throw new Error('prometheus: connection refused');
        return version === 'v2' ? stats(2_000, candidateErrors) : stats(18_000, 0.01);
      },
    },
    shadow: { analyze: () => Promise.reject(new Error('not a shadow step')) },
  } as unknown as Pick<Ports, 'metrics' | 'shadow'>;
  return { ports, reads };
}

function aRequest(o: { intervalMs?: number; wakeAfterMs?: number; minMs?: number } = {}): LooksRequest {
  const startedAt = Date.now();
  return {
    kind: 'canary',
    subject: { model: 'fraud', champion: 'v1', candidate: 'v2', gates: STANDARD_GATES, budget: { alpha: 0.005, nominalLooks: 100 } },
    limits: { minMs: o.minMs ?? 60_000, maxMs: 120_000, intervalMs: o.intervalMs ?? 50, failureLimit: STANDARD_GATES.failureLimit, minRequests: 0 },
    progress: { startedAt, pausedMs: 0, lastMeasuredAt: null, consecutiveFailures: 0, lastOutcome: null, lastResults: [], lastMeasuredElapsed: -1 },
    requests: 0,
    wakeAfterMs: o.wakeAfterMs ?? 400,
  };
}

/**
 * Every run forbids the SDK's `ctx.sleep`, whose every call stays alive until the activity ends: a sleep
 * through it (a look's wait or a retry's back-off) fails the test.
 */
const ctxSleep = jest.fn(() => Promise.reject(new Error('ctx.sleep called: it keeps every call alive until the activity ends')));
const run = (env: MockActivityEnvironment, ports: Pick<Ports, 'metrics' | 'shadow'>, req: LooksRequest) =>
  env.run(async () => {
    const ctx = Context.current();
    Object.defineProperty(ctx, 'sleep', { value: ctxSleep });
    return takeLooks(ports, req, ctx);
  }) as Promise<LooksReply>;

afterEach(() => {
  try {
    expect(ctxSleep).not.toHaveBeenCalled();
  } finally {
    ctxSleep.mockClear();
  }
});

describe('takeChecks: a step looked at every interval by the worker', () => {
  it('given a healthy candidate, when its wake comes, then it returns every look, an interval apart, each window following the last', async () => {
    const { ports, reads } = metricsPort(0.01);
    const req = aRequest({ intervalMs: 50, wakeAfterMs: 400 });
    const t0 = Date.now();
    const env = new MockActivityEnvironment();
    const reply = await run(env, ports, req);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(400);
    // How long it ran and when its attempt was scheduled: what the workflow's stale-clock guard compares.
    expect(reply.ranMs).toBeGreaterThanOrEqual(399);
    expect(reply.ranMs).toBeLessThanOrEqual(took + 1);
    expect(reply.attemptScheduledAt).toBe(env.context.info.currentAttemptScheduledTimestampMs);
    expect(reply.looks.length).toBeGreaterThanOrEqual(5);
    expect(reply.looks.length).toBeLessThanOrEqual(9);
    const ats = reply.looks.map((l) => l.at);
    for (let i = 1; i < ats.length; i++) expect((ats[i] as number) - (ats[i - 1] as number)).toBeGreaterThanOrEqual(50);
    expect(reply.looks.flatMap((l) => l.results).some((r) => r.outcome === 'fail')).toBe(false);
    expect(reply.progress.lastMeasuredAt).toBe(ats.at(-1));
    expect(reply.progress.consecutiveFailures).toBe(0);
    // The candidate's windows tile the step: each starts where the last look's ended.
    const windows = reads.filter((r) => r.version === 'v2').map((r) => r.w);
    expect(windows[0]?.from).toBe(req.progress.startedAt);
    for (let i = 1; i < windows.length; i++) expect(windows[i]?.from).toBe(windows[i - 1]?.to);
  });

  it('given a candidate erring at 20% against 1%, when the breaches reach the failure limit, then it returns at once, long before its wake', async () => {
    const { ports } = metricsPort(0.2);
    const t0 = Date.now();
    const reply = await run(new MockActivityEnvironment(), ports, aRequest({ intervalMs: 50, wakeAfterMs: 60_000 }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(reply.progress.consecutiveFailures).toBe(STANDARD_GATES.failureLimit);
    expect(reply.looks.at(-1)?.results.find((r) => r.gate === 'error-rate')?.outcome).toBe('fail');
  });

  it('given a healthy candidate with plenty of data, when a look at or past the minimum passes, then it returns at the step\'s end, before its wake', async () => {
    const { ports } = metricsPort(0.01);
    const t0 = Date.now();
    const reply = await run(new MockActivityEnvironment(), ports, aRequest({ intervalMs: 50, wakeAfterMs: 60_000, minMs: 300 }));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(reply.progress.lastOutcome).toBe('pass');
    expect(reply.progress.lastMeasuredElapsed).toBeGreaterThanOrEqual(300);
    expect(reply.looks.at(-1)?.results.map((r) => r.outcome)).toEqual(['pass', 'pass', 'pass']);
  });

  it('given metrics that cannot be read, then a look is retried, then recorded as missing data, never a pass', async () => {
    const { ports, reads } = metricsPort(0.01, { down: true });
    const reply = await run(new MockActivityEnvironment(), ports, aRequest({ intervalMs: 50, wakeAfterMs: 100 }));
    expect(reply.looks).toHaveLength(1);
    expect(reply.looks[0]?.results.map((r) => r.outcome)).toEqual(['insufficient-data', 'insufficient-data', 'insufficient-data']);
    expect(reply.looks[0]?.results[0]?.summary).toMatch(/metrics unavailable: prometheus: connection refused/);
    // Three tries of the candidate's read (the champion's reference is tried alongside).
    expect(reads.filter((r) => r.version === 'v2')).toHaveLength(3);
  }, 20_000);

  it('given a release that cancels it (an abort, a pause), then it stops with a cancellation, not a reply', async () => {
    const { ports } = metricsPort(0.01);
    const env = new MockActivityEnvironment();
    const reply = run(env, ports, aRequest({ intervalMs: 50, wakeAfterMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 200));
    env.cancel();
    await expect(reply).rejects.toBeInstanceOf(CancelledFailure);
  });

  it('given many looks, then it sleeps between them without ctx.sleep', async () => {
    const { ports } = metricsPort(0.01);
    const reply = await run(new MockActivityEnvironment(), ports, aRequest({ intervalMs: 20, wakeAfterMs: 300 }));
    expect(reply.looks.length).toBeGreaterThan(5);
  });
});

describe('sleepUnlessCancelled', () => {
  it('given a sleep that ends, then it leaves no listener on the activity\'s cancellation signal', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) await sleepUnlessCancelled({ cancellationSignal: controller.signal }, 1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('given a cancellation during the sleep, then it throws the activity\'s CancelledFailure at once', async () => {
    const controller = new AbortController();
    const reason = new CancelledFailure('CANCELLED');
    const slept = sleepUnlessCancelled({ cancellationSignal: controller.signal }, 60_000);
    controller.abort(reason);
    await expect(slept).rejects.toBe(reason);
  });

  it('given an activity already cancelled, then it throws before sleeping', async () => {
    const controller = new AbortController();
    controller.abort(new CancelledFailure('CANCELLED'));
    await expect(sleepUnlessCancelled({ cancellationSignal: controller.signal }, 60_000)).rejects.toBeInstanceOf(CancelledFailure);
  });
});

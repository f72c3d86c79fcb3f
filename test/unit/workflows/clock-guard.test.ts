// The stale-clock guard's rule, activation by activation: it refuses only a live activation that brings
// server events on exactly the clock of the one before (what a query's replay gives, measured in
// test/workflows/replay.test.ts), and nothing else: no replayed history, no clock going back, no
// follow-up of the same task.
import type { coresdk } from '@temporalio/proto';
import { ClockGuard } from '../../../src/workflows/interceptors';

type Job = coresdk.workflow_activation.IWorkflowActivationJob;
const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 }) as never;
const T = Date.parse('2026-12-06T05:35:33.727Z');
const activity: Job = { resolveActivity: { seq: 1, result: { completed: {} } } };

function run(guard: ClockGuard, clock: number, jobs: Job[], isReplaying = false): string | null {
  try {
    guard.activate({ activation: { timestamp: at(clock), jobs, isReplaying }, batchIndex: 0 }, () => undefined);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function started(): ClockGuard {
  const g = new ClockGuard();
  expect(run(g, T, [{ initializeWorkflow: {} }], true)).toBeNull();
  return g;
}

it('given a live activation with an activity result on the clock of the one before, then it is refused as stale', () => {
  expect(run(started(), T, [activity])).toBe(
    'events after the activation at 2026-12-06T05:35:33.727Z came with the workflow clock at 2026-12-06T05:35:33.727Z: stale activation, not deciding on it',
  );
  expect(run(started(), T, [{ fireTimer: { seq: 1 } }])).toMatch(/stale activation/);
  expect(run(started(), T, [{ signalWorkflow: { signalName: 'pause' } }])).toMatch(/stale activation/);
});

it('given a later clock, then it decides', () => {
  expect(run(started(), T + 1, [activity])).toBeNull();
});

it('given a clock that went back (skew between worker and server, a server clock stepped back), then it decides', () => {
  expect(run(started(), T - 50, [activity])).toBeNull();
});

it('given history being replayed, then nothing is refused, whatever its clocks', () => {
  expect(run(started(), T, [activity], true)).toBeNull();
});

it('given follow-ups of the same task on its clock, then they are not refused: a local activity, a cancellation, queries', () => {
  const g = started();
  expect(run(g, T, [{ resolveActivity: { seq: 2, isLocal: true, result: { completed: {} } } }])).toBeNull();
  expect(run(g, T, [{ resolveActivity: { seq: 3, result: { cancelled: {} } } }])).toBeNull();
  expect(run(g, T, [{ queryWorkflow: { queryId: 'q', queryType: 'status' } }])).toBeNull();
});

it('given a local activity that moved the clock, then events on that clock are stale', () => {
  const g = started();
  expect(run(g, T + 3, [{ resolveActivity: { seq: 2, isLocal: true, result: { completed: {} } } }])).toBeNull();
  expect(run(g, T + 3, [activity])).toMatch(/stale activation/);
});

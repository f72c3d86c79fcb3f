// `rollout status` asks again when a query is refused as a stale activation, and only then.
import { queryStatus } from '../../src/client/progress';
import type { ReleaseStatus } from '../../src/domain/release';

const STALE = 'events after the activation at 2026-12-06T05:35:33.727Z came with the workflow clock at 2026-12-06T05:35:33.727Z: stale activation, not deciding on it';
const status = { phase: 'baking' } as unknown as ReleaseStatus;

function handle(failures: Error[]) {
  let calls = 0;
  return {
    calls: () => calls,
    query: (async () => {
      calls++;
      const err = failures.shift();
      if (err) throw err;
      return status;
    }) as never,
  };
}

it('given a query refused twice as a stale activation, then it asks again and returns the status', async () => {
  const h = handle([new Error(STALE), new Error(STALE)]);
  await expect(queryStatus(h, 1_000)).resolves.toBe(status);
  expect(h.calls()).toBe(3);
});

it('given any other query failure, then it fails at once', async () => {
  const h = handle([new Error('Workflow is not registered')]);
  await expect(queryStatus(h, 1_000)).rejects.toThrow('Workflow is not registered');
  expect(h.calls()).toBe(1);
});

it('given stale refusals that outlast the wait, then it fails with the refusal', async () => {
  const h = handle(Array.from({ length: 100 }, () => new Error(STALE)));
  await expect(queryStatus(h, 200)).rejects.toThrow(/stale activation/);
  expect(h.calls()).toBeGreaterThanOrEqual(2);
  expect(h.calls()).toBeLessThanOrEqual(12);
});

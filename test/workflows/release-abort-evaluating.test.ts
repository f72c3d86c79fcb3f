// Its own file, so its own time-skipping server: after an activity is cancelled, the Java test server
// keeps time skipping locked for a while, which would stall the next tests sharing it.
import { actionUpdates } from '../../src/workflows/release';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';

let h: Harness;
beforeAll(async () => void (h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

it('given a long offline evaluation with a heartbeat timeout of seconds, when aborted, then the evaluation is cancelled and nothing is left changed', async () => {
  const ports = new StubPorts();
  ports.evaluationDelayMs = 60_000;
  const m = aManifest();
  await h.withWorker(ports, async (q) => {
    const handle = await h.start(q, m);
    await h.until(handle, 'evaluating', { step: 100 });
    // A worker that dies mid-evaluation is noticed within seconds: the heartbeat timeout, not 5 minutes.
    const history = await handle.fetchHistory();
    const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'evaluateOffline');
    const heartbeat = Number(scheduled?.activityTaskScheduledEventAttributes?.heartbeatTimeout?.seconds ?? 0);
    expect(heartbeat).toBeGreaterThan(0);
    expect(heartbeat).toBeLessThanOrEqual(15);
    const started = Date.now();
    await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'dave', reason: 'wrong artifact' }] });
    const result = await handle.result();
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.outcome).toBe('aborted');
    expect(ports.routeLog).toEqual([]);
    expect(ports.aliases.has(`${m.model}:challenger`)).toBe(false);
    expect(ports.outcomes.at(-1)).toMatchObject({ version: 'v2', outcome: 'aborted' });
  });
});

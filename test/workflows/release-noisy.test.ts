// The real workflow against sampled metrics (src/simulate/scenario.ts with a fixed seed): a healthy
// candidate is promoted through every noisy look, and a late breach still rolls back within minutes.
import { parseScenario, ScenarioPorts } from '../../src/simulate/scenario';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';

let h: Harness;
beforeAll(async () => void (h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

// The standard preset with domain defaults: 48 h shadow, 5/25/50% bakes of 24 h every 5 min, 72 h watch.
const standard = () => ({ ...aManifest(), timings: {}, gates: {} });

it('given a candidate identical to its champion and noisy measurements (seed 1), when the standard plan runs, then it is promoted', async () => {
  const ports = new ScenarioPorts(parseScenario({ requestsPerMinute: 1000, dailyCycle: { amplitude: 0.1 } }), 'v1', 1);
  const result = await h.release(ports, standard());
  expect(result.outcome).toBe('promoted');
  const measurements = result.status.timeline.filter((e) => e.type === 'measurement').reduce((n, e) => n + (e.count ?? 1), 0);
  expect(measurements).toBeGreaterThan(1500);
  expect(result.status.gates['error-rate']?.summary).toMatch(/could detect/);
}, 120_000);

it('given errors 1% → 4% from hour 12 of the 5% bake (seed 1), then traffic is back on the champion within 45 minutes of the onset', async () => {
  const onset = 60 * 3_600_000;
  const ports = new ScenarioPorts(parseScenario({ requestsPerMinute: 1000, candidate: [{ at: '60h', errorRate: 0.04 }] }), 'v1', 1);
  const result = await h.release(ports, standard());
  const s = result.status;
  expect(s.rollback).toMatchObject({ trigger: 'gate-breach' });
  expect(s.rollback?.evidence.map((e) => e.gate)).toEqual(['error-rate']);
  const restored = Date.parse(s.rollback?.trafficRestoredAt as string) - Date.parse(s.startedAt);
  expect(restored).toBeGreaterThan(onset);
  expect(restored).toBeLessThan(onset + 45 * 60_000);
}, 120_000);

import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { aManifest } from '../helpers/builders';
import { Harness, registerSearchAttributes } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';
import { bundle, timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await timeSkippingEnv();
  await registerSearchAttributes(env);
  h = new Harness(env, await bundle());
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

describe('a clean release', () => {
  it('given healthy metrics, when the standard plan runs, then the candidate ends at 100% and the champion is retired', async () => {
    const ports = new StubPorts();
    const m = aManifest();
    const result = await h.release(ports, m);

    expect(result.outcome).toBe('promoted');
    expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
    const weights = ports.routeLog.map((r) => r.variants.find((v) => v.version === 'v2')?.weight);
    expect(weights).toEqual([0, 0, 5, 25, 50, 100, 100]);
    expect(ports.routeLog[0]?.shadow).toEqual({ version: 'v2', sampleRate: 1 });
    expect(ports.aliases.get(`${m.model}:champion`)).toBe('v2');
    expect(ports.archived).toEqual([`${m.model}:v1`]);
    expect(ports.outcomes.map((o) => o.outcome)).toEqual(['promoted']);
    expect(result.status.plan.map((s) => s.kind)).toEqual([
      'evaluate', 'shadow', 'setTraffic', 'bake', 'setTraffic', 'bake', 'setTraffic', 'bake', 'fullRollout', 'watch', 'retire',
    ]);
  });
});

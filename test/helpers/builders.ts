// Builders for test inputs: a release whose every duration is short enough to read in a test.
import type { VariantStats } from '../../src/domain/gates';
import type { ReleaseManifestInput } from '../../src/domain/manifest';
import { expectedLatencyHistogram } from '../../src/simulate/sampling';
import { uniqueModel } from './temporal';

export function aManifest(overrides: Partial<ReleaseManifestInput> = {}): ReleaseManifestInput {
  return {
    apiVersion: 'model-rollout/v1',
    kind: 'Release',
    model: uniqueModel('fraud'),
    candidate: 'v2',
    champion: 'v1',
    strategy: 'standard',
    approvals: { approvers: ['alice', 'bob'], timeout: '2h', reminderBefore: '30m' },
    timings: {
      canarySteps: [5, 25, 50],
      bake: '1h',
      interval: '5m',
      bakeExtension: '30m',
      shadow: { minRequests: 1000, minDuration: '2h', maxDuration: '6h', interval: '30m', sampleRate: 1 },
      watch: '6h',
      watchWindow: '1h',
    },
    gates: { minSampleSize: 200 },
    ...overrides,
  };
}

/** One interval's counts for a variant: n requests erring at this rate, 30% successes, p99 80 ms. */
export function anInterval(n: number, errorRate: number): VariantStats {
  return {
    requests: n,
    errors: Math.round(n * errorRate),
    outcomes: n,
    successes: Math.round(n * 0.3),
    latencyP99Ms: 80,
    latencyHistogram: expectedLatencyHistogram(n, 40, 80),
  };
}

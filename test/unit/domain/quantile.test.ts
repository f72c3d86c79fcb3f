import fc from 'fast-check';
import { latencyHistogram } from '../../../src/adapters/prometheus';
import { histogramQuantile, sampleQuantile } from '../../../src/domain/quantile';
import { StatsStore } from '../../../src/gateway/stats';

const samples = fc.array(fc.double({ min: 0.1, max: 5_000, noNaN: true }), { minLength: 1, maxLength: 300 });
const q = fc.constantFrom(0.5, 0.9, 0.95, 0.99, 1);

describe('one quantile definition', () => {
  it('given samples, then nearest rank equals the histogram quantile with one bucket per distinct value', () => {
    fc.assert(
      fc.property(samples, q, (xs, p) => {
        const counts = new Map<number, number>();
        for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
        const h = [...counts.entries()].sort(([a], [b]) => a - b);
        expect(histogramQuantile(h, p)).toBe(sampleQuantile(xs, p));
      }),
    );
  });

  it('given any bucket grid, then the histogram quantile is the upper bound of the bucket holding the sample quantile', () => {
    fc.assert(
      fc.property(samples, q, fc.uniqueArray(fc.integer({ min: 1, max: 6_000 }), { minLength: 1, maxLength: 30 }), (xs, p, bounds) => {
        const grid = [...bounds.sort((a, b) => a - b), Infinity];
        const h = grid.map((b, i) => [b, xs.filter((x) => x <= b && (i === 0 || x > (grid[i - 1] as number))).length] as const);
        const exact = sampleQuantile(xs, p) as number;
        const reported = histogramQuantile(h, p) as number;
        expect(reported).toBeGreaterThanOrEqual(exact);
        expect(grid.find((b) => b >= exact)).toBe(reported);
      }),
    );
  });

  it('given the same requests, then the Prometheus provider and the embedded gateway read p99 by the same definition', () => {
    // Prometheus: cumulative `le` buckets in seconds; the gateway: its own log-spaced buckets. On a grid
    // both share, the definition gives one number.
    const ms = [...Array.from({ length: 990 }, () => 4), ...Array.from({ length: 10 }, () => 30)];
    const le = [0.005, 0.01, 0.025, 0.05, 0.1];
    const cumulative = [...le.map((b) => ({ metric: { le: String(b) }, value: ms.filter((x) => x <= b * 1000).length })), { metric: { le: '+Inf' }, value: ms.length }];
    expect(histogramQuantile(latencyHistogram(cumulative), 0.99)).toBe(5);
    expect(histogramQuantile(latencyHistogram(cumulative), 0.995)).toBe(50);
    const store = new StatsStore(3600, () => 1_000);
    for (const x of ms) store.recordRequest('m', 'v', { latencyMs: x, ok: true });
    const w = store.window('m', 'v', 0, 2_000);
    expect(w.latencyP99Ms).toBe(histogramQuantile(w.latencyHistogram, 0.99));
    expect(w.latencyP99Ms).toBeGreaterThanOrEqual(4);
    expect(w.latencyP99Ms).toBeLessThan(4 * 1.1);
  });
});

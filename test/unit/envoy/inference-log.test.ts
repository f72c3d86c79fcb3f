import { InferenceLog } from '../../../src/inference-log/store';

describe('the inference log', () => {
  it('given both versions’ answers to the same requests, then it counts pairs, divergence and PSI; unmatched and duplicate answers count nothing', () => {
    let now = 1_000_000;
    const log = new InferenceLog({ now: () => now });
    for (let i = 0; i < 100; i++) {
      log.record({ model: 'm', version: 'v1', requestId: `r${i}`, label: 'yes' });
      log.record({ model: 'm', version: 'v2', requestId: `r${i}`, label: i % 4 === 0 ? 'no' : 'yes' });
      log.record({ model: 'm', version: 'v2', requestId: `r${i}`, label: 'no' }); // redelivered: ignored
    }
    log.record({ model: 'm', version: 'v1', requestId: 'lonely', label: 'yes' });
    log.record({ model: 'other', version: 'v2', requestId: 'r1', label: 'no' });
    const w = log.shadowWindow({ model: 'm', champion: 'v1', candidate: 'v2', from: 0, to: now + 1_000 });
    expect(w).toMatchObject({ requests: 100, divergent: 25 });
    expect(w.psi).toBeGreaterThan(1);
    expect(log.shadowWindow({ model: 'm', champion: 'v1', candidate: 'v3', from: 0, to: now + 1_000 })).toEqual({ requests: 0, divergent: 0, psi: null });
    expect(log.shadowWindow({ model: 'm', champion: 'v1', candidate: 'v2', from: now + 1_000, to: now + 2_000 }).requests).toBe(0);
    now += 6 * 60_000;
    log.record({ model: 'm', version: 'v1', requestId: 'late', label: 'yes' });
    expect(log.dropped).toBe(2 + 0); // 'lonely' and other/r1 expired unmatched
  });

  it('given pairs older than the retention, then a sweep drops them and deletes the emptied series; new series stop at the cap', () => {
    let now = 1_000_000;
    const log = new InferenceLog({ now: () => now, retentionMs: 3_600_000, maxSeries: 3 });
    for (let m = 0; m < 5; m++) {
      log.record({ model: `m${m}`, version: 'v1', requestId: 'r', label: 'a' });
      log.record({ model: `m${m}`, version: 'v2', requestId: 'r', label: 'a' });
    }
    expect(log.seriesCount).toBe(3);
    expect(log.refused).toBe(2);
    now += 2 * 3_600_000;
    log.record({ model: 'm9', version: 'v1', requestId: 'x', label: 'a' });
    expect(log.seriesCount).toBe(0);
    expect(log.shadowWindow({ model: 'm0', champion: 'v1', candidate: 'v2', from: 0, to: now }).requests).toBe(0);
  });

  it('given a flood of answers that never pair, then it keeps at most maxPending and drops the oldest', () => {
    const log = new InferenceLog({ maxPending: 1_000 });
    for (let i = 0; i < 5_000; i++) log.record({ model: 'm', version: 'v1', requestId: `r${i}`, label: 'x' });
    expect(log.pendingSize).toBeLessThanOrEqual(1_000);
    expect(log.dropped).toBe(4_000);
    // The newest still pair.
    log.record({ model: 'm', version: 'v2', requestId: 'r4999', label: 'x' });
    expect(log.shadowWindow({ model: 'm', champion: 'v1', candidate: 'v2', from: 0, to: Date.now() + 1_000 }).requests).toBe(1);
  });
});

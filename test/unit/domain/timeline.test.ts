// The timeline's merging rules and bounds: whatever a release meets, its state stays far below the
// server's payload limits, and how it began and ended is never dropped.
import type { TimelineEntry } from '../../../src/domain/release';
import { TIMELINE_LIMITS, appendEntry, appendMeasurement, compact } from '../../../src/domain/timeline';

const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
const REASON = 'x'.repeat(2000);

describe('timeline', () => {
  it('given a flood of refused actions with long reasons, then it keeps a bounded sample and counts the rest', () => {
    const t: TimelineEntry[] = [{ at: at(0), type: 'started', message: 'release started' }];
    let removed = 0;
    for (let i = 1; i <= 5000; i++) {
      // Alternating people, so consecutive refusals do not simply merge.
      removed += appendEntry(t, { at: at(i), type: 'action-ignored', message: 'approve ignored: release is not awaiting approval', by: `user-${i % 2}`, reason: REASON });
    }
    expect(t.filter((e) => e.type === 'action-ignored')).toHaveLength(TIMELINE_LIMITS.ignored);
    expect(removed).toBe(5000 - TIMELINE_LIMITS.ignored);
    expect(t[0]?.type).toBe('started');
    expect(Math.max(...t.map((e) => e.reason?.length ?? 0))).toBeLessThanOrEqual(TIMELINE_LIMITS.reason);
    expect(JSON.stringify(t).length).toBeLessThan(50_000);
  });

  it('merges the same refusal repeated by the same person into one entry with a count', () => {
    const t: TimelineEntry[] = [];
    for (let i = 0; i < 100; i++) appendEntry(t, { at: at(i), type: 'action-ignored', message: 'resume ignored: release is not paused', by: 'bob' });
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ count: 100, lastAt: at(99) });
  });

  it('merges unchanged verdicts of one step; a fail always stands alone; only recent measurements keep their data', () => {
    const t: TimelineEntry[] = [];
    for (let i = 0; i < 50; i++) appendMeasurement(t, { at: at(i), step: 3, outcome: 'pass', message: 'pass: fine', data: [i] });
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ count: 50, data: [49] });
    for (let i = 0; i < 100; i++) appendMeasurement(t, { at: at(100 + i), step: 3, outcome: i % 2 ? 'pass' : 'insufficient-data', message: `${i % 2 ? 'pass' : 'insufficient-data'}: flapping`, data: [i] });
    appendMeasurement(t, { at: at(300), step: 3, outcome: 'fail', message: 'fail: breach', data: ['evidence'] });
    appendMeasurement(t, { at: at(301), step: 3, outcome: 'fail', message: 'fail: breach', data: ['evidence'] });
    expect(t.filter((e) => e.message === 'fail: breach')).toHaveLength(2);
    expect(t.filter((e) => e.data !== undefined && !e.message.startsWith('fail:')).length).toBeLessThanOrEqual(TIMELINE_LIMITS.measurementData);
  });

  it('given days of flapping measurements and thousands of accepted actions, then it stays within its entry bound and keeps the start', () => {
    const t: TimelineEntry[] = [{ at: at(0), type: 'started', message: 'release started' }];
    for (let i = 1; i <= 3000; i++) {
      appendMeasurement(t, { at: at(i), step: 4, outcome: i % 2 ? 'pass' : 'insufficient-data', message: `${i % 2 ? 'pass' : 'insufficient-data'}: ${'m'.repeat(5000)}`, data: { big: 'd'.repeat(3000) } });
      appendEntry(t, { at: at(i), type: 'action', message: i % 2 ? 'pause' : 'resume', by: 'erin', reason: REASON });
    }
    expect(t.length).toBeLessThanOrEqual(TIMELINE_LIMITS.entries);
    expect(t[0]?.type).toBe('started');
    expect(Math.max(...t.map((e) => e.message.length))).toBeLessThanOrEqual(TIMELINE_LIMITS.message);
    // The worst case the bounds allow, measured: well under the server's 2 MB payload limit.
    expect(JSON.stringify(t).length).toBeLessThan(600_000);
  });

  it('compacts below a byte budget before continue-as-new, never dropping how the release began', () => {
    const t: TimelineEntry[] = [{ at: at(0), type: 'started', message: 'release started' }];
    for (let i = 1; i < 300; i++) t.push({ at: at(i), type: 'action', message: 'pause', by: 'erin', reason: 'r'.repeat(300) });
    const removed = compact(t, () => JSON.stringify(t).length, 20_000);
    expect(removed).toBeGreaterThan(0);
    expect(JSON.stringify(t).length).toBeLessThanOrEqual(20_000);
    expect(t[0]?.type).toBe('started');
  });
});

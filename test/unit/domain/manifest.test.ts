import { ManifestError, parseAcceptedManifest, parseManifest } from '../../../src/domain/manifest';
import { expandPlan, finalApprovalReasons } from '../../../src/domain/plan';

const base = { apiVersion: 'model-rollout/v1', kind: 'Release', model: 'fraud', candidate: 'v2', champion: 'v1' };
const ctx = { lastRollbackAt: null, now: Date.parse('2026-11-22T00:00:00Z') };
const issues = (raw: unknown) => {
  try {
    parseManifest(raw);
  } catch (e) {
    return (e as ManifestError).issues;
  }
  throw new Error('expected the manifest to be refused');
};

describe('release manifest', () => {
  it('expands the standard preset with the domain defaults', () => {
    const plan = expandPlan(parseManifest(base), ctx);
    expect(plan.map((s) => s.kind)).toEqual(['evaluate', 'shadow', 'setTraffic', 'bake', 'setTraffic', 'bake', 'setTraffic', 'bake', 'fullRollout', 'watch', 'retire']);
    expect(plan[1]).toMatchObject({ minRequests: 10_000, minDuration: 48 * 3_600_000 });
    expect(plan[3]).toMatchObject({ duration: 24 * 3_600_000, interval: 5 * 60_000 });
    expect(plan[9]).toMatchObject({ duration: 72 * 3_600_000 });
  });

  it('names every bad field by its path', () => {
    const found = issues({ ...base, candidate: 'v1', blastRadius: 'huge', timings: { bake: '1 day', canarySteps: [5, 150] }, gates: { errorRate: { maxIncreasePoints: -1 } }, extra: 1 });
    expect(found).toEqual([
      { path: 'blastRadius', message: 'Invalid option: expected one of "low"|"medium"|"high"' },
      { path: 'timings.canarySteps[1]', message: 'Too big: expected number to be <100' },
      { path: 'timings.bake', message: 'expected a duration such as "30s", "15m", "24h" or "3d"' },
      { path: 'gates.errorRate.maxIncreasePoints', message: 'Too small: expected number to be >=0' },
      { path: 'extra', message: 'unknown field' },
    ]);
  });

  it('refuses a plan whose steps are out of order', () => {
    const found = issues({ ...base, plan: [{ kind: 'bake' }, { kind: 'setTraffic', percent: 50 }, { kind: 'setTraffic', percent: 25 }, { kind: 'fullRollout' }, { kind: 'shadow' }] });
    expect(found.map((i) => i.path)).toEqual(['plan[0].kind', 'plan[4].kind', 'plan[2].percent']);
  });

  it('requires a named approver for a high blast radius', () => {
    expect(issues({ ...base, blastRadius: 'high' }).map((i) => i.path)).toEqual(['approvals.approvers']);
  });

  it('adds a final approval for high blast radius, loose gates, or a recent rollback', () => {
    const high = parseManifest({ ...base, blastRadius: 'high', approvals: { approvers: ['a'] } });
    expect(expandPlan(high, ctx).at(-4)).toMatchObject({ kind: 'approval' });
    const loose = parseManifest({ ...base, gates: { errorRate: { maxIncreasePoints: 2 } } });
    expect(finalApprovalReasons(loose, ctx)).toEqual(['gates looser than the standard release: errorRate.maxIncreasePoints']);
    const recent = parseManifest(base);
    expect(finalApprovalReasons(recent, { ...ctx, lastRollbackAt: ctx.now - 86_400_000 })[0]).toMatch(/rolled back/);
    expect(finalApprovalReasons(recent, { ...ctx, lastRollbackAt: ctx.now - 8 * 86_400_000 })).toEqual([]);
  });
});

describe('a manifest accepted before the schemas became strict', () => {
  const base = { apiVersion: 'model-rollout/v1', kind: 'Release', model: 'm', candidate: 'v2' };
  it('drops unknown keys at any depth, as the schema did then, so a release in flight replays as it ran', () => {
    const m = parseAcceptedManifest({ ...base, gates: { minSampleSze: 50, latency: { p99: 1 } }, plan: [{ kind: 'fullRollout', foo: 1 }] });
    expect(m.gates.minSampleSize).toBe(1000);
    expect(m.plan).toEqual([{ kind: 'fullRollout', mode: 'weighted' }]);
    expect(() => parseManifest({ ...base, gates: { minSampleSze: 50 } })).toThrow(/gates\.minSampleSze: unknown field/);
  });
  it('still refuses every other issue', () => {
    expect(() => parseAcceptedManifest({ ...base, typo: 1, timings: { bake: '1 day' } })).toThrow(/timings\.bake/);
  });
});

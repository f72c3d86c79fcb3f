// Property-based fuzzing of every external input's schema: thousands of generated manifests, scenarios
// and action payloads per run. Nothing crashes; every rejection names its field; everything accepted is
// within the bounds the workflow relies on (finite dates, increasing canary steps, a finite budget).
import fc from 'fast-check';
import { MAX_DURATION_MS } from '../../../src/domain/duration';
import { allocateBudget } from '../../../src/domain/judge';
import { ManifestError, parseManifest, type ReleaseManifest } from '../../../src/domain/manifest';
import { describeStep, expandPlan } from '../../../src/domain/plan';
import { ActionPayload, ReleaseWorkflowInputSchema } from '../../../src/domain/release';
import { parseScenario, ScenarioError } from '../../../src/simulate/scenario';

const BASE = { apiVersion: 'model-rollout/v1', kind: 'Release', model: 'fraud', candidate: 'v2', champion: 'v1' };

/** Paths a user writes, each with a plausible typo beside it. */
const PATHS = [
  ['strategy'], ['blastRadius'], ['description'], ['candidate'], ['champion'], ['model'],
  ['timings', 'canarySteps'], ['timings', 'bake'], ['timings', 'interval'], ['timings', 'watch'], ['timings', 'watchHoldback'],
  ['timings', 'bakeExtension'], ['timings', 'shadow', 'minDuration'], ['timings', 'shadow', 'interval'], ['timings', 'shadow', 'minReqs'],
  ['gates', 'minSampleSize'], ['gates', 'minSampleSze'], ['gates', 'falseRollbackRate'], ['gates', 'failureLimit'],
  ['gates', 'businessMetric', 'name'], ['gates', 'businessMetric', 'maxRelativeDrop'], ['gates', 'latency', 'p99SlaMs'], ['gates', 'latency', 'p99'],
  ['gates', 'errorRate', 'maxIncreasePoints'], ['gates', 'shadow', 'maxPsi'], ['gates', 'evaluation', 'metric'],
  ['approvals', 'approvers'], ['approvals', 'timeout'], ['approvals', 'onTimeout'], ['approvals', 'holdFor'],
  ['pause', 'timeout'], ['pause', 'onTimeout'], ['notifications', 'webhooks'], ['plan'], ['extra'],
];

const durations = fc.oneof(
  fc.constantFrom('0s', '1ms', '999ms', '1s', '5m', '24h', '3d', '365d', '366d', '100000001d', `${'9'.repeat(400)}s`, '1 day', '-5m', '', '5M'),
  fc.tuple(fc.nat(10_000), fc.constantFrom('ms', 's', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
);
const values = fc.oneof(
  durations,
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, 1, 0.05, 0.5, 100, 1e308),
  fc.string({ maxLength: 40 }),
  fc.constant('x'.repeat(200_000)),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -10, max: 120 }), { maxLength: 6 }),
  fc.array(fc.record({ kind: fc.constantFrom('setTraffic', 'bake', 'approval', 'fullRollout', 'watch', 'retire', 'shadow', 'nope'), percent: fc.integer({ min: -1, max: 101 }), interval: durations }, { requiredKeys: ['kind'] }), { maxLength: 6 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
);

function setPath(target: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(target);
  let node = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1) as string] = value;
  return copy;
}

const manifests = fc.array(fc.tuple(fc.constantFrom(...PATHS), values), { minLength: 1, maxLength: 4 }).map((edits) => edits.reduce((m, [path, v]) => setPath(m, path, v), BASE as Record<string, unknown>));

function checkAccepted(m: ReleaseManifest): void {
  const plan = expandPlan(m, { lastRollbackAt: null, now: Date.now() });
  const now = Date.now();
  for (const step of plan) {
    describeStep(step);
    for (const v of Object.values(step)) {
      if (typeof v === 'number') {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeLessThanOrEqual(Math.max(MAX_DURATION_MS, 1e9));
      }
    }
    if ('interval' in step) expect(step.interval).toBeGreaterThanOrEqual(1_000);
  }
  // Every date the workflow derives from a duration prints.
  for (const ms of [m.pause.timeout, m.approvals.timeout + m.approvals.holdFor]) expect(() => new Date(now + ms).toISOString()).not.toThrow();
  const steps = m.timings.canarySteps ?? [];
  steps.forEach((p, i) => i && expect(p).toBeGreaterThan(steps[i - 1] as number));
  for (const b of allocateBudget(plan, m.gates.falseRollbackRate)) if (b) expect(Number.isFinite(b.alpha) && b.alpha > 0).toBe(true);
}

describe('fuzzing the schemas', () => {
  it('manifests: nothing crashes, every rejection names a field, everything accepted is within bounds (3,000 inputs)', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(manifests, (raw) => {
        let m: ReleaseManifest;
        try {
          m = parseManifest(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(ManifestError);
          const issues = (err as ManifestError).issues;
          expect(issues.length).toBeGreaterThan(0);
          for (const i of issues) {
            expect(i.path.length).toBeGreaterThan(0);
            expect(i.message.length).toBeGreaterThan(0);
          }
          rejected += 1;
          return;
        }
        accepted += 1;
        checkAccepted(m);
      }),
      { numRuns: 3000, seed: 42 },
    );
    // The generator reaches both sides.
    expect(accepted).toBeGreaterThan(25);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('the typos the drills found are named by their own path', () => {
    const named = (edit: Record<string, unknown>) => {
      try {
        parseManifest({ ...BASE, ...edit });
        return 'accepted';
      } catch (err) {
        return (err as ManifestError).issues.map((i) => i.path).join(',');
      }
    };
    expect(named({ gates: { minSampleSze: 50 } })).toBe('gates.minSampleSze');
    expect(named({ gates: { latency: { p99: 1 } } })).toBe('gates.latency.p99');
    expect(named({ timings: { shadow: { minReqs: 1 } } })).toBe('timings.shadow.minReqs');
    expect(named({ plan: [{ kind: 'fullRollout', mode: 'weighted', holdbak: 5 }] })).toBe('plan[0].holdbak');
    expect(named({ pause: { timeout: '100000001d' } })).toBe('pause.timeout');
    expect(named({ timings: { bake: `${'9'.repeat(400)}s` } })).toBe('timings.bake');
    expect(named({ timings: { canarySteps: [50, 10] } })).toBe('timings.canarySteps');
    expect(named({ timings: { canarySteps: [10, 10] } })).toBe('timings.canarySteps');
    expect(named({ timings: { interval: '0ms' } })).toBe('timings.interval');
    expect(named({ gates: { businessMetric: { name: 'n'.repeat(1_000_000) } } })).toBe('gates.businessMetric.name');
  });

  it('scenarios: nothing crashes and every rejection names a field (2,000 inputs)', () => {
    const scenarioPaths = [['requestsPerMinute'], ['candidate'], ['champion'], ['shadow'], ['dailyCycle'], ['dailyCycle', 'amplitude'], ['approvals', 'decision'], ['approvals', 'after'], ['evaluation'], ['typo']];
    const scenarios = fc.array(fc.tuple(fc.constantFrom(...scenarioPaths), values), { maxLength: 3 }).map((edits) => edits.reduce((s, [p, v]) => setPath(s, p, v), {} as Record<string, unknown>));
    fc.assert(
      fc.property(scenarios, (raw) => {
        try {
          parseScenario(raw);
        } catch (err) {
          expect(err).toBeInstanceOf(ScenarioError);
          expect((err as Error).message).toMatch(/^invalid metric scenario:\n {2}\S/);
        }
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('action payloads and workflow inputs: any JSON is parsed without throwing, and unknown fields are refused (3,000 inputs)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        const a = ActionPayload.safeParse(raw);
        if (!a.success) expect(a.error.issues.length).toBeGreaterThan(0);
        const i = ReleaseWorkflowInputSchema.safeParse(raw);
        if (!i.success) expect(i.error.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000, seed: 3 },
    );
    expect(ActionPayload.safeParse({ by: 'alice', reason: 'ok', extra: 1 }).success).toBe(false);
    expect(ReleaseWorkflowInputSchema.safeParse(null).success).toBe(false);
    expect(ReleaseWorkflowInputSchema.safeParse({ manifest: null }).success).toBe(false);
    expect(ReleaseWorkflowInputSchema.safeParse({ manifest: {} }).success).toBe(true);
  });

  it('a run size limit below 1 MiB is refused naming the option: a run must have room after the state it carries', () => {
    const at = (historySizeLimit: unknown) => ReleaseWorkflowInputSchema.safeParse({ manifest: {}, options: { historySizeLimit } });
    expect(at(1024 * 1024).success).toBe(true);
    expect(at(50 * 1024 * 1024).success).toBe(true);
    for (const bad of [1024 * 1024 - 1, 0, 2.5e6 + 0.5, 51 * 1024 * 1024, '1MiB']) {
      const r = at(bad);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['options', 'historySizeLimit']);
    }
  });
});

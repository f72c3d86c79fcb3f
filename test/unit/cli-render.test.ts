import { renderDecisions, renderHistoryMarkdown, renderStatus, renderWatch, trafficBar } from '../../src/cli/render';
import type { ReleaseStatus } from '../../src/domain/release';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const errorGate = { gate: 'error-rate' as const, outcome: 'fail' as const, summary: 'error rate 3% vs 1% (+2 pts, allowed +0.5; p=0.001)', observed: 2, threshold: 0.5, evidence: { candidateRequests: 1200, pValue: 0.001 } };

const status = (over: Partial<ReleaseStatus> = {}): ReleaseStatus => ({
  releaseId: 'release/fraud/r1',
  model: 'fraud',
  candidate: '7',
  champion: '6',
  strategy: 'standard',
  blastRadius: 'medium',
  phase: 'awaiting-approval',
  outcome: null,
  stepIndex: 1,
  plan: [{ kind: 'setTraffic', description: 'canary traffic to 25%' }, { kind: 'approval', description: 'approval: risk signs off' }, { kind: 'fullRollout', description: '100% to the candidate' }],
  traffic: { candidatePercent: 25, mode: 'weighted', shadowSampleRate: 0, previousWarm: true },
  gates: { 'error-rate': { ...errorGate, outcome: 'pass', summary: 'error rate 1% vs 1%', at: iso(60_000) } },
  pendingApproval: { step: 1, reason: 'risk signs off', approvers: ['alice', 'bob'], requestedAt: iso(0), deadline: iso(2 * 3_600_000), onTimeout: 'abort', held: false },
  paused: null,
  nextTransitionAt: iso(2 * 3_600_000),
  startedAt: iso(0),
  updatedAt: iso(60_000),
  rollback: null,
  timeline: [
    { at: iso(0), type: 'started', message: 'release of fraud 7 started', by: 'ci-bot' },
    { at: iso(60_000), type: 'measurement', step: 0, message: 'pass: error rate 1% vs 1%', data: [{ ...errorGate, outcome: 'pass' }], count: 3, lastAt: iso(180_000) },
    { at: iso(200_000), type: 'action', message: 'approve', by: 'alice', reason: 'dash | green' },
  ],
  run: 1,
  ...over,
});

it('draws the traffic split as a bar', () => {
  expect(trafficBar(0)).toBe('░'.repeat(30));
  expect(trafficBar(50)).toBe(`${'█'.repeat(15)}${'░'.repeat(15)}`);
});

it('watch shows the plan position, the split, the gates, the approval deadline and the countdown', () => {
  const screen = renderWatch(status(), T0 + 3_600_000);
  expect(screen).toMatch(/✓ canary traffic to 25%\n\s+▶ approval: risk signs off\n\s+· 100% to the candidate/);
  expect(screen).toMatch(/traffic\s+7 ███████(█)?░+ 25%\s+6 75%/);
  expect(screen).toMatch(/error-rate\s+pass\s+error rate 1% vs 1%/);
  expect(screen).toMatch(/approval\s+risk signs off — approvers alice, bob — deadline in 1h, then abort/);
  expect(screen).toMatch(/next step\s+in 1h/);
});

it('status and watch add the looks a takeChecks has taken in the worker, which the release shows only when it comes back', () => {
  const live = { looks: 4, since: iso(1_000), attempt: 1, last: { at: iso(41_000), outcome: 'pass', summary: 'error rate 1% vs 1%' } };
  expect(renderStatus(status(), T0, live)).toMatch(/^ {2}looks {6}4 taken in the worker since 10:00:01, not yet above; last 10:00:41 pass: error rate 1% vs 1%$/m);
  expect(renderWatch(status(), T0, live)).toMatch(/^looks {6}4 taken in the worker since 10:00:01, not yet above; last 10:00:41 pass/m);
  expect(renderStatus(status(), T0, { looks: 0, since: iso(1_000), attempt: 2 })).toMatch(/^ {2}looks {6}0 taken in the worker since 10:00:01, attempt 2$/m);
  expect(renderStatus(status(), T0, null)).not.toMatch(/looks/);
});

it('status names the phase, traffic, approval and rollback', () => {
  const s = renderStatus(status({ phase: 'rolled-back', outcome: 'rolled-back', pendingApproval: null, rollback: { trigger: 'gate-breach', reason: 'error-rate breached', startedAt: iso(0), trafficRestoredAt: iso(1000), evidence: [errorGate], impact: { candidateRequests: 1200, candidateErrors: 36 }, compensationFailures: [] } }), T0);
  expect(s).toMatch(/phase\s+rolled-back — outcome rolled-back/);
  expect(s).toMatch(/rollback\s+gate-breach: error-rate breached; traffic restored 2026-11-23T10:00:01\.000Z/);
});

it('history is Markdown with who, when and why, each measurement with its evidence, and the rollback', () => {
  const md = renderHistoryMarkdown(status({ outcome: 'rolled-back', rollback: { trigger: 'gate-breach', reason: 'error-rate breached', startedAt: iso(0), trafficRestoredAt: iso(1000), completedAt: iso(2000), evidence: [errorGate], impact: { candidateRequests: 1200, candidateErrors: 36 }, compensationFailures: [] } }));
  expect(md).toMatch(/^# Release fraud 7: rolled-back\n/);
  expect(md).toMatch(/\| Requested by \| ci-bot \|/);
  expect(md).toMatch(/\| 2026-11-23T10:03:20\.000Z \| approve \| alice \| dash \\\| green \|/);
  expect(md).toMatch(/### Step 1: canary traffic to 25% — 2026-11-23T10:01:00\.000Z … 2026-11-23T10:03:00\.000Z \(3 measurements/);
  expect(md).toMatch(/\| error-rate \| pass \| 2 \| 0\.5 \| .* \| candidateRequests=1200, pValue=0\.001 \|/);
  expect(md).toMatch(/\| Trigger \| gate-breach \|\n\| By \| automatic \|/);
  expect(md).toMatch(/\| Candidate requests served \| 1200 \|/);
});

it('history of a release whose timeline was trimmed lists every action from the event history', () => {
  const md = renderHistoryMarkdown(status({ timelineTrimmed: 1970 }), [
    { at: iso(1000), kind: 'signal', name: 'approve', by: 'mallory', reason: 'let | me' },
    { at: iso(2000), kind: 'update', name: 'abort', by: 'dave', reason: 'flood over' },
  ]);
  expect(md).toMatch(/## Every action, from the event history\n\nThe release's timeline kept its bounds and dropped 1970 entries; these are all 2 signals/);
  expect(md).toMatch(/\| 2026-11-23T10:00:01\.000Z \| signal \| approve \| mallory \| let \\\| me \|/);
  expect(md).toMatch(/\| update \| abort \| dave \| flood over \|/);
});

it('simulation decisions carry their policy time since the start', () => {
  const lines = renderDecisions(status());
  expect(lines[0]).toMatch(/^T\+\s+0h00m {2}started\s+release of fraud 7 started \(ci-bot\)$/);
  expect(lines[1]).toMatch(/^T\+\s+0h03m {2}measurement .*\(×3\)$/);
});

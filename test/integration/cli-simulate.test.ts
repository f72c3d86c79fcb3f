// `rollout simulate` as a process: the real workflow under the time-skipping server against the
// committed example scenarios, for promotion, a breach, and too little traffic to decide; and the report
// it writes of one run or of many.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from '../helpers/cli';

const quick = () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-')), 'quick.yaml');
  // The standard plan with days cut to hours: the same decisions, fewer measurements.
  fs.writeFileSync(
    file,
    ['apiVersion: model-rollout/v1', 'kind: Release', 'model: fraud-detector', 'candidate: "7"', 'champion: "6"', 'timings:', '  shadow: { minRequests: 10000, minDuration: 6h, interval: 1h }', '  bake: 6h', '  interval: 15m', '  watch: 12h', ''].join('\n'),
  );
  return file;
};

it('given a healthy scenario, then the policy promotes, every decision at its policy time, exit 0', async () => {
  const r = await cli(['simulate', '-f', quick(), '--metrics', 'examples/scenarios/healthy.json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(/^T\+\s+0h00m\s+started/m);
  expect(r.stdout).toMatch(/^T\+\s+6h00m\s+step-completed\s+shadow/m);
  expect(r.stdout).toMatch(/^T\+\s+\d+h\d\dm\s+completed\s+promoted$/m);
  expect(r.stdout).toMatch(/^outcome: promoted; \d+\.\d h of policy time in \d+\.\d s$/m);
});

it('given an error spike during the 5% bake, then the standard policy rolls back on error rate with its evidence, exit 10', async () => {
  const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--json']);
  expect(r.code).toBe(10);
  const out = JSON.parse(r.stdout) as { outcome: string; rollback: { trigger: string; evidence: { gate: string; evidence: Record<string, unknown> }[] }; decisions: { type: string; sinceStartMs: number }[] };
  expect(out).toMatchObject({ outcome: 'rolled-back', rollback: { trigger: 'gate-breach' } });
  expect(out.rollback.evidence.find((e) => e.gate === 'error-rate')?.evidence).toMatchObject({ test: 'anytime-valid binomial mixture with change detection' });
  const breach = out.decisions.find((d) => d.type === 'rollback-started');
  // After the spike at 60 h, within the 5% bake (48 h to 72 h).
  expect(breach?.sinceStartMs).toBeGreaterThan(60 * 3_600_000);
  expect(breach?.sinceStartMs).toBeLessThan(72 * 3_600_000);
});

it('given the spike halfway through the 5% bake, then the change detector calls it within minutes, with no window to tune', async () => {
  const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--json', '--seed', '7']);
  expect(r.code).toBe(10);
  const breach = (JSON.parse(r.stdout) as { decisions: { type: string; sinceStartMs: number }[] }).decisions.find((d) => d.type === 'rollback-started');
  expect(breach?.sinceStartMs).toBeGreaterThan(60 * 3_600_000);
  expect(breach?.sinceStartMs).toBeLessThanOrEqual(60 * 3_600_000 + 45 * 60_000);
});

it('given the same seed twice, then the noisy simulation makes the same decisions at the same times', async () => {
  const once = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--json', '--seed', '3']);
  const again = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--json', '--seed', '3']);
  const decisions = (out: string) => (JSON.parse(out) as { decisions: { type: string; message: string; sinceStartMs: number }[] }).decisions.map((d) => [d.type, d.message, Math.round(d.sinceStartMs / 60_000)]);
  expect(decisions(again.stdout)).toEqual(decisions(once.stdout));
});

it('given --runs, then it reports the operating characteristics of the policy with sampling noise, in seconds', async () => {
  const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--runs', '200', '--seed', '1', '--json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const oc = JSON.parse(r.stdout) as { runs: number; rolledBack: number; caught: Record<string, number>; delayAfterOnsetMs: { p50: number } };
  expect(oc.runs).toBe(200);
  expect(oc.rolledBack).toBe(200);
  expect(oc.caught).toEqual({ 'bake 5% / error-rate': 200 });
  expect(oc.delayAfterOnsetMs.p50).toBeLessThanOrEqual(30 * 60_000);
  const healthy = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/healthy.json', '--runs', '200']);
  expect(healthy.code).toBe(0);
  expect(healthy.stdout).toMatch(/^ {2}promoted {5}(19\d|200) \(/m);
  const bad = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/healthy.json', '--runs', 'many']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--runs: expected a whole number/);
});

it('given the high-stakes policy and an approver who answers an hour after each ask, then every approval lands an hour later and it is promoted, exit 0', async () => {
  const scenario = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-')), 'approved.json');
  fs.writeFileSync(scenario, JSON.stringify({ ...JSON.parse(fs.readFileSync('examples/scenarios/healthy.json', 'utf8')), approvals: { decision: 'approve', after: '1h', by: 'ml-oncall' } }));
  const r = await cli(['simulate', '-f', 'examples/high-stakes.yaml', '--metrics', scenario, '--json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const decisions = (JSON.parse(r.stdout) as { decisions: { type: string; by?: string; sinceStartMs: number }[] }).decisions;
  const asked = decisions.filter((d) => d.type === 'approval-requested').map((d) => d.sinceStartMs);
  const approved = decisions.filter((d) => d.type === 'action' && d.by === 'ml-oncall').map((d) => d.sinceStartMs);
  // Four traffic increases and the final step to 100%, each answered on the server's clock.
  expect(asked).toHaveLength(5);
  expect(approved.map((t, i) => Math.round((t - (asked[i] as number)) / 60_000))).toEqual([60, 60, 60, 60, 60]);
  expect(decisions.at(-1)).toMatchObject({ type: 'completed' });
});

it('given too little traffic and nobody answering, then the policy never passes on no data: it holds, then rolls back, exit 10', async () => {
  const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/low-traffic.json']);
  expect(r.code).toBe(10);
  expect(r.stdout).toMatch(/insufficient-data: .*insufficient data: \d+ \/ \d+ outcomes, need 1000 per variant/);
  expect(r.stdout).toMatch(/approval-requested/);
  expect(r.stdout).toMatch(/^outcome: rolled-back \(insufficient-data:/m);
  expect(r.stdout).not.toMatch(/completed\s+promoted/);
});

it('given a scenario with a typo, then it names the field and exits 2 before starting anything', async () => {
  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-')), 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ candidate: [{ at: '2h', errorRat: 0.5 }], approvals: { decision: 'maybe' } }));
  const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', bad]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/candidate\[0\]\.errorRat: unknown field/);
  expect(r.stderr).toMatch(/approvals\.decision/);
});

describe('simulate --report', () => {
  const out = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sim-report-'));

  it('given one run that rolls back, then the page of that run draws every check and the rollback, and stdout is unchanged', async () => {
    const file = path.join(out(), 'spike.html');
    const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--report', file]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 10, stderr: `report written to ${file}\n` });
    expect(r.stdout).toMatch(/^outcome: rolled-back \(gate-breach/m);
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('<span class="badge rolled-back">rolled-back</span>');
    expect(html).toContain('id="rollback"');
    // 48 hourly shadow checks, then the 5% bake's 5-minute checks until the breach after hour 60.
    const checks = Number(/(\d+) in 1 workflow run/.exec(html)?.[1]);
    expect(checks).toBeGreaterThan(1 + 48 + 12 * 12);
    expect(html).toMatch(/Error rate of the candidate<\/h3><p>\d+ checks: \d+ pass, 1 fail/);
    // The impact: the candidate's requests over every step it served, not at the share it has after the rollback.
    const served = Number(/Impact: requests the candidate served<\/th><td>(\d+)</.exec(html)?.[1]);
    expect(served).toBeGreaterThan(0.05 * 1_000 * 60 * 12 * 0.9);
  });

  it('given --runs, then the page draws the distribution of outcomes and of detection delays', async () => {
    const file = path.join(out(), 'oc.html');
    const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/error-spike.json', '--runs', '100', '--report', file]);
    expect(r.code).toBe(0);
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('Detection delay after the candidate first differs from the champion');
    expect(html.match(/<svg /g)).toHaveLength(4);
  });

  it('given a report path in a directory that does not exist, then it is named and nothing runs, exit 2', async () => {
    const r = await cli(['simulate', '-f', 'examples/standard.yaml', '--metrics', 'examples/scenarios/healthy.json', '--runs', '10', '--report', '/nonexistent/dir/r.html']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('rollout: --report: no such directory: /nonexistent/dir\n');
    expect(r.stdout).toBe('');
  });
});

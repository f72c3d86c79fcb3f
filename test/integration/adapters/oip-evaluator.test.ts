import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OipEvaluator } from '../../../src/adapters/oip-evaluator';
import { evaluationGates } from '../../../src/domain/gates';
import { STANDARD_GATES } from '../../../src/domain/manifest';
import { fakeModelServer, type FakeModel } from '../../helpers/model-server';
import { activityEnv } from '../../helpers/temporal';

let dir: string;
let champion: FakeModel;
let candidate: FakeModel;
const env = activityEnv();
// Threshold classifiers: the candidate's threshold matches the labels; the champion's is off by 0.1.
const classify = (t: number) => (d: unknown[]) => ((d[0] as number) > t ? 'yes' : 'no');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-'));
  const rows = Array.from({ length: 100 }, (_, i) => {
    const x = i / 100;
    return { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [x] }], label: x > 0.5 ? 'yes' : 'no', slice: x < 0.5 ? 'low' : 'high', group: i % 2 ? 'a' : 'b' };
  });
  fs.writeFileSync(path.join(dir, 'fraud.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  champion = await fakeModelServer({ label: '', predict: classify(0.6) });
  candidate = await fakeModelServer({ label: '', predict: classify(0.5) });
});
afterAll(async () => {
  await Promise.all([champion.close(), candidate.close()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const evaluator = () =>
  new OipEvaluator({ backendUrl: async (_m, v) => (v === 'v1' ? champion.url : candidate.url), datasetDir: dir, loadRps: 200, loadRequests: 40 });

it('given a holdout file, then both versions are scored on it, per slice and group, with p99 under load', async () => {
  const report = await env.run(evaluator().evaluate.bind(evaluator()), { model: 'fraud', champion: 'v1', candidate: 'v2' });
  expect(report.samples).toBe(100);
  expect(report.candidate.score).toBe(1);
  expect(report.champion.score).toBeCloseTo(0.9, 5);
  expect(report.champion.slices).toEqual({ low: 1, high: 0.8 });
  expect(report.candidate.p99LatencyMs).toBeGreaterThan(0);
  // Scoring is under test here, not a shared CI machine's latency: the SLA is generous.
  const gates = { ...STANDARD_GATES, latency: { p99SlaMs: 5_000, maxP99Increase: 0.5 } };
  expect(evaluationGates(report, gates).map((g) => [g.gate, g.outcome])).toEqual([
    ['evaluation-quality', 'pass'],
    ['evaluation-slices', 'pass'],
    ['evaluation-fairness', 'pass'],
    ['evaluation-latency', 'pass'],
  ]);
  const reversed = await env.run(evaluator().evaluate.bind(evaluator()), { model: 'fraud', champion: 'v2', candidate: 'v1' });
  expect(evaluationGates(reversed, gates).find((g) => g.gate === 'evaluation-quality')?.outcome).toBe('fail');
});

it('given the release names F1 as its metric, then both versions are scored by macro F1, not accuracy', async () => {
  const report = await env.run(evaluator().evaluate.bind(evaluator()), { model: 'fraud', champion: 'v1', candidate: 'v2', metric: 'f1' });
  expect(report.metric).toBe('f1');
  expect(report.candidate.score).toBe(1);
  // Champion: threshold 0.6 on labels at 0.5: "yes" F1 = 2·39/(2·39+0+10), "no" F1 = 2·51/(2·51+10+0).
  expect(report.champion.score).toBeCloseTo((78 / 88 + 102 / 112) / 2, 6);
});

it('given a missing dataset, then it fails for good, naming the file', async () => {
  await expect(env.run(evaluator().evaluate.bind(evaluator()), { model: 'nope', champion: 'v1', candidate: 'v2' })).rejects.toMatchObject({
    nonRetryable: true,
    message: expect.stringMatching(/^no holdout dataset at .*nope\.jsonl$/),
  });
});

it('given a smoke test, then it counts errors and p99 of requests sent straight to the version', async () => {
  const smoke = await env.run(evaluator().smoke.bind(evaluator()), { model: 'fraud', version: 'v2', requests: 20 });
  expect(smoke).toMatchObject({ requests: 20, errors: 0 });
});

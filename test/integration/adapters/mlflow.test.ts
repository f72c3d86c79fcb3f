// The MLflow registry adapter against a real MLflow tracking server (PyPI, SQLite backend store) on
// loopback: aliases, outcome tags, rollbacks and archiving, through the activities the workflow calls.
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../../src/activities';
import type { Ports } from '../../../src/activities/ports';
import { MlflowRegistry, TAG } from '../../../src/adapters/mlflow';
import { startMlflow, type Backend } from '../../helpers/backends';
import { activityEnv } from '../../helpers/temporal';

let mlflow: Backend;
let registry: MlflowRegistry;
let acts: ReturnType<typeof createActivities>;
const env = activityEnv();

beforeAll(async () => {
  mlflow = await startMlflow();
  registry = new MlflowRegistry({ url: mlflow.url });
  acts = createActivities({ registry } as unknown as Ports);
  expect(await registry.register('fraud', 's3://models/fraud/1')).toBe('1');
  expect(await registry.register('fraud', 's3://models/fraud/2')).toBe('2');
}, 90_000);
afterAll(async () => {
  await mlflow?.close();
});

async function versionRest(version: string): Promise<{ tags: { key: string; value: string }[]; current_stage: string; aliases?: string[] }> {
  const r = await fetch(`${mlflow.url}/api/2.0/mlflow/model-versions/get?name=fraud&version=${version}`);
  return ((await r.json()) as { model_version: never }).model_version;
}

it('given MLflow versions, when the release sets and clears aliases, then MLflow shows them', async () => {
  await env.run(acts.setAlias, { model: 'fraud', alias: 'champion', version: '1' });
  await env.run(acts.setAlias, { model: 'fraud', alias: 'challenger', version: '2' });
  expect(await env.run(acts.getAlias, { model: 'fraud', alias: 'champion' })).toBe('1');
  expect((await versionRest('2')).aliases).toEqual(['challenger']);
  expect(await env.run(acts.resolveContext, { model: 'fraud' })).toEqual({ champion: '1', lastRollbackAt: null });
  // Promotion moves the champion; clearing the challenger twice is not an error.
  await env.run(acts.setAlias, { model: 'fraud', alias: 'champion', version: '2' });
  await env.run(acts.setAlias, { model: 'fraud', alias: 'challenger', version: null });
  await env.run(acts.setAlias, { model: 'fraud', alias: 'challenger', version: null });
  expect(await registry.getAlias('fraud', 'champion')).toBe('2');
  expect(await registry.getAlias('fraud', 'challenger')).toBeNull();
  expect(await registry.getAlias('unknown-model', 'champion')).toBeNull();
});

it('given outcomes, then they are tags on the version, idempotent, and a rollback is remembered on the model', async () => {
  const at = Date.UTC(2026, 10, 23, 1, 0, 0);
  await env.run(acts.recordOutcome, { model: 'fraud', version: '2', releaseId: 'release/fraud/a', outcome: 'promoted', at });
  await env.run(acts.recordOutcome, { model: 'fraud', version: '2', releaseId: 'release/fraud/a', outcome: 'promoted', at }); // a retried activity
  expect(await registry.outcomes('fraud', '2')).toEqual([{ releaseId: 'release/fraud/a', outcome: 'promoted', at }]);
  expect(await registry.lastRollbackAt('fraud')).toBeNull();

  await env.run(acts.recordOutcome, { model: 'fraud', version: '1', releaseId: 'release/fraud/b', outcome: 'rolled-back', trigger: 'error-rate', at: at + 1000 });
  expect(await registry.lastRollbackAt('fraud')).toBe(at + 1000);
  const tags = Object.fromEntries((await versionRest('1')).tags.map((t) => [t.key, t.value]));
  expect(tags).toMatchObject({ [TAG.outcome]: 'rolled-back', [TAG.trigger]: 'error-rate', [TAG.releaseId]: 'release/fraud/b', [TAG.at]: '2026-11-23T01:00:01.000Z' });
  // An older rollback does not move the model's last rollback back in time.
  await registry.recordOutcome('fraud', '2', { releaseId: 'release/fraud/0', outcome: 'aborted', at: at - 5000 });
  expect(await registry.lastRollbackAt('fraud')).toBe(at + 1000);
  expect((await env.run(acts.resolveContext, { model: 'fraud' })).lastRollbackAt).toBe(at + 1000);
});

it('given concurrent outcome writes, then the version history loses none', async () => {
  await Promise.all(Array.from({ length: 8 }, (_, i) => registry.recordOutcome('fraud', '1', { releaseId: `release/fraud/c${i}`, outcome: 'promoted', at: i })));
  const ids = (await registry.outcomes('fraud', '1')).map((o) => o.releaseId);
  for (let i = 0; i < 8; i++) expect(ids).toContain(`release/fraud/c${i}`);
});

it('given a retired version, then it is tagged and archived in MLflow’s UI', async () => {
  await env.run(acts.archiveVersion, { model: 'fraud', version: '1' });
  const v = await versionRest('1');
  expect(v.current_stage).toBe('Archived');
  expect(v.tags).toContainEqual({ key: TAG.archived, value: 'true' });
});

it('given a version MLflow does not have, then the failure is not retryable and names MLflow', async () => {
  const err = await registry.setAlias('fraud', 'champion', '99').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ nonRetryable: true, type: 'NotFound', message: expect.stringMatching(/^mlflow http:\/\/127\.0\.0\.1:\d+: registered-models\/alias: .*version=99/) });
  expect(await registry.getAlias('fraud', 'champion')).toBe('2'); // nothing changed
});

it('given MLflow unreachable, then the failure is retryable and names it', async () => {
  const down = new MlflowRegistry({ url: 'http://127.0.0.1:1', timeoutMs: 2_000 });
  await expect(down.getAlias('fraud', 'champion')).rejects.toMatchObject({ nonRetryable: false, type: 'RegistryUnavailable', message: expect.stringMatching(/mlflow http:\/\/127\.0\.0\.1:1 unreachable/) });
});

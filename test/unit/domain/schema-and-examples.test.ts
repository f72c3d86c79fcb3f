import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { manifestJsonSchema } from '../../../src/domain/json-schema';
import { parseManifest } from '../../../src/domain/manifest';
import { expandPlan } from '../../../src/domain/plan';
import { parseScenario } from '../../../src/simulate/scenario';

const root = path.resolve(__dirname, '../../..');

it('the committed JSON Schema is the one the zod schema generates (npm run gen-schema)', () => {
  const committed = JSON.parse(fs.readFileSync(path.join(root, 'schema/release-manifest.schema.json'), 'utf8'));
  expect(committed).toEqual(JSON.parse(JSON.stringify(manifestJsonSchema())));
});

const examples = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.yaml'));

it.each(examples)('examples/%s is a valid manifest with a plan', (file) => {
  const m = parseManifest(YAML.parse(fs.readFileSync(path.join(root, 'examples', file), 'utf8')));
  const plan = expandPlan(m, { lastRollbackAt: null, now: 0 });
  expect(plan.some((s) => s.kind === 'fullRollout')).toBe(true);
});

const scenarios = fs.readdirSync(path.join(root, 'examples/scenarios')).filter((f) => f.endsWith('.json'));

it.each(scenarios)('examples/scenarios/%s is a valid metric scenario', (file) => {
  expect(() => parseScenario(JSON.parse(fs.readFileSync(path.join(root, 'examples/scenarios', file), 'utf8')))).not.toThrow();
});

it('the CI example runs only rollout commands that exist, on scenarios that exist', () => {
  const workflow = YAML.parse(fs.readFileSync(path.join(root, 'examples/ci/release.yml'), 'utf8')) as { jobs: Record<string, { steps: { run?: string }[] }> };
  const runs = Object.values(workflow.jobs).flatMap((j) => j.steps.map((s) => s.run ?? '')).join('\n');
  const commands = [...runs.matchAll(/npx rollout (\w+)/g)].map((m) => m[1]);
  expect(commands.length).toBeGreaterThan(3);
  for (const c of commands) expect(['validate', 'start', 'status', 'list', 'watch', 'history', 'simulate', 'approve', 'reject', 'abort', 'pause', 'resume', 'promote']).toContain(c);
  for (const m of runs.matchAll(/examples\/scenarios\/([\w-]+\.json)/g)) expect(scenarios).toContain(m[1]);
});

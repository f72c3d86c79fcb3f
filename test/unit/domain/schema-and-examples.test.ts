import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { manifestJsonSchema } from '../../../src/domain/json-schema';
import { parseManifest } from '../../../src/domain/manifest';
import { expandPlan } from '../../../src/domain/plan';

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

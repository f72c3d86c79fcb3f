// The modules every release shares in a worker (PRELOADED_MODULES) must hold no per-release state: a
// preloaded module's scope runs once per worker, so a mutable module-level value would leak from one
// release into another and break determinism. This keeps them to schemas, functions and constant tables.
import fs from 'node:fs';
import path from 'node:path';
import { PRELOADED_MODULES } from '../../src/workers/bundle';

const domain = PRELOADED_MODULES;

it('preloads the domain modules (and with them zod), and nothing from the workflows themselves', () => {
  expect(domain.length).toBeGreaterThan(5);
  for (const m of domain) expect(m).toMatch(/[/\\]src[/\\]domain[/\\][a-z-]+\.ts$/);
});

it.each(domain.map((m) => [path.basename(m), m]))('%s has no module-level mutable state and imports only preloaded modules', (_name, file) => {
  const src = fs.readFileSync(file, 'utf8');
  expect(src).not.toMatch(/^(export )?(let|var) /m);
  expect(src).not.toMatch(/@temporalio\/workflow/);
  // Top-level collections are constant tables only (never written after module load).
  for (const [, name] of src.matchAll(/^(?:export )?const (\w+)(?::[^=]+)? = new (?:Map|Set|WeakMap|Array)\b/gm)) {
    expect({ name, written: new RegExp(`\\b${name}\\.(set|add|delete|clear|push|splice)\\(`).test(src) }).toEqual({ name, written: false });
  }
  for (const [, spec] of src.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gm)) {
    if (!spec?.startsWith('.')) {
      expect(spec).toMatch(/^zod/);
      continue;
    }
    const target = require.resolve(path.resolve(path.dirname(file), spec));
    expect(domain).toContain(target);
  }
});

// Evaluated once per worker, not once per release: the SDK's `preloadModules` bundle option runs this
// before any workflow exists and shares what it loads with every workflow. Without it each cached
// release evaluates zod and every schema of src/domain for itself, about 1 MiB apiece (measured: 1.2 MiB
// a parked release, 0.2 MiB a workflow without them), which is what bounded one worker's releases.
//
// The SDK deep-freezes what it preloads, and a zod schema cannot be frozen: it binds its methods and
// derives its internals on first use, onto itself. So this module freezes our modules itself, deeply,
// except the schemas, and then their exports objects; the SDK's own freeze stops at a frozen object.
// Sharing a schema is safe: what it writes onto itself is a memo of itself, the same in every release.
// Everything else shared is frozen, so no release can change what another sees.
import * as analysis from '../domain/analysis';
import * as duration from '../domain/duration';
import * as gates from '../domain/gates';
import * as issues from '../domain/issues';
import * as judge from '../domain/judge';
import * as looks from '../domain/looks';
import * as manifest from '../domain/manifest';
import * as plan from '../domain/plan';
import * as quantile from '../domain/quantile';
import * as release from '../domain/release';
import * as route from '../domain/route';
import * as sequential from '../domain/sequential';
import * as timeline from '../domain/timeline';

function isSchema(x: object): boolean {
  return '_zod' in x;
}

function freezeAllButSchemas(x: unknown, seen: WeakSet<object>): void {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function') || seen.has(x)) return;
  seen.add(x);
  if (isSchema(x)) return;
  for (const key of Reflect.ownKeys(x)) {
    const d = Object.getOwnPropertyDescriptor(x, key);
    if (d && 'value' in d) freezeAllButSchemas(d.value, seen);
  }
  Object.freeze(x);
}

const seen = new WeakSet<object>();
for (const ns of [analysis, duration, gates, issues, judge, looks, manifest, plan, quantile, release, route, sequential, timeline]) {
  for (const key of Reflect.ownKeys(ns)) {
    const d = Object.getOwnPropertyDescriptor(ns, key);
    freezeAllButSchemas(d && 'value' in d ? d.value : (ns as Record<PropertyKey, unknown>)[key], seen);
  }
  Object.freeze(ns);
}

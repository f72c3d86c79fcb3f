// Where a worker gets its workflow code. A build ships the bundle prebuilt (`npm run build` writes
// dist/workflow-bundle.js, as samples-typescript's `production` sample does), so a production worker
// starts without webpack; a checkout bundles the sources at start, so it never runs stale code.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkerOptions } from '@temporalio/worker';

/**
 * Modules evaluated once per worker, not once per release. The SDK's reusable V8 context keeps a module
 * cache per workflow instance, so without this every cached or replayed release evaluates zod and every
 * domain module again (bench:scale measured 2.4 to 3.0 MiB and the replay CPU per release). These hold no
 * per-release state: zod's schemas and registries, and our domain modules, whose module scope only
 * defines schemas, functions and constant tables (test/unit/bundle-preload.test.ts keeps it so).
 */
export const PRELOADED_MODULES = [
  // zod comes with them: the domain modules import it (a bare `require('zod')` would be tree-shaken away).
  ...['analysis', 'duration', 'gates', 'issues', 'judge', 'manifest', 'plan', 'quantile', 'release', 'sequential', 'timeline'].map((m) =>
    require.resolve(path.join(__dirname, '..', 'domain', m)),
  ),
];

/** The prebuilt bundle's place beside the compiled code: dist/workflow-bundle.js. */
export const PREBUILT_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');
const WORKFLOWS = path.join(__dirname, '..', 'workflows');

/** The worker option that loads the workflows: the prebuilt bundle when there is one, else the sources. */
export function workflowSource(o: { bundle?: string; defaultBundle?: string } = {}): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> {
  if (o.bundle !== undefined) {
    // Named explicitly (WORKFLOW_BUNDLE): a missing file is an error, never a silent fall back to the sources.
    if (!fs.existsSync(o.bundle)) throw new Error(`WORKFLOW_BUNDLE: no such file: ${o.bundle}`);
    return { workflowBundle: { codePath: o.bundle } };
  }
  const prebuilt = o.defaultBundle ?? PREBUILT_BUNDLE;
  return fs.existsSync(prebuilt) ? { workflowBundle: { codePath: prebuilt } } : { workflowsPath: require.resolve(WORKFLOWS), bundlerOptions: { preloadModules: PRELOADED_MODULES } };
}

/** The preloads for a bundle of these sources, or of another build's copy of them (same relative paths). */
function preloadFor(workflowsPath: string): string[] {
  const own = path.dirname(require.resolve(WORKFLOWS));
  const theirs = path.dirname(workflowsPath);
  if (own === theirs) return PRELOADED_MODULES;
  return PRELOADED_MODULES.map((m) => path.join(theirs, path.relative(own, m)));
}

/** Bundles the workflows (these, or another build's sources) into one file, for a build to ship. */
export async function writeWorkflowBundle(file: string, workflowsPath = require.resolve(WORKFLOWS)): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN'), preloadModules: preloadFor(workflowsPath) });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
}

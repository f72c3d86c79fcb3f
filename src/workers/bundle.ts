// Where a worker gets its workflow code. A build ships the bundle prebuilt (`npm run build` writes
// dist/workflow-bundle.js, as samples-typescript's `production` sample does), so a production worker
// starts without webpack; a checkout bundles the sources at start, so it never runs stale code.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/** The prebuilt bundle's place beside the compiled code: dist/workflow-bundle.js. */
export const PREBUILT_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');
const WORKFLOWS = path.join(__dirname, '..', 'workflows');

/**
 * What every bundle of these workflows preloads, once per worker (src/workflows/preload.ts says why):
 * zod and the domain, when the sources have a preload module (another build's may not).
 */
export function preloadModules(workflowsPath: string): string[] {
  const preload = besideWorkflows(workflowsPath, 'preload');
  return preload ? ['zod', preload] : [];
}

/** A module next to the workflows' entry, as sources (`.ts`) or compiled (`.js`), if the build has it. */
function besideWorkflows(workflowsPath: string, name: string): string | undefined {
  const dir = path.dirname(workflowsPath);
  return [`${name}.ts`, `${name}.js`].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
}

/**
 * The workflow interceptors every bundle of these workflows carries (src/workflows/interceptors.ts: the
 * stale-clock guard), when the sources have them (another build's may not).
 */
export function interceptorModules(workflowsPath: string): string[] {
  const interceptors = besideWorkflows(workflowsPath, 'interceptors');
  return interceptors ? [interceptors] : [];
}

/** The worker option that loads the workflows: the prebuilt bundle when there is one, else the sources. */
export function workflowSource(o: { bundle?: string; defaultBundle?: string } = {}): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions' | 'interceptors'> {
  if (o.bundle !== undefined) {
    // Named explicitly (WORKFLOW_BUNDLE): a missing file is an error, never a silent fall back to the sources.
    if (!fs.existsSync(o.bundle)) throw new Error(`WORKFLOW_BUNDLE: no such file: ${o.bundle}`);
    return { workflowBundle: { codePath: o.bundle } };
  }
  const prebuilt = o.defaultBundle ?? PREBUILT_BUNDLE;
  if (fs.existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  const workflowsPath = require.resolve(WORKFLOWS);
  return {
    workflowsPath,
    bundlerOptions: { preloadModules: preloadModules(workflowsPath) },
    interceptors: { workflowModules: interceptorModules(workflowsPath) },
  };
}

/** The workflows bundled in memory, with what they preload. */
export function bundleWorkflows(workflowsPath = require.resolve(WORKFLOWS), logLevel: 'WARN' | 'ERROR' = 'WARN'): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    logger: new DefaultLogger(logLevel),
    preloadModules: preloadModules(workflowsPath),
    workflowInterceptorModules: interceptorModules(workflowsPath),
  });
}

/** Bundles the workflows (these, or another build's sources) into one file, for a build to ship. */
export async function writeWorkflowBundle(file: string, workflowsPath = require.resolve(WORKFLOWS)): Promise<void> {
  const { code } = await bundleWorkflows(workflowsPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
}

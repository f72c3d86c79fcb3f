// Where a worker gets its workflow code. A build ships the bundle prebuilt (`npm run build` writes
// dist/workflow-bundle.js, as samples-typescript's `production` sample does), so a production worker
// starts without webpack; a checkout bundles the sources at start, so it never runs stale code.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkerOptions } from '@temporalio/worker';

/** The prebuilt bundle's place beside the compiled code: dist/workflow-bundle.js. */
export const PREBUILT_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');
const WORKFLOWS = path.join(__dirname, '..', 'workflows');

/** The worker option that loads the workflows: the prebuilt bundle when there is one, else the sources. */
export function workflowSource(prebuilt = PREBUILT_BUNDLE): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return fs.existsSync(prebuilt) ? { workflowBundle: { codePath: prebuilt } } : { workflowsPath: require.resolve(WORKFLOWS) };
}

/** Bundles the workflows into one file, for a build to ship. */
export async function writeWorkflowBundle(file: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(WORKFLOWS), logger: new DefaultLogger('WARN') });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
}

// `npm run build`'s second half: writes the workflow bundle the production worker loads (dist/workflow-bundle.js).
import path from 'node:path';
import { writeWorkflowBundle } from '../src/workers/bundle';

const out = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
writeWorkflowBundle(out).then(
  () => process.stdout.write(`workflow bundle: ${out}\n`),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

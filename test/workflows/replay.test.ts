// Today's workflow code must replay the committed histories of releases recorded earlier, exactly as a
// worker would after a deploy with releases in flight. Recorded by scripts/record-histories.ts.
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundle, quietRuntime } from '../helpers/temporal';
import { releaseRecordSinks } from '../../src/report/record';

const DIR = path.resolve(__dirname, '../replay/histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

let workflowBundle: WorkflowBundle;
beforeAll(async () => {
  quietRuntime();
  workflowBundle = await bundle();
});

it('has recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});

it.each(files)('replays %s without non-determinism', async (file) => {
  const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  expect(history.events?.length).toBeGreaterThan(20);
  await Worker.runReplayHistory({ workflowBundle, sinks: releaseRecordSinks() }, history, file);
});

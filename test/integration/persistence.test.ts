// The dev server keeps its workflows across a restart when it has a database file (npm run dev does).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES, SearchAttributes } from '../../src/constants';
import { findTemporalServers } from '../../src/dev/servers';
import { aManifest } from '../helpers/builders';
import { quietRuntime } from '../helpers/temporal';

it('given a dev server with a SQLite file, when it is stopped and started again, then its running workflows are still there', async () => {
  quietRuntime();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-rollout-db-'));
  const dbFilename = path.join(dir, 'temporal.sqlite');
  const server = { executable: findTemporalServers(false).devServer, dbFilename, searchAttributes: ALL_SEARCH_ATTRIBUTES, ip: '127.0.0.1' };
  const m = aManifest();
  try {
    const before = await TestWorkflowEnvironment.createLocal({ server });
    await before.client.workflow.start('releaseWorkflow', {
      taskQueue: 'nobody-listens',
      workflowId: `release/${m.model}`,
      args: [{ manifest: m }],
      typedSearchAttributes: [{ key: SearchAttributes.model, value: m.model }],
    });
    await before.teardown();

    const after = await TestWorkflowEnvironment.createLocal({ server });
    try {
      const desc = await after.client.workflow.getHandle(`release/${m.model}`).describe();
      expect(desc.status.name).toBe('RUNNING');
      expect(desc.typedSearchAttributes.get(SearchAttributes.model)).toBe(m.model);
    } finally {
      await after.teardown();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// One dev server per test run (not per file), with the project's search attributes registered.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/constants';
import { findTemporalServers } from '../../src/dev/servers';
import { freePort } from '../../support/net';

export default async function setup(): Promise<void> {
  const servers = findTemporalServers(true);
  if (servers.timeSkippingServer.type === 'existing-path') {
    process.env.TEMPORAL_TEST_SERVER_PATH = servers.timeSkippingServer.path;
  }
  const uiPort = await freePort();
  // On a SQLite file, as `npm run dev` runs it. In memory, the dev server loses its whole database once
  // enough visibility queries are cancelled mid-way (a Web UI page reloaded while it lists): measured,
  // 400 list calls aborted after 0-6 ms broke every call after the 114th ("Namespace default is not
  // found"); on a file, none of 400.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-server-'));
  (globalThis as { __devServerDir?: string }).__devServerDir = dir;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: servers.devServer,
      dbFilename: path.join(dir, 'temporal.sqlite'),
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
  (globalThis as { __devServerEnv?: TestWorkflowEnvironment }).__devServerEnv = env;
  process.env.TEMPORAL_TEST_ADDRESS = env.address;
  process.env.TEMPORAL_TEST_UI_URL = `http://127.0.0.1:${uiPort}`;
}


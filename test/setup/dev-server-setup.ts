// One dev server per test run (not per file), with the project's search attributes registered.
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
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: servers.devServer,
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


// `npm run dev`: the Temporal dev server (SQLite under the data directory, Web UI on 8233, the project's
// search attributes registered), the embedded inference gateway on 8100, and the release worker, in one
// process tree. Ctrl-C stops all of it.
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { ConfigError, loadConfig } from '../src/config';
import { findTemporalServers } from '../src/dev/servers';
import { Gateway } from '../src/gateway/server';
import { gatewayToken } from '../src/gateway/token';
import { createLogger } from '../src/logger';
import { installRuntime, runWorker } from '../src/workers/main';

const GRPC_PORT = 7233;
const UI_PORT = 8233;
const GATEWAY_PORT = 8100;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  installRuntime(logger);
  const dataDir = path.resolve(config.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const dbFilename = path.join(dataDir, 'temporal.sqlite');

  const servers = findTemporalServers(true);
  logger.info({ executable: servers.devServer, dbFilename }, 'starting the Temporal dev server');
  const server = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: servers.devServer,
      ip: '127.0.0.1',
      port: GRPC_PORT,
      ui: true,
      uiPort: UI_PORT,
      dbFilename,
      namespace: config.temporal.namespace,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
  logger.info(
    { temporal: server.address, ui: `http://127.0.0.1:${UI_PORT}`, taskQueue: config.temporal.taskQueue },
    `Temporal is up: Web UI at http://127.0.0.1:${UI_PORT}`,
  );
  const gateway = new Gateway({
    adminToken: gatewayToken(dataDir, config.gateway.adminToken),
    stateFile: path.join(dataDir, 'gateway-routes.json'),
  });
  const gatewayUrl = `http://127.0.0.1:${await gateway.listen(GATEWAY_PORT)}`;
  logger.info({ url: gatewayUrl }, 'gateway listening');
  try {
    await runWorker({ ...config, dataDir, temporal: { ...config.temporal, address: server.address }, gateway: { ...config.gateway, url: gatewayUrl } }, logger);
  } finally {
    await gateway.close();
    await server.teardown();
    logger.info('dev server stopped');
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

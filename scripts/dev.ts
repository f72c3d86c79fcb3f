// `npm run dev`: the Temporal dev server (SQLite under the data directory, Web UI on 8233, the project's
// search attributes registered) and the release worker, in one process tree. Ctrl-C stops all of it.
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { ConfigError, loadConfig } from '../src/config';
import { findTemporalServers } from '../src/dev/servers';
import { createLogger } from '../src/logger';
import { installRuntime, runWorker } from '../src/workers/main';

const GRPC_PORT = 7233;
const UI_PORT = 8233;

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
  try {
    await runWorker({ ...config, temporal: { ...config.temporal, address: server.address } }, logger);
  } finally {
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

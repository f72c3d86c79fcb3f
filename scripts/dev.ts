// `npm run dev`: the Temporal dev server (SQLite under the data directory, Web UI on 8233, the project's
// search attributes registered), the embedded inference gateway on 8100, and the release worker, in one
// process tree. Ctrl-C stops all of it.
import path from 'node:path';
import { exitOnStartupFailure, loadConfig } from '../src/config';
import { startStack } from '../support/stack';
import { createLogger } from '../src/logger';
import { installRuntime, runWorker } from '../src/workers/main';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  installRuntime(logger, config.metricsBind);
  const dataDir = path.resolve(config.dataDir);
  const stack = await startStack({
    dataDir,
    namespace: config.temporal.namespace,
    grpcPort: 7233,
    uiPort: 8233,
    gatewayPort: 8100,
    gatewayAdminToken: config.gateway.adminToken,
    logger,
  });
  try {
    await runWorker({ ...config, dataDir, temporal: { ...config.temporal, address: stack.address }, gateway: { ...config.gateway, url: stack.gatewayUrl } }, logger);
  } finally {
    await stack.close();
    logger.info('dev server stopped');
  }
}

main().catch(exitOnStartupFailure);

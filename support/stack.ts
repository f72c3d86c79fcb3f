// The embedded stack `npm run dev` and `npm run demo` share: the Temporal dev server (SQLite file, Web
// UI, the project's search attributes registered) and the inference gateway, on loopback.
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { Gateway } from '../src/gateway/server';
import { gatewayToken } from '../src/gateway/token';
import type { Logger } from '../src/logger';
import { findTemporalServers } from '../src/dev/servers';

export interface StackOptions {
  dataDir: string;
  namespace: string;
  grpcPort: number;
  uiPort: number;
  gatewayPort: number;
  gatewayAdminToken?: string;
  logger: Logger;
}

export interface Stack {
  server: TestWorkflowEnvironment;
  address: string;
  uiUrl: string;
  gateway: Gateway;
  gatewayUrl: string;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const dataDir = path.resolve(o.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const dbFilename = path.join(dataDir, 'temporal.sqlite');
  const servers = findTemporalServers(true);
  o.logger.info({ executable: servers.devServer, dbFilename }, 'starting the Temporal dev server');
  const server = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: servers.devServer,
      ip: '127.0.0.1',
      port: o.grpcPort,
      ui: true,
      uiPort: o.uiPort,
      dbFilename,
      namespace: o.namespace,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
    },
  });
  const uiUrl = `http://127.0.0.1:${o.uiPort}`;
  o.logger.info({ temporal: server.address, ui: uiUrl }, `Temporal is up: Web UI at ${uiUrl}`);
  const gateway = new Gateway({ adminToken: gatewayToken(dataDir, o.gatewayAdminToken), stateFile: path.join(dataDir, 'gateway-routes.json') });
  let gatewayUrl: string;
  try {
    gatewayUrl = `http://127.0.0.1:${await gateway.listen(o.gatewayPort)}`;
  } catch (err) {
    await server.teardown();
    throw err;
  }
  o.logger.info({ url: gatewayUrl }, 'gateway listening');
  return {
    server,
    address: server.address,
    uiUrl,
    gateway,
    gatewayUrl,
    close: async () => {
      await gateway.close();
      await server.teardown();
    },
  };
}

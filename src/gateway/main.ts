// Entrypoint of the embedded inference gateway: `npm run gateway`.
import path from 'node:path';
import { z } from 'zod';
import { CommonEnv, exitOnStartupFailure, parseEnv } from '../config';
import { createLogger } from '../logger';
import { Gateway } from './server';
import { gatewayToken } from './token';

const GatewayEnv = z.object({
  /** Port the gateway listens on. Default 8100. */
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8100),
  /** Address to bind. Default 127.0.0.1. */
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** Admin API bearer token. Default: generated once into <data dir>/gateway-token. */
  GATEWAY_ADMIN_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  /** User header that keys sticky cohorts. Default x-user-id. */
  GATEWAY_USER_HEADER: z.string().min(1).default('x-user-id'),
  /** One log line per request (pino-http), with the release and variant that served it. Default true. */
  GATEWAY_ACCESS_LOG: z.enum(['true', 'false', '1', '0']).default('true').transform((v) => v === 'true' || v === '1'),
  ...CommonEnv,
});

async function main(): Promise<void> {
  const env = parseEnv(GatewayEnv);
  const logger = createLogger(env.LOG_LEVEL).child({ component: 'gateway' });
  const gateway = new Gateway({
    adminToken: gatewayToken(env.MODEL_ROLLOUT_DATA_DIR, env.GATEWAY_ADMIN_TOKEN),
    stateFile: path.join(env.MODEL_ROLLOUT_DATA_DIR, 'gateway-routes.json'),
    userHeader: env.GATEWAY_USER_HEADER,
    accessLog: env.GATEWAY_ACCESS_LOG ? logger.child({ component: 'gateway-access' }) : undefined,
  });
  const port = await gateway.listen(env.GATEWAY_PORT, env.GATEWAY_HOST);
  logger.info({ url: `http://${env.GATEWAY_HOST}:${port}` }, 'gateway listening');
  let closing: Promise<void> | null = null;
  const stop = () => {
    if (closing) return;
    logger.info('gateway stopping');
    closing = gateway.close();
    closing.then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'gateway stopped with route changes not on disk');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch(exitOnStartupFailure);
}

// `npm run envoy`: Envoy on the bootstrap this project generates, in the foreground, until SIGINT/SIGTERM.
// With --print-bootstrap it only prints the bootstrap (JSON), for teams that run Envoy themselves (a
// container, a DaemonSet): mount ENVOY_CONFIG_DIR into both Envoy and the worker.
import { z } from 'zod';
import { CommonEnv, exitOnStartupFailure, parseEnv } from '../config';
import { createLogger } from '../logger';
import { renderBootstrap } from './bootstrap';
import { startEnvoy } from './process';

const Env = z.object({
  /** The inference listener's port. Default 10000. */
  ENVOY_PORT: z.coerce.number().int().min(1).max(65535).default(10000),
  /** The admin API's port. Default 9901. */
  ENVOY_ADMIN_PORT: z.coerce.number().int().min(1).max(65535).default(9901),
  /** Address both listen on. Default 127.0.0.1. */
  ENVOY_HOST: z.string().min(1).default('127.0.0.1'),
  /** The directory Envoy watches for clusters and routes. Default `<data dir>/envoy`. */
  ENVOY_CONFIG_DIR: z.string().min(1).optional(),
  /** The user header that keys sticky cohorts. Default x-user-id. */
  ENVOY_USER_HEADER: z.string().min(1).default('x-user-id'),
  /** The envoy binary. Default: found or installed by scripts/envoy.sh. */
  ENVOY_PATH: z.string().min(1).optional(),
  ...CommonEnv,
});

async function main(): Promise<void> {
  const env = parseEnv(Env);
  const o = { configDir: env.ENVOY_CONFIG_DIR ?? `${env.MODEL_ROLLOUT_DATA_DIR}/envoy`, adminPort: env.ENVOY_ADMIN_PORT, listenerPort: env.ENVOY_PORT, host: env.ENVOY_HOST, userHeader: env.ENVOY_USER_HEADER };
  if (process.argv.includes('--print-bootstrap')) {
    process.stdout.write(`${JSON.stringify(renderBootstrap(o), null, 2)}\n`);
    return;
  }
  const logger = createLogger(env.LOG_LEVEL).child({ component: 'envoy' });
  const envoy = await startEnvoy({ ...o, envoyPath: env.ENVOY_PATH, logLevel: 'info' });
  logger.info({ listener: envoy.listenerUrl, admin: envoy.adminUrl, configDir: o.configDir }, 'envoy ready');
  envoy.child.stderr?.pipe(process.stderr);
  const stop = () => void envoy.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  envoy.child.once('exit', (code) => {
    logger.error({ code }, 'envoy exited');
    process.exit(code ?? 1);
  });
}

if (require.main === module) main().catch(exitOnStartupFailure);

// `npm run envoy`: Envoy on the bootstrap this project generates, in the foreground, until SIGINT/SIGTERM.
//   npm run envoy                                   run Envoy
//   npm run envoy -- --print-bootstrap              write the empty clusters and routes files into
//                                                   ENVOY_CONFIG_DIR and print the bootstrap, for an Envoy
//                                                   you run yourself on the same directory
//   npm run envoy -- backend MODEL VERSION URL      register where a version is served (a cluster)
//   npm run envoy -- serve MODEL CHAMPION           put a model behind Envoy, all traffic on its champion
// The last two talk to a running Envoy's admin API and write the directory it watches, as the worker does.
import { z } from 'zod';
import { CommonEnv, exitOnStartupFailure, parseEnv } from '../config';
import { EnvoyRouter } from '../adapters/envoy';
import { createLogger } from '../logger';
import { renderBootstrap } from './bootstrap';
import { startEnvoy, writeBootstrap } from './process';

const Env = z.object({
  /** The inference listener's port. Default 10000. */
  ENVOY_PORT: z.coerce.number().int().min(1).max(65535).default(10000),
  /** The admin API's port. Default 9901. */
  ENVOY_ADMIN_PORT: z.coerce.number().int().min(1).max(65535).default(9901),
  /** The inference listener's address. Default 127.0.0.1. */
  ENVOY_HOST: z.string().min(1).default('127.0.0.1'),
  /** The admin API's address (unauthenticated: keep it private). Default 127.0.0.1. */
  ENVOY_ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  /** The directory Envoy watches for clusters and routes. Default `<data dir>/envoy`. */
  ENVOY_CONFIG_DIR: z.string().min(1).optional(),
  /** The user header that keys sticky cohorts. Default x-user-id. */
  ENVOY_USER_HEADER: z.string().regex(/^[a-z0-9-]+$/i, "letters, digits and '-' only").default('x-user-id'),
  /** The envoy binary. Default: found or installed by scripts/envoy.sh. */
  ENVOY_PATH: z.string().min(1).optional(),
  ...CommonEnv,
});

async function main(argv: string[]): Promise<void> {
  const env = parseEnv(Env);
  const o = { configDir: env.ENVOY_CONFIG_DIR ?? `${env.MODEL_ROLLOUT_DATA_DIR}/envoy`, adminPort: env.ENVOY_ADMIN_PORT, listenerPort: env.ENVOY_PORT, host: env.ENVOY_HOST, adminHost: env.ENVOY_ADMIN_HOST, userHeader: env.ENVOY_USER_HEADER };
  const router = () => new EnvoyRouter({ adminUrl: `http://${o.adminHost}:${o.adminPort}`, listenerUrl: `http://${o.host}:${o.listenerPort}`, configDir: o.configDir });
  const [command, ...args] = argv;
  if (command === '--print-bootstrap') {
    writeBootstrap(o);
    process.stdout.write(`${JSON.stringify(renderBootstrap(o), null, 2)}\n`);
    return;
  }
  if (command === 'backend') {
    const [model, version, url] = args;
    if (!model || !version || !url) throw new Error('usage: npm run envoy -- backend MODEL VERSION URL');
    await router().setBackend(model, version, url);
    process.stdout.write(`${model} ${version} → ${url}\n`);
    return;
  }
  if (command === 'serve') {
    const [model, champion] = args;
    if (!model || !champion) throw new Error('usage: npm run envoy -- serve MODEL CHAMPION');
    const r = router();
    await r.serveModel(model, {}, champion);
    process.stdout.write(`${model}: all traffic on ${champion}; Envoy serves ${JSON.stringify(await r.read(model))}\n`);
    return;
  }
  if (command !== undefined) throw new Error(`unknown command ${command}: expected --print-bootstrap, backend or serve`);
  const logger = createLogger(env.LOG_LEVEL).child({ component: 'envoy' });
  const envoy = await startEnvoy({ ...o, envoyPath: env.ENVOY_PATH, logLevel: 'info' });
  logger.info({ listener: envoy.listenerUrl, admin: envoy.adminUrl, configDir: o.configDir }, 'envoy ready');
  envoy.child.stderr?.pipe(process.stderr);
  let stopping = false;
  const stop = () => {
    stopping = true;
    void envoy.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  envoy.child.once('exit', (code) => {
    if (stopping) return;
    logger.error({ code }, 'envoy exited');
    process.exit(code ?? 1);
  });
}

if (require.main === module) main(process.argv.slice(2)).catch(exitOnStartupFailure);

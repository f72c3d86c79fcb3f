// Entrypoint of the inference log: `npm run inference-log`. Model servers' loggers post to it; the worker
// reads shadow divergence from it (INFERENCE_LOG_URL) when the router is Envoy.
import { z } from 'zod';
import { CommonEnv, exitOnStartupFailure, parseEnv } from '../config';
import { createLogger } from '../logger';
import { InferenceLogServer } from './server';
import { InferenceLog } from './store';

const Env = z.object({
  /** Port. Default 8200. */
  INFERENCE_LOG_PORT: z.coerce.number().int().min(0).max(65535).default(8200),
  /** Address to bind. Default 127.0.0.1. */
  INFERENCE_LOG_HOST: z.string().min(1).default('127.0.0.1'),
  /** How long a response waits for the other version's answer, seconds. Default 300. */
  INFERENCE_LOG_PAIR_TIMEOUT: z.coerce.number().positive().default(300),
  /** Joined answers kept, hours. Default 24. */
  INFERENCE_LOG_RETENTION: z.coerce.number().positive().default(24),
  /** A bearer token loggers must send (set one whenever the log listens beyond loopback). Default none. */
  INFERENCE_LOG_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  ...CommonEnv,
});

async function main(): Promise<void> {
  const env = parseEnv(Env);
  const logger = createLogger(env.LOG_LEVEL).child({ component: 'inference-log' });
  const server = new InferenceLogServer(new InferenceLog({ pairTimeoutMs: env.INFERENCE_LOG_PAIR_TIMEOUT * 1000, retentionMs: env.INFERENCE_LOG_RETENTION * 3_600_000 }), env.INFERENCE_LOG_TOKEN);
  const port = await server.listen(env.INFERENCE_LOG_PORT, env.INFERENCE_LOG_HOST);
  logger.info({ url: `http://${env.INFERENCE_LOG_HOST}:${port}` }, 'inference log listening');
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) main().catch(exitOnStartupFailure);

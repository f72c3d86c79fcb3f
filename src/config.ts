// Configuration from the environment: one schema per process (the worker's and the CLI's here, the
// gateway's beside its entrypoint), parsed once at start-up by parseEnv, frozen, passed down. Nothing else reads process.env.
import path from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';
import { z } from 'zod';
import { TASK_QUEUE } from './constants';
import { fieldIssues } from './domain/issues';

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .transform((v) => v === 'true' || v === '1');

/** Variables every process of the project reads. */
export const CommonEnv = {
  /** pino log level. Default `info`. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where local state lives (dev server SQLite file, gateway routes, registry, datasets). Default `./data`. */
  MODEL_ROLLOUT_DATA_DIR: z.string().min(1).default('./data'),
};

/** How every process reaches Temporal: the worker, and the CLI (where a flag may override each). */
export const TemporalEnv = {
  /** Temporal frontend address. Default `localhost:7233`. */
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port').default('localhost:7233'),
  /** Temporal namespace. Default `default`. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the release workflows and activities run on. Default `model-rollout`. */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  /** Connect with TLS (Temporal Cloud). Default false; implied by an API key. */
  TEMPORAL_TLS: bool.default(false),
  /** API key for Temporal Cloud. Default none. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
};

export type TemporalConnectionConfig = Readonly<{ address: string; namespace: string; taskQueue: string; tls: boolean; apiKey?: string }>;

function temporalConnection(e: z.infer<z.ZodObject<typeof TemporalEnv>>): TemporalConnectionConfig {
  return Object.freeze({
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    tls: e.TEMPORAL_TLS || e.TEMPORAL_API_KEY !== undefined,
    apiKey: e.TEMPORAL_API_KEY,
  });
}

/** `autoscaling`, or at most N polls at once. */
const PollersSchema = z.union([z.literal('autoscaling'), z.coerce.number().int().min(2).max(1_000)], { error: 'expected autoscaling or a number of pollers from 2 to 1000' });

const GROWING_RANGE = 'expected a percentage from 5 to 400';

type PollerBehavior = NonNullable<WorkerOptions['workflowTaskPollerBehavior']>;

function pollerBehavior(v: 'autoscaling' | number | undefined): PollerBehavior | undefined {
  if (v === undefined) return undefined;
  return v === 'autoscaling' ? { type: 'autoscaling' } : { type: 'simple-maximum', maximum: v };
}

export const WorkerEnvSchema = z.object({
  ...TemporalEnv,
  ...CommonEnv,
  /** The embedded gateway (traffic router, metrics, shadow analysis). Default `http://127.0.0.1:8100`. */
  GATEWAY_URL: z.url().default('http://127.0.0.1:8100'),
  /** Its admin token. Default: the one the gateway generated into the data directory. */
  GATEWAY_ADMIN_TOKEN: z.string().min(1).optional(),
  /** The traffic router: `gateway` (the embedded one) or `envoy`. Default `gateway`. */
  ROUTER: z.enum(['gateway', 'envoy']).default('gateway'),
  /** Envoy's admin API (ROUTER=envoy). Default `http://127.0.0.1:9901`. */
  ENVOY_ADMIN_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:9901'),
  /** Envoy's inference listener, for readiness probes and the evaluator (ROUTER=envoy). Default `http://127.0.0.1:10000`. */
  ENVOY_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:10000'),
  /** The directory Envoy watches for clusters and routes (ROUTER=envoy). Default `<data dir>/envoy`. */
  ENVOY_CONFIG_DIR: z.string().min(1).optional(),
  /** The inference log (`npm run inference-log`): shadow analysis when the router does not compare answers (ROUTER=envoy). Default `http://127.0.0.1:8200`. */
  INFERENCE_LOG_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8200'),
  /** Prometheus base URL: when set, gates read metrics from Prometheus, not the gateway. Required with ROUTER=envoy. Default none. */
  PROMETHEUS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Bearer token for Prometheus behind an authenticating proxy. Default none. */
  PROMETHEUS_TOKEN: z.string().min(1).optional(),
  /** JSON file of PromQL templates ($model, $version, $window) overriding the defaults. Default none. */
  PROMETHEUS_QUERIES: z.string().min(1).optional(),
  /** MLflow tracking server: when set, it is the model registry, not `<data>/registry.json`. Default none. */
  MLFLOW_TRACKING_URI: z.url({ protocol: /^https?$/ }).optional(),
  /** MLflow bearer token. Default none. */
  MLFLOW_TRACKING_TOKEN: z.string().min(1).optional(),
  /** MLflow basic-auth user and password. Default none. */
  MLFLOW_TRACKING_USERNAME: z.string().min(1).optional(),
  MLFLOW_TRACKING_PASSWORD: z.string().optional(),
  /** Slack-compatible webhooks every release notifies, comma-separated. Default none (log only). */
  NOTIFY_WEBHOOKS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean))
    .pipe(z.array(z.url())),
  /**
   * Worker Versioning: the worker deployment this worker belongs to (`model-rollout` in docker-compose.yml).
   * With it, each build registers as a version and takes work once made current; releases in flight
   * auto-upgrade to it. Default none: an unversioned worker (the dev server, the demo).
   */
  TEMPORAL_WORKER_DEPLOYMENT: z.string().min(1).max(255).optional(),
  /** This build's ID within the deployment (a git SHA, an image tag). Required with TEMPORAL_WORKER_DEPLOYMENT. */
  TEMPORAL_WORKER_BUILD_ID: z.string().min(1).max(255).optional(),
  /** A prebuilt workflow bundle to load instead of `dist/workflow-bundle.js` or the sources. Default none. */
  WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** host:port where the SDK serves its Prometheus metrics (task latencies, cache, slots). Default none. */
  TEMPORAL_METRICS_BIND: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port').optional(),
  /** Releases kept in the worker's sticky cache; beyond it, a release's next task replays its history. Default: the SDK's, from the heap size. */
  TEMPORAL_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  /** Workflow tasks run at once. Default: the SDK's (40). */
  TEMPORAL_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
  /** Local activities (gate measurements) run at once. Default: the SDK's (100). */
  TEMPORAL_MAX_CONCURRENT_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).optional(),
  /**
   * Activities run at once. A release whose gates are looked at more often than once a minute holds one
   * slot for as long as its step (takeChecks, which mostly sleeps), so this bounds how many such releases
   * one worker serves. Default 5000 (the SDK's is 100).
   */
  TEMPORAL_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(5_000),
  /**
   * How the worker polls for workflow tasks: `autoscaling` (the server's backlog hints set how many polls
   * are open, 1 to 100, sticky and non-sticky apart) or a number (at most that many; the SDK's default is
   * 10, 2 of them for new and evicted releases). See the README's "What one worker carries".
   */
  TEMPORAL_WORKFLOW_TASK_POLLERS: PollersSchema.optional(),
  /** The same for activity tasks (the SDK's default: at most 10). */
  TEMPORAL_ACTIVITY_TASK_POLLERS: PollersSchema.optional(),
  /**
   * How far V8 lets each heap grow past what the last full collection kept before it collects again, in
   * percent (V8's --heap-growing-percent, set at start for both of the worker's threads). Less memory for
   * more collecting: 20 held 2,000 releases looked at every 10 s in under 1 GiB (README, "What one worker
   * carries"). Default: V8's own, which lets a busy heap grow to about twice what it keeps. V8's flags are
   * the process's: where the worker shares its process (`npm run dev`, the demo), the gateway's heap too.
   */
  WORKER_HEAP_GROWING_PERCENT: z.coerce.number({ error: GROWING_RANGE }).int('expected a whole percentage').min(5, GROWING_RANGE).max(400, GROWING_RANGE).optional(),
  /**
   * `off`: the workflow thread runs without the SDK's promise stack-trace hook (src/workers/stack-traces.ts),
   * and the stack-trace query (the Web UI's "Stack Trace" tab, `temporal workflow stack`) answers with no
   * stacks. A replay of a release's history then costs about 40% less CPU, and each cached release keeps
   * about 55 KiB less (README, "What one worker carries"). Default `on`.
   */
  WORKER_STACK_TRACES: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
});

export type WorkerConfig = Readonly<{
  temporal: TemporalConnectionConfig;
  logLevel: z.infer<typeof WorkerEnvSchema>['LOG_LEVEL'];
  dataDir: string;
  gateway: Readonly<{ url: string; adminToken?: string }>;
  /** Set when ROUTER=envoy. */
  envoy: Readonly<{ adminUrl: string; listenerUrl: string; configDir: string; inferenceLogUrl: string }> | null;
  notifyWebhooks: readonly string[];
  prometheus: Readonly<{ url: string; token?: string; queriesFile?: string; preset: 'gateway' | 'envoy' }> | null;
  mlflow: Readonly<{ url: string; token?: string; username?: string; password?: string }> | null;
  /** Set when the worker is versioned (TEMPORAL_WORKER_DEPLOYMENT). */
  deployment: Readonly<{ deploymentName: string; buildId: string }> | null;
  workflowBundle?: string;
  metricsBind?: string;
  /** WORKER_HEAP_GROWING_PERCENT, when set. */
  heapGrowingPercent?: number;
  /** WORKER_STACK_TRACES: false when `off`. */
  stackTraces: boolean;
  /** Worker options tuned for many releases on one worker (see the README's bench:scale). */
  tuning: Readonly<{
    maxCachedWorkflows?: number;
    maxConcurrentWorkflowTaskExecutions?: number;
    maxConcurrentLocalActivityExecutions?: number;
    maxConcurrentActivityTaskExecutions?: number;
    workflowTaskPollerBehavior?: PollerBehavior;
    activityTaskPollerBehavior?: PollerBehavior;
  }>;
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * How an entrypoint ends when it cannot start: a configuration error is one message and exit 2 (the
 * variable is named); anything else, its stack and exit 1.
 */
export function exitOnStartupFailure(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
}

/** Parses an environment against a schema; a bad value throws ConfigError naming the variable. */
export function parseEnv<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv = process.env): T {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = fieldIssues(parsed.error).map((i) => `  ${i.path}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** The worker's configuration. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const e = parseEnv(WorkerEnvSchema, env);
  if (e.ROUTER === 'envoy' && !e.PROMETHEUS_URL) {
    throw new ConfigError('invalid configuration:\n  PROMETHEUS_URL: required with ROUTER=envoy (the gates read Envoy\'s cluster stats from Prometheus)');
  }
  if ((e.TEMPORAL_WORKER_DEPLOYMENT === undefined) !== (e.TEMPORAL_WORKER_BUILD_ID === undefined)) {
    const [missing, given] = e.TEMPORAL_WORKER_DEPLOYMENT === undefined ? ['TEMPORAL_WORKER_DEPLOYMENT', 'TEMPORAL_WORKER_BUILD_ID'] : ['TEMPORAL_WORKER_BUILD_ID', 'TEMPORAL_WORKER_DEPLOYMENT'];
    throw new ConfigError(`invalid configuration:\n  ${missing}: required with ${given} (a versioned worker needs both)`);
  }
  return Object.freeze({
    temporal: temporalConnection(e),
    logLevel: e.LOG_LEVEL,
    dataDir: e.MODEL_ROLLOUT_DATA_DIR,
    gateway: Object.freeze({ url: e.GATEWAY_URL, adminToken: e.GATEWAY_ADMIN_TOKEN }),
    envoy:
      e.ROUTER === 'envoy'
        ? Object.freeze({ adminUrl: e.ENVOY_ADMIN_URL, listenerUrl: e.ENVOY_URL, configDir: e.ENVOY_CONFIG_DIR ?? path.join(e.MODEL_ROLLOUT_DATA_DIR, 'envoy'), inferenceLogUrl: e.INFERENCE_LOG_URL })
        : null,
    notifyWebhooks: Object.freeze(e.NOTIFY_WEBHOOKS),
    prometheus: e.PROMETHEUS_URL ? Object.freeze({ url: e.PROMETHEUS_URL, token: e.PROMETHEUS_TOKEN, queriesFile: e.PROMETHEUS_QUERIES, preset: e.ROUTER }) : null,
    mlflow: e.MLFLOW_TRACKING_URI
      ? Object.freeze({ url: e.MLFLOW_TRACKING_URI, token: e.MLFLOW_TRACKING_TOKEN, username: e.MLFLOW_TRACKING_USERNAME, password: e.MLFLOW_TRACKING_PASSWORD })
      : null,
    deployment:
      e.TEMPORAL_WORKER_DEPLOYMENT && e.TEMPORAL_WORKER_BUILD_ID ? Object.freeze({ deploymentName: e.TEMPORAL_WORKER_DEPLOYMENT, buildId: e.TEMPORAL_WORKER_BUILD_ID }) : null,
    ...(e.WORKFLOW_BUNDLE ? { workflowBundle: e.WORKFLOW_BUNDLE } : {}),
    ...(e.TEMPORAL_METRICS_BIND ? { metricsBind: e.TEMPORAL_METRICS_BIND } : {}),
    ...(e.WORKER_HEAP_GROWING_PERCENT !== undefined ? { heapGrowingPercent: e.WORKER_HEAP_GROWING_PERCENT } : {}),
    stackTraces: e.WORKER_STACK_TRACES === 'on',
    tuning: Object.freeze(
      Object.fromEntries(
        Object.entries({
          maxCachedWorkflows: e.TEMPORAL_MAX_CACHED_WORKFLOWS,
          maxConcurrentWorkflowTaskExecutions: e.TEMPORAL_MAX_CONCURRENT_WORKFLOW_TASKS,
          maxConcurrentLocalActivityExecutions: e.TEMPORAL_MAX_CONCURRENT_LOCAL_ACTIVITIES,
          maxConcurrentActivityTaskExecutions: e.TEMPORAL_MAX_CONCURRENT_ACTIVITIES,
          workflowTaskPollerBehavior: pollerBehavior(e.TEMPORAL_WORKFLOW_TASK_POLLERS),
          activityTaskPollerBehavior: pollerBehavior(e.TEMPORAL_ACTIVITY_TASK_POLLERS),
        }).filter(([, v]) => v !== undefined),
      ),
    ),
  });
}

/** The CLI's variables: Temporal's, where its links point, who acts. A flag overrides its variable. */
export const CliEnvSchema = z.object({
  ...TemporalEnv,
  /** The Temporal Web UI, for links. Default `http://localhost:8233`. */
  TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:8233').transform((u) => u.replace(/\/$/, '')),
  /** Who acts (approve, reject, start …). Default: the login name. */
  ROLLOUT_ACTOR: z.string().trim().min(1).optional(),
  /** Print stacks of unexpected errors. Default false. */
  ROLLOUT_DEBUG: bool.default(false),
  /** The time-skipping test server's executable, for `rollout simulate`. Default: found by scripts/temporal-servers.sh in a checkout. */
  TEMPORAL_TEST_SERVER_PATH: z.string().min(1).optional(),
});

export type CliConfig = Readonly<{
  temporal: TemporalConnectionConfig;
  uiUrl: string;
  actor?: string;
  debug: boolean;
  testServerPath?: string;
}>;

/** CLI flags that stand for a variable, by the variable's name; they win over the environment. */
export type CliOverrides = Partial<Record<keyof z.infer<typeof CliEnvSchema>, string>>;

/**
 * The CLI's configuration: the environment with the command's flags laid over it. Empty variables count
 * as unset, as a shell's `VAR= rollout …` means. A bad value throws ConfigError naming the variable.
 */
export function loadCliConfig(env: NodeJS.ProcessEnv = process.env, overrides: CliOverrides = {}): CliConfig {
  const merged: Record<string, string | undefined> = {};
  for (const k of Object.keys(CliEnvSchema.shape)) merged[k] = env[k] === '' ? undefined : env[k];
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  const e = parseEnv(CliEnvSchema, merged);
  return Object.freeze({ temporal: temporalConnection(e), uiUrl: e.TEMPORAL_UI_URL, actor: e.ROLLOUT_ACTOR, debug: e.ROLLOUT_DEBUG, testServerPath: e.TEMPORAL_TEST_SERVER_PATH });
}

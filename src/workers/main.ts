// The worker's composition root: config, logger, adapters, worker; clean shutdown on SIGINT/SIGTERM.
import v8 from 'node:v8';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { buildPorts } from '../adapters';
import { exitOnStartupFailure, loadConfig, type WorkerConfig } from '../config';
import { createLogger, PinoSdkLogger, type Logger } from '../logger';
import { releaseRecordSinks } from '../report/record';
import { RELEASE_VERSIONING } from '../workflows/release-versioning';
import { currentAllocator } from './allocator';
import { workflowSource } from './bundle';
import { workflowThreadsWithoutStackTraces } from './stack-traces';

/** Workflow-task latencies span milliseconds to minutes when a worker is overloaded. */
const LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000];

/**
 * Routes the SDK's logs to pino, and serves its metrics on `metricsBind` when given; must run before
 * anything else touches Temporal.
 */
export function installRuntime(logger: Logger, metricsBind?: string): void {
  Runtime.install({
    logger: new PinoSdkLogger(logger.child({ component: 'temporal-sdk' })),
    ...(metricsBind
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: metricsBind,
                histogramBucketOverrides: { workflow_task_schedule_to_start_latency: LATENCY_BUCKETS_MS, activity_schedule_to_start_latency: LATENCY_BUCKETS_MS },
              },
            },
          },
        }
      : {}),
    // The worker drains and stops on these; the caller then closes what else it started.
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR2'],
  });
}

/**
 * WORKER_HEAP_GROWING_PERCENT: V8 reads the flag at every full collection, and flags are the process's,
 * so set before the SDK starts its workflow thread it holds for both threads' heaps.
 */
function applyHeapGrowing(percent: number | undefined): void {
  if (percent !== undefined) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/** Runs until a shutdown signal, or until `stop` resolves (for processes that host the worker, like the demo). */
export async function runWorker(config: WorkerConfig, logger: Logger, stop?: Promise<void>): Promise<void> {
  const { address, namespace, taskQueue, tls, apiKey } = config.temporal;
  applyHeapGrowing(config.heapGrowingPercent);
  const workflowThreadsStarted = config.stackTraces ? null : workflowThreadsWithoutStackTraces();
  const connection = await NativeConnection.connect({ address, tls: tls || undefined, apiKey });
  try {
    const source = workflowSource({ bundle: config.workflowBundle });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      ...source,
      activities: createActivities(buildPorts(config, logger)),
      sinks: releaseRecordSinks(),
      ...config.tuning,
      // A versioned worker takes work only once its build is made current (deploy/temporal/set-current-version.sh);
      // releases in flight then move to it at their next workflow task (AUTO_UPGRADE, see the README).
      ...(config.deployment
        ? { workerDeploymentOptions: { version: config.deployment, useWorkerVersioning: true, defaultVersioningBehavior: RELEASE_VERSIONING } }
        : {}),
    });
    // The SDK starts its workflow threads in Worker.create: none started without the hook means it no longer starts them as it did.
    if (workflowThreadsStarted?.() === 0) throw new Error('WORKER_STACK_TRACES=off: the SDK started no workflow thread the setting could apply to (unset it)');
    logger.info({ address, namespace, taskQueue, prebuiltBundle: 'workflowBundle' in source, deployment: config.deployment, tuning: config.tuning, heapGrowingPercent: config.heapGrowingPercent, stackTraces: config.stackTraces, allocator: currentAllocator() }, 'worker started');
    void stop?.then(() => worker.getState() === 'RUNNING' && worker.shutdown());
    await worker.run();
    logger.info('worker stopped');
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  let config: WorkerConfig;
  try {
    config = loadConfig();
  } catch (err) {
    exitOnStartupFailure(err);
  }
  const logger = createLogger(config.logLevel);
  installRuntime(logger, config.metricsBind);
  runWorker(config, logger).catch((err: unknown) => {
    logger.fatal({ err }, 'worker failed');
    process.exit(1);
  });
}

// Builds the ports the worker's activities call. The real backends (the embedded gateway, Prometheus,
// MLflow, the evaluator) arrive with their own adapters; until one is configured, its port fails every
// call with a non-retryable error that names it, so a release stops with a clear reason instead of
// acting on invented data.
import { ApplicationFailure } from '@temporalio/common';
import type { Ports } from '../activities/ports';
import type { WorkerConfig } from '../config';

function unconfigured<T extends object>(port: string, methods: (keyof T)[]): T {
  return Object.fromEntries(
    methods.map((m) => [
      m,
      async () => {
        throw ApplicationFailure.create({
          type: 'BackendUnavailable',
          message: `no ${port} is configured for this worker`,
          nonRetryable: true,
        });
      },
    ]),
  ) as T;
}

export function buildPorts(_config: WorkerConfig): Ports {
  return {
    router: unconfigured('traffic router', ['apply', 'read', 'healthy']),
    metrics: unconfigured('metrics provider', ['variantStats']),
    registry: unconfigured('model registry', ['getAlias', 'setAlias', 'recordOutcome', 'lastRollbackAt', 'archive']),
    evaluator: unconfigured('evaluator', ['evaluate', 'smoke']),
    shadow: unconfigured('shadow analyzer', ['analyze']),
    notifier: unconfigured('notifier', ['notify']),
  };
}

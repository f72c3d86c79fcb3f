// Builds the ports the worker's activities call, on the embedded defaults: the gateway routes traffic
// and keeps metrics and shadow comparisons, a JSON file is the registry, the evaluator scores versions
// over the Open Inference Protocol on holdout files in <data>/datasets, notifications go to the log and
// webhooks.
import type { Ports } from '../activities/ports';
import path from 'node:path';
import type { WorkerConfig } from '../config';
import { gatewayToken } from '../gateway/token';
import type { Logger } from '../logger';
import { FileRegistry } from './file-registry';
import { GatewayClient } from './gateway';
import { LogAndWebhookNotifier } from './notifier';
import { OipEvaluator } from './oip-evaluator';

export function buildPorts(config: WorkerConfig, logger: Logger): Ports {
  const gateway = new GatewayClient({ baseUrl: config.gateway.url, adminToken: config.gateway.adminToken ?? gatewayToken(config.dataDir) });
  return {
    router: gateway,
    metrics: gateway,
    shadow: gateway,
    registry: new FileRegistry(path.join(config.dataDir, 'registry.json')),
    evaluator: new OipEvaluator({ backendUrl: (m, v) => gateway.backendUrl(m, v), datasetDir: path.join(config.dataDir, 'datasets') }),
    notifier: new LogAndWebhookNotifier(logger.child({ component: 'notifier' }), config.notifyWebhooks),
  };
}

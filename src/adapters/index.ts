// Builds the ports the worker's activities call. Embedded defaults: the gateway routes traffic and keeps
// metrics and shadow comparisons, a JSON file is the registry, the evaluator scores versions over the
// Open Inference Protocol on holdout files in <data>/datasets, notifications go to the log and webhooks.
// In production, PROMETHEUS_URL makes Prometheus the metrics provider and MLFLOW_TRACKING_URI makes
// MLflow the registry; ROUTER=envoy routes through Envoy, reads its stats from Prometheus and shadow
// answers from the inference log.
import type { Ports } from '../activities/ports';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerConfig } from '../config';
import { gatewayToken } from '../gateway/token';
import type { Logger } from '../logger';
import { FileRegistry } from './file-registry';
import { EnvoyRouter } from './envoy';
import { GatewayClient } from './gateway';
import { InferenceLogAnalyzer } from './inference-log';
import { MlflowRegistry } from './mlflow';
import { LogAndWebhookNotifier } from './notifier';
import { PrometheusMetrics, QueryTemplates } from './prometheus';
import { OipEvaluator } from './oip-evaluator';
import { describeIssues } from '../domain/issues';

export function buildPorts(config: WorkerConfig, logger: Logger): Ports {
  const prometheus = config.prometheus
    ? new PrometheusMetrics({ url: config.prometheus.url, token: config.prometheus.token, preset: config.prometheus.preset, queries: promQueries(config.prometheus.queriesFile) })
    : null;
  const common = {
    registry: config.mlflow ? new MlflowRegistry(config.mlflow) : new FileRegistry(path.join(config.dataDir, 'registry.json')),
    notifier: new LogAndWebhookNotifier(logger.child({ component: 'notifier' }), config.notifyWebhooks),
  };
  if (config.envoy) {
    // Envoy routes; Prometheus reads its cluster stats (loadConfig requires it); the inference log compares shadow answers.
    const envoy = new EnvoyRouter({ adminUrl: config.envoy.adminUrl, listenerUrl: config.envoy.listenerUrl, configDir: config.envoy.configDir });
    return {
      ...common,
      router: envoy,
      metrics: prometheus as PrometheusMetrics,
      shadow: new InferenceLogAnalyzer({ url: config.envoy.inferenceLogUrl }),
      evaluator: new OipEvaluator({ backendUrl: async (m, v) => envoy.backendUrl(m, v), datasetDir: path.join(config.dataDir, 'datasets') }),
    };
  }
  const gateway = new GatewayClient({ baseUrl: config.gateway.url, adminToken: config.gateway.adminToken ?? gatewayToken(config.dataDir) });
  return {
    ...common,
    router: gateway,
    metrics: prometheus ?? gateway,
    shadow: gateway,
    evaluator: new OipEvaluator({ backendUrl: (m, v) => gateway.backendUrl(m, v), datasetDir: path.join(config.dataDir, 'datasets') }),
  };
}

/** PromQL templates from a JSON file; a bad file stops the worker at start-up, naming the file and key. */
function promQueries(file: string | undefined): QueryTemplates | undefined {
  if (!file) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`PROMETHEUS_QUERIES: cannot read ${file}: ${(err as Error).message}`);
  }
  const p = QueryTemplates.safeParse(json);
  if (!p.success) throw new Error(`PROMETHEUS_QUERIES: ${file}: ${describeIssues(p.error, 'file')}`);
  return p.data;
}

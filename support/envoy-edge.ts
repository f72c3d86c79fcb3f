// The production-shaped edge the demo runs with --router envoy: Envoy in front of the model servers, the
// inference log their loggers post to, the application's own outcome counter, and Prometheus scraping
// Envoy's cluster stats and that counter. Every part is a real process or server; the worker's config
// points at them as it would in production (ROUTER=envoy).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Counter, Registry } from 'prom-client';
import { EnvoyRouter } from '../src/adapters/envoy';
import type { WorkerConfig } from '../src/config';
import { startEnvoy, type EnvoyProcess } from '../src/envoy/process';
import { InferenceLogServer } from '../src/inference-log/server';
import { startPrometheus, type Backend } from './backends';
import { freePort } from './net';

export interface EnvoyEdge {
  envoy: EnvoyProcess;
  router: EnvoyRouter;
  listenerUrl: string;
  inferenceLogUrl: string;
  prometheusUrl: string;
  /** The application's ground truth, counted against the version that answered. */
  recordOutcome(model: string, version: string, success: boolean): void;
  /** The worker's config with this edge as its router, metrics and shadow analyzer. */
  workerConfig(base: WorkerConfig): WorkerConfig;
  close(): Promise<void>;
}

export async function startEnvoyEdge(o: { dataDir: string; listenerPort: number; adminPort: number }): Promise<EnvoyEdge> {
  const configDir = path.join(o.dataDir, 'envoy');
  fs.rmSync(configDir, { recursive: true, force: true });
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const envoy = await startEnvoy({ configDir, adminPort: o.adminPort, listenerPort: o.listenerPort });
    closers.push(() => envoy.stop());
    const log = new InferenceLogServer();
    const inferenceLogUrl = `http://127.0.0.1:${await log.listen(0)}`;
    closers.push(() => log.close());
    // The application's metrics endpoint: what a team's service exports for Prometheus.
    const registry = new Registry();
    const outcomes = new Counter({ name: 'model_outcomes_total', help: 'Ground truth per served model version.', labelNames: ['model', 'version', 'success'], registers: [registry] });
    const app = http.createServer((_req, res) => {
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      });
    });
    const appPort = await freePort();
    await new Promise<void>((r) => app.listen(appPort, '127.0.0.1', () => r()));
    closers.push(() => new Promise((r) => app.close(r)));
    const prometheus: Backend = await startPrometheus([
      { name: 'envoy', targets: [`127.0.0.1:${o.adminPort}`], path: '/stats/prometheus' },
      { name: 'app', targets: [`127.0.0.1:${appPort}`], path: '/metrics' },
    ]);
    closers.push(() => prometheus.close());
    const router = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir });
    return {
      envoy,
      router,
      listenerUrl: envoy.listenerUrl,
      inferenceLogUrl,
      prometheusUrl: prometheus.url,
      recordOutcome: (model, version, success) => {
        // Series start at zero for a version's first outcome of either kind, so increase() misses none.
        outcomes.inc({ model, version, success: String(!success) }, 0);
        outcomes.inc({ model, version, success: String(success) });
      },
      workerConfig: (base) =>
        Object.freeze({
          ...base,
          envoy: Object.freeze({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir, inferenceLogUrl }),
          prometheus: Object.freeze({ url: prometheus.url, preset: 'envoy' as const }),
        }),
      close: async () => {
        for (const c of closers.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw err;
  }
}

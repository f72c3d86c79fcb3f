// The production metrics provider: Prometheus's HTTP API. Each measurement is a PromQL template with
// variables ($model, $version, $cluster, $window), evaluated as an instant query at the window's end, so
// a team points the gates at its own metric names without code. Two presets: the embedded gateway's
// /metrics, and Envoy's cluster stats. Responses are parsed; failures name Prometheus and the query.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { MetricsProvider, TimeWindow } from '../activities/ports';
import type { VariantStats } from '../domain/gates';
import { ErrorType } from '../domain/release';
import { describeIssues } from '../domain/issues';
import { histogramQuantile } from '../domain/quantile';
import { clusterName } from '../envoy/xds';

const GATEWAY_QUERIES = {
  /** Requests served by the variant in the window. */
  requests: 'sum(increase(gateway_requests_total{model="$model",version="$version"}[$window]))',
  /** Failed requests. */
  errors: 'sum(increase(gateway_requests_total{model="$model",version="$version",result="error"}[$window]))',
  /** Business outcomes observed (delayed ground truth). */
  outcomes: 'sum(increase(gateway_outcomes_total{model="$model",version="$version"}[$window]))',
  /** Successful business outcomes. */
  successes: 'sum(increase(gateway_outcomes_total{model="$model",version="$version",success="true"}[$window]))',
  /**
   * Cumulative latency buckets, one series per `le` (a Prometheus histogram): they give p99 and the
   * distribution the latency test compares.
   */
  latencyBuckets: 'sum by (le) (increase(gateway_request_duration_seconds_bucket{model="$model",version="$version"}[$window]))',
  /** The unit of the buckets' `le`. */
  latencyUnit: 'seconds',
} as const;

/**
 * Envoy's cluster stats ($cluster is the version's cluster, src/envoy/xds.ts). Requests are the completed
 * ones: a request Envoy could not even connect upstream is not in upstream_rq_total, but it is in
 * upstream_rq_completed and in the 5xx class, which also holds timeouts (504) and resets (503). Latency
 * buckets are Envoy's, in milliseconds. Business outcomes are the application's own counter, labelled with
 * the version that served each request (Envoy's x-model-version response header, echoed back with the
 * ground truth): `model_outcomes_total{model, version, success="true"|"false"}`.
 */
const ENVOY_QUERIES = {
  requests: 'sum(increase(envoy_cluster_upstream_rq_completed{envoy_cluster_name="$cluster"}[$window]))',
  errors: 'sum(increase(envoy_cluster_upstream_rq_xx{envoy_cluster_name="$cluster",envoy_response_code_class="5"}[$window]))',
  outcomes: 'sum(increase(model_outcomes_total{model="$model",version="$version"}[$window]))',
  successes: 'sum(increase(model_outcomes_total{model="$model",version="$version",success="true"}[$window]))',
  latencyBuckets: 'sum by (le) (increase(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="$cluster"}[$window]))',
  latencyUnit: 'milliseconds',
} as const;

/** The query sets shipped, by the router whose metrics they read. */
export const QUERY_PRESETS = { gateway: GATEWAY_QUERIES, envoy: ENVOY_QUERIES } as const;

/** A team's own templates (PROMETHEUS_QUERIES), each key overriding the preset's. */
export const QueryTemplates = z.strictObject({
  requests: z.string().min(1).optional(),
  errors: z.string().min(1).optional(),
  outcomes: z.string().min(1).optional(),
  successes: z.string().min(1).optional(),
  latencyBuckets: z.string().min(1).optional(),
  latencyUnit: z.enum(['seconds', 'milliseconds']).optional(),
});
export type QueryTemplates = z.infer<typeof QueryTemplates>;
type Queries = { -readonly [K in keyof typeof GATEWAY_QUERIES]: K extends 'latencyUnit' ? 'seconds' | 'milliseconds' : string };

export interface PrometheusOptions {
  /** Base URL, e.g. http://prometheus:9090. */
  url: string;
  /** Whose metrics the defaults read. Default `gateway`. */
  preset?: keyof typeof QUERY_PRESETS;
  queries?: QueryTemplates;
  /** Bearer token, for a Prometheus behind an authenticating proxy. */
  token?: string;
  timeoutMs?: number;
}

const ApiResponse = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.object({
      resultType: z.literal('vector'),
      result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) })),
    }),
  }),
  z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() }),
]);

/** A PromQL label value: quotes and backslashes escaped. */
const labelValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderQuery(template: string, vars: { model: string; version: string; windowSeconds: number }): string {
  return template
    .replaceAll('$cluster', labelValue(clusterName(vars.model, vars.version)))
    .replaceAll('$model', labelValue(vars.model))
    .replaceAll('$version', labelValue(vars.version))
    .replaceAll('$window', `${Math.max(1, Math.round(vars.windowSeconds))}s`);
}

export class PrometheusMetrics implements MetricsProvider {
  private readonly base: string;
  private readonly queries: Queries;

  constructor(private readonly opts: PrometheusOptions) {
    this.base = opts.url.replace(/\/$/, '');
    const own = Object.fromEntries(Object.entries(QueryTemplates.parse(opts.queries ?? {})).filter(([, v]) => v !== undefined));
    this.queries = { ...QUERY_PRESETS[opts.preset ?? 'gateway'], ...own };
  }

  /** An instant query; returns the vector's samples as [labels, value]. */
  async query(promql: string, atMs: number): Promise<{ metric: Record<string, string>; value: number }[]> {
    const body = new URLSearchParams({ query: promql, time: (atMs / 1000).toFixed(3) });
    let r: Response;
    try {
      r = await fetch(`${this.base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw ApplicationFailure.retryable(`prometheus ${this.base} unreachable: ${(err as Error).message}`, ErrorType.enum.MetricsUnavailable);
    }
    let json: unknown;
    try {
      json = await r.json();
    } catch {
      throw ApplicationFailure.retryable(`prometheus ${this.base} answered ${r.status} with a body that is not JSON`, ErrorType.enum.BadBackendResponse);
    }
    const parsed = ApiResponse.safeParse(json);
    if (!parsed.success) {
      throw ApplicationFailure.retryable(
        `prometheus ${this.base}: malformed answer (${r.status}) to ${promql}: ${describeIssues(parsed.error, 'response')}`,
        ErrorType.enum.BadBackendResponse,
      );
    }
    if (parsed.data.status === 'error') {
      // bad_data: the query itself is wrong, and retrying cannot fix it; anything else may pass.
      const msg = `prometheus ${this.base} refused ${promql}: ${parsed.data.errorType}: ${parsed.data.error}`;
      if (parsed.data.errorType === 'bad_data') throw ApplicationFailure.nonRetryable(msg, ErrorType.enum.BadMetricsQuery);
      throw ApplicationFailure.retryable(msg, ErrorType.enum.MetricsUnavailable);
    }
    return parsed.data.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  }

  private async scalar(template: string, vars: Parameters<typeof renderQuery>[1], atMs: number): Promise<number> {
    const result = await this.query(renderQuery(template, vars), atMs);
    const v = result.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
    // increase() extrapolates to the window's edges, so counts come back fractional.
    return Math.max(0, Math.round(v));
  }

  async variantStats(model: string, version: string, w: TimeWindow): Promise<VariantStats> {
    const vars = { model, version, windowSeconds: (w.to - w.from) / 1000 };
    const [requests, errors, outcomes, successes, buckets] = await Promise.all([
      this.scalar(this.queries.requests, vars, w.to),
      this.scalar(this.queries.errors, vars, w.to),
      this.scalar(this.queries.outcomes, vars, w.to),
      this.scalar(this.queries.successes, vars, w.to),
      this.query(renderQuery(this.queries.latencyBuckets, vars), w.to),
    ]);
    const histogram = latencyHistogram(buckets, this.queries.latencyUnit === 'milliseconds' ? 1 : 1000);
    return {
      requests,
      errors: Math.min(errors, requests),
      outcomes,
      successes: Math.min(successes, outcomes),
      latencyP99Ms: histogramQuantile(histogram, 0.99),
      latencyHistogram: histogram,
    };
  }
}

/**
 * Cumulative `le` buckets to per-bucket counts [upper bound ms, count]; `toMs` converts `le` (1000 for
 * seconds). The +Inf bucket is kept at twice the largest finite bound, so a request slower than every
 * bound still weighs as slowest.
 */
export function latencyHistogram(samples: { metric: Record<string, string>; value: number }[], toMs = 1000): [number, number][] {
  const cumulative = samples
    .filter((s) => s.metric.le !== undefined && Number.isFinite(s.value))
    .map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), n: s.value }))
    .filter((b) => !Number.isNaN(b.le))
    .sort((a, b) => a.le - b.le);
  const finite = cumulative.filter((b) => b.le !== Infinity);
  const top = finite.length ? (finite[finite.length - 1] as { le: number }).le * 2 : 1;
  const out: [number, number][] = [];
  let prev = 0;
  for (const b of cumulative) {
    // Counters reset or extrapolation can make a bucket dip below the one before it.
    const n = Math.max(0, Math.round(b.n - prev));
    prev = Math.max(prev, b.n);
    out.push([Number(((b.le === Infinity ? top : b.le) * toMs).toFixed(3)), n]);
  }
  return out;
}

// The production metrics provider: Prometheus's HTTP API. Each measurement is a PromQL template with
// variables ($model, $version, $window), evaluated as an instant query at the window's end, so a
// team points the gates at its own metric names without code. The defaults read the gateway's
// /metrics. Responses are parsed; failures name Prometheus and the query.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { MetricsProvider, TimeWindow } from '../activities/ports';
import type { VariantStats } from '../domain/gates';
import { ErrorType } from '../domain/release';
import { describeIssues } from '../domain/issues';
import { histogramQuantile } from '../domain/quantile';

export const QueryTemplates = z
  .object({
    /** Requests served by the variant in the window. */
    requests: z.string().min(1).default('sum(increase(gateway_requests_total{model="$model",version="$version"}[$window]))'),
    /** Failed requests. */
    errors: z.string().min(1).default('sum(increase(gateway_requests_total{model="$model",version="$version",result="error"}[$window]))'),
    /** Business outcomes observed (delayed ground truth). */
    outcomes: z.string().min(1).default('sum(increase(gateway_outcomes_total{model="$model",version="$version"}[$window]))'),
    /** Successful business outcomes. */
    successes: z.string().min(1).default('sum(increase(gateway_outcomes_total{model="$model",version="$version",success="true"}[$window]))'),
    /**
     * Cumulative latency buckets in seconds, one series per `le` (a Prometheus histogram): they give p99
     * and the distribution the Mann–Whitney test compares.
     */
    latencyBuckets: z
      .string()
      .min(1)
      .default('sum by (le) (increase(gateway_request_duration_seconds_bucket{model="$model",version="$version"}[$window]))'),
  })
  .strict();
export type QueryTemplates = z.infer<typeof QueryTemplates>;

export interface PrometheusOptions {
  /** Base URL, e.g. http://prometheus:9090. */
  url: string;
  queries?: Partial<QueryTemplates>;
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
    .replaceAll('$model', labelValue(vars.model))
    .replaceAll('$version', labelValue(vars.version))
    .replaceAll('$window', `${Math.max(1, Math.round(vars.windowSeconds))}s`);
}

export class PrometheusMetrics implements MetricsProvider {
  private readonly base: string;
  private readonly queries: QueryTemplates;

  constructor(private readonly opts: PrometheusOptions) {
    this.base = opts.url.replace(/\/$/, '');
    this.queries = QueryTemplates.parse(opts.queries ?? {});
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
    const histogram = latencyHistogram(buckets);
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
 * Cumulative `le` buckets (seconds) to per-bucket counts [upper bound ms, count]. The +Inf bucket is
 * kept at twice the largest finite bound, so a request slower than every bound still weighs as slowest.
 */
export function latencyHistogram(samples: { metric: Record<string, string>; value: number }[]): [number, number][] {
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
    out.push([Number(((b.le === Infinity ? top : b.le) * 1000).toFixed(3)), n]);
  }
  return out;
}

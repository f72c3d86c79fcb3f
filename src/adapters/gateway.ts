// Adapters over the embedded gateway: the traffic router (admin API) and the embedded metrics provider
// and shadow analyzer (its stats endpoints). Every response is parsed; failures name the backend.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { ShadowReport, VariantStats } from '../domain/gates';
import type { MetricsProvider, RouteSpec, ShadowAnalyzer, TimeWindow, TrafficRouter } from '../activities/ports';
import { RouteSchema } from '../gateway/routes';
import { ErrorType } from '../domain/release';
import { describeIssues } from '../domain/issues';

export interface GatewayClientOptions {
  baseUrl: string;
  adminToken: string;
  timeoutMs?: number;
}


export class GatewayClient implements TrafficRouter, MetricsProvider, ShadowAnalyzer {
  private readonly base: string;
  constructor(private readonly opts: GatewayClientOptions) {
    this.base = opts.baseUrl.replace(/\/$/, '');
  }

  /** `answers`: statuses that are answers here, not failures (a version that is not ready answers 503). */
  private async request(method: string, path: string, body?: unknown, admin = false, answers: number[] = []): Promise<{ status: number; json: unknown }> {
    let r: Response;
    try {
      r = await fetch(`${this.base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(admin ? { authorization: `Bearer ${this.opts.adminToken}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5_000),
      });
    } catch (err) {
      // Unreachable or timed out: transient, retried by the activity's policy.
      throw ApplicationFailure.retryable(`gateway ${this.base} unreachable: ${(err as Error).message}`, ErrorType.enum.RouterUnavailable);
    }
    if (r.status === 401) throw ApplicationFailure.nonRetryable(`gateway ${this.base} refused the admin token`, ErrorType.enum.RouterUnavailable);
    if (r.status >= 500 && !answers.includes(r.status)) throw ApplicationFailure.retryable(`gateway ${this.base} answered ${r.status}`, ErrorType.enum.RouterUnavailable);
    let json: unknown;
    try {
      json = await r.json();
    } catch {
      throw ApplicationFailure.retryable(`gateway ${this.base} answered ${r.status} with a body that is not JSON`, ErrorType.enum.BadBackendResponse);
    }
    return { status: r.status, json };
  }

  private parsed<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
    const p = schema.safeParse(json);
    if (p.success) return p.data;
    throw ApplicationFailure.retryable(`gateway ${this.base}: malformed ${what}: ${describeIssues(p.error, 'response')}`, ErrorType.enum.BadBackendResponse);
  }

  async apply(route: RouteSpec): Promise<void> {
    const { status, json } = await this.request('PUT', `/admin/routes/${encodeURIComponent(route.model)}`, route, true);
    // 409: a newer generation of this release is already applied, which the read-back accepts. 400 and
    // 422 refuse the route itself; any other status (a proxy's 403, 404, 429…) may pass on a retry.
    if (status === 400 || status === 422) throw ApplicationFailure.nonRetryable(`gateway ${this.base} refused the route: ${JSON.stringify(json)}`, ErrorType.enum.RouteRefused);
    if (status !== 200 && status !== 409) throw ApplicationFailure.retryable(`gateway ${this.base} answered ${status} to the route: ${JSON.stringify(json)}`, ErrorType.enum.RouterUnavailable);
  }

  async read(model: string): Promise<RouteSpec | null> {
    const { status, json } = await this.request('GET', `/admin/routes/${encodeURIComponent(model)}`, undefined, true);
    if (status === 404) return null;
    return this.parsed(RouteSchema, json, 'route');
  }

  async healthy(model: string, version: string): Promise<boolean> {
    const { status } = await this.request('GET', `/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/ready`, undefined, false, [503]);
    return status === 200;
  }

  /** Where a version is served, as registered with the gateway. */
  async backendUrl(model: string, version: string): Promise<string> {
    const { status, json } = await this.request('GET', `/admin/backends/${encodeURIComponent(model)}/${encodeURIComponent(version)}`, undefined, true);
    if (status === 404) throw ApplicationFailure.nonRetryable(`gateway ${this.base} has no backend for ${model} ${version}`, ErrorType.enum.NotFound);
    return this.parsed(z.object({ url: z.string() }), json, 'backend').url;
  }

  async variantStats(model: string, version: string, w: TimeWindow): Promise<VariantStats> {
    const { json } = await this.request('GET', `/stats/${encodeURIComponent(model)}/${encodeURIComponent(version)}?from=${w.from}&to=${w.to}`);
    return this.parsed(VariantStats, json, 'stats');
  }

  async analyze(q: { model: string; champion: string; candidate: string } & TimeWindow) {
    const { json } = await this.request('GET', `/stats/${encodeURIComponent(q.model)}/_shadow?from=${q.from}&to=${q.to}`);
    return this.parsed(ShadowReport, json, 'shadow stats');
  }
}

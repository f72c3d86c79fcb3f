// Shadow analysis from the inference log (src/inference-log/): the champion's and the candidate's answers
// to the same mirrored requests, as the model servers logged them. For routers that do not compare
// answers themselves (Envoy mirrors and discards).
import { ApplicationFailure } from '@temporalio/common';
import type { ShadowAnalyzer, TimeWindow } from '../activities/ports';
import { ShadowReport } from '../domain/gates';
import { describeIssues } from '../domain/issues';
import { ErrorType } from '../domain/release';

export class InferenceLogAnalyzer implements ShadowAnalyzer {
  private readonly base: string;
  constructor(private readonly o: { url: string; timeoutMs?: number }) {
    this.base = o.url.replace(/\/$/, '');
  }

  async analyze(q: { model: string; champion: string; candidate: string } & TimeWindow): Promise<ShadowReport> {
    const params = new URLSearchParams({ champion: q.champion, candidate: q.candidate, from: String(q.from), to: String(q.to) });
    let r: Response;
    try {
      r = await fetch(`${this.base}/shadow/${encodeURIComponent(q.model)}?${params}`, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000) });
    } catch (err) {
      throw ApplicationFailure.retryable(`inference log ${this.base} unreachable: ${(err as Error).message}`, ErrorType.enum.MetricsUnavailable);
    }
    const json: unknown = await r.json().catch(() => null);
    // 4xx: the query itself is wrong, and retrying cannot fix it.
    if (r.status >= 400 && r.status < 500) throw ApplicationFailure.nonRetryable(`inference log ${this.base} refused the query (${r.status}): ${JSON.stringify(json)}`, ErrorType.enum.BadMetricsQuery);
    if (!r.ok) throw ApplicationFailure.retryable(`inference log ${this.base} answered ${r.status}: ${JSON.stringify(json)}`, ErrorType.enum.MetricsUnavailable);
    const p = ShadowReport.safeParse(json);
    if (!p.success) throw ApplicationFailure.retryable(`inference log ${this.base}: malformed report: ${describeIssues(p.error, 'response')}`, ErrorType.enum.BadBackendResponse);
    return p.data;
  }
}

// Offline evaluation over the Open Inference Protocol: champion and challenger score the same holdout
// rows (JSONL: {"inputs": [...], "label": ..., "slice"?: "...", "group"?: "..."}), then each takes a short
// load at a target rate for its p99. The gateway says where each version is served.
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { EvaluationReport, SmokeReport } from '../domain/gates';
import type { Evaluator } from '../activities/ports';
import type { EvaluationMetric } from '../domain/manifest';
import { fetchModel } from '../shared/http';
import { ErrorType } from '../domain/release';
import { describeIssues } from '../domain/issues';
import { sampleQuantile } from '../domain/quantile';

const Row = z.object({
  inputs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), datatype: z.string(), data: z.array(z.unknown()) })).min(1),
  label: z.union([z.string(), z.number()]),
  /** Slice for per-slice metrics (region, segment, …). */
  slice: z.string().optional(),
  /** Sensitive attribute group for the fairness gap. */
  group: z.string().optional(),
});
type Row = z.infer<typeof Row>;

export interface OipEvaluatorOptions {
  /** Where a model version is served (an Open Inference Protocol base URL). */
  backendUrl: (model: string, version: string) => Promise<string>;
  /** Directory of `<dataset>.jsonl` holdout files; the dataset defaults to the model's name. */
  datasetDir: string;
  /** Primary metric when the release does not name one. Default accuracy. */
  metric?: EvaluationMetric;
  /** Load test: requests per second and how many requests. Default 50 rps, 200 requests. */
  loadRps?: number;
  loadRequests?: number;
  timeoutMs?: number;
}

export class OipEvaluator implements Evaluator {
  constructor(private readonly o: OipEvaluatorOptions) {}

  private rows(model: string, dataset?: string): Row[] {
    const name = dataset ?? model;
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw ApplicationFailure.nonRetryable(`dataset name ${name} is not a plain file name`, ErrorType.enum.NotFound);
    const file = path.join(this.o.datasetDir, `${name}.jsonl`);
    if (!fs.existsSync(file)) throw ApplicationFailure.nonRetryable(`no holdout dataset at ${file}`, ErrorType.enum.NotFound);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    return lines.map((l, i) => {
      const r = Row.safeParse(JSON.parse(l));
      if (!r.success) throw ApplicationFailure.nonRetryable(`${file}:${i + 1}: ${describeIssues(r.error, 'row')}`, ErrorType.enum.BadBackendResponse);
      return r.data;
    });
  }

  private async predict(base: string, model: string, row: Row): Promise<{ value: unknown; ms: number; ok: boolean }> {
    const t0 = performance.now();
    try {
      const r = await fetchModel(`${base}/v2/models/${encodeURIComponent(model)}/infer`, { inputs: row.inputs }, this.o.timeoutMs ?? 10_000);
      const body = (await r.json()) as { outputs?: { data?: unknown[] }[] };
      return { value: body.outputs?.[0]?.data?.[0], ms: performance.now() - t0, ok: r.ok && body.outputs !== undefined };
    } catch {
      return { value: undefined, ms: performance.now() - t0, ok: false };
    }
  }

  private score(metric: EvaluationMetric, rows: Row[], preds: unknown[], select: (r: Row) => boolean = () => true): number {
    const idx = rows.map((r, i) => (select(r) ? i : -1)).filter((i) => i >= 0);
    return primaryMetric(
      metric,
      idx.map((i) => rows[i]!.label),
      idx.map((i) => preds[i]),
    );
  }

  private async scores(model: string, version: string, rows: Row[], metric: EvaluationMetric) {
    const base = await this.o.backendUrl(model, version);
    const preds: unknown[] = [];
    for (let i = 0; i < rows.length; i += 16) {
      Context.current().heartbeat({ version, scored: i });
      const batch = await Promise.all(rows.slice(i, i + 16).map((r) => this.predict(base, model, r)));
      preds.push(...batch.map((b) => (b.ok ? b.value : undefined)));
    }
    const slices = Object.fromEntries(
      [...new Set(rows.map((r) => r.slice).filter((s): s is string => !!s))].map((s) => [s, this.score(metric, rows, preds, (r) => r.slice === s)]),
    );
    const groups = [...new Set(rows.map((r) => r.group).filter((g): g is string => !!g))].map((g) => this.score(metric, rows, preds, (r) => r.group === g));
    return {
      score: this.score(metric, rows, preds),
      slices,
      fairnessGap: groups.length > 1 ? Math.max(...groups) - Math.min(...groups) : 0,
      p99LatencyMs: (await this.load(base, model, rows, this.o.loadRequests ?? 200)).p99,
    };
  }

  /** Requests paced at the target rate, so latency is measured under load, not one at a time. */
  private async load(base: string, model: string, rows: Row[], n: number): Promise<{ p99: number; errors: number }> {
    const rps = this.o.loadRps ?? 50;
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const at = started + (i * 1000) / rps;
        await new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));
        return this.predict(base, model, rows[i % rows.length]!);
      }),
    );
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    return { p99: Number((sampleQuantile(ms, 0.99) ?? 0).toFixed(2)), errors: results.filter((r) => !r.ok).length };
  }

  async evaluate(q: { model: string; champion: string; candidate: string; dataset?: string; metric?: EvaluationMetric }): Promise<EvaluationReport> {
    const rows = this.rows(q.model, q.dataset);
    const metric = q.metric ?? this.o.metric ?? 'accuracy';
    const champion = await this.scores(q.model, q.champion, rows, metric);
    const candidate = await this.scores(q.model, q.candidate, rows, metric);
    return { metric, samples: rows.length, champion, candidate };
  }

  async smoke(q: { model: string; version: string; requests: number }): Promise<SmokeReport> {
    const rows = this.rows(q.model);
    const { p99, errors } = await this.load(await this.o.backendUrl(q.model, q.version), q.model, rows, q.requests);
    return { requests: q.requests, errors, latencyP99Ms: p99 };
  }
}

/**
 * The primary metric over labels and predictions (a failed prediction is undefined: wrong, or for rmse
 * and auc, the worst value it could take).
 * - accuracy: share of exact matches.
 * - f1: macro F1 over the labels present (each class's F1, averaged).
 * - auc: binary; labels are the positive class as 1/true/"1"/"yes"/"positive", predictions a numeric
 *   score for it (rank statistic, ties counted half).
 * - rmse: labels and predictions numeric.
 */
export function primaryMetric(metric: EvaluationMetric, labels: (string | number)[], preds: unknown[]): number {
  const n = labels.length;
  if (!n) return Number.NaN;
  switch (metric) {
    case 'accuracy':
      return labels.filter((l, i) => preds[i] !== undefined && String(preds[i]) === String(l)).length / n;
    case 'rmse': {
      const spread = Math.max(...labels.map(Number)) - Math.min(...labels.map(Number)) || 1;
      return Math.sqrt(labels.reduce<number>((a, l, i) => a + (typeof preds[i] === 'number' ? (preds[i] as number) - Number(l) : spread) ** 2, 0) / n);
    }
    case 'f1': {
      const classes = [...new Set(labels.map(String))];
      const f1s = classes.map((c) => {
        let tp = 0;
        let fp = 0;
        let fn = 0;
        labels.forEach((l, i) => {
          const p = preds[i] === undefined ? undefined : String(preds[i]);
          if (p === c && String(l) === c) tp += 1;
          else if (p === c) fp += 1;
          else if (String(l) === c) fn += 1;
        });
        return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
      });
      return f1s.reduce((a, b) => a + b, 0) / f1s.length;
    }
    case 'auc': {
      const positive = (l: string | number) => ['1', 'true', 'yes', 'positive'].includes(String(l).toLowerCase());
      const pos: number[] = [];
      const neg: number[] = [];
      labels.forEach((l, i) => {
        // A missing score ranks where it hurts most: lowest for a positive, highest for a negative.
        const s = typeof preds[i] === 'number' ? (preds[i] as number) : positive(l) ? -Infinity : Infinity;
        (positive(l) ? pos : neg).push(s);
      });
      if (!pos.length || !neg.length) return Number.NaN;
      let wins = 0;
      const sortedNeg = [...neg].sort((a, b) => a - b);
      for (const p of pos) {
        let below = 0;
        let ties = 0;
        for (const q of sortedNeg) {
          if (q < p) below += 1;
          else if (q === p) ties += 1;
          else break;
        }
        wins += below + ties / 2;
      }
      return wins / (pos.length * neg.length);
    }
  }
}

// The production model registry: MLflow's REST API (2.0). A release's versions are MLflow model version
// numbers; the champion and challenger are MLflow aliases; each release's outcome is recorded as
// tags on the version (`model_rollout.*`) and the model's last rollback as a tag on the registered
// model. Responses are parsed; failures name MLflow.
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ModelRegistry, ReleaseOutcomeRecord } from '../activities/ports';
import { ErrorType } from '../domain/release';
import { describeIssues } from '../domain/issues';

export interface MlflowOptions {
  /** Tracking server, e.g. http://mlflow:5000 (MLFLOW_TRACKING_URI). */
  url: string;
  /** Bearer token (MLFLOW_TRACKING_TOKEN), or basic credentials. */
  token?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export const TAG = {
  outcome: 'model_rollout.outcome',
  releaseId: 'model_rollout.release_id',
  trigger: 'model_rollout.trigger',
  at: 'model_rollout.outcome_at',
  history: 'model_rollout.history',
  archived: 'model_rollout.archived',
  lastRollbackAt: 'model_rollout.last_rollback_at',
} as const;

const ROLLED_BACK = new Set(['rolled-back', 'rejected', 'aborted', 'failed']);
/** MLflow caps tag values (5,000 characters in its SQL store); the history keeps the newest entries. */
const MAX_TAG = 5_000;

const Tags = z.array(z.object({ key: z.string(), value: z.string() })).default([]);
const RegisteredModel = z.object({
  registered_model: z.object({
    name: z.string(),
    aliases: z.array(z.object({ alias: z.string(), version: z.string() })).default([]),
    tags: Tags,
  }),
});
const ModelVersion = z.object({
  model_version: z.object({ name: z.string(), version: z.string(), tags: Tags, current_stage: z.string().optional() }),
});
const ErrorBody = z.object({ error_code: z.string(), message: z.string() });

export class MlflowError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export class MlflowRegistry implements ModelRegistry {
  private readonly base: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: MlflowOptions) {
    this.base = opts.url.replace(/\/$/, '');
  }

  private auth(): Record<string, string> {
    if (this.opts.token) return { authorization: `Bearer ${this.opts.token}` };
    if (this.opts.username) return { authorization: `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}` };
    return {};
  }

  /** One REST call. MLflow's own errors become MlflowError (code kept); transport failures are retryable. */
  private async call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', endpoint: string, body: Record<string, unknown>): Promise<unknown> {
    const get = method === 'GET';
    const qs = get ? `?${new URLSearchParams(body as Record<string, string>)}` : '';
    let r: Response;
    try {
      r = await fetch(`${this.base}/api/2.0/mlflow/${endpoint}${qs}`, {
        method,
        headers: { 'content-type': 'application/json', ...this.auth() },
        body: get ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw ApplicationFailure.retryable(`mlflow ${this.base} unreachable: ${(err as Error).message}`, ErrorType.enum.RegistryUnavailable);
    }
    const text = await r.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw ApplicationFailure.retryable(`mlflow ${this.base} answered ${r.status} to ${endpoint} with a body that is not JSON`, ErrorType.enum.BadBackendResponse);
    }
    if (r.ok) return json;
    if (r.status === 401 || r.status === 403) throw ApplicationFailure.nonRetryable(`mlflow ${this.base} refused the credentials (${r.status})`, ErrorType.enum.RegistryUnavailable);
    const e = ErrorBody.safeParse(json);
    if (r.status >= 500 || !e.success) throw ApplicationFailure.retryable(`mlflow ${this.base} answered ${r.status} to ${endpoint}`, ErrorType.enum.RegistryUnavailable);
    throw new MlflowError(`mlflow ${this.base}: ${endpoint}: ${e.data.message}`, e.data.error_code);
  }

  private parsed<T>(schema: z.ZodType<T>, json: unknown, what: string): T {
    const p = schema.safeParse(json);
    if (p.success) return p.data;
    throw ApplicationFailure.retryable(`mlflow ${this.base}: malformed ${what}: ${describeIssues(p.error, 'response')}`, ErrorType.enum.BadBackendResponse);
  }

  /** The registered model, or null when MLflow does not know it. */
  private async model(name: string) {
    try {
      return this.parsed(RegisteredModel, await this.call('GET', 'registered-models/get', { name }), 'registered model').registered_model;
    } catch (err) {
      if (err instanceof MlflowError && err.code === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw this.typed(err);
    }
  }

  /** MLflow's refusals of a well-formed call (a version that does not exist) cannot pass on retry. */
  private typed(err: unknown): unknown {
    return err instanceof MlflowError ? ApplicationFailure.nonRetryable(err.message, err.code === 'RESOURCE_DOES_NOT_EXIST' ? ErrorType.enum.NotFound : ErrorType.enum.RegistryRefused) : err;
  }

  private async version(name: string, version: string) {
    try {
      return this.parsed(ModelVersion, await this.call('GET', 'model-versions/get', { name, version }), 'model version').model_version;
    } catch (err) {
      throw this.typed(err);
    }
  }

  private async setVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'model-versions/set-tag', { name, version, key, value }).catch((err) => Promise.reject(this.typed(err)));
  }

  /** Tag writes are read-modify-write on the history tag: one at a time in this worker. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async getAlias(model: string, alias: string): Promise<string | null> {
    const m = await this.model(model);
    return m?.aliases.find((a) => a.alias === alias)?.version ?? null;
  }

  async setAlias(model: string, alias: string, version: string | null): Promise<void> {
    try {
      if (version === null) {
        // Deleting an alias that is not set is not an error: the desired state holds.
        if ((await this.getAlias(model, alias)) === null) return;
        await this.call('DELETE', 'registered-models/alias', { name: model, alias });
      } else {
        await this.call('POST', 'registered-models/alias', { name: model, alias, version });
      }
    } catch (err) {
      throw this.typed(err);
    }
  }

  recordOutcome(model: string, version: string, record: ReleaseOutcomeRecord): Promise<void> {
    return this.serial(async () => {
      const v = await this.version(model, version);
      const tag = (k: string) => v.tags.find((t) => t.key === k)?.value;
      const history = parseHistory(tag(TAG.history));
      if (!history.some((h) => h.releaseId === record.releaseId && h.outcome === record.outcome)) history.push({ ...record });
      while (history.length > 1 && JSON.stringify(history).length > MAX_TAG) history.shift();
      await this.setVersionTag(model, version, TAG.outcome, record.outcome);
      await this.setVersionTag(model, version, TAG.releaseId, record.releaseId);
      await this.setVersionTag(model, version, TAG.at, new Date(record.at).toISOString());
      await this.setVersionTag(model, version, TAG.trigger, record.trigger ?? '');
      await this.setVersionTag(model, version, TAG.history, JSON.stringify(history));
      if (ROLLED_BACK.has(record.outcome)) {
        const last = await this.lastRollbackAt(model);
        if (last === null || record.at > last) {
          await this.call('POST', 'registered-models/set-tag', { name: model, key: TAG.lastRollbackAt, value: String(record.at) }).catch((err) => Promise.reject(this.typed(err)));
        }
      }
    });
  }

  async lastRollbackAt(model: string): Promise<number | null> {
    const v = (await this.model(model))?.tags.find((t) => t.key === TAG.lastRollbackAt)?.value;
    const n = v === undefined ? NaN : Number(v);
    return Number.isFinite(n) ? n : null;
  }

  async archive(model: string, version: string): Promise<void> {
    await this.setVersionTag(model, version, TAG.archived, 'true');
    // Stages are deprecated in MLflow but still what its UI shows; the tag is the durable record.
    await this.call('POST', 'model-versions/transition-stage', { name: model, version, stage: 'Archived', archive_existing_versions: false }).catch(() => undefined);
  }

  /** The version's release history, newest last (for `rollout history` and tests). */
  async outcomes(model: string, version: string): Promise<ReleaseOutcomeRecord[]> {
    const v = await this.version(model, version);
    return parseHistory(v.tags.find((t) => t.key === TAG.history)?.value);
  }

  /** Registers a model version from an artifact URI; returns its version number. For setup and tests. */
  async register(model: string, source: string): Promise<string> {
    try {
      await this.call('POST', 'registered-models/create', { name: model });
    } catch (err) {
      if (!(err instanceof MlflowError && err.code === 'RESOURCE_ALREADY_EXISTS')) throw this.typed(err);
    }
    const created = await this.call('POST', 'model-versions/create', { name: model, source }).catch((err) => Promise.reject(this.typed(err)));
    return this.parsed(ModelVersion, created, 'model version').model_version.version;
  }
}

const History = z.array(z.object({ releaseId: z.string(), outcome: z.string(), trigger: z.string().optional(), at: z.number() }));

function parseHistory(value: string | undefined): ReleaseOutcomeRecord[] {
  if (!value) return [];
  try {
    const p = History.safeParse(JSON.parse(value));
    return p.success ? p.data : [];
  } catch {
    return [];
  }
}

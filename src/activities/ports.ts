// The small interfaces activities call. Concrete adapters (the embedded gateway, Prometheus, MLflow, …)
// live apart from these, one file per backend; workflow tests stub them.
import type { EvaluationReport, ShadowReport, SmokeReport, VariantStats } from '../domain/gates';
import type { EvaluationMetric } from '../domain/manifest';

/** The desired state of one model's route: src/domain/route.ts. */
export type { RouteSpec } from '../domain/route';
import type { RouteSpec } from '../domain/route';

export interface TrafficRouter {
  apply(route: RouteSpec): Promise<void>;
  /** What the router really has applied now, or null if the model has no route. */
  read(model: string): Promise<RouteSpec | null>;
  /** Whether the version answers behind the router (for blue/green warm-up). */
  healthy(model: string, version: string): Promise<boolean>;
}

export interface TimeWindow {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

export interface MetricsProvider {
  variantStats(model: string, version: string, window: TimeWindow): Promise<VariantStats>;
}

export interface ReleaseOutcomeRecord {
  releaseId: string;
  outcome: string;
  trigger?: string;
  at: number;
}

export interface ModelRegistry {
  /** The version behind the `champion` alias, or null. */
  getAlias(model: string, alias: string): Promise<string | null>;
  /** Points an alias at a version; null removes it. */
  setAlias(model: string, alias: string, version: string | null): Promise<void>;
  /** Tags the version with a release's outcome (promoted, rolled-back, …). */
  recordOutcome(model: string, version: string, record: ReleaseOutcomeRecord): Promise<void>;
  /** Epoch ms of the model's most recent rollback, or null. */
  lastRollbackAt(model: string): Promise<number | null>;
  /** Marks the version retired (archived); it stays in the registry's history. */
  archive(model: string, version: string): Promise<void>;
}

export interface Evaluator {
  /** `metric`: the manifest's primary metric (gates.evaluation.metric); the evaluator's default otherwise. */
  evaluate(q: { model: string; champion: string; candidate: string; dataset?: string; metric?: EvaluationMetric }): Promise<EvaluationReport>;
  smoke(q: { model: string; version: string; requests: number }): Promise<SmokeReport>;
}

export interface ShadowAnalyzer {
  analyze(q: { model: string; champion: string; candidate: string } & TimeWindow): Promise<ShadowReport>;
}

export interface Notification {
  releaseId: string;
  model: string;
  candidate: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  text: string;
  /** The release's own Slack-compatible webhooks (manifest `notifications.webhooks`). */
  webhooks?: string[];
}

export interface Notifier {
  notify(n: Notification): Promise<void>;
}

export interface Ports {
  router: TrafficRouter;
  metrics: MetricsProvider;
  registry: ModelRegistry;
  evaluator: Evaluator;
  shadow: ShadowAnalyzer;
  notifier: Notifier;
}

// In-memory ports for workflow tests only: behaviour is scripted per version over (workflow) time, and
// the router keeps real semantics (generations, read-back, outages on demand).
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { EvaluationReport, ShadowReport, SmokeReport, VariantStats } from '../../src/domain/gates';
import type {
  Notification,
  Ports,
  ReleaseOutcomeRecord,
  RouteSpec,
  TimeWindow,
} from '../../src/activities/ports';
import { expectedLatencyHistogram } from '../../src/simulate/sampling';

export interface VariantBehaviour {
  /** Requests per minute the variant serves. */
  rpm: number;
  errorRate: number;
  /** Business metric success rate among observed outcomes. */
  successRate: number;
  p99Ms: number;
}
export type Behaviour = VariantBehaviour | ((at: number) => VariantBehaviour);

export const HEALTHY: VariantBehaviour = { rpm: 100, errorRate: 0.01, successRate: 0.3, p99Ms: 80 };
export const BROKEN: VariantBehaviour = { rpm: 100, errorRate: 0.2, successRate: 0.3, p99Ms: 80 };

export const GOOD_EVALUATION: EvaluationReport = {
  metric: 'accuracy',
  samples: 5000,
  champion: { score: 0.9, slices: { young: 0.88, old: 0.91 }, fairnessGap: 0.03, p99LatencyMs: 60 },
  candidate: { score: 0.92, slices: { young: 0.9, old: 0.92 }, fairnessGap: 0.02, p99LatencyMs: 65 },
};

export class StubPorts implements Ports {
  readonly routes = new Map<string, RouteSpec>();
  readonly routeLog: RouteSpec[] = [];
  readonly aliases = new Map<string, string>();
  readonly outcomes: (ReleaseOutcomeRecord & { model: string; version: string })[] = [];
  readonly archived: string[] = [];
  readonly notifications: Notification[] = [];
  /** Router calls fail while this returns true. */
  routerDown: () => boolean = () => false;
  /** Versions the router refuses to route to, as a router with no backend for them does. */
  refusedVersions = new Set<string>();
  behaviours: Record<string, Behaviour> = {};
  evaluation: EvaluationReport = GOOD_EVALUATION;
  shadowDivergence = 0.01;
  shadowRpm = 100;
  healthy = true;
  evaluationDelayMs = 0;
  lastRollback: number | null = null;

  constructor(init: Partial<Pick<StubPorts, 'behaviours' | 'evaluation' | 'shadowDivergence' | 'shadowRpm'>> = {}) {
    Object.assign(this, init);
  }

  behaviourOf(version: string, at: number): VariantBehaviour {
    const b = this.behaviours[version] ?? HEALTHY;
    return typeof b === 'function' ? b(at) : b;
  }

  /** Stats integrated minute by minute over the window, so behaviour changes mid-window count. */
  statsOf(version: string, w: TimeWindow): VariantStats {
    let requests = 0;
    let errors = 0;
    let successes = 0;
    let p99 = 0;
    for (let t = w.from; t < w.to; t += 60_000) {
      const b = this.behaviourOf(version, t);
      const share = Math.min(60_000, w.to - t) / 60_000;
      const n = b.rpm * share;
      requests += n;
      errors += n * b.errorRate;
      successes += n * b.successRate;
      p99 = Math.max(p99, b.p99Ms);
    }
    const r = Math.floor(requests);
    return {
      requests: r,
      errors: Math.round(errors),
      outcomes: r,
      successes: Math.round(successes),
      latencyP99Ms: r ? p99 : null,
      latencyHistogram: expectedLatencyHistogram(r, p99 / 2, p99),
    };
  }

  readonly router = {
    apply: async (route: RouteSpec) => {
      if (this.routerDown()) throw new Error('connect ECONNREFUSED router');
      const refused = route.variants.find((v) => this.refusedVersions.has(v.version) && v.weight > 0);
      if (refused) throw ApplicationFailure.nonRetryable(`variants: ${route.model} ${refused.version} has no backend`, 'RouteRefused');
      const current = this.routes.get(route.model);
      if (current && current.releaseId === route.releaseId && current.generation >= route.generation) return;
      this.routes.set(route.model, structuredClone(route));
      this.routeLog.push(structuredClone(route));
    },
    read: async (model: string) => {
      if (this.routerDown()) throw new Error('connect ECONNREFUSED router');
      return structuredClone(this.routes.get(model) ?? null);
    },
    healthy: async () => this.healthy,
  };

  readonly metrics = {
    variantStats: async (_model: string, version: string, w: TimeWindow) => this.statsOf(version, w),
  };

  readonly registry = {
    getAlias: async (model: string, alias: string) => this.aliases.get(`${model}:${alias}`) ?? null,
    setAlias: async (model: string, alias: string, version: string | null) => {
      if (version === null) this.aliases.delete(`${model}:${alias}`);
      else this.aliases.set(`${model}:${alias}`, version);
    },
    recordOutcome: async (model: string, version: string, record: ReleaseOutcomeRecord) => {
      this.outcomes.push({ model, version, ...record });
    },
    lastRollbackAt: async () => this.lastRollback,
    archive: async (model: string, version: string) => {
      this.archived.push(`${model}:${version}`);
    },
  };

  readonly evaluator = {
    evaluate: async () => {
      // The activity's own sleep: cancelled with the activity, so no timer outlives the test.
      if (this.evaluationDelayMs) await Context.current().sleep(this.evaluationDelayMs);
      return this.evaluation;
    },
    smoke: async (q: { requests: number }): Promise<SmokeReport> => ({
      requests: q.requests,
      errors: this.healthy ? 0 : q.requests,
      latencyP99Ms: 50,
    }),
  };

  readonly shadow = {
    analyze: async (q: TimeWindow): Promise<ShadowReport> => {
      const requests = Math.floor(((q.to - q.from) / 60_000) * this.shadowRpm);
      return { requests, divergent: Math.round(requests * this.shadowDivergence), psi: requests ? 0.02 : null };
    },
  };

  readonly notifier = {
    notify: async (n: Notification) => {
      this.notifications.push(n);
    },
  };

  /** Candidate's share of traffic the router serves now. */
  candidateWeight(model: string, candidate: string): number | undefined {
    return this.routes.get(model)?.variants.find((v) => v.version === candidate)?.weight;
  }
}

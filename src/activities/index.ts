// Activities: thin adapters over the ports. Workflows import their *types* only.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { EvaluationReport, ShadowReport, SmokeReport, VariantStats } from '../domain/gates';
import type { EvaluationMetric } from '../domain/manifest';
import type { ErrorType } from '../domain/release';
import type { LooksReply, LooksRequest } from '../domain/looks';
import { takeLooks } from './looks';
import type { Notification, Ports, ReleaseOutcomeRecord, RouteSpec, TimeWindow } from './ports';

export type { RouteSpec } from './ports';

function fail(type: ErrorType, message: string, nonRetryable = false): never {
  throw ApplicationFailure.create({ type, message, nonRetryable });
}

/**
 * Two routes say the same thing to a user: same served weights, same shadow. Weights compare in basis
 * points and sample rates in millionths, the finest steps any router here takes: a champion's
 * `100 - 8.04` is 91.96000000000001 in floating point, and a router reads back 91.96.
 */
export function sameRoute(a: RouteSpec, b: RouteSpec): boolean {
  const served = (r: RouteSpec) =>
    r.variants
      .map((v) => `${v.version}=${Math.round(v.weight * 100)}`)
      .sort()
      .join(',');
  const shadow = (r: RouteSpec) => (r.shadow ? `${r.shadow.version}@${Math.round(r.shadow.sampleRate * 1_000_000)}` : '-');
  return a.mode === b.mode && served(a) === served(b) && shadow(a) === shadow(b);
}

export function createActivities(ports: Ports) {
  return {
    /** The champion (manifest's or the registry's) and the model's last rollback. */
    async resolveContext(q: { model: string; champion?: string }): Promise<{ champion: string; lastRollbackAt: number | null }> {
      const champion = q.champion ?? (await ports.registry.getAlias(q.model, 'champion'));
      if (!champion) {
        fail('NotFound', `model ${q.model} has no champion: name one in the manifest or set the registry's champion alias`, true);
      }
      return { champion, lastRollbackAt: await ports.registry.lastRollbackAt(q.model) };
    },

    /**
     * Sets the route, then reads it back: returns only once the router really serves it. A router that
     * shows a newer generation of the same release has moved on, which is not an error here.
     */
    async applyRoute(route: RouteSpec): Promise<RouteSpec> {
      try {
        await ports.router.apply(route);
      } catch (err) {
        // A refusal of the route itself stays one (no retry); anything else may pass on a retry.
        const refused = err instanceof ApplicationFailure && err.type === 'RouteRefused';
        fail(refused ? 'RouteRefused' : 'RouterUnavailable', `router ${refused ? 'refused' : 'did not take'} generation ${route.generation}: ${(err as Error).message}`, refused);
      }
      const applied = await ports.router.read(route.model).catch((err: Error) =>
        fail('RouterUnavailable', `router read-back failed: ${err.message}`),
      );
      const verified =
        applied !== null &&
        (sameRoute(applied, route) || (applied.releaseId === route.releaseId && applied.generation > route.generation));
      if (!verified) {
        fail(
          'RouteNotVerified',
          `router reads back ${applied ? `generation ${applied.generation} of ${applied.releaseId}` : 'no route'}, not generation ${route.generation}`,
        );
      }
      return applied;
    },

    async checkHealth(q: { model: string; version: string }): Promise<boolean> {
      return ports.router.healthy(q.model, q.version);
    },

    async measureVariant(q: { model: string; version: string } & TimeWindow): Promise<VariantStats> {
      return VariantStats.parse(await ports.metrics.variantStats(q.model, q.version, { from: q.from, to: q.to }));
    },

    async analyzeShadow(q: { model: string; champion: string; candidate: string } & TimeWindow): Promise<ShadowReport> {
      return ShadowReport.parse(await ports.shadow.analyze(q));
    },

    /**
     * Long: a step's looks, taken here every interval until the step is decided or it is time to wake
     * the workflow (src/activities/looks.ts). Cancelled when a message needs the workflow.
     */
    async takeChecks(req: LooksRequest): Promise<LooksReply> {
      return takeLooks(ports, req, Context.current());
    },

    /** Long: heartbeats while the evaluator runs, and stops as soon as the release cancels it (abort). */
    async evaluateOffline(q: { model: string; champion: string; candidate: string; dataset?: string; metric?: EvaluationMetric }): Promise<EvaluationReport> {
      const ctx = Context.current();
      ctx.heartbeat('evaluating');
      const beat = setInterval(() => ctx.heartbeat('evaluating'), 1_000);
      try {
        return EvaluationReport.parse(await Promise.race([ports.evaluator.evaluate(q), ctx.cancelled]));
      } finally {
        clearInterval(beat);
      }
    },

    async smokeTest(q: { model: string; version: string; requests: number }): Promise<SmokeReport> {
      return SmokeReport.parse(await ports.evaluator.smoke(q));
    },

    async setAlias(q: { model: string; alias: string; version: string | null }): Promise<void> {
      await ports.registry.setAlias(q.model, q.alias, q.version);
    },

    async getAlias(q: { model: string; alias: string }): Promise<string | null> {
      return ports.registry.getAlias(q.model, q.alias);
    },

    async recordOutcome(q: { model: string; version: string } & ReleaseOutcomeRecord): Promise<void> {
      const { model, version, ...record } = q;
      await ports.registry.recordOutcome(model, version, record);
    },

    async archiveVersion(q: { model: string; version: string }): Promise<void> {
      await ports.registry.archive(q.model, q.version);
    },

    async notify(n: Notification): Promise<void> {
      await ports.notifier.notify(n);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

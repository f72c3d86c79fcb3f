// The Envoy traffic router. A change is written as xDS files Envoy watches (src/envoy/xds.ts): the
// clusters (one per served version) and the route configuration (every model's split, cohort and
// mirror, tagged with release and generation). Each file is replaced atomically, so Envoy reloads it
// without a restart, and reads the same files after one. The read-back is Envoy's own /config_dump, not
// the file: a step counts only once Envoy serves it. An admin endpoint that does not answer is a
// retryable RouterUnavailable, so a rollback keeps trying until the read-back verifies.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { RouteSpec, TrafficRouter } from '../activities/ports';
import { z } from 'zod';
import { bootstrapRoute, RouteSchema } from '../domain/route';
import { describeIssues } from '../domain/issues';
import { ErrorType } from '../domain/release';
import { writeJsonAtomic } from '../shared/atomic-file';
import { CDS_FILE, RDS_FILE } from '../envoy/bootstrap';
import { clusterName, EnvoyConfigError, renderClusters, renderRoutes, ROUTE_CONFIG_NAME, routeFromConfigDump } from '../envoy/xds';

export interface EnvoyRouterOptions {
  /** Envoy's admin API, e.g. http://127.0.0.1:9901. */
  adminUrl: string;
  /** Envoy's inference listener, e.g. http://127.0.0.1:10000 (readiness probes go through it). */
  listenerUrl: string;
  /** The directory Envoy watches (the bootstrap's configDir). */
  configDir: string;
  timeoutMs?: number;
  /** How long apply waits for Envoy to load a change before leaving it to the read-back. Default 2 s. */
  settleMs?: number;
}

const State = z.object({
  /** Increases with every write; Envoy reports it as the resources' version_info. */
  seq: z.number().int().min(0),
  backends: z.array(z.object({ model: z.string(), version: z.string(), url: z.string() })),
  routes: z.record(z.string(), RouteSchema),
  /** The highest generation applied per release, so a late attempt of any release is ignored. */
  seen: z.record(z.string(), z.number()).default({}),
});
type State = z.infer<typeof State>;

const STATE_DIR = 'state';
const STATE_FILE = 'router.json';
/** Releases whose highest generation is remembered. */
const SEEN_LIMIT = 1_000;

export class EnvoyRouter implements TrafficRouter {
  private readonly admin: string;
  private readonly listener: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: EnvoyRouterOptions) {
    this.admin = o.adminUrl.replace(/\/$/, '');
    this.listener = o.listenerUrl.replace(/\/$/, '');
  }

  // ------------------------------------------------------------------------------------ state

  private statePath(): string {
    return path.join(this.o.configDir, STATE_DIR, STATE_FILE);
  }

  private load(): State {
    let text: string;
    try {
      text = fs.readFileSync(this.statePath(), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { seq: 0, backends: [], routes: {}, seen: {} };
      throw err;
    }
    let parsed: ReturnType<typeof State.safeParse>;
    try {
      parsed = State.safeParse(JSON.parse(text));
    } catch {
      throw new EnvoyConfigError(`${this.statePath()} is not JSON: restore it, or remove it and register the backends again`);
    }
    if (!parsed.success) throw new EnvoyConfigError(`${this.statePath()}: ${describeIssues(parsed.error, 'state')}`);
    return parsed.data;
  }

  /** Writes the state, then the clusters, then the routes (a route may name a cluster once it exists). */
  private publish(s: State): number {
    s.seq += 1;
    const version = String(s.seq);
    const clusters = renderClusters(s.backends, version);
    const routes = renderRoutes(Object.values(s.routes), s.backends, version);
    writeJsonAtomic(this.statePath(), s);
    writeJsonAtomic(path.join(this.o.configDir, CDS_FILE), clusters);
    writeJsonAtomic(path.join(this.o.configDir, RDS_FILE), routes);
    return s.seq;
  }

  /**
   * One change, start to end, alone: in this process one at a time, and under a lock file against other
   * processes on the same directory. The change is published and Envoy is watched loading it; one Envoy
   * rejects (its update_rejected counters move) is undone before the lock is let go, so no other writer
   * ever builds on it and the files stay what Envoy serves; then it fails without retry, naming what was
   * changed. A change that changes nothing writes nothing.
   */
  private write(what: string, fn: (s: State) => boolean): Promise<void> {
    const run = async () => {
      const release = await lock(path.join(this.o.configDir, STATE_DIR));
      try {
        const s = this.load();
        const before = structuredClone(s);
        if (!fn(s)) return;
        const rejectedBefore = await this.rejections();
        const seq = this.publish(s);
        if ((await this.settle(seq, rejectedBefore, s)) !== 'rejected') return;
        before.seq = s.seq;
        const undo = this.publish(before);
        const undone = await this.settle(undo, null, before);
        throw new EnvoyConfigError(`Envoy rejected ${what} (see Envoy's log for its reason); ${undone === 'loaded' ? 'the previous configuration is back in force' : 'the previous configuration is written back'}`);
      } finally {
        release();
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Registers where a version is served (a cluster). Envoy has it once the clusters file is reloaded. */
  async setBackend(model: string, version: string, url: string): Promise<void> {
    await this.write(`the backend of ${model} ${JSON.stringify(version)}`, (s) => {
      // publish() renders, and so validates, the URL and the cluster names before it writes anything.
      s.backends = [...s.backends.filter((b) => !(b.model === model && b.version === version)), { model, version, url }];
      return true;
    });
  }

  /** Where a version is served, as registered. */
  backendUrl(model: string, version: string): string {
    const b = this.load().backends.find((x) => x.model === model && x.version === version);
    if (!b) throw ApplicationFailure.nonRetryable(`envoy router has no backend for ${model} ${version}`, ErrorType.enum.NotFound);
    return b.url;
  }

  /** Puts a model behind Envoy: its versions' backends, and all traffic on the champion (generation 0). */
  async serveModel(model: string, backends: Record<string, string>, champion: string): Promise<void> {
    for (const [version, url] of Object.entries(backends)) await this.setBackend(model, version, url);
    await this.apply(bootstrapRoute(model, champion));
  }

  // ------------------------------------------------------------------------------------ TrafficRouter

  async apply(route: RouteSpec): Promise<void> {
    const parsed = RouteSchema.safeParse(route);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(`envoy router refused the route: ${describeIssues(parsed.error, 'route')}`, ErrorType.enum.RouteRefused);
    const versions = [...route.variants.map((v) => v.version), ...(route.shadow ? [route.shadow.version] : [])].map((v) => JSON.stringify(v)).join(', ');
    try {
      await this.write(`generation ${route.generation} of ${route.model}'s route (versions ${versions})`, (s) => {
        // A generation of a release lower than one already applied is a late attempt: ignored, as the gateway does.
        const seen = s.seen[route.releaseId];
        if (seen !== undefined && route.generation < seen) return false;
        s.routes[route.model] = parsed.data;
        delete s.seen[route.releaseId];
        s.seen[route.releaseId] = route.generation;
        for (const k of Object.keys(s.seen).slice(0, Math.max(0, Object.keys(s.seen).length - SEEN_LIMIT))) delete s.seen[k];
        return true;
      });
    } catch (err) {
      if (err instanceof EnvoyConfigError) throw ApplicationFailure.nonRetryable(`envoy router refused the route: ${err.message}`, ErrorType.enum.RouteRefused);
      throw ApplicationFailure.retryable(`envoy router cannot write ${this.o.configDir}: ${(err as Error).message}`, ErrorType.enum.RouterUnavailable);
    }
  }

  async read(model: string): Promise<RouteSpec | null> {
    const dump = await this.adminJson('/config_dump?resource=dynamic_route_configs');
    const clusters = new Map(this.load().backends.map((b) => [clusterName(b.model, b.version), b.version]));
    try {
      return routeFromConfigDump(dump, model, (c) => clusters.get(c));
    } catch (err) {
      throw ApplicationFailure.retryable(`envoy ${this.admin}: ${(err as Error).message}`, ErrorType.enum.BadBackendResponse);
    }
  }

  async healthy(model: string, version: string): Promise<boolean> {
    try {
      const r = await fetch(`${this.listener}/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/ready`, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000) });
      await r.arrayBuffer();
      return r.ok;
    } catch {
      return false;
    }
  }

  /** The version_info Envoy has loaded for the routes, or null when it has none or does not answer. */
  async loadedVersion(): Promise<number | null> {
    try {
      const dump = (await this.adminJson('/config_dump?resource=dynamic_route_configs')) as { configs?: { version_info?: string }[] };
      const v = Number(dump.configs?.[0]?.version_info);
      return Number.isFinite(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** Envoy's count of rejected cluster and route updates, or null when its admin does not answer. */
  private async rejections(): Promise<number | null> {
    try {
      const stats = (await this.adminJson('/stats?format=json&filter=update_rejected$')) as { stats?: { name?: string; value?: number }[] };
      return (stats.stats ?? []).filter((x) => x.name === 'cluster_manager.cds.update_rejected' || x.name === `http.inference.rds.${ROUTE_CONFIG_NAME}.update_rejected`).reduce((a, x) => a + (x.value ?? 0), 0);
    } catch {
      return null;
    }
  }

  /**
   * Waits (briefly) for Envoy to load a write: the routes at this version, and every cluster active (a
   * cluster still warming would answer 503 outside any version's stats). A down Envoy loads the files at
   * start, and the read-back decides; a rejection shows as a rise in Envoy's update_rejected counters.
   */
  private async settle(seq: number, rejectedBefore: number | null, s: State): Promise<'loaded' | 'rejected' | 'unknown'> {
    const deadline = Date.now() + (this.o.settleMs ?? 2_000);
    const wanted = s.backends.map((b) => clusterName(b.model, b.version));
    while (Date.now() < deadline) {
      if (rejectedBefore !== null) {
        const now = await this.rejections();
        if (now !== null && now > rejectedBefore) return 'rejected';
      }
      const v = await this.loadedVersion();
      if (v === null) return 'unknown';
      if (v >= seq && (await this.clustersActive(wanted))) return 'loaded';
      await new Promise((r) => setTimeout(r, 5));
    }
    return 'unknown';
  }

  private async clustersActive(names: string[]): Promise<boolean> {
    try {
      const dump = (await this.adminJson('/config_dump?resource=dynamic_active_clusters')) as { configs?: { cluster?: { name?: string } }[] };
      const active = new Set((dump.configs ?? []).map((c) => c.cluster?.name));
      return names.every((n) => active.has(n));
    } catch {
      return false;
    }
  }

  private async adminJson(p: string): Promise<unknown> {
    let r: Response;
    try {
      r = await fetch(`${this.admin}${p}`, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000) });
    } catch (err) {
      throw ApplicationFailure.retryable(`envoy admin ${this.admin} unreachable: ${(err as Error).message}`, ErrorType.enum.RouterUnavailable);
    }
    if (!r.ok) throw ApplicationFailure.retryable(`envoy admin ${this.admin} answered ${r.status} to ${p}`, ErrorType.enum.RouterUnavailable);
    try {
      return await r.json();
    } catch {
      throw ApplicationFailure.retryable(`envoy admin ${this.admin} answered ${p} with a body that is not JSON`, ErrorType.enum.BadBackendResponse);
    }
  }
}

/**
 * An exclusive lock on a directory, across processes: a lock file created with O_EXCL, holding a token of
 * its own, so a holder removes only its own lock. A lock older than 30 s belongs to a process that died
 * holding it (a change holds it for a few seconds at most) and is taken over.
 */
async function lock(dir: string): Promise<() => void> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, '.lock');
  const token = `${process.pid}-${randomUUID()}`;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(file, token, { flag: 'wx' });
      return () => {
        let holder: string | null = null;
        try {
          holder = fs.readFileSync(file, 'utf8');
        } catch {
          /* already gone */
        }
        if (holder === token) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      if (stat && Date.now() - stat.mtimeMs > 30_000) {
        // Take over by renaming the stale file away: of several waiters, one rename wins.
        try {
          fs.renameSync(file, `${file}.stale-${token}`);
          fs.rmSync(`${file}.stale-${token}`, { force: true });
        } catch {
          /* another waiter took it over */
        }
      }
      if (i > 4_000) throw new Error(`${file} is held by another process`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

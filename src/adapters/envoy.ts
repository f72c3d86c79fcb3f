// The Envoy traffic router. A change is written as xDS files Envoy watches (src/envoy/xds.ts): the
// clusters (one per served version) and the route configuration (every model's split, cohort and
// mirror, tagged with release and generation). Each file is replaced atomically, so Envoy reloads it
// without a restart, and reads the same files after one. The read-back is Envoy's own /config_dump, not
// the file: a step counts only once Envoy serves it. An admin endpoint that does not answer is a
// retryable RouterUnavailable, so a rollback keeps trying until the read-back verifies.
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { RouteSpec, TrafficRouter } from '../activities/ports';
import { RouteSchema } from '../domain/route';
import { describeIssues } from '../domain/issues';
import { ErrorType } from '../domain/release';
import { writeJsonAtomic } from '../shared/atomic-file';
import { CDS_FILE, RDS_FILE } from '../envoy/bootstrap';
import { checkBackends, clusterName, EnvoyConfigError, renderClusters, renderRoutes, ROUTE_CONFIG_NAME, routeFromConfigDump, type Backend } from '../envoy/xds';

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

interface State {
  /** Increases with every write; Envoy reports it as the resources' version_info. */
  seq: number;
  backends: Backend[];
  routes: Record<string, RouteSpec>;
}

const STATE_DIR = 'state';
const STATE_FILE = 'router.json';

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
    try {
      return JSON.parse(fs.readFileSync(this.statePath(), 'utf8')) as State;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { seq: 0, backends: [], routes: {} };
      throw err;
    }
  }

  /**
   * Runs one change at a time in this process, under a lock file against other processes on the same
   * directory, then writes the state, the clusters and the routes (clusters first: a route may name a
   * cluster only once it exists).
   */
  private change(fn: (s: State) => boolean): Promise<{ seq: number; before: State }> {
    const run = async () => {
      const release = await lock(path.join(this.o.configDir, STATE_DIR));
      try {
        const s = this.load();
        const before = structuredClone(s);
        // Nothing to write: Envoy keeps the version it has, and nothing waits for a new one.
        if (!fn(s)) return { seq: 0, before };
        s.seq += 1;
        const version = String(s.seq);
        const clusters = renderClusters(s.backends, version);
        const routes = renderRoutes(Object.values(s.routes), s.backends, version);
        writeJsonAtomic(this.statePath(), s);
        writeJsonAtomic(path.join(this.o.configDir, CDS_FILE), clusters);
        writeJsonAtomic(path.join(this.o.configDir, RDS_FILE), routes);
        return { seq: s.seq, before };
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
    new URL(url);
    await this.write(`the backend of ${model} ${JSON.stringify(version)}`, (s) => {
      const backends = [...s.backends.filter((b) => !(b.model === model && b.version === version)), { model, version, url }];
      checkBackends(backends);
      s.backends = backends;
      return true;
    });
  }

  /**
   * Writes a change and waits for Envoy to load it. A change Envoy rejects (its update_rejected counters
   * move) is undone, so the files on disk stay what Envoy serves and a restart cannot load a rejected
   * config, and fails without retry, naming what was changed.
   */
  private async write(what: string, fn: (s: State) => boolean): Promise<void> {
    const rejectedBefore = await this.rejections();
    const { seq, before } = await this.change(fn);
    if (seq === 0 || (await this.settle(seq, rejectedBefore)) !== 'rejected') return;
    const undo = await this.change((s) => {
      s.backends = before.backends;
      s.routes = before.routes;
      return true;
    });
    await this.settle(undo.seq, null);
    throw new EnvoyConfigError(`Envoy rejected ${what} (see Envoy's log for its reason); the previous configuration stays in force`);
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
    await this.apply({ model, releaseId: 'bootstrap', generation: 0, mode: 'weighted', variants: [{ version: champion, weight: 100 }], shadow: null });
  }

  // ------------------------------------------------------------------------------------ TrafficRouter

  async apply(route: RouteSpec): Promise<void> {
    const parsed = RouteSchema.safeParse(route);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(`envoy router refused the route: ${describeIssues(parsed.error, 'route')}`, ErrorType.enum.RouteRefused);
    const versions = [...route.variants.map((v) => v.version), ...(route.shadow ? [route.shadow.version] : [])].map((v) => JSON.stringify(v)).join(', ');
    try {
      await this.write(`generation ${route.generation} of ${route.model}'s route (versions ${versions})`, (s) => {
        const current = s.routes[route.model];
        // A generation this release has already passed is ignored, as the gateway does (a late retry).
        if (current && current.releaseId === route.releaseId && current.generation > route.generation) return false;
        s.routes[route.model] = parsed.data;
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
   * Waits (briefly) for Envoy to load a write. A down Envoy loads it at start, and the read-back decides;
   * a rejection shows as a rise in Envoy's update_rejected counters while the version stays behind.
   */
  private async settle(seq: number, rejectedBefore: number | null): Promise<'loaded' | 'rejected' | 'unknown'> {
    const deadline = Date.now() + (this.o.settleMs ?? 2_000);
    while (Date.now() < deadline) {
      const v = await this.loadedVersion();
      if (v === null) return 'unknown';
      if (v >= seq) return 'loaded';
      if (rejectedBefore !== null) {
        const now = await this.rejections();
        if (now !== null && now > rejectedBefore) return 'rejected';
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return 'unknown';
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
 * An exclusive lock on a directory, across processes: a lock file created with O_EXCL. A lock older
 * than 30 s belongs to a process that died holding it and is taken over.
 */
async function lock(dir: string): Promise<() => void> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, '.lock');
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 30_000) fs.rmSync(file, { force: true });
      if (i > 2_000) throw new Error(`${file} is held by another process`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

// The gateway's route table: one route per model, replaced only by a newer generation of the same
// release or by another release. Persisted atomically (write, fsync, rename) so a restart keeps the split;
// changes made while a write runs share the next one (group commit), so a burst of releases costs a few
// writes of the table, not one per change, and the event loop never waits on the disk.
import fs from 'node:fs';
import { z } from 'zod';
import { RouteSchema, type RouteSpec } from '../domain/route';
import { writeJsonAtomicAsync } from '../shared/atomic-file';

export { RouteSchema };
export type Route = RouteSpec;

export type ApplyResult = 'applied' | 'unchanged' | 'stale';

export class RouteTable {
  private routes = new Map<string, Route>();
  /** Highest generation seen per release, so a late retry of an older change is ignored. */
  private seen = new Map<string, number>();
  /** Where each `model/version` is served (an Open Inference Protocol base URL). */
  private backends = new Map<string, string>();
  /** Changes made, and how many of them are on disk. */
  private changes = 0;
  private written = 0;
  private writing: Promise<void> | null = null;

  constructor(private readonly file: string | null) {
    if (file && fs.existsSync(file)) {
      const saved = z
        .object({ routes: z.array(RouteSchema), seen: z.record(z.string(), z.number()), backends: z.record(z.string(), z.string()).default({}) })
        .parse(JSON.parse(fs.readFileSync(file, 'utf8')));
      for (const r of saved.routes) this.routes.set(r.model, r);
      for (const [k, v] of Object.entries(saved.seen)) this.seen.set(k, v);
      for (const [k, v] of Object.entries(saved.backends)) this.backends.set(k, v);
    }
  }

  get(model: string): Route | null {
    return this.routes.get(model) ?? null;
  }

  apply(route: Route): ApplyResult {
    const seen = this.seen.get(route.releaseId);
    if (seen !== undefined && route.generation < seen) return 'stale';
    const current = this.routes.get(route.model);
    if (seen === route.generation && current?.releaseId === route.releaseId) return 'unchanged';
    this.seen.set(route.releaseId, route.generation);
    this.routes.set(route.model, route);
    this.changed();
    return 'applied';
  }

  backend(model: string, version: string): string | null {
    return this.backends.get(`${model}/${version}`) ?? null;
  }

  setBackend(model: string, version: string, url: string): void {
    this.backends.set(`${model}/${version}`, url.replace(/\/$/, ''));
    this.changed();
  }

  /** Every model version with a backend, as [model, version]. */
  versions(): [string, string][] {
    return [...this.backends.keys()].map((k) => {
      const i = k.lastIndexOf('/');
      return [k.slice(0, i), k.slice(i + 1)];
    });
  }

  /**
   * Resolves once every change made before the call is on disk; rejects if the write failed (the change
   * stays in memory, and the next flush writes it again). The admin API answers only after this.
   */
  async flush(): Promise<void> {
    if (!this.file) return;
    const want = this.changes;
    while (this.written < want) {
      this.writing ??= this.writeOnce().finally(() => (this.writing = null));
      await this.writing;
    }
  }

  private changed(): void {
    this.changes++;
    // Started at once, so a change nobody awaits (a model served at start-up) is on disk within a write.
    this.flush().catch(() => undefined);
  }

  private async writeOnce(): Promise<void> {
    const upTo = this.changes;
    await writeJsonAtomicAsync(this.file as string, {
      routes: [...this.routes.values()],
      seen: Object.fromEntries(this.seen),
      backends: Object.fromEntries(this.backends),
    });
    this.written = Math.max(this.written, upTo);
  }
}

/** FNV-1a: a stable hash so a user always lands in the same cohort bucket, across restarts. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 10_000;
}

/** Picks the served variant: weighted at random, or by the user's stable bucket in cohort mode. */
export function pickVariant(route: Route, userKey: string | null, random: () => number = Math.random): string {
  const point = route.mode === 'cohort' && userKey ? bucketOf(`${route.model}:${userKey}`) / 100 : random() * 100;
  let acc = 0;
  const served = route.variants.filter((v) => v.weight > 0);
  for (const v of served) {
    acc += v.weight;
    if (point < acc) return v.version;
  }
  return (served.at(-1) ?? route.variants[0]!).version;
}

// The embedded model registry: aliases (champion, challenger), each version's release outcomes, and the
// model's rollbacks, in one JSON file written atomically. MLflow is the production choice.
import fs from 'node:fs';
import { z } from 'zod';
import type { ModelRegistry, ReleaseOutcomeRecord } from '../activities/ports';
import { writeJsonAtomicAsync } from '../shared/atomic-file';

const State = z.object({
  models: z.record(
    z.string(),
    z.object({
      aliases: z.record(z.string(), z.string()),
      versions: z.record(z.string(), z.object({ outcomes: z.array(z.record(z.string(), z.unknown())), archived: z.boolean() })),
      rollbacks: z.array(z.number()),
    }),
  ),
});
type State = z.infer<typeof State>;
type Model = State['models'][string];

const ROLLED_BACK = new Set(['rolled-back', 'rejected', 'aborted', 'failed']);

export class FileRegistry implements ModelRegistry {
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The file's text as last read or written, and what it parses to: a worker with thousands of releases
   * asks for aliases at every start, and parsing and validating the whole file each time was quadratic.
   * The text is read again every time and compared, so another writer's change is never missed.
   */
  private cache: { text: string; state: State } | null = null;

  constructor(private readonly file: string) {}

  private load(): State {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { models: {} };
      throw err;
    }
    if (this.cache?.text !== text) this.cache = { text, state: State.parse(JSON.parse(text)) };
    return this.cache.state;
  }

  /** Read-modify-write, one at a time: activities run concurrently in one worker. */
  private update<T>(fn: (m: Model) => T, model: string): Promise<T> {
    const run = this.queue.then(async () => {
      const state = structuredClone(this.load());
      const m = (state.models[model] ??= { aliases: {}, versions: {}, rollbacks: [] });
      const result = fn(m);
      this.cache = { text: await writeJsonAtomicAsync(this.file, state), state };
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async getAlias(model: string, alias: string): Promise<string | null> {
    return this.load().models[model]?.aliases[alias] ?? null;
  }

  setAlias(model: string, alias: string, version: string | null): Promise<void> {
    return this.update((m) => {
      if (version === null) delete m.aliases[alias];
      else m.aliases[alias] = version;
    }, model);
  }

  recordOutcome(model: string, version: string, record: ReleaseOutcomeRecord): Promise<void> {
    return this.update((m) => {
      const v = (m.versions[version] ??= { outcomes: [], archived: false });
      if (!v.outcomes.some((o) => o.releaseId === record.releaseId && o.outcome === record.outcome)) v.outcomes.push({ ...record });
      if (ROLLED_BACK.has(record.outcome) && !m.rollbacks.includes(record.at)) m.rollbacks.push(record.at);
    }, model);
  }

  async lastRollbackAt(model: string): Promise<number | null> {
    const r = this.load().models[model]?.rollbacks ?? [];
    return r.length ? Math.max(...r) : null;
  }

  archive(model: string, version: string): Promise<void> {
    return this.update((m) => {
      (m.versions[version] ??= { outcomes: [], archived: false }).archived = true;
    }, model);
  }

  /** Registers a version (and optionally makes it champion): for setup scripts and the demo. */
  register(model: string, version: string, champion = false): Promise<void> {
    return this.update((m) => {
      m.versions[version] ??= { outcomes: [], archived: false };
      if (champion) m.aliases.champion = version;
    }, model);
  }
}

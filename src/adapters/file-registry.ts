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

/** What identifies one version of the file: every write renames a new inode over it. */
const versionOf = (st: fs.Stats) => `${st.ino}:${st.size}:${st.mtimeMs}`;

function currentVersion(file: string): string | null {
  try {
    return versionOf(fs.statSync(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class FileRegistry implements ModelRegistry {
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The file as last read or written, by its version: a worker with thousands of releases asks for
   * aliases at every start, and reading and validating the whole file each time was quadratic.
   */
  private cache: { version: string; state: State } | null = null;

  constructor(private readonly file: string) {}

  private load(): State {
    const version = currentVersion(this.file);
    if (version === null) return { models: {} };
    if (this.cache?.version !== version) this.cache = { version, state: State.parse(JSON.parse(fs.readFileSync(this.file, 'utf8'))) };
    return this.cache.state;
  }

  /** Read-modify-write, one at a time: activities run concurrently in one worker. */
  private update<T>(fn: (m: Model) => T, model: string): Promise<T> {
    const run = this.queue.then(async () => {
      const state = structuredClone(this.load());
      const m = (state.models[model] ??= { aliases: {}, versions: {}, rollbacks: [] });
      const result = fn(m);
      this.cache = { version: versionOf(await writeJsonAtomicAsync(this.file, state)), state };
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

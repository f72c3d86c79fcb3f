// Live traffic for the demo: penguins sampled from the whole population at a steady rate, each from
// a user (sticky cohorts key on it), a share of them weighed on the broken scale (body mass 0). The
// species is confirmed later by the field team: the ground truth is fed back after a delay, and the
// gateway counts it as the business metric (a correct identification) of the version that answered.
import type { Penguin } from './penguins';
import { seeded } from '../../src/shared/random';

export interface TrafficOptions {
  /** The router clients call: the gateway, or Envoy's listener. */
  routerUrl: string;
  /**
   * Where the ground truth goes. Default: the gateway's feedback endpoint. Behind Envoy, the application
   * counts it itself, against the version that answered (x-model-version).
   */
  recordOutcome?: (version: string, success: boolean) => void;
  model: string;
  population: Penguin[];
  /** Requests per second. */
  rate: number;
  /** Share of requests whose body mass reads 0. */
  brokenScale: number;
  /** Delay of the ground truth, ms. */
  truthDelayMs: number;
  seed?: number;
}

export interface TrafficStats {
  sent: number;
  failed: number;
  served: Record<string, number>;
  truths: number;
}

export function startTraffic(o: TrafficOptions): { stats: TrafficStats; stop: () => Promise<void> } {
  const random = seeded(o.seed ?? 7);
  const stats: TrafficStats = { sent: 0, failed: 0, served: {}, truths: 0 };
  const pending = new Set<Promise<unknown>>();
  let running = true;
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const one = async (n: number) => {
    const p = o.population[Math.floor(random() * o.population.length)] as Penguin;
    const features = [...p.features];
    if (random() < o.brokenScale) features[3] = 0;
    const user = `user-${Math.floor(random() * 5_000)}`;
    stats.sent += 1;
    try {
      const r = await fetch(`${o.routerUrl}/v2/models/${o.model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user },
        body: JSON.stringify({ id: `req-${Date.now()}-${n}`, inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: features }] }),
        signal: AbortSignal.timeout(5_000),
      });
      const version = r.headers.get('x-model-version') ?? 'unknown';
      stats.served[version] = (stats.served[version] ?? 0) + 1;
      if (!r.ok) {
        stats.failed += 1;
        return;
      }
      const body = (await r.json()) as { id: string; outputs: { data: unknown[] }[] };
      const correct = body.outputs[0]?.data[0] === p.species;
      await new Promise((res) => setTimeout(res, o.truthDelayMs));
      if (!running) return;
      if (o.recordOutcome) o.recordOutcome(version, correct);
      else await fetch(`${o.routerUrl}/v2/models/${o.model}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: body.id, success: correct }) });
      stats.truths += 1;
    } catch {
      stats.failed += 1;
    }
  };
  // Paced in 100 ms ticks: `rate` per second on average, without piling up when the machine is busy.
  let n = 0;
  const perTick = o.rate / 10;
  let carry = 0;
  const timer = setInterval(() => {
    if (pending.size > o.rate * 3) return; // the gateway is behind: do not queue more
    carry += perTick;
    for (; carry >= 1; carry -= 1) track(one(n++));
  }, 100);
  return {
    stats,
    stop: async () => {
      running = false;
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}

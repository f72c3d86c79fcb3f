// Benchmark: abort-to-traffic-restored latency on a real Temporal dev server. Each of N releases runs
// to a 20% canary; an `abort` update is sent; we time (a) the update's acknowledgement and (b) the moment
// the router holds the champion at 100% again. The router here is an in-memory port, so the figures are
// the engine's own share (Temporal round trips, workflow, activities), not an HTTP router's.
//   npm run bench:abort [-- --releases 30]
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import type { RouteSpec } from '../src/activities/ports';
import { startRelease } from '../src/client/releases';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { findTemporalServers } from '../src/dev/servers';
import { actionUpdates, statusQuery } from '../src/workflows/release';
import { aManifest } from '../test/helpers/builders';
import { HEALTHY, StubPorts } from '../test/helpers/stub-ports';
import { bundle, quietRuntime, uniqueQueue } from '../test/helpers/temporal';
import { releaseRecordSinks } from '../src/report/record';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function main(): Promise<void> {
  const n = arg('releases', 30);
  quietRuntime();
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: findTemporalServers(true).devServer, ip: '127.0.0.1', searchAttributes: ALL_SEARCH_ATTRIBUTES },
  });
  const ports = new StubPorts({ behaviours: { v1: { ...HEALTHY, rpm: 60_000 }, v2: { ...HEALTHY, rpm: 60_000 } } });
  const restoredAt = new Map<string, number>();
  const apply = ports.router.apply;
  ports.router.apply = async (route: RouteSpec) => {
    await apply(route);
    if (route.variants.length === 1 && route.variants[0]?.version === 'v1') restoredAt.set(route.model, performance.now());
  };
  const taskQueue = uniqueQueue('bench-abort');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await bundle(), activities: createActivities(ports), sinks: releaseRecordSinks() });
  const ack: number[] = [];
  const restore: number[] = [];
  await worker.runUntil(async () => {
    for (let i = 0; i < n; i++) {
      const m = aManifest({ gates: { minSampleSize: 50 }, plan: [{ kind: 'setTraffic', percent: 20 }, { kind: 'bake', duration: '1h', interval: '1s' }, { kind: 'fullRollout' }] });
      const { handle } = await startRelease(env.client, m, { requestedBy: 'bench', taskQueue });
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.traffic.candidatePercent === 20 && s.gates['error-rate']) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const t0 = performance.now();
      await handle.executeUpdate(actionUpdates.abort, { args: [{ by: 'bench', reason: 'latency run' }] });
      ack.push(performance.now() - t0);
      await handle.result();
      restore.push((restoredAt.get(m.model) as number) - t0);
    }
  });
  await env.teardown();
  const show = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${name}: p50 ${pct(s, 50).toFixed(0)} ms, p99 ${pct(s, 99).toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms (n=${s.length})`);
  };
  show('abort update acknowledged', ack);
  show('abort → traffic verified on champion', restore);
  const p50 = pct([...restore].sort((a, b) => a - b), 50);
  console.log(`against the runbook's 5-minute rollback target: ${Math.round(300_000 / p50).toLocaleString('en')}× faster at p50`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

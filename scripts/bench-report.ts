// Benchmark: the release report of whole standard releases (domain defaults: 48h shadow, 5/25/50% canary
// with 24h bakes checked every 5 minutes, 72h watch; then the watch checked every minute), run under the
// time-skipping server with stub ports. For each: the replay of every run's history into the full record
// (the cost `rollout history --format html` pays), then the page built and rendered with the charts
// thinned (what ships) and unthinned, side by side: points drawn, page size, time.
//   npm run bench:report
import { runHistories } from '../src/client/actions-history';
import { renderReleaseReport } from '../src/report/html';
import { buildReport, MAX_POINTS } from '../src/report/model';
import { recordFromHistories } from '../src/report/record';
import { aManifest } from '../test/helpers/builders';
import { Harness } from '../test/helpers/release-harness';
import { StubPorts } from '../test/helpers/stub-ports';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function release(h: Harness, name: string, manifest: ReturnType<typeof aManifest>): Promise<void> {
  const { handle, result } = await h.withWorker(new StubPorts(), async (q) => {
    const handle = await h.start(q, manifest);
    return { handle, result: await handle.result() };
  });
  const desc = await handle.describe();
  const histories = await runHistories(h.env.client, handle.workflowId, desc.runId);
  const events = histories.reduce((n, x) => n + (x.events?.length ?? 0), 0);
  // The first replay bundles nothing (the harness's bundle is passed); three replays, the median.
  const replays: number[] = [];
  let record = await recordFromHistories(handle.workflowId, histories, h.workflowBundle as never);
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    record = await recordFromHistories(handle.workflowId, histories, h.workflowBundle as never);
    replays.push(ms(t0));
  }
  const checks = record.filter((e) => e.kind === 'measurement').length;
  const page = (maxPoints: number) => {
    const times: number[] = [];
    let html = '';
    let points = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      const m = buildReport(result.status, record, { maxPoints });
      html = renderReleaseReport(m);
      times.push(ms(t0));
      points = m.gates.reduce((n, g) => n + g.points.length, 0);
    }
    return { ms: median(times), kb: html.length / 1024, points };
  };
  const thinned = page(MAX_POINTS);
  const full = page(Number.POSITIVE_INFINITY);
  console.log(
    [
      `${name}: ${result.outcome}, ${checks} checks, ${histories.length} run(s), ${events} history events`,
      `  replay into the full record: ${median(replays).toFixed(0)} ms (${((1000 * median(replays)) / events).toFixed(2)} ms per 1,000 events)`,
      `  page            points drawn   size        build + render`,
      `  thinned (ships) ${String(thinned.points).padStart(12)}   ${thinned.kb.toFixed(0).padStart(6)} KiB  ${thinned.ms.toFixed(0).padStart(6)} ms`,
      `  unthinned       ${String(full.points).padStart(12)}   ${full.kb.toFixed(0).padStart(6)} KiB  ${full.ms.toFixed(0).padStart(6)} ms`,
      `  ratio           ${(full.points / thinned.points).toFixed(1).padStart(11)}×   ${(full.kb / thinned.kb).toFixed(1).padStart(6)}×      ${(full.ms / thinned.ms).toFixed(1).padStart(5)}×`,
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const h = await Harness.create();
  const defaults = { ...aManifest(), timings: {}, gates: {} };
  await release(h, 'standard plan, domain defaults', defaults);
  if (!process.argv.includes('--quick')) await release(h, 'standard plan, 72h watch checked every minute', { ...aManifest(), timings: { interval: '1m' }, gates: {} });
  await h.teardown();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// Benchmark: the whole `standard` plan with its real defaults (48h shadow, 5/25/50% canary with 24h bakes
// measured every 5 minutes, 72h watch) simulated under the time-skipping server with stub ports.
// Prints wall time, simulated time and their ratio, and history events per run (continue-as-new bounds
// each run). Optionally a 72h watch measured every minute, the history-size worst case.
//   npm run bench:simulate
import { temporal } from '@temporalio/proto';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { aManifest } from '../test/helpers/builders';
import { Harness } from '../test/helpers/release-harness';
import { StubPorts } from '../test/helpers/stub-ports';

type Env = Harness['env'];

async function eventsPerRun(env: Env, handle: WorkflowHandleWithFirstExecutionRunId): Promise<number[]> {
  const counts: number[] = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
    counts.push(events.length);
    const last: temporal.api.history.v1.IHistoryEvent | undefined = events.at(-1);
    runId =
      last?.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        ? last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined
        : undefined;
  }
  return counts;
}

async function scenario(h: Harness, env: Env, name: string, manifest: ReturnType<typeof aManifest>): Promise<void> {
  const ports = new StubPorts();
  const t0 = process.hrtime.bigint();
  const { handle, result } = await h.withWorker(ports, async (q) => {
    const handle = await h.start(q, manifest);
    return { handle, result: await handle.result() };
  });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const simulatedMs = Date.parse(result.status.timeline.at(-1)!.at) - Date.parse(result.status.startedAt);
  const counts = await eventsPerRun(env, handle);
  const checks = result.status.timeline.filter((e) => e.type === 'measurement').reduce((n, e) => n + (e.count ?? 1), 0);
  console.log(
    [
      `${name}: ${result.outcome}`,
      `  simulated ${(simulatedMs / 3_600_000).toFixed(1)} h in ${(wallMs / 1000).toFixed(1)} s wall — ${Math.round(simulatedMs / wallMs).toLocaleString('en')}× real time`,
      `  ${checks} gate measurements, ${result.status.plan.length} steps`,
      `  history: ${counts.length} run(s), events per run ${counts.join(' / ')} (max ${Math.max(...counts)}, total ${counts.reduce((a, b) => a + b, 0)})`,
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const h = await Harness.create();
  const env = h.env;
  const defaults = { ...aManifest(), timings: {}, gates: {} };
  await scenario(h, env, 'standard plan, domain defaults', defaults);
  if (!process.argv.includes('--quick')) {
    await scenario(h, env, 'standard plan, 72h watch checked every minute', { ...defaults, timings: { interval: '1m' } });
  }
  await env.teardown();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// Benchmark: what a replay costs, and so what a release evicted from the worker's sticky cache costs the
// worker. A release not in the cache replays its run's whole history at each of its workflow tasks; one
// whose gates are looked at every 10 s has a task at every takeChecks reply (a wake every 2 minutes, 12
// looks a reply, about 35 KiB of history), so its run's history grows by one reply every 2 minutes until
// it continues as new (the server suggests it at 4 MiB: about 115 replies).
//
// Records one run of such a bake under the time-skipping server, with takeChecks answering at once with
// the first 12 looks of the reply recorded in test/replay/histories/fast-looks-promoted.json (real gates, as
// a release's history holds them), and no size limit on the run. Cuts the history where a worker receives the release's task after k
// replies, and replays each cut in two child processes: the worker's default, and WORKER_STACK_TRACES=off
// (the SDK's stack-trace hook refused). Prints CPU per replay, p50, side by side with the ratio; then
// what those costs mean for one worker carrying N releases with a cache of C (a model from the measured
// costs: the (N - C) releases outside the cache replay once per wake, each at the mean cost over a run's
// life), for runs that continue as new at 1 MiB (the release's default) and at 4 MiB (the server's).
//   npm run bench:replay [-- --replies 1,10,30,60,110 --repeat 10]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { releaseRecordSinks } from '../src/report/record';
import { refuseSdkStackTraceHookHere } from '../src/workers/stack-traces';
import { DEFAULT_HISTORY_SIZE_LIMIT_BYTES } from '../src/workflows/release-activities';
import { aManifest } from '../test/helpers/builders';
import { instantLooks, takeChecksScheduled } from '../test/helpers/recorded-looks';
import { Harness } from '../test/helpers/release-harness';
import { StubPorts } from '../test/helpers/stub-ports';
import { bundle, quietRuntime } from '../test/helpers/temporal';

type History = temporal.api.history.v1.IHistory;
const EventType = temporal.api.enums.v1.EventType;
const ROOT = path.resolve(__dirname, '..');
const WAKE_MINUTES = 2;
const LOOKS_PER_REPLY = 12;

const { values } = parseArgs({
  options: {
    replies: { type: 'string', default: '1,10,30,60,110' },
    repeat: { type: 'string', default: '10' },
    child: { type: 'string' },
    'without-stack-traces': { type: 'boolean', default: false },
  },
});

const REPLIES = values.replies.split(',').map((s) => Number(s.trim()));
const REPEAT = Number(values.repeat);
for (const k of REPLIES) if (!Number.isInteger(k) || k < 1 || k > 400) throw new Error(`--replies '${values.replies}': expected whole numbers from 1 to 400, e.g. --replies 1,10,35`);
if (!Number.isInteger(REPEAT) || REPEAT < 1 || REPEAT > 100) throw new Error(`--repeat '${values.repeat}': expected a whole number from 1 to 100`);

/** Records one run of a bake with at least `replies` takeChecks replies; its history. */
async function recordRun(replies: number): Promise<History> {
  const h = await Harness.create();
  try {
    const takeChecks = instantLooks(LOOKS_PER_REPLY);
    const m = aManifest({ model: 'replay-bench', plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h', interval: '10s' }, { kind: 'fullRollout' }] });
    const { history, stop } = await h.withWorker(
      new StubPorts(),
      async (q) => {
        // Six events a reply; the run continues as new past the event limit or where the server suggests it
        // (4 MiB, about 115 replies), and the first run is the one kept.
        const handle = await h.start(q, m, { historyEventLimit: replies * 6 + 100, historySizeLimit: 50 * 1024 * 1024 });
        const runId = handle.firstExecutionRunId;
        for (let i = 0; ; i++) {
          const d = await h.env.client.workflow.getHandle(handle.workflowId, runId).describe();
          if (d.status.name !== 'RUNNING') break;
          if (i > 1200) throw new Error('the bake run did not continue as new within 10 minutes');
          await new Promise((r) => setTimeout(r, 500));
        }
        // The time-skipping server sends a run's history in one message, larger than gRPC's default 4 MiB.
        const big = await Connection.connect({ address: h.env.address, channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 } });
        const events: temporal.api.history.v1.IHistoryEvent[] = [];
        try {
          let nextPageToken: Uint8Array | undefined;
          do {
            const page = await big.workflowService.getWorkflowExecutionHistory({
              namespace: h.env.namespace ?? 'default',
              execution: { workflowId: handle.workflowId, runId },
              nextPageToken,
            });
            events.push(...(page.history?.events ?? []));
            nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
          } while (nextPageToken);
        } finally {
          await big.close();
        }
        return { history: { events }, stop: () => handle.terminate('bench:replay recorded its run') };
      },
      { takeChecks },
    );
    // Once the worker has stopped, so no activity of the next run completes into a terminated release.
    await stop();
    return history;
  } finally {
    await h.teardown();
  }
}

/** The history as a worker receives it for the release's task after its k-th reply. */
function cutAfterReplies(history: History, k: number): History | null {
  const events = history.events ?? [];
  const takeChecks = takeChecksScheduled(events);
  let seen = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as temporal.api.history.v1.IHistoryEvent;
    if (takeChecks.has(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId))) seen++;
    if (seen === k && e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) return { events: events.slice(0, i + 1) };
  }
  return null;
}

interface Cut {
  replies: number;
  events: number;
  kib: number;
  cpuMs: number;
}

/** In a child: replays each cut `REPEAT` times after two warm-ups; CPU per replay, p50. */
async function child(file: string): Promise<void> {
  if (values['without-stack-traces']) refuseSdkStackTraceHookHere();
  quietRuntime();
  const workflowBundle = await bundle();
  const cuts = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{ replies: number; history: string }>;
  const out: Cut[] = [];
  for (const c of cuts) {
    const bytes = Buffer.from(c.history, 'base64');
    const history = temporal.api.history.v1.History.decode(bytes);
    const many = async function* (n: number) {
      for (let i = 0; i < n; i++) yield { workflowId: `replay-bench-${c.replies}-${i}`, history };
    };
    const times: number[] = [];
    let i = 0;
    let at = process.cpuUsage();
    for await (const r of Worker.runReplayHistories({ workflowBundle, sinks: releaseRecordSinks(), replayName: 'bench-replay' }, many(REPEAT + 2))) {
      if (r.error) throw r.error;
      const used = process.cpuUsage(at);
      if (i++ >= 2) times.push((used.user + used.system) / 1000);
      at = process.cpuUsage();
    }
    times.sort((a, b) => a - b);
    out.push({ replies: c.replies, events: history.events?.length ?? 0, kib: bytes.length / 1024, cpuMs: times[Math.floor(times.length / 2)] as number });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function replayIn(file: string, withoutStackTraces: boolean): Cut[] {
  const args = ['-r', '@swc-node/register', __filename, '--child', file, '--repeat', String(REPEAT), ...(withoutStackTraces ? ['--without-stack-traces'] : [])];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`replay child exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Cut[];
}

/**
 * Mean replay cost over a run's life when it continues as new at `limitKiB`: replies come at an even
 * pace, so the mean over its size, by the trapezoid over the measured cuts up to the limit (interpolated).
 */
function meanOverRun(cuts: Cut[], limitKiB: number): number {
  const last = cuts[cuts.length - 1] as Cut;
  if (last.kib < limitKiB) throw new Error(`no measured cut reaches ${limitKiB} KiB (the largest is ${last.kib.toFixed(0)} KiB): add more --replies`);
  let area = 0;
  let prev = { kib: 0, cpuMs: (cuts[0] as Cut).cpuMs };
  for (const c of cuts) {
    const to = Math.min(c.kib, limitKiB);
    const cost = c.kib <= limitKiB ? c.cpuMs : prev.cpuMs + ((c.cpuMs - prev.cpuMs) * (to - prev.kib)) / (c.kib - prev.kib);
    area += ((cost + prev.cpuMs) / 2) * (to - prev.kib);
    prev = { kib: to, cpuMs: cost };
    if (c.kib >= limitKiB) break;
  }
  return area / limitKiB;
}

async function main(): Promise<void> {
  if (values.child) return child(values.child);
  const most = Math.max(...REPLIES);
  console.log(`bench:replay: one bake run looked at every 10 s (${LOOKS_PER_REPLY} looks a reply, a reply every ${WAKE_MINUTES} min), replayed ${REPEAT} times at each cut, ${os.cpus().length} cores`);
  const t0 = Date.now();
  const run = await recordRun(most);
  console.log(`  recorded a run of ${run.events?.length} events in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const cuts = REPLIES.map((k) => {
    const cut = cutAfterReplies(run, k);
    if (!cut) throw new Error(`the recorded run has fewer than ${k} replies`);
    return { replies: k, history: Buffer.from(temporal.api.history.v1.History.encode(cut).finish()).toString('base64') };
  });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-replay-')), 'cuts.json');
  fs.writeFileSync(file, JSON.stringify(cuts));
  const on = replayIn(file, false);
  const off = replayIn(file, true);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });

  console.log('');
  console.log('| Replies in the run | Bake time at 10 s looks | History events | History size | CPU per replay, default | WORKER_STACK_TRACES=off | off / default |');
  console.log('|---|---|---|---|---|---|---|');
  on.forEach((c, i) => {
    const o = off[i] as Cut;
    console.log(`| ${c.replies} | ${((c.replies * WAKE_MINUTES) / 60).toFixed(1)} h | ${c.events} | ${c.kib.toFixed(0)} KiB | ${c.cpuMs.toFixed(0)} ms | ${o.cpuMs.toFixed(0)} ms | ${(o.cpuMs / c.cpuMs).toFixed(2)} |`);
  });

  // The model: releases outside the cache replay once a wake, at the mean cost over a run's life.
  console.log('');
  console.log(`Modelled from the costs above: one worker, N releases looked at every 10 s, a cache of C; the N - C outside it each replay once every ${WAKE_MINUTES} min.`);
  console.log('| N | C | Replays per second | Runs continue as new at | Worker cores for replays, default | WORKER_STACK_TRACES=off |');
  console.log('|---|---|---|---|---|---|');
  const runs = [
    { kib: DEFAULT_HISTORY_SIZE_LIMIT_BYTES / 1024, what: '1 MiB (the release default)' },
    // The longest cut stands for runs that go on until the server suggests continuing (at 4 MiB), when
    // --replies reaches that far (the default's 110 replies: 3.7 MiB).
    { kib: (on[on.length - 1] as Cut).kib, what: `${((on[on.length - 1] as Cut).kib / 1024).toFixed(1)} MiB (the longest cut; the server suggests 4 MiB)` },
  ];
  for (const [n, c] of [
    [2_000, 500],
    [2_000, 1_000],
    [2_000, 1_500],
  ] as const) {
    const rate = (n - c) / (WAKE_MINUTES * 60);
    for (const r of runs) {
      console.log(`| ${n} | ${c} | ${rate.toFixed(1)} | ${r.what} | ${((rate * meanOverRun(on, r.kib)) / 1000).toFixed(2)} | ${((rate * meanOverRun(off, r.kib)) / 1000).toFixed(2)} |`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

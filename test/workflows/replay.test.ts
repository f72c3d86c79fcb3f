// Today's workflow code must replay the committed histories of releases recorded earlier, exactly as a
// worker would after a deploy with releases in flight. Recorded by scripts/record-histories.ts.
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import { bundle, quietRuntime, WORKFLOWS_PATH } from '../helpers/temporal';
import { interceptorModules, preloadModules } from '../../src/workers/bundle';
import { releaseRecordSinks } from '../../src/report/record';

const DIR = path.resolve(__dirname, '../replay/histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

let workflowBundle: WorkflowBundle;
beforeAll(async () => {
  quietRuntime();
  workflowBundle = await bundle();
});

it('has recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});

it.each(files)('replays %s without non-determinism', async (file) => {
  const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  expect(history.events?.length).toBeGreaterThan(20);
  await Worker.runReplayHistory({ workflowBundle, sinks: releaseRecordSinks() }, history, file);
});

type Event = temporal.api.history.v1.IHistoryEvent;
const WFT = /^EVENT_TYPE_WORKFLOW_TASK_/;

/** The time of an event, as the workflow's clock reads it (milliseconds, printed as ISO). */
function isoOf(e: Event): string {
  const t = e.eventTime as { seconds?: string | number; nanos?: number };
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/**
 * What a trailing batch brings the workflow, to pick one cut per kind: an activity's result by its type, a
 * timer, a signal. The events of the last task's own commands bring it nothing, nor does a cancelled
 * activity's confirmation (the workflow had already moved on); an update is accepted in the events of the
 * task that received it.
 */
const BRINGS = /ACTIVITY_TASK_(COMPLETED|FAILED|TIMED_OUT)|TIMER_FIRED|WORKFLOW_EXECUTION_(SIGNALED|CANCEL_REQUESTED)/;
function kindOf(trail: Event[], scheduled: Map<string, string>): string {
  const brought = trail.filter((e) => BRINGS.test(String(e.eventType)));
  return brought
    .map((e) => {
      const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      return String(e.eventType).replace('EVENT_TYPE_', '') + (a ? `:${scheduled.get(String(a.scheduledEventId))}` : '');
    })
    .join('+');
}

/**
 * Each place a history can be cut as a query's replay sees it when the worker that held the release is
 * dead: a workflow task completed, then events (an activity's result, a timer, a message), then a task
 * scheduled that no worker has started. One cut per kind of event per history, with the time of the last
 * task started before it, the time of the first event it brings, and whether that task brought the
 * workflow nothing (then the SDK moved its clock without an activation).
 */
interface Cut {
  file: string;
  kind: string;
  cut: number;
  started: string;
  brought: string;
  afterEmptyTask: boolean;
}
/** A committed history's events, read and parsed once per file. */
const parsed = new Map<string, Event[]>();
function eventsOf(file: string): Event[] {
  let events = parsed.get(file);
  if (!events) parsed.set(file, (events = (JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as { events: Event[] }).events));
  return events;
}

function cuts(): Cut[] {
  const out: Cut[] = [];
  for (const file of files) {
    const events = eventsOf(file);
    const scheduled = new Map<string, string>();
    const seen = new Set<string>();
    let lastStarted: Event | undefined;
    let lastStartedBrought = true;
    let batch: Event[] = [];
    for (const [i, e] of events.entries()) {
      const type = String(e.eventType);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), String(e.activityTaskScheduledEventAttributes.activityType?.name));
      if (type === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED') batch = [];
      else if (type === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED') lastStartedBrought = true;
      else if (type === 'EVENT_TYPE_WORKFLOW_TASK_STARTED') {
        lastStarted = e;
        lastStartedBrought = Number(e.eventId) <= 3 || kindOf(batch, scheduled) !== '';
      } else if (!WFT.test(type)) batch.push(e);
      if (type !== 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED' || !lastStarted) continue;
      let j = i - 1;
      while (j >= 0 && !WFT.test(String(events[j]?.eventType))) j--;
      if (String(events[j]?.eventType) !== 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED') continue;
      const trail = events.slice(j + 1, i);
      const kind = kindOf(trail, scheduled);
      if (!kind || seen.has(kind)) continue;
      seen.add(kind);
      const first = trail.find((t) => BRINGS.test(String(t.eventType))) as Event;
      out.push({ file, kind, cut: Number(e.eventId), started: isoOf(lastStarted), brought: isoOf(first), afterEmptyTask: !lastStartedBrought });
    }
  }
  return out;
}

const CUTS = cuts();

describe('a query replayed after the worker that held the release died', () => {
  // The shipped bundle's interceptors, with a probe outside them that reports what they refuse: a replay
  // fails only on nondeterminism, so a refused last activation would otherwise pass unseen.
  let probed: WorkflowBundle;
  beforeAll(async () => {
    probed = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      preloadModules: preloadModules(WORKFLOWS_PATH),
      workflowInterceptorModules: [path.resolve(__dirname, '../helpers/refusal-probe.ts'), ...interceptorModules(WORKFLOWS_PATH)],
    });
  });

  it('has a cut of each kind: activities of each sort, a timer, a signal', () => {
    const kinds = new Set(CUTS.map((c) => c.kind));
    for (const k of ['ACTIVITY_TASK_COMPLETED:applyRoute', 'ACTIVITY_TASK_COMPLETED:notify', 'ACTIVITY_TASK_COMPLETED:takeChecks', 'TIMER_FIRED', 'WORKFLOW_EXECUTION_SIGNALED']) {
      expect(kinds).toContain(k);
    }
  });

  async function refusals(c: Cut): Promise<string[]> {
    const raw = { events: eventsOf(c.file).filter((e) => Number(e.eventId) <= c.cut) };
    const refused: string[] = [];
    await Worker.runReplayHistory(
      { workflowBundle: probed, sinks: { ...releaseRecordSinks(), probe: { refused: { fn: (_info: unknown, m: string) => void refused.push(m), callDuringReplay: true } } } },
      temporal.api.history.v1.History.fromObject(raw),
      `${c.file}@${c.cut}`,
    );
    return refused;
  }

  const caught = CUTS.filter((c) => !c.afterEmptyTask);
  it.each(caught.map((c) => [c.file, c.kind, c.cut, c] as const))('refuses %s cut after %s (event %i): its events came on the clock of the activation before', async (_f, _k, _n, c) => {
    const refused = await refusals(c);
    expect(refused).toHaveLength(1);
    const m = /^events after the activation at (\S+) came with the workflow clock at (\S+): stale activation, not deciding on it$/.exec(refused[0] ?? '');
    expect(m?.[1]).toBe(m?.[2]);
    // The clock is the last task's, or a local activity's return after it, and before what the events bring.
    const clock = Date.parse(m?.[2] ?? '');
    expect(clock).toBeGreaterThanOrEqual(Date.parse(c.started));
    expect(clock).toBeLessThan(Date.parse(c.brought));
  });

  // The known gap: after a task that brought the workflow nothing, the SDK moved the clock without an
  // activation, so this guard does not see it (a timer or a takeChecks reply may still be refused by the
  // checks against their own times). This pins the gap, so a change in the SDK that closes it shows here.
  const gap = CUTS.filter((c) => c.afterEmptyTask);
  it.each(gap.map((c) => [c.file, c.kind, c.cut, c] as const))('not caught after a task that brought nothing: %s cut after %s (event %i)', async (_f, _k, _n, c) => {
    const refused = await refusals(c);
    expect(refused.filter((m) => m.startsWith('events after the activation'))).toEqual([]);
  });
});

// What the CLI shows humans: the one-screen status, the live `watch` view, and the audit record as
// Markdown. Pure functions of a ReleaseStatus (and the time), so they are tested without a server.
import { formatDuration } from '../domain/duration';
import type { GateResult } from '../domain/gates';
import type { ReleaseStatus, TimelineEntry } from '../domain/release';
import type { OperatingCharacteristics } from '../simulate/montecarlo';
import type { RecordedAction } from '../client/actions-history';
import type { LiveLooks } from '../client/live-looks';

const BAR = 30;

export function trafficBar(percent: number): string {
  const filled = Math.round((percent / 100) * BAR);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}`;
}

const until = (iso: string | null, now: number) => (iso ? (Date.parse(iso) <= now ? 'now' : `in ${formatDuration(Date.parse(iso) - now)}`) : '–');

function planLine(s: ReleaseStatus): string {
  const done = s.outcome !== null;
  return s.plan
    .map((p, i) => {
      const mark = done ? (i < s.stepIndex || s.outcome === 'promoted' ? '✓' : '·') : i < s.stepIndex ? '✓' : i === s.stepIndex ? '▶' : '·';
      return `${mark} ${p.description}`;
    })
    .join('\n           ');
}

function gateLines(gates: ReleaseStatus['gates']): string[] {
  const entries = Object.values(gates);
  if (!entries.length) return ['  (no measurement yet)'];
  return entries.map((g) => `  ${g.gate.padEnd(20)} ${g.outcome.padEnd(17)} ${g.summary}  [${g.at.slice(11, 19)}]`);
}

/** The pending takeChecks' looks, which the release's status shows only once the activity comes back. */
export function liveLooksLine(l: LiveLooks | null | undefined): string | null {
  if (!l) return null;
  const since = l.since ? ` since ${l.since.slice(11, 19)}` : '';
  const retry = l.attempt > 1 ? `, attempt ${l.attempt}` : '';
  if (!l.last) return `${l.looks} taken in the worker${since}${retry}`;
  return `${l.looks} taken in the worker${since}${retry}, not yet above; last ${l.last.at.slice(11, 19)} ${l.last.outcome}: ${truncate(l.last.summary, 90)}`;
}

/** `rollout status`: a summary a human reads in one glance. */
export function renderStatus(s: ReleaseStatus, now = Date.now(), live?: LiveLooks | null): string {
  const lines = [
    `${s.releaseId}`,
    `  model      ${s.model}: ${s.candidate} (champion ${s.champion}), ${s.strategy}, blast radius ${s.blastRadius}`,
    `  phase      ${s.phase}${s.outcome ? ` — outcome ${s.outcome}` : ''}${s.paused ? ` — paused by ${s.paused.by} (${s.paused.reason}) until ${s.paused.deadline}` : ''}`,
    `  traffic    ${s.traffic.candidatePercent}% to ${s.candidate} (${s.traffic.mode}${s.traffic.shadowSampleRate ? `, shadow ${s.traffic.shadowSampleRate * 100}%` : ''})`,
    `  step       ${Math.min(s.stepIndex + 1, s.plan.length)}/${s.plan.length}: ${s.plan[s.stepIndex]?.description ?? 'done'}`,
    `  next       ${until(s.nextTransitionAt, now)}`,
  ];
  if (s.pendingApproval) {
    const a = s.pendingApproval;
    lines.push(`  approval   ${a.reason} — approvers ${a.approvers.join(', ') || 'anyone'} — deadline ${a.deadline} (${until(a.deadline, now)}), then ${a.onTimeout}${a.held ? ' (held)' : ''}`);
  }
  if (s.rollback) lines.push(`  rollback   ${s.rollback.trigger}${s.rollback.by ? ` by ${s.rollback.by}` : ''}: ${s.rollback.reason}; traffic restored ${s.rollback.trafficRestoredAt ?? 'not yet'}`);
  lines.push('  gates', ...gateLines(s.gates).map((l) => `  ${l}`));
  const looks = liveLooksLine(live);
  if (looks) lines.push(`  looks      ${looks}`);
  return lines.join('\n');
}

/** `rollout watch`: the live screen, redrawn every second. */
export function renderWatch(s: ReleaseStatus, now = Date.now(), live?: LiveLooks | null): string {
  const looks = liveLooksLine(live);
  const last = s.timeline.slice(-5).map((e) => `  ${e.at.slice(11, 19)} ${e.type.padEnd(18)} ${truncate(e.message, 110)}`);
  const lines = [
    `${s.releaseId}   ${s.model} ${s.candidate} (champion ${s.champion})   ${s.strategy}`,
    `phase      ${s.phase.toUpperCase()}${s.outcome ? `   outcome: ${s.outcome}` : ''}${s.paused ? `   PAUSED by ${s.paused.by}: ${s.paused.reason}` : ''}`,
    `plan       ${planLine(s)}`,
    `traffic    ${s.candidate} ${trafficBar(s.traffic.candidatePercent)} ${s.traffic.candidatePercent}%   ${s.champion} ${100 - s.traffic.candidatePercent}%${s.traffic.shadowSampleRate ? `   shadow ${s.traffic.shadowSampleRate * 100}%` : ''}`,
    'gates',
    ...gateLines(s.gates),
    ...(looks ? [`looks      ${looks}`] : []),
    `approval   ${s.pendingApproval ? `${s.pendingApproval.reason} — approvers ${s.pendingApproval.approvers.join(', ') || 'anyone'} — deadline ${until(s.pendingApproval.deadline, now)}, then ${s.pendingApproval.onTimeout}` : 'none pending'}`,
    `next step  ${s.outcome ? '–' : until(s.nextTransitionAt, now)}`,
    'recent',
    ...last,
  ];
  return lines.join('\n');
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

const cell = (s: string | undefined | null) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, '<br>');

function evidence(g: GateResult): string {
  return Object.entries(g.evidence)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** `rollout history --format md`: the audit record, for a compliance ticket. */
export function renderHistoryMarkdown(s: ReleaseStatus, fromHistory?: RecordedAction[]): string {
  const out: string[] = [];
  const end = s.timeline.find((e) => e.type === 'completed');
  out.push(`# Release ${s.model} ${s.candidate}: ${s.outcome ?? s.phase}`, '');
  out.push('| Field | Value |', '|---|---|');
  const requested = s.timeline.find((e) => e.type === 'started');
  for (const [k, v] of [
    ['Release', s.releaseId],
    ['Model', s.model],
    ['Candidate', s.candidate],
    ['Champion', s.champion],
    ['Strategy', s.strategy],
    ['Blast radius', s.blastRadius],
    ['Requested by', requested?.by ?? ''],
    ['Started', s.startedAt],
    ['Ended', end?.at ?? '(in flight)'],
    ['Outcome', s.outcome ?? `in flight (${s.phase})`],
    ['Workflow runs', String(s.run)],
  ]) {
    out.push(`| ${k} | ${cell(v)} |`);
  }
  out.push('', '## Plan', '', ...s.plan.map((p, i) => `${i + 1}. ${p.description}`));

  const actions = s.timeline.filter((e) => e.type === 'action' || e.type === 'action-ignored' || e.type === 'started');
  out.push('', '## Human and system actions', '', '| When | Action | Who | Why |', '|---|---|---|---|');
  for (const e of actions) out.push(`| ${e.at} | ${cell(e.type === 'action-ignored' ? `refused: ${e.message}` : e.message)} | ${cell(e.by ?? '')} | ${cell(e.reason ?? '')} |`);
  if (fromHistory) {
    out.push(
      '',
      `## Every action, from the event history`,
      '',
      `The release's timeline kept its bounds and dropped ${s.timelineTrimmed ?? 0} entries; these are all ${fromHistory.length} signals and accepted updates it received, read from the workflow's event history (signals include those it refused).`,
      '',
      '| When | Kind | Action | Who | Why |',
      '|---|---|---|---|---|',
      ...fromHistory.map((a) => `| ${a.at} | ${a.kind} | ${cell(a.name)} | ${cell(a.by ?? '')} | ${cell(a.reason ?? '')} |`),
    );
  }

  const measurements = s.timeline.filter((e) => e.type === 'measurement');
  out.push('', '## Gate measurements', '');
  if (!measurements.length) out.push('None.');
  for (const e of measurements) {
    const when = e.count && e.count > 1 ? `${e.at} … ${e.lastAt} (${e.count} measurements with this verdict; the last shown)` : e.at;
    out.push(`### Step ${(e.step ?? 0) + 1}: ${s.plan[e.step ?? 0]?.description ?? ''} — ${when}`, '');
    // Older measurements keep their summary only (the timeline's bounds); recent ones their evidence too.
    if (!Array.isArray(e.data)) {
      out.push(cell(e.message), '');
      continue;
    }
    out.push('| Gate | Outcome | Observed | Threshold | Summary | Evidence |', '|---|---|---|---|---|---|');
    for (const g of e.data as GateResult[]) {
      out.push(`| ${g.gate} | ${g.outcome} | ${g.observed ?? '–'} | ${g.threshold} | ${cell(g.summary)} | ${cell(evidence(g))} |`);
    }
    out.push('');
  }

  out.push('## Rollback', '');
  if (!s.rollback) out.push('None.');
  else {
    const r = s.rollback;
    out.push('| Field | Value |', '|---|---|');
    for (const [k, v] of [
      ['Trigger', r.trigger],
      ['By', r.by ?? 'automatic'],
      ['Reason', r.reason],
      ['Started', r.startedAt],
      ['Traffic verified on champion', r.trafficRestoredAt ?? 'not verified'],
      ['Completed', r.completedAt ?? ''],
      ['Candidate requests served', String(r.impact.candidateRequests ?? 'unknown')],
      ['Candidate errors', String(r.impact.candidateErrors ?? 'unknown')],
      ['Compensation failures', r.compensationFailures.join('; ') || 'none'],
    ]) {
      out.push(`| ${k} | ${cell(v)} |`);
    }
    if (r.evidence.length) {
      out.push('', '| Gate | Outcome | Summary | Evidence |', '|---|---|---|---|');
      for (const g of r.evidence) out.push(`| ${g.gate} | ${g.outcome} | ${cell(g.summary)} | ${cell(evidence(g))} |`);
    }
  }

  out.push('', '## Timeline', '', '| When | Event | Message | Who | Why |', '|---|---|---|---|---|');
  for (const e of s.timeline) out.push(timelineRow(e));
  return `${out.join('\n')}\n`;
}

function timelineRow(e: TimelineEntry): string {
  const times = e.count && e.count > 1 ? ` (×${e.count}, last ${e.lastAt})` : '';
  return `| ${e.at} | ${e.type} | ${cell(e.message)}${times} | ${cell(e.by ?? '')} | ${cell(e.reason ?? '')} |`;
}

/** `rollout simulate`: each decision at its policy time (T+ since the release started). */
export function renderDecisions(s: ReleaseStatus): string[] {
  const t0 = Date.parse(s.startedAt);
  return s.timeline.map((e) => {
    const t = Date.parse(e.lastAt ?? e.at) - t0;
    const h = Math.floor(t / 3_600_000);
    const m = Math.floor((t % 3_600_000) / 60_000);
    const stamp = `T+${String(h).padStart(3)}h${String(m).padStart(2, '0')}m`;
    const times = e.count && e.count > 1 ? ` (×${e.count})` : '';
    return `${stamp}  ${e.type.padEnd(18)} ${e.message}${e.by ? ` (${e.by})` : ''}${times}`;
  });
}

/** The operating characteristics of `simulate --runs`: outcomes, detection delays, where rollbacks happened. */
export function renderOperatingCharacteristics(oc: OperatingCharacteristics): string {
  const share = (n: number) => `${n} (${((100 * n) / oc.runs).toFixed(1)}%)`;
  const minutes = (q: { p10: number; p50: number; p90: number } | null) =>
    q ? `p10 ${Math.round(q.p10 / 60_000)} min, p50 ${Math.round(q.p50 / 60_000)} min, p90 ${Math.round(q.p90 / 60_000)} min` : '–';
  const lines = [
    `${oc.runs} releases, policy ${oc.policy}, seed ${oc.seed} (${(oc.wallMs / 1000).toFixed(1)} s)`,
    `  promoted     ${share(oc.promoted)}`,
    `  rolled back  ${share(oc.rolledBack)}${oc.rolledBack ? `, ${share(oc.rolledBackBeforeFull)} before full traffic` : ''}`,
    `  held         ${share(oc.held)}  (gates still lacking data: a human decides)`,
    `  rejected     ${share(oc.rejected)}`,
  ];
  if (oc.delayAfterOnsetMs) lines.push(`  detection after the candidate's first change: ${minutes(oc.delayAfterOnsetMs)}`);
  if (oc.rolledBack) lines.push(`  time into the stage at rollback: ${minutes(oc.intoStageMs)}`);
  const caught = Object.entries(oc.caught).sort((a, b) => b[1] - a[1]);
  if (caught.length) lines.push('  where rollbacks happened:', ...caught.map(([where, n]) => `    ${where.padEnd(34)} ${n}`));
  return lines.join('\n');
}

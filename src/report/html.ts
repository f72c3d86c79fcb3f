// The release report as one self-contained HTML page: inline CSS and inline SVG, no script, no font,
// no image or request to any network, so it opens offline and travels as a compliance attachment. It
// reads on a laptop screen and prints on A4 landscape.
import { formatDuration } from '../domain/duration';
import type { GateResult } from '../domain/gates';
import type { OperatingCharacteristics, RunResult } from '../simulate/montecarlo';
import { barChart, COLORS, evidenceChart, EVIDENCE_PALETTE, gateChart, histogramChart, planChart, roundUp, trafficChart } from './charts';
import type { GateSeries, ReportModel } from './model';

export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const CSS = `
:root { color-scheme: light; --text: ${COLORS.text}; --muted: #59636e; --line: #d8dce1; --pass: ${COLORS.pass}; --fail: ${COLORS.fail}; --warn: ${COLORS.insufficient}; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--text); background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 2px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 13px; font-weight: 600; color: #fff; vertical-align: middle; }
.promoted { background: var(--pass); } .rolled-back, .failed, .aborted, .rejected { background: var(--fail); } .inflight { background: #2f6bd8; }
dl.meta { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 4px 20px; margin: 12px 0; }
dl.meta div { min-width: 0; } dl.meta dt { color: var(--muted); font-size: 12px; } dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.story { font-size: 15px; margin: 10px 0 0; }
.panel { break-inside: avoid; page-break-inside: avoid; margin: 0 0 6px; }
.panel p { margin: 0 0 2px; color: var(--muted); font-size: 12.5px; }
svg { display: block; width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted); margin: 2px 0 0 72px; }
.legend span::before { content: ""; display: inline-block; width: 14px; height: 0; border-top: 2px solid var(--c); margin-right: 5px; vertical-align: middle; }
.legend span.dash::before { border-top-style: dashed; } .legend span.dot::before { border-top-style: dotted; border-top-width: 3px; }
.legend span.box::before { height: 9px; border: 0; background: var(--c); }
.legend span.mark::before { width: 8px; height: 8px; border: 0; border-radius: 50%; background: var(--c); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); background: #fafbfc; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.out-pass { color: var(--pass); font-weight: 600; } .out-fail { color: var(--fail); font-weight: 600; } .out-insufficient-data { color: var(--warn); font-weight: 600; }
.rollback { border: 2px solid var(--fail); border-radius: 6px; padding: 10px 14px; margin: 16px 0; background: #fdf3f2; break-inside: avoid; }
.rollback h2 { border: 0; margin: 0 0 6px; color: var(--fail); }
.note { color: var(--muted); font-size: 12px; }
footer { margin-top: 28px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { background: #fff; font-size: 11px; } main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr { break-inside: avoid; }
}
`;

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const whenIso = (iso: string | undefined | null) => (iso ? when(Date.parse(iso)) : '–');
const since = (m: ReportModel, at: number) => `T+${formatDuration(at - m.t0)}`;

function legend(items: { label: string; color: string; style?: 'dash' | 'dot' | 'box' | 'mark' }[]): string {
  return `<div class="legend">${items.map((i) => `<span class="${i.style ?? ''}" style="--c:${i.color}">${escapeHtml(i.label)}</span>`).join('')}</div>`;
}

function panel(title: string, note: string, svg: string, legendHtml = ''): string {
  return `<section class="panel"><h3>${escapeHtml(title)}</h3>${note ? `<p>${escapeHtml(note)}</p>` : ''}${svg}${legendHtml}</section>`;
}

function outcomeCell(o: string): string {
  return `<span class="out-${escapeHtml(o)}">${escapeHtml(o)}</span>`;
}

function gateNote(g: GateSeries): string {
  const c = g.counts;
  const total = c.pass + c.fail + c['insufficient-data'];
  const thinned = g.points.length < total ? `; drawn as ${g.points.length} points, each the last check of its span with the worst outcome in it, every fail kept` : '';
  const side = g.failsWhen === 'below' ? 'below' : 'above';
  return `${total} checks: ${c.pass} pass, ${c.fail} fail, ${c['insufficient-data']} insufficient data. A check fails when the evidence shows the candidate ${side} the allowed line${thinned}.`;
}

function story(m: ReportModel): string {
  const s = m.status;
  const took = formatDuration(m.t1 - m.t0);
  const fails = m.gates.reduce((n, g) => n + g.counts.fail, 0);
  if (!s.outcome) return `In flight: ${escapeHtml(s.phase)} at step ${Math.min(s.stepIndex + 1, s.plan.length)} of ${s.plan.length} after ${took}, ${m.checks} checks so far.`;
  if (s.outcome === 'promoted') {
    const last = m.gates.map((g) => ({ g, p: [...g.points].reverse().find((p) => p.mde !== null) })).filter((x) => x.p);
    const mdes = last.map(({ g, p }) => `${g.gate} ${fmt(p?.mde ?? null)}${g.unit === '%' ? '%' : ''}`).join(', ');
    return `Promoted after ${took}: ${m.checks} checks, ${fails} failed.${mdes ? ` At their last pass the gates could have detected (80% power): ${escapeHtml(mdes)}.` : ''}`;
  }
  const rb = m.rollback;
  const back = rb?.trafficRestoredAt ? Date.parse(rb.trafficRestoredAt) : null;
  const reaction = rb && rb.breachAt !== null && back !== null ? ` Traffic was verified back on ${escapeHtml(s.champion)} ${formatDuration(back - rb.breachAt)} after the breach.` : '';
  return `${escapeHtml(s.outcome)} after ${took} (${escapeHtml(rb?.trigger ?? '')}${rb?.by ? ` by ${escapeHtml(rb.by)}` : ''}): ${escapeHtml(rb?.reason ?? '')}.${reaction}`;
}

const fmt = (v: number | null) => (v === null ? '–' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

function rollbackSection(m: ReportModel): string {
  const rb = m.rollback;
  if (!rb) return '';
  const rows: [string, string][] = [
    ['Trigger', `${rb.trigger}${rb.by ? ` by ${rb.by}` : ''}`],
    ['Reason', rb.reason],
    ['Breach (the failing check)', rb.breachAt === null ? 'no gate breach: a decision or an error' : `${when(rb.breachAt)} (${since(m, rb.breachAt)})`],
    ['Rollback started', whenIso(rb.startedAt)],
    ['Traffic verified on the champion', rb.trafficRestoredAt ? `${whenIso(rb.trafficRestoredAt)}${rb.breachAt !== null ? ` (${formatDuration(Date.parse(rb.trafficRestoredAt) - rb.breachAt)} after the breach)` : ''}` : 'not verified'],
    ['Completed', whenIso(rb.completedAt)],
    ['Impact: requests the candidate served', String(rb.impact.candidateRequests ?? 'unknown')],
    ['Impact: of those, errors', String(rb.impact.candidateErrors ?? 'unknown')],
    ['Compensation failures', rb.compensationFailures.join('; ') || 'none'],
  ];
  return `<section class="rollback" id="rollback"><h2>Rollback</h2><table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>${
    rb.evidence.length ? `<h3>Evidence</h3>${resultsTable(rb.evidence)}` : ''
  }</section>`;
}

function evidenceText(r: GateResult): string {
  return Object.entries(r.evidence)
    .filter(([k]) => k !== 'test')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function resultsTable(results: GateResult[]): string {
  return `<table><tr><th>Gate</th><th>Outcome</th><th>Summary</th><th>Evidence</th></tr>${results
    .map((r) => `<tr><td>${escapeHtml(r.gate)}</td><td>${outcomeCell(r.outcome)}</td><td>${escapeHtml(r.summary)}</td><td class="note">${escapeHtml(evidenceText(r))}</td></tr>`)
    .join('')}</table>`;
}

function actionsSection(m: ReportModel): string {
  if (!m.actions.length) return '<h2>Human actions</h2><p class="note">None: every decision in this release was the gates\' own.</p>';
  const rows = m.actions
    .map(
      (a, i) =>
        `<tr><td class="num">${i + 1}</td><td class="num">${when(a.at)}<br><span class="note">${since(m, a.at)}</span></td><td>${a.refused ? `refused: ${escapeHtml(a.action)}` : escapeHtml(a.action)}${a.count > 1 ? ` <span class="note">(×${a.count})</span>` : ''}</td><td>${escapeHtml(a.by)}</td><td>${escapeHtml(a.reason)}</td></tr>`,
    )
    .join('');
  return `<h2>Human actions</h2><table><tr><th>#</th><th>When</th><th>Action</th><th>Who</th><th>Why</th></tr>${rows}</table>`;
}

function stepsSection(m: ReportModel): string {
  const last = new Map(m.lastByStep.map((l) => [l.step, l]));
  const rows = m.steps
    .map((s) => {
      const l = last.get(s.index);
      const span = s.state === 'not-reached' ? 'not reached' : `${when(s.from)} → ${s.to === null ? 'now' : when(s.to)} (${formatDuration((s.to ?? m.t1) - s.from)})`;
      const ended = l ? l.results.map((r) => `${outcomeCell(r.outcome)} ${escapeHtml(r.gate)}: ${escapeHtml(r.summary)}`).join('<br>') : '';
      return `<tr><td class="num">${s.index + 1}</td><td>${escapeHtml(s.description)}</td><td class="num">${escapeHtml(span)}</td><td>${escapeHtml(s.state)}</td><td class="note">${ended}</td></tr>`;
    })
    .join('');
  return `<h2>Plan and what each step ended on</h2><table><tr><th>#</th><th>Step</th><th>When</th><th>State</th><th>Its last checks</th></tr>${rows}</table>`;
}

function oneOffSection(m: ReportModel): string {
  if (!m.oneOff.length) return '';
  return `<h2>Offline evaluation and smoke test</h2>${m.oneOff.map((o) => `<p class="note">Step ${o.step + 1}, ${when(o.at)}</p>${resultsTable(o.results)}`).join('')}`;
}

const GATE_LEGEND = legend([
  { label: 'estimate', color: COLORS.candidate },
  { label: 'anytime-valid bounds', color: COLORS.band, style: 'box' },
  { label: 'champion', color: COLORS.reference },
  { label: 'allowed', color: COLORS.tolerance, style: 'dash' },
  { label: 'could detect (on a pass, 80% power)', color: COLORS.mde, style: 'dot' },
  { label: 'pass', color: COLORS.pass, style: 'mark' },
  { label: 'insufficient data', color: COLORS.insufficient, style: 'mark' },
  { label: 'fail', color: COLORS.fail, style: 'mark' },
]);

function page(title: string, body: string, footer: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${body}<footer>${footer}</footer></main></body></html>
`;
}

/** The release report: the whole release on one page. */
export function renderReleaseReport(m: ReportModel, o: { generatedAt?: number; version?: string; source?: string } = {}): string {
  const s = m.status;
  const badge = s.outcome ? `<span class="badge ${escapeHtml(s.outcome)}">${escapeHtml(s.outcome)}</span>` : `<span class="badge inflight">in flight: ${escapeHtml(s.phase)}</span>`;
  const requested = s.timeline.find((e) => e.type === 'started')?.by ?? '';
  const meta: [string, string][] = [
    ['Release', s.releaseId],
    ['Champion → candidate', `${s.champion} → ${s.candidate}`],
    ['Strategy, blast radius', `${s.strategy}, ${s.blastRadius}`],
    ['Requested by', requested],
    ['Started', whenIso(s.startedAt)],
    ['Ended', s.outcome ? when(m.t1) : '(in flight)'],
    ['Duration', formatDuration(m.t1 - m.t0)],
    ['Checks', `${m.checks} in ${s.run} workflow run${s.run > 1 ? 's' : ''}`],
  ];
  const rbLegend = m.rollback
    ? [
        { label: 'breach', color: COLORS.fail },
        { label: 'traffic verified back', color: COLORS.text, style: 'dash' as const },
      ]
    : [];
  const charts = [
    panel('Plan', 'Each step as it ran, numbered as in the table below; lines mark human actions, numbered as in theirs.', planChart(m), legend([
      { label: 'shadow', color: '#efe4f6', style: 'box' },
      { label: 'canary traffic and bakes', color: '#dde8fb', style: 'box' },
      { label: 'approval', color: '#fbecc8', style: 'box' },
      { label: 'watch', color: '#d8f0e7', style: 'box' },
      { label: 'evaluation, warm-up, smoke, retire', color: '#eef0f3', style: 'box' },
      ...(m.rollback ? [{ label: 'rollback', color: 'rgba(208,57,47,0.55)', style: 'box' as const }] : []),
    ])),
    panel('Traffic', 'Share of live requests each version served, and the share mirrored to the candidate in the shadow.', trafficChart(m), legend([
      { label: `candidate ${s.candidate}`, color: COLORS.candidate },
      { label: `champion ${s.champion}`, color: COLORS.champion },
      { label: 'mirrored (shadow)', color: COLORS.shadow, style: 'dash' },
      ...rbLegend,
    ])),
    ...m.gates.map((g) => panel(g.title, gateNote(g), gateChart(m, g), GATE_LEGEND)),
  ];
  const ev = evidenceChart(m);
  if (ev) {
    const gates = m.gates.filter((g) => g.points.some((p) => p.evidence !== null));
    charts.push(panel('Evidence against the candidate', "Each sequential test's e-value as a share of its rollback threshold 1/α, log scale: reaching \"rollback\" rolls back, and a candidate no worse than the champion reaches it with probability at most α however long it is watched.", ev, legend(gates.map((g, i) => ({ label: g.gate, color: EVIDENCE_PALETTE[i % EVIDENCE_PALETTE.length] as string })))));
  }
  const body = [
    `<h1>${escapeHtml(s.model)} ${escapeHtml(s.candidate)} ${badge}</h1>`,
    `<p class="sub">Release report · times in UTC${m.complete ? '' : ' · from the bounded timeline only (merged checks drawn once)'}</p>`,
    `<dl class="meta">${meta.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`,
    `<p class="story">${story(m)}</p>`,
    rollbackSection(m),
    `<h2>The release over time</h2>`,
    ...charts,
    actionsSection(m),
    stepsSection(m),
    oneOffSection(m),
  ].join('\n');
  const generated = when(o.generatedAt ?? Date.now());
  return page(
    `Release report: ${s.model} ${s.candidate} (${s.outcome ?? s.phase})`,
    body,
    `Generated ${generated} by model-rollout${o.version ? ` ${escapeHtml(o.version)}` : ''}${o.source ? ` from ${escapeHtml(o.source)}` : ''}. Every check the release made is drawn from its full record, not from the bounded timeline.`,
  );
}

/** Bins over the values' range: about 20, at a round width, on multiples of it. */
export function bins(values: number[]): { from: number; to: number; count: number }[] {
  if (!values.length) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width = roundUp(Math.max((max - min) / 20, Math.abs(max) * 1e-3), [1, 2, 5, 10]);
  // Rounded first, so 61.3 / 0.1 lands in bin 613, not 612.
  const bin = (v: number) => Math.floor(Number((v / width).toPrecision(12)));
  const start = bin(min);
  const n = bin(max) - start + 1;
  const at = (i: number) => Number(((start + i) * width).toPrecision(12));
  const out = Array.from({ length: n }, (_, i) => ({ from: at(i), to: at(i + 1), count: 0 }));
  for (const v of values) (out[Math.min(n - 1, bin(v) - start)] as { count: number }).count += 1;
  return out;
}

/** `simulate --runs N --report`: the distribution of outcomes, of where rollbacks happened, and of detection delays. */
export function renderOperatingCharacteristicsReport(
  oc: OperatingCharacteristics,
  runs: RunResult[],
  o: { manifest: string; onsetMs: number | null; generatedAt?: number; version?: string },
): string {
  const share = (n: number) => `${n} (${((100 * n) / oc.runs).toFixed(1)}%)`;
  const outcomes = barChart([
    { label: 'promoted', value: oc.promoted, color: COLORS.pass },
    { label: 'rolled back before full traffic', value: oc.rolledBackBeforeFull, color: COLORS.fail },
    { label: 'rolled back in the watch', value: oc.rolledBack - oc.rolledBackBeforeFull, color: '#e07a71' },
    { label: 'held (gates lacking data)', value: oc.held, color: COLORS.insufficient },
    { label: 'rejected', value: oc.rejected, color: COLORS.champion },
  ]);
  const caught = Object.entries(oc.caught).sort((a, b) => b[1] - a[1]);
  const where = caught.length ? barChart(caught.map(([label, value]) => ({ label, value, color: COLORS.fail })), Math.max(120, 40 + 28 * caught.length)) : '';
  const back = runs.filter((r) => r.outcome === 'rolled-back');
  const delays = o.onsetMs === null ? [] : back.filter((r) => r.atMs >= (o.onsetMs as number)).map((r) => (r.atMs - (o.onsetMs as number)) / 60_000);
  const decisions = back.map((r) => r.atMs / 3_600_000);
  const q = (x: { p10: number; p50: number; p90: number } | null) => (x ? `p10 ${formatDuration(x.p10)}, p50 ${formatDuration(x.p50)}, p90 ${formatDuration(x.p90)}` : '–');
  const rows: [string, string][] = [
    ['Runs', `${oc.runs}, policy ${oc.policy}, seed ${oc.seed}`],
    ['Promoted', share(oc.promoted)],
    ['Rolled back', `${share(oc.rolledBack)}; ${share(oc.rolledBackBeforeFull)} before full traffic`],
    ['Held', share(oc.held)],
    ['Rejected', share(oc.rejected)],
    ['Detection after the candidate first differs', o.onsetMs === null ? 'the candidate never differs from the champion: every rollback is a false alarm' : q(oc.delayAfterOnsetMs)],
    ['Time into the stage at rollback', q(oc.intoStageMs)],
  ];
  const body = [
    `<h1>Policy simulation: ${escapeHtml(o.manifest)}</h1>`,
    `<p class="sub">${oc.runs} noisy releases of the same manifest against the same scenario (Monte Carlo, ${(oc.wallMs / 1000).toFixed(1)} s)</p>`,
    `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`,
    panel('Outcomes', '', outcomes),
    where ? panel('Where rollbacks happened (stage / gate)', '', where) : '',
    delays.length ? panel('Detection delay after the candidate first differs from the champion', 'Runs per bin, and the cumulative share of the rolled-back runs caught by then.', histogramChart(bins(delays), 'minutes after onset', delays.length)) : '',
    decisions.length ? panel('When rollbacks happened', 'Release time of each rollback decision.', histogramChart(bins(decisions), 'hours since the release started', decisions.length)) : '',
  ].join('\n');
  return page(`Policy simulation: ${o.manifest}`, body, `Generated ${when(o.generatedAt ?? Date.now())} by model-rollout${o.version ? ` ${escapeHtml(o.version)}` : ''} (rollout simulate --runs).`);
}

// The report's charts, rendered to SVG strings at generation time by Apache ECharts' server-side
// renderer: no DOM, no canvas, no browser, no script in the page. Every time panel has the same width,
// margins and time range, so stacked on the page they share one time axis to the pixel.
import * as echarts from 'echarts';
import type { EChartsOption, SeriesOption } from 'echarts';
import type { GatePoint, GateSeries, ReportModel, StepSpan } from './model';

export const WIDTH = 1100;
const GRID = { left: 72, right: 28, top: 14, bottom: 30 };

export const COLORS = {
  candidate: '#2f6bd8',
  champion: '#8a9099',
  shadow: '#8e44ad',
  pass: '#2e9e5b',
  insufficient: '#d39b12',
  fail: '#d0392f',
  tolerance: '#d0392f',
  reference: '#5c636d',
  mde: '#6f5bd6',
  band: 'rgba(47,107,216,0.18)',
  rollback: 'rgba(208,57,47,0.10)',
  text: '#1f2328',
  grid: '#e6e8eb',
} as const;

const STEP_COLORS: Record<StepSpan['kind'], string> = {
  evaluate: '#eef0f3',
  shadow: '#efe4f6',
  setTraffic: '#dde8fb',
  warm: '#eef0f3',
  smoke: '#eef0f3',
  bake: '#dde8fb',
  approval: '#fbecc8',
  fullRollout: '#dde8fb',
  watch: '#d8f0e7',
  retire: '#eef0f3',
};

function render(option: EChartsOption, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption({ animation: false, useUTC: true, textStyle: { fontFamily: 'system-ui, sans-serif', color: COLORS.text }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

function timeAxis(m: ReportModel, labels: boolean): EChartsOption['xAxis'] {
  return {
    type: 'time',
    min: m.t0,
    max: m.t1,
    axisLabel: { show: labels, hideOverlap: true, fontSize: 11, formatter: { year: '{yyyy}', month: '{MMM} {d}', day: '{MMM} {d}', hour: '{HH}:{mm}', minute: '{HH}:{mm}', second: '{HH}:{mm}:{ss}', millisecond: '{HH}:{mm}:{ss}' } },
    axisTick: { show: labels },
    splitLine: { show: true, lineStyle: { color: COLORS.grid } },
    axisLine: { lineStyle: { color: '#b8bdc4' } },
  };
}

/** Step boundaries and the rollback, drawn on every panel so each reads against the same moments. */
function moments(m: ReportModel): SeriesOption {
  const lines: object[] = m.steps
    .filter((s) => s.state !== 'not-reached' && s.from > m.t0)
    .map((s) => ({ xAxis: s.from, lineStyle: { color: '#c9ced4', type: 'solid', width: 1 }, label: { show: false } }));
  const areas: object[] = [];
  const rb = m.rollback;
  if (rb) {
    if (rb.breachAt !== null) lines.push({ xAxis: rb.breachAt, lineStyle: { color: COLORS.fail, width: 2, type: 'solid' }, label: { show: false } });
    if (rb.trafficRestoredAt) lines.push({ xAxis: Date.parse(rb.trafficRestoredAt), lineStyle: { color: COLORS.text, width: 2, type: 'dashed' }, label: { show: false } });
    areas.push([{ xAxis: rb.breachAt ?? Date.parse(rb.startedAt), itemStyle: { color: COLORS.rollback } }, { xAxis: Date.parse(rb.completedAt ?? rb.trafficRestoredAt ?? rb.startedAt) }]);
  }
  return {
    type: 'line',
    data: [],
    silent: true,
    markLine: { symbol: 'none', silent: true, data: lines as never },
    markArea: { silent: true, data: areas as never },
  };
}

/** The plan as a band of steps, with humans' actions marked by number (the table below says who and why). */
export function planChart(m: ReportModel): string {
  const span = m.t1 - m.t0;
  const pxPerMs = (WIDTH - GRID.left - GRID.right) / span;
  const areas: object[][] = m.steps
    .filter((s) => s.state !== 'not-reached')
    .map((s) => {
      const to = s.to ?? m.t1;
      const px = (to - s.from) * pxPerMs;
      const short = `${s.index + 1} ${s.kind === 'setTraffic' || s.kind === 'fullRollout' ? 'traffic' : s.kind}`;
      const text = px > s.description.length * 6.2 ? s.description : px > short.length * 6.5 ? short : px > 14 ? String(s.index + 1) : '';
      return [
        {
          xAxis: s.from,
          itemStyle: { color: STEP_COLORS[s.kind], borderColor: '#ffffff', borderWidth: 1 },
          // A function, not a template: a step's description comes from the manifest and may hold braces.
          label: { show: text !== '', formatter: () => text, position: 'inside', fontSize: 11, color: COLORS.text, overflow: 'truncate', width: Math.max(10, px - 4) },
        },
        { xAxis: Math.max(to, s.from + span / 2000) },
      ];
    });
  if (m.rollback) {
    const from = Date.parse(m.rollback.startedAt);
    areas.push([
      { xAxis: from, itemStyle: { color: 'rgba(208,57,47,0.55)', borderColor: '#ffffff', borderWidth: 1 }, label: { show: false } },
      { xAxis: Math.max(Date.parse(m.rollback.completedAt ?? m.rollback.startedAt), from + span / 200) },
    ]);
  }
  const actions = m.actions
    .map((a, i) => ({ a, n: i + 1 }))
    .filter(({ a }) => !a.refused)
    .map(({ a, n }) => ({
      xAxis: a.at,
      lineStyle: { color: COLORS.text, width: 1.5, type: 'solid' },
      label: { show: true, formatter: () => `${n} ${a.action.split(' ')[0]}`, position: 'end', fontSize: 10, color: COLORS.text },
    }));
  return render(
    {
      grid: { ...GRID, top: 18, bottom: 6 },
      xAxis: timeAxis(m, false),
      yAxis: { type: 'value', min: 0, max: 1, show: false },
      series: [{ type: 'line', data: [], silent: true, markArea: { silent: true, data: areas as never }, markLine: { symbol: 'none', silent: true, data: actions as never } }],
    },
    70,
  );
}

/** Traffic share of the champion and the candidate, and the share mirrored to the candidate. */
export function trafficChart(m: ReportModel): string {
  const end = m.traffic[m.traffic.length - 1];
  const pts = end && end.at < m.t1 ? [...m.traffic, { ...end, at: m.t1 }] : m.traffic;
  return render(
    {
      grid: GRID,
      xAxis: timeAxis(m, true),
      yAxis: { type: 'value', min: 0, max: 100, interval: 25, axisLabel: { formatter: '{value}%', fontSize: 11 }, splitLine: { lineStyle: { color: COLORS.grid } } },
      series: [
        { type: 'line', name: 'champion', step: 'end', symbol: 'none', data: pts.map((p) => [p.at, p.champion]), lineStyle: { color: COLORS.champion, width: 2 }, areaStyle: { color: 'rgba(138,144,153,0.15)' } },
        { type: 'line', name: 'candidate', step: 'end', symbol: 'none', data: pts.map((p) => [p.at, p.candidate]), lineStyle: { color: COLORS.candidate, width: 2.5 }, areaStyle: { color: 'rgba(47,107,216,0.20)' } },
        { type: 'line', name: 'shadow', step: 'end', symbol: 'none', data: pts.map((p) => [p.at, p.shadow]), lineStyle: { color: COLORS.shadow, width: 1.5, type: 'dashed' } },
        moments(m),
      ],
    },
    150,
  );
}

/** A series broken (null) between steps: each step's test starts afresh, and so do its bounds. */
function byStep(points: GatePoint[], value: (p: GatePoint) => number | null): [number, number | null][] {
  const out: [number, number | null][] = [];
  let step = points[0]?.step;
  for (const p of points) {
    if (p.step !== step) out.push([p.at - 1, null]);
    step = p.step;
    out.push([p.at, value(p)]);
  }
  return out;
}

/** The smallest round number (one of `multiples` times a power of ten) at least `raw`. */
export function roundUp(raw: number, multiples = [1, 2, 2.5, 5, 10]): number {
  const x = Math.max(raw, 1e-9);
  const p = 10 ** Math.floor(Math.log10(x));
  return multiples.map((k) => k * p).find((w) => w >= x) ?? x;
}

/** The y range that shows the estimate, its bounds and the tolerance line, without a bound's far tail. */
function yRange(g: GateSeries): { min: number; max: number } {
  const core = g.points.flatMap((p) => [p.estimate, p.tolerance, p.reference, p.mde]).filter((v): v is number => v !== null);
  const bounds = g.points.flatMap((p) => [p.lower, p.upper]).filter((v): v is number => v !== null);
  if (!core.length) return { min: 0, max: 1 };
  let lo = Math.min(...core);
  let hi = Math.max(...core);
  const pad = Math.max((hi - lo) * 0.6, Math.abs(hi) * 0.2, g.unit === 'PSI' ? 0.05 : 0.5);
  // Bounds are drawn up to a margin beyond what matters; a first look's [0, 100%] is clipped, not scaled to.
  lo = Math.max(Math.min(lo, ...bounds), lo - pad);
  hi = Math.min(Math.max(hi, ...bounds), hi + pad);
  if (g.unit === '%' && g.failsWhen === 'above') lo = Math.max(0, lo);
  if (hi <= lo) hi = lo + 1;
  // About five gridlines.
  const step = roundUp((hi - lo) / 5);
  const round = (v: number) => Number(v.toPrecision(12));
  return { min: round(Math.floor(lo / step) * step), max: round(Math.ceil(hi / step) * step) };
}

/**
 * One gate over time: the estimate with its anytime-valid bounds, the champion's value, the line the
 * test allows, what each pass could have detected, and every check marked by its outcome.
 */
export function gateChart(m: ReportModel, g: GateSeries): string {
  const { min, max } = yRange(g);
  const clip = (v: number | null) => (v === null ? null : Math.min(max, Math.max(min, v)));
  const pts = g.points;
  // Dense checks are dots under the estimate; sparse ones are marks a reader can count.
  const dot = pts.length > 60 ? 3 : 6;
  const outcome = (o: GatePoint['outcome'], color: string, symbol: string, size: number): SeriesOption => ({
    type: 'scatter',
    name: o,
    symbol,
    symbolSize: size,
    // A check with nothing to draw (metrics unavailable) is marked on the axis.
    data: pts.filter((p) => p.outcome === o).map((p) => [p.at, clip(p.estimate) ?? min]),
    itemStyle: { color, borderColor: '#ffffff', borderWidth: o === 'fail' ? 1 : 0 },
    z: o === 'fail' ? 6 : 4,
  });
  const unit = g.unit === '%' ? '%' : '';
  const series: SeriesOption[] = [
    { type: 'line', stack: 'band', stackStrategy: 'all', symbol: 'none', data: byStep(pts, (p) => clip(p.lower)), lineStyle: { opacity: 0 }, silent: true },
    {
      type: 'line',
      stack: 'band',
      stackStrategy: 'all',
      symbol: 'none',
      data: byStep(pts, (p) => (p.lower === null || p.upper === null ? null : (clip(p.upper) as number) - (clip(p.lower) as number))),
      lineStyle: { opacity: 0 },
      areaStyle: { color: COLORS.band },
      silent: true,
    },
    { type: 'line', name: 'allowed', step: 'end', symbol: 'none', data: byStep(pts, (p) => clip(p.tolerance)), lineStyle: { color: COLORS.tolerance, width: 1.5, type: 'dashed' } },
    { type: 'line', name: 'champion', symbol: 'none', data: byStep(pts, (p) => clip(p.reference)), lineStyle: { color: COLORS.reference, width: 1, type: 'solid' } },
    { type: 'line', name: 'could detect', symbol: 'none', data: byStep(pts, (p) => clip(p.mde)), lineStyle: { color: COLORS.mde, width: 1.2, type: 'dotted' } },
    { type: 'line', name: 'estimate', symbol: 'none', data: byStep(pts, (p) => clip(p.estimate)), lineStyle: { color: COLORS.candidate, width: 1.8 }, z: 3 },
    outcome('pass', COLORS.pass, 'circle', dot),
    outcome('insufficient-data', COLORS.insufficient, 'rect', dot),
    outcome('fail', COLORS.fail, 'triangle', 11),
    moments(m),
  ];
  return render(
    {
      grid: GRID,
      xAxis: timeAxis(m, true),
      yAxis: { type: 'value', min, max, scale: true, axisLabel: { formatter: `{value}${unit}`, fontSize: 11 }, splitLine: { lineStyle: { color: COLORS.grid } } },
      series,
    },
    170,
  );
}

export const EVIDENCE_PALETTE = ['#2f6bd8', '#d0392f', '#2e9e5b', '#8e44ad', '#d39b12'];

/**
 * The evidence against the candidate, every gate on one scale: log10 of e-value × alpha. The e-value
 * reaching 1/alpha (0 here) is a rollback; however long it is watched, a candidate no worse than the
 * champion gets there with probability at most alpha.
 */
export function evidenceChart(m: ReportModel): string | null {
  const gates = m.gates.filter((g) => g.points.some((p) => p.evidence !== null));
  if (!gates.length) return null;
  const palette = EVIDENCE_PALETTE;
  const floor = -6;
  return render(
    {
      grid: GRID,
      xAxis: timeAxis(m, true),
      yAxis: { type: 'value', min: floor, max: 1, interval: 1, axisLabel: { formatter: (v: number) => (v === 0 ? 'rollback' : `1e${v}`), fontSize: 11 }, splitLine: { lineStyle: { color: COLORS.grid } } },
      series: [
        ...gates.map((g, i): SeriesOption => ({
          type: 'line',
          name: g.gate,
          symbol: 'none',
          data: byStep(g.points, (p) => (p.evidence === null ? null : Math.max(floor, Math.min(1, p.evidence)))),
          lineStyle: { color: palette[i % palette.length], width: 1.6 },
          markLine: i === 0 ? { symbol: 'none', silent: true, data: [{ yAxis: 0, lineStyle: { color: COLORS.fail, type: 'dashed', width: 1.5 }, label: { show: false } }] } : undefined,
        })),
        moments(m),
      ],
    },
    160,
  );
}

/** A bar chart of counts by label (the simulator's outcomes, where rollbacks happened). */
export function barChart(bars: { label: string; value: number; color: string }[], height = 220): string {
  return render(
    {
      grid: { left: 230, right: 60, top: 10, bottom: 24 },
      xAxis: { type: 'value', axisLabel: { fontSize: 11 }, splitLine: { lineStyle: { color: COLORS.grid } } },
      yAxis: { type: 'category', inverse: true, data: bars.map((b) => b.label), axisLabel: { fontSize: 12 } },
      series: [{ type: 'bar', data: bars.map((b) => ({ value: b.value, itemStyle: { color: b.color } })), label: { show: true, position: 'right', fontSize: 11 }, barMaxWidth: 26 }],
    },
    height,
  );
}

/** A histogram (counts per bin) and, on a second axis, the cumulative share. */
export function histogramChart(bins: { from: number; to: number; count: number }[], unitLabel: string, total: number): string {
  let cum = 0;
  return render(
    {
      grid: { left: 72, right: 72, top: 16, bottom: 40 },
      xAxis: { type: 'value', min: bins[0]?.from ?? 0, max: bins[bins.length - 1]?.to ?? 1, name: unitLabel, nameLocation: 'middle', nameGap: 26, axisLabel: { fontSize: 11 }, splitLine: { show: false } },
      yAxis: [
        { type: 'value', name: 'runs', axisLabel: { fontSize: 11 }, splitLine: { lineStyle: { color: COLORS.grid } } },
        { type: 'value', name: 'cumulative', min: 0, max: 100, axisLabel: { formatter: '{value}%', fontSize: 11 }, splitLine: { show: false } },
      ],
      series: [
        {
          type: 'custom',
          renderItem: (_params: unknown, api: { value: (i: number) => number; coord: (p: [number, number]) => number[] }) => {
            const [x0, y0] = api.coord([api.value(0), api.value(2)]) as [number, number];
            const [x1, y1] = api.coord([api.value(1), 0]) as [number, number];
            return { type: 'rect', shape: { x: x0 + 1, y: y0, width: Math.max(1, x1 - x0 - 2), height: y1 - y0 }, style: { fill: COLORS.candidate } };
          },
          encode: { x: [0, 1], y: 2 },
          data: bins.map((b) => [b.from, b.to, b.count]),
        } as SeriesOption,
        {
          type: 'line',
          yAxisIndex: 1,
          symbol: 'none',
          data: bins.map((b) => ((cum += b.count), [b.to, total ? (100 * cum) / total : 0])),
          lineStyle: { color: COLORS.fail, width: 2 },
        },
      ],
    },
    240,
  );
}

// Operating characteristics of a release policy by Monte Carlo: many releases of one manifest against one
// scenario, each measurement drawn with sampling noise. Temporal is not in the loop (200 releases of
// eight days each would take hours through the server); the decisions are: the gates and the step rules
// are the same functions the workflow calls (src/domain/judge.ts, gates.ts, analysis.ts), fed one
// interval at a time exactly as the workflow feeds them. The single-run `rollout simulate` plays the real
// workflow instead.
//
// Two policies: `sequential` (releases started today) and `fixed-horizon` (the per-look z-tests over a
// growing window, and a watch against the champion's average before the switch, of releases started
// before), so a benchmark shows both in the same run.
import { analysisExit, recordLook, type AnalysisProgress } from '../domain/analysis';
import {
  canaryGates,
  evaluationGates,
  shadowGates,
  smokeGate,
  verdict,
  watchGates,
  type GateResult,
  type VariantStats,
} from '../domain/gates';
import {
  REFERENCE_WARMUP_MS,
  allocateBudget,
  judgeCanary,
  judgeShadow,
  newCanaryJudgeState,
  newShadowJudgeState,
  seedReference,
  type CanaryJudgeState,
  type ShadowJudgeState,
} from '../domain/judge';
import { histogramQuantile } from '../domain/quantile';
import { DEFAULT_WATCH_HOLDBACK, type PlanStep, type ReleaseManifest } from '../domain/manifest';
import { expandPlan } from '../domain/plan';
import { binomial, keyedRng, poisson, sampleVariant, type Rng } from './sampling';
import { DEFAULT_EVALUATION, behaviourAt, intervalBehaviour, segments, variantSeries, type Scenario, type Series } from './scenario';

export type Policy = 'sequential' | 'fixed-horizon';
export type RunOutcome = 'promoted' | 'rolled-back' | 'held' | 'rejected';

export interface RunResult {
  outcome: RunOutcome;
  /** Where the release ended: `shadow`, `bake 5%`, `watch`, … (null when promoted). */
  stage: string | null;
  /** The gate that breached, if one did. */
  gate: string | null;
  /** Release time of the decision (ms since the start). */
  atMs: number;
  /** Time from the start of the step it ended in. */
  intoStageMs: number;
}

/** The standard plan's stages for a label: the traffic share that a bake or the watch runs at. */
function stageLabel(step: PlanStep, percent: number): string {
  if (step.kind === 'bake') return `bake ${percent}%`;
  return step.kind;
}

function addStats(a: VariantStats, b: VariantStats): VariantStats {
  const h = new Map<number, number>();
  for (const [bound, n] of [...(a.latencyHistogram ?? []), ...(b.latencyHistogram ?? [])]) h.set(bound, (h.get(bound) ?? 0) + n);
  const latencyHistogram = [...h.entries()].sort((x, y) => x[0] - y[0]);
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    outcomes: a.outcomes + b.outcomes,
    successes: a.successes + b.successes,
    latencyP99Ms: histogramQuantile(latencyHistogram, 0.99),
    latencyHistogram,
  };
}

const EMPTY: VariantStats = { requests: 0, errors: 0, outcomes: 0, successes: 0, latencyP99Ms: null, latencyHistogram: [] };

/** One release of the manifest against the scenario, with noise from `rng`. */
export function runOnce(m: ReleaseManifest, sc: Scenario, rng: Rng, policy: Policy): RunResult {
  const plan = expandPlan(m, { lastRollbackAt: null, now: 0 });
  const budget = allocateBudget(plan, m.gates.falseRollbackRate);
  const series: { champion: Series; candidate: Series } = { champion: variantSeries(sc.champion), candidate: variantSeries(sc.candidate) };
  const shadowSeries = segments(sc.shadow, { divergenceRate: 0.01, psi: 0.02 });
  const perMs = sc.requestsPerMinute / 60_000;
  let t = 0;
  let percent = 0;
  /** The candidate's share before the latest traffic change. */
  let previousShare = 0;
  let baseline: VariantStats | null = null;

  const measure = (which: 'champion' | 'candidate', share: number, from: number, to: number): VariantStats =>
    sampleVariant(rng, intervalBehaviour(sc, series[which], from, to, perMs * share));

  for (let i = 0; i < plan.length; i++) {
    const step = plan[i] as PlanStep;
    const stageStart = t;
    const end = (outcome: RunOutcome, gate: string | null): RunResult => ({ outcome, stage: outcome === 'promoted' ? null : stageLabel(step, percent), gate, atMs: t, intoStageMs: t - stageStart });
    switch (step.kind) {
      case 'evaluate': {
        const results = evaluationGates(sc.evaluation ?? DEFAULT_EVALUATION, m.gates);
        if (verdict(results) === 'fail') return end('rolled-back', results.find((r) => r.outcome === 'fail')?.gate ?? null);
        break;
      }
      case 'warm':
        break;
      case 'smoke': {
        const b = behaviourAt(series.candidate, t);
        const r = smokeGate({ requests: step.requests, errors: binomial(rng, step.requests, b.errorRate), latencyP99Ms: b.p99Ms }, step.maxErrorRate, m.gates);
        if (r.outcome !== 'pass') return end('rolled-back', 'smoke');
        break;
      }
      case 'setTraffic':
        previousShare = percent / 100;
        percent = step.percent;
        break;
      case 'fullRollout':
        previousShare = percent / 100;
        percent = policy === 'sequential' ? 100 - (step.holdback ?? DEFAULT_WATCH_HOLDBACK) : 100;
        break;
      case 'approval': {
        const a = sc.approvals;
        if (a.decision === 'approve') t += a.after;
        else if (a.decision === 'reject') {
          t += a.after;
          return end('rejected', null);
        } else {
          t += m.approvals.timeout + (m.approvals.onTimeout === 'hold' ? m.approvals.holdFor : 0);
          return end('rolled-back', null);
        }
        break;
      }
      case 'retire':
        return end('promoted', null);
      case 'shadow':
      case 'bake':
      case 'watch': {
        const interval = step.interval;
        const minMs = step.kind === 'shadow' ? step.minDuration : step.duration;
        const maxMs = step.kind === 'shadow' ? step.maxDuration : step.duration + step.extension;
        const b = budget[i];
        const p: AnalysisProgress = { consecutiveFailures: 0, lastOutcome: null, lastResults: [], lastMeasuredElapsed: -1 };
        // The champion's hour before the step, at the share it had then, as the workflow measures it.
        let canary: CanaryJudgeState =
          step.kind === 'shadow' ? newCanaryJudgeState() : seedReference(newCanaryJudgeState(), measure('champion', 1 - previousShare, t - REFERENCE_WARMUP_MS, t));
        let shadow: ShadowJudgeState = newShadowJudgeState();
        // Fixed-horizon bakes test everything since the bake began; its watch, the last window.
        let cum = EMPTY;
        let cumRef = EMPTY;
        const recent: VariantStats[] = [];
        let mirrored = 0;
        let divergent = 0;
        const share = percent / 100;
        for (let elapsed = interval; ; elapsed += interval) {
          const from = t;
          t = stageStart + elapsed;
          let results: GateResult[];
          if (step.kind === 'shadow') {
            const n = poisson(rng, perMs * step.sampleRate * (t - from));
            mirrored += n;
            divergent += binomial(rng, n, behaviourAt(shadowSeries, (from + t) / 2).divergenceRate);
            const report = { requests: mirrored, divergent, psi: mirrored ? behaviourAt(shadowSeries, t).psi : null };
            if (policy === 'sequential' && b) {
              const judged = judgeShadow(shadow, report, m.gates, b);
              shadow = judged.state;
              results = judged.results;
            } else results = shadowGates(report, m.gates);
          } else {
            const refShare = 1 - share;
            const cand = measure('candidate', share, from, t);
            const champ = measure('champion', step.kind === 'watch' && policy === 'fixed-horizon' ? 0 : refShare, from, t);
            if (policy === 'sequential' && b) {
              const judged = judgeCanary(canary, cand, champ, m.gates, b, false);
              canary = judged.state;
              results = judged.results;
            } else if (step.kind === 'bake') {
              cum = addStats(cum, cand);
              cumRef = addStats(cumRef, champ);
              baseline = cumRef;
              results = canaryGates(cum, cumRef, m.gates);
            } else {
              recent.push(cand);
              const windowLooks = Math.max(1, Math.round(step.window / interval));
              while (recent.length > windowLooks) recent.shift();
              results = watchGates(recent.reduce(addStats, EMPTY), baseline, m.gates);
            }
          }
          if (recordLook(p, results, elapsed, m.gates.failureLimit)) return end('rolled-back', results.find((r) => r.outcome === 'fail')?.gate ?? null);
          const enough = step.kind === 'shadow' ? mirrored >= step.minRequests : true;
          const exit = analysisExit(p, { minMs, maxMs }, elapsed, false, enough);
          if (exit === 'done') break;
          if (exit === 'breach') return end('rolled-back', p.lastResults.find((r) => r.outcome === 'fail')?.gate ?? null);
          if (exit === 'lacking') {
            if (m.gates.onInsufficientData === 'abort') return end('rolled-back', 'insufficient-data');
            return end('held', null);
          }
        }
        break;
      }
    }
  }
  return { outcome: 'promoted', stage: null, gate: null, atMs: t, intoStageMs: 0 };
}

export interface OperatingCharacteristics {
  policy: Policy;
  runs: number;
  seed: number;
  promoted: number;
  rolledBack: number;
  held: number;
  rejected: number;
  /** Where rollbacks happened: `stage / gate` → count. */
  caught: Record<string, number>;
  /** Quantiles of the detection delay after the candidate's first change (ms), over rolled-back runs. */
  delayAfterOnsetMs: { p10: number; p50: number; p90: number } | null;
  /** Quantiles of the time into the stage where rollbacks happened (ms). */
  intoStageMs: { p10: number; p50: number; p90: number } | null;
  /** Rolled back before traffic reached the candidate in full. */
  rolledBackBeforeFull: number;
  wallMs: number;
}

/** The candidate's first difference from the champion, in release time; null if it never differs. */
export function onsetOf(sc: Scenario): number | null {
  const champion = variantSeries(sc.champion);
  const candidate = variantSeries(sc.candidate);
  const times = [0, ...sc.candidate.map((p) => p.at), ...sc.champion.map((p) => p.at)].sort((a, b) => a - b);
  const differs = (t: number) => JSON.stringify(behaviourAt(candidate, t)) !== JSON.stringify(behaviourAt(champion, t));
  return times.find(differs) ?? null;
}

function quantiles(xs: number[]): { p10: number; p50: number; p90: number } | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))] as number;
  return { p10: q(0.1), p50: q(0.5), p90: q(0.9) };
}

/** `runs` releases; run k draws from the seed and k, so any run can be replayed alone. */
export function operatingCharacteristics(m: ReleaseManifest, sc: Scenario, opts: { runs: number; seed: number; policy: Policy }): OperatingCharacteristics {
  return simulateRuns(m, sc, opts).oc;
}

/** The operating characteristics and each run's result (the report draws their distributions). */
export function simulateRuns(m: ReleaseManifest, sc: Scenario, opts: { runs: number; seed: number; policy: Policy }): { oc: OperatingCharacteristics; results: RunResult[] } {
  const t0 = Date.now();
  const results = Array.from({ length: opts.runs }, (_, k) => runOnce(m, sc, keyedRng(opts.seed, `run/${k}`), opts.policy));
  const onset = onsetOf(sc);
  const back = results.filter((r) => r.outcome === 'rolled-back');
  const caught: Record<string, number> = {};
  for (const r of back) {
    const key = `${r.stage ?? '?'} / ${r.gate ?? '?'}`;
    caught[key] = (caught[key] ?? 0) + 1;
  }
  const oc: OperatingCharacteristics = {
    policy: opts.policy,
    runs: opts.runs,
    seed: opts.seed,
    promoted: results.filter((r) => r.outcome === 'promoted').length,
    rolledBack: back.length,
    held: results.filter((r) => r.outcome === 'held').length,
    rejected: results.filter((r) => r.outcome === 'rejected').length,
    caught,
    delayAfterOnsetMs: onset === null ? null : quantiles(back.filter((r) => r.atMs >= onset).map((r) => r.atMs - onset)),
    intoStageMs: quantiles(back.map((r) => r.intoStageMs)),
    rolledBackBeforeFull: back.filter((r) => r.stage !== 'watch').length,
    wallMs: Date.now() - t0,
  };
  return { oc, results };
}

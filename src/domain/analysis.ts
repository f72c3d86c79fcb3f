// The rules of a timed analysis step (shadow, bake, watch): when it ends, when a breach rolls back, and
// what running out of time means. Pure: the workflow's timedAnalysis and the Monte Carlo simulator
// (src/simulate/montecarlo.ts) both decide with these functions.
import { verdict, type GateOutcome, type GateResult } from './gates';

export interface AnalysisProgress {
  consecutiveFailures: number;
  lastOutcome: GateOutcome | null;
  lastResults: GateResult[];
  /** Active (unpaused) time into the step at the last measurement; -1 before any. */
  lastMeasuredElapsed: number;
}

export interface AnalysisLimits {
  /** The step's minimum active time. */
  minMs: number;
  /** Its maximum, extension included. */
  maxMs: number;
}

/**
 * Whether the step is over before the next wait: `done` once a measurement taken at or after the minimum
 * passes (and the step's own condition holds); at the maximum, `breach` if the last measurement failed,
 * else `lacking` (the insufficient-data policy applies). Null: keep measuring.
 */
export function analysisExit(p: AnalysisProgress, limits: AnalysisLimits, elapsed: number, paused: boolean, enough: boolean): 'done' | 'breach' | 'lacking' | null {
  if (p.lastOutcome === 'pass' && p.lastMeasuredElapsed >= limits.minMs && enough) return 'done';
  if (!paused && elapsed >= limits.maxMs) return p.lastOutcome === 'fail' ? 'breach' : 'lacking';
  return null;
}

/** Records one measurement into the progress; true when the breaches in a row reach `failureLimit`. */
export function recordLook(p: AnalysisProgress, results: GateResult[], elapsed: number, failureLimit: number): boolean {
  p.lastMeasuredElapsed = elapsed;
  p.lastResults = results;
  p.lastOutcome = verdict(results);
  p.consecutiveFailures = p.lastOutcome === 'fail' ? p.consecutiveFailures + 1 : 0;
  return p.consecutiveFailures >= failureLimit;
}

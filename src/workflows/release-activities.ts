// The release's activity proxies, each with the timeouts and retries its kind of call needs, the limits
// of a run, and the names of the patches that keep releases started by older code replaying as they ran.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

export const DEFAULT_HISTORY_EVENT_LIMIT = 8_000;
/** The largest state handed to continue-as-new; the timeline is compacted below it (the server refuses 2 MB). */
export const CARRIED_STATE_LIMIT_BYTES = 512 * 1024;
/**
 * A run continues as new once its history passes this size, a quarter of where the server suggests it
 * (4 MiB). A release outside a worker's sticky cache replays its run's whole history at each workflow task,
 * and the replay's cost grows with it (`npm run bench:replay`: 248 ms at 1 MiB, 678 ms at 3.7 MiB). A run
 * that starts large (what it carries) goes on until it has added half the limit of its own.
 */
export const DEFAULT_HISTORY_SIZE_LIMIT_BYTES = 1024 * 1024;

export const acts = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});
/** Router writes: a few quick tries per call; the workflow loops around them so the status shows the outage. */
export const routeActs = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
});
export const evalActs = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  // The activity heartbeats every second; the SDK sends one every ~80% of this. A worker that dies
  // mid-evaluation is noticed, and the evaluation retried on another, within seconds.
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});
/**
 * Gate measurements: short reads of the metrics backend, run as local activities in the worker, so a
 * check costs no server round trip and no activity events (a 72 h watch checks every 5 minutes).
 */
export const measureActs = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '20s', maximumAttempts: 5 },
});
/**
 * Looks due more often than this are taken by the takeChecks activity, which comes back every
 * WAKE_AFTER_MS (or at once on a breach or at the step's end): at every-10-s looks, a twelfth of the
 * workflow tasks. Slower looks (a standard plan's every 5 minutes) gain nothing from it and stay in the
 * workflow, as do the tests and the simulator that skip time (an activity's sleep cannot be skipped).
 */
export const BATCHED_BELOW_MS = 60_000;
/**
 * 2 minutes, not 30 s: measured by bench:scale on the dev server, 2,000 releases looked at every 10 s
 * drifted p99 458 ms with all looks taken at a 2-minute wake, and 63 s with 74% taken at 30 s (the
 * workflow tasks of the wakes queued behind each other). Only the release's own status waits for it;
 * `rollout status` and `watch` show the looks in between from the activity's heartbeat. No command
 * depends on it: releases in flight replay the same whichever wake their activities ran with.
 */
export const WAKE_AFTER_MS = 120_000;
/** takeChecks: a worker that dies is noticed within a heartbeat timeout, and its looks go on elsewhere. */
export function lookActs(intervalMs: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: WAKE_AFTER_MS + intervalMs + 120_000,
    heartbeatTimeout: Math.max(20_000, 3 * intervalMs),
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
  });
}
/** Releases started before fast looks were taken by takeChecks keep taking them in the workflow. */
export const BATCHED_LOOKS = 'batched-looks';
/** Releases started before measurements became local activities replay with the activities they ran. */
export const LOCAL_MEASUREMENTS = 'local-measurements';
/** Releases started before the anytime-valid gates replay with the fixed-horizon gates they ran. */
export const SEQUENTIAL_GATES = 'sequential-gates';
/**
 * A route the router refuses rolls the release back. A history that retried a refusal (no marker) replays
 * as it ran; a release in flight meets the new behaviour at its next refusal.
 */
export const ROUTE_REFUSALS = 'route-refusals';
/** Releases started before every schema became strict keep dropping unknown keys. */
export const STRICT_SCHEMAS = 'strict-schemas';
/**
 * Runs continue as new past a history size (DEFAULT_HISTORY_SIZE_LIMIT_BYTES). A run begun before it (no
 * marker) keeps the limits it ran with; its next run takes the size limit from its start.
 */
export const RUN_SIZE_LIMIT = 'run-size-limit';
export const notifyActs = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
});

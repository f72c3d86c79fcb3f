// One model release: one durable workflow walking its plan. Decisions are pure functions (src/domain);
// this file sequences them with timers, activities and messages. Its parts, by concern:
// release-messages.ts (signals, updates, the status query), release-state.ts (what it carries),
// release-activities.ts (activity proxies, limits, patch names), release-support.ts (waiting, failures,
// times, the Web UI's details).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setDefaultSignalHandler,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RouteSpec } from '../activities';
import { releaseSearchAttributes } from '../constants';
import { analysisExit, recordLook } from '../domain/analysis';
import { canaryGates, evaluationGates, watchGates, shadowGates, smokeGate, verdict, type GateResult, type VariantStats } from '../domain/gates';
import { allocateBudget, type TestBudget } from '../domain/judge';
import { canaryLook, nextLookAt, shadowLook, type LookSubject, type LooksReply } from '../domain/looks';
import { DEFAULT_WATCH_HOLDBACK, ManifestError, parseAcceptedManifest, parseManifest, type PlanStep, type ReleaseManifest, type StepOf, type TrafficMode } from '../domain/manifest';
import { describeStep, expandPlan } from '../domain/plan';
import { describeIssues, fieldIssues } from '../domain/issues';
import { appendEntry, appendMeasurement, compact } from '../domain/timeline';
import {
  AcceptedActionPayload,
  Action,
  ActionPayload,
  ErrorType,
  ReleaseWorkflowInputSchema,
  outcomeOf,
  type ActionAck,
  type Outcome,
  type PendingApproval,
  type Phase,
  type ReleaseResult,
  type ReleaseStatus,
  type RollbackRecord,
  type RollbackTrigger,
  type TimelineEntry,
} from '../domain/release';
import {
  CARRIED_STATE_LIMIT_BYTES,
  DEFAULT_HISTORY_EVENT_LIMIT,
  DEFAULT_HISTORY_SIZE_LIMIT_BYTES,
  BATCHED_BELOW_MS,
  BATCHED_LOOKS,
  LOCAL_MEASUREMENTS,
  ROUTE_REFUSALS,
  WAKE_AFTER_MS,
  SEQUENTIAL_GATES,
  RUN_SIZE_LIMIT,
  STRICT_SCHEMAS,
  acts,
  evalActs,
  lookActs,
  measureActs,
  notifyActs,
  routeActs,
} from './release-activities';
import { actionSignals, actionUpdates, parseAction, statusQuery } from './release-messages';
import { RollbackRequested, newProgress, rank, type CarriedState, type Compensation, type ReleaseWorkflowInput, type StepProgress } from './release-state';
import { record } from './release-record';
import { CANARY_GATES, SHADOW_GATES, StaleClock, causeOf, clockPastReply, failed, failedSummary, iso, renderDetails, scoped, sleepUntil, unavailable } from './release-support';

export { actionSignals, actionUpdates, statusQuery } from './release-messages';
export type { ReleaseWorkflowInput, ReleaseWorkflowOptions } from './release-state';

/** A timed analysis step (shadow, bake, watch), as timedAnalysis runs it. */
interface AnalysisSpec {
  label: string;
  /** Which look takeChecks takes for this step, and what the shadow's `enough` needs. */
  kind: 'canary' | 'shadow';
  minRequests: number;
  minMs: number;
  maxMs: number;
  intervalMs: number;
  promotable: boolean;
  failTrigger: RollbackTrigger;
  /** Sliding window of each measurement; null: everything since the step started. */
  window: number | null;
  measure: (window: { from: number; to: number }) => Promise<GateResult[]>;
  /** Further condition to finish, beyond a passing measurement (the shadow's request count). */
  enough: () => boolean;
}

export async function releaseWorkflow(input: ReleaseWorkflowInput): Promise<ReleaseResult> {
  const checked = ReleaseWorkflowInputSchema.safeParse(input);
  if (!checked.success) {
    const issues = fieldIssues(checked.error).map((i) => ({ path: i.path ? `input.${i.path}` : 'input', message: i.message }));
    throw ApplicationFailure.create({
      type: ErrorType.enum.InvalidManifest,
      message: `invalid workflow input:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
      nonRetryable: true,
      details: [issues],
    });
  }
  // A new release is held to the strict schema; one started before it (or continued from such a run,
  // whose manifest was accepted at its start) drops unknown keys as it did then, and replays as it ran.
  const strict = input.carried === undefined && patched(STRICT_SCHEMAS);
  let manifest: ReleaseManifest;
  try {
    manifest = strict ? parseManifest(input.manifest) : parseAcceptedManifest(input.manifest);
  } catch (err) {
    if (err instanceof ManifestError) {
      throw ApplicationFailure.create({ type: ErrorType.enum.InvalidManifest, message: err.message, nonRetryable: true, details: [err.issues] });
    }
    throw err;
  }
  const release = new Release(manifest, input);
  release.registerHandlers();
  return release.run();
}

class Release {
  private readonly s: CarriedState;
  private readonly fresh: boolean;
  private published = '';
  /** This run's history size limit, decided at its start: none for a run begun before it (RUN_SIZE_LIMIT). */
  private sizeLimit = Number.POSITIVE_INFINITY;
  /** The shadow's mirrored requests at its last look. */
  private shadowRequests = 0;

  constructor(
    private readonly m: ReleaseManifest,
    private readonly input: ReleaseWorkflowInput,
  ) {
    this.fresh = !input.carried;
    this.s = input.carried ?? {
      releaseId: `${workflowInfo().workflowId}/${workflowInfo().firstExecutionRunId}`,
      requestedBy: input.requestedBy ?? 'unknown',
      startedAt: Date.now(),
      run: 1,
      champion: m.champion ?? '',
      plan: [],
      stepIndex: 0,
      step: null,
      phase: 'pending',
      generation: 0,
      route: null,
      compensations: [],
      gates: {},
      pendingApproval: null,
      paused: null,
      decision: null,
      promote: null,
      abort: null,
      baseline: null,
      nextTransitionAt: null,
      timeline: [],
      rollback: null,
      outcome: null,
    };
  }

  // ------------------------------------------------------------------------------------------ messages

  registerHandlers(): void {
    setHandler(statusQuery, () => this.status());
    // A misspelt action (`approv`) is recorded, not silently buffered forever.
    setDefaultSignalHandler((name) => {
      this.note({ type: 'action-ignored', message: `unknown signal "${String(name).slice(0, 64)}" ignored (actions: ${Action.options.join(', ')})` });
    });
    for (const action of Action.options) {
      setHandler(actionSignals[action], (raw) => {
        // A signal handler that throws fails the workflow task in a loop: nothing here may throw.
        try {
          const parsed = (this.sequential ? ActionPayload : AcceptedActionPayload).safeParse(raw);
          if (!parsed.success) {
            this.note({ type: 'action-ignored', message: `${action} ignored: ${describeIssues(parsed.error, 'payload')}` });
            return;
          }
          const refusal = this.refusal(action, parsed.data);
          if (refusal !== undefined) {
            this.note({ type: 'action-ignored', message: `${action} ignored: ${refusal}`, by: parsed.data.by, reason: parsed.data.reason });
            return;
          }
          this.apply(action, parsed.data);
        } catch (err) {
          log.error('action signal failed', { action, error: causeOf(err) });
          this.note({ type: 'action-ignored', message: `${action} ignored: ${causeOf(err)}` });
        }
      });
      setHandler(
        actionUpdates[action],
        (raw) => {
          try {
            return this.apply(action, parseAction(raw, this.sequential));
          } catch (err) {
            // An update handler's plain error would fail the workflow task; this fails only the update.
            throw ApplicationFailure.nonRetryable(causeOf(err), ErrorType.enum.InvalidAction);
          }
        },
        {
          validator: (raw) => {
            const refusal = this.refusal(action, parseAction(raw, this.sequential));
            if (refusal !== undefined) throw new Error(refusal);
          },
        },
      );
    }
  }

  /** Why an action cannot be taken now, or undefined when it can. */
  private refusal(action: Action, p: ActionPayload): string | undefined {
    if (this.s.outcome) return `release already finished (${this.s.outcome})`;
    if (this.s.phase === 'rolling-back') return 'release is rolling back';
    const step = this.s.plan[this.s.stepIndex];
    switch (action) {
      case 'approve':
      case 'reject': {
        const pending = this.s.pendingApproval;
        if (!pending) return 'release is not awaiting approval';
        if (this.s.decision) return `a decision (${this.s.decision.action}) is already being applied`;
        if (pending.approvers.length && !pending.approvers.includes(p.by)) {
          return `${p.by} is not an approver of this release (approvers: ${pending.approvers.join(', ')})`;
        }
        return undefined;
      }
      case 'abort':
        return this.s.abort ? 'abort already requested' : undefined;
      case 'pause':
        return this.s.paused ? `already paused by ${this.s.paused.by}` : undefined;
      case 'resume':
        return this.s.paused ? undefined : 'release is not paused';
      case 'promote': {
        if (step?.kind !== 'bake') return 'promote skips the rest of a bake, and no bake is running';
        const promoters = this.m.approvals.promoters ?? this.m.approvals.approvers;
        if (promoters.length && !promoters.includes(p.by)) return `${p.by} may not promote this release`;
        return this.s.promote ? 'promote already requested' : undefined;
      }
    }
  }

  private apply(action: Action, p: ActionPayload): ActionAck {
    const now = Date.now();
    this.note({ type: 'action', message: action, by: p.by, reason: p.reason });
    let message: string;
    switch (action) {
      case 'approve':
      case 'reject':
        this.s.decision = { action, payload: p };
        message = action === 'approve' ? 'approved: the release proceeds' : 'rejected: the release rolls back';
        break;
      case 'abort':
        this.s.abort = p;
        message = 'abort accepted: traffic returns to the champion';
        break;
      case 'pause': {
        const deadline = now + this.m.pause.timeout;
        this.s.paused = { by: p.by, reason: p.reason, since: iso(now), sinceMs: now, deadline: iso(deadline) };
        message = `paused until resumed, at most until ${iso(deadline)} (then ${this.m.pause.onTimeout})`;
        break;
      }
      case 'resume':
        this.endPause(now);
        message = 'resumed';
        break;
      case 'promote':
        this.s.promote = p;
        message = 'promote accepted: the current bake ends now';
        break;
    }
    this.publish();
    return { accepted: true, action, phase: this.s.phase, message };
  }

  private endPause(now: number): void {
    if (!this.s.paused) return;
    if (this.s.step) this.s.step.pausedMs += now - this.s.paused.sinceMs;
    this.s.paused = null;
  }

  // ------------------------------------------------------------------------------------------ main path

  async run(): Promise<ReleaseResult> {
    if (patched(RUN_SIZE_LIMIT)) {
      const limit = this.input.options?.historySizeLimit ?? DEFAULT_HISTORY_SIZE_LIMIT_BYTES;
      // A run adds at least half the limit of its own events: one that starts large (the state it carries,
      // its input) can never continue as new at once, and again, forever.
      this.sizeLimit = Math.max(limit, workflowInfo().historySize + limit / 2);
    }
    if (this.fresh) {
      this.note({ type: 'started', message: `release of ${this.m.model} ${this.m.candidate} started`, by: this.s.requestedBy });
    }
    this.publish();
    try {
      await this.walk();
      await this.finish('promoted');
    } catch (err) {
      // Neither is a failure of the release: one carries it on, the other retries the workflow task.
      if (err instanceof ContinueAsNew || err instanceof StaleClock) throw err;
      await CancellationScope.nonCancellable(() => this.rollback(this.rollbackFor(err)));
    }
    return { outcome: this.s.outcome as Outcome, status: this.status() };
  }

  private rollbackFor(err: unknown): RollbackRequested {
    if (err instanceof RollbackRequested) return err;
    if (isCancellation(err)) return new RollbackRequested('manual-abort', 'workflow cancelled', [], 'temporal-cancel');
    const message = err instanceof Error ? err.message : String(err);
    log.error('release failed', { error: message });
    return new RollbackRequested('error', message);
  }

  private async walk(): Promise<void> {
    if (this.fresh) {
      if (patched(SEQUENTIAL_GATES)) this.s.judge = 'sequential';
      const ctx = await acts.resolveContext.executeWithOptions(
        { summary: `resolve champion of ${this.m.model}` },
        [{ model: this.m.model, champion: this.m.champion }],
      );
      this.s.champion = ctx.champion;
      if (ctx.champion === this.m.candidate) {
        throw ApplicationFailure.nonRetryable(`${this.m.candidate} is already the champion of ${this.m.model}`, ErrorType.enum.InvalidManifest);
      }
      this.s.plan = expandPlan(this.m, { lastRollbackAt: ctx.lastRollbackAt, now: Date.now() });
      if (this.sequential) this.s.budget = allocateBudget(this.s.plan, this.m.gates.falseRollbackRate);
      const previous = await acts.getAlias({ model: this.m.model, alias: 'challenger' });
      this.s.compensations.push({ kind: 'restoreAlias', alias: 'challenger', version: previous });
      await acts.setAlias.executeWithOptions({ summary: `challenger alias → ${this.m.candidate}` }, [
        { model: this.m.model, alias: 'challenger', version: this.m.candidate },
      ]);
      this.publish();
      await this.notify('info', `Release started: ${this.m.model} ${this.m.candidate}`, this.s.plan.map(describeStep).join('\n'));
    }
    while (this.s.stepIndex < this.s.plan.length) {
      this.checkAbort();
      await this.waitWhilePaused();
      const step = this.s.plan[this.s.stepIndex] as PlanStep;
      if (!this.s.step) {
        this.s.step = newProgress(Date.now());
        this.note({ type: 'step-started', step: this.s.stepIndex, message: describeStep(step) });
      }
      await this.runStep(step);
      this.note({ type: 'step-completed', step: this.s.stepIndex, message: describeStep(step) });
      this.s.stepIndex += 1;
      this.s.step = null;
      this.s.nextTransitionAt = null;
      this.publish();
      await this.maybeContinueAsNew();
    }
  }

  private async runStep(step: PlanStep): Promise<void> {
    switch (step.kind) {
      case 'evaluate':
        return this.evaluate(step);
      case 'shadow':
        return this.shadow(step);
      case 'setTraffic':
        this.setPhase('canary');
        return this.route(
          this.servedRoute(step.percent, step.mode, this.s.route?.shadow ?? null),
          `${step.mode === 'cohort' ? 'cohort' : 'canary'} traffic → ${step.percent}%`,
        );
      case 'warm':
        return this.warm();
      case 'smoke':
        return this.smoke(step);
      case 'bake':
        this.setPhase('canary');
        return this.bake(step);
      case 'approval':
        return this.approval(step.reason);
      case 'fullRollout':
        return this.fullRollout(step);
      case 'watch':
        this.setPhase('watching');
        return this.watch(step);
      case 'retire':
        return this.retire();
    }
  }

  // ------------------------------------------------------------------------------------------ steps

  private async evaluate(step: StepOf<'evaluate'>): Promise<void> {
    this.setPhase('evaluating');
    const report = await this.abortable(() =>
      evalActs.evaluateOffline.executeWithOptions(
        { summary: `offline evaluation: ${this.m.candidate} vs ${this.s.champion}` },
        [{ model: this.m.model, champion: this.s.champion, candidate: this.m.candidate, dataset: step.dataset, metric: this.m.gates.evaluation.metric }],
      ),
    );
    const results = evaluationGates(report, this.m.gates);
    this.measured(results);
    if (verdict(results) === 'fail') {
      throw new RollbackRequested('evaluation-failed', failedSummary(results), failed(results));
    }
  }

  private async shadow(step: StepOf<'shadow'>): Promise<void> {
    this.setPhase('shadowing');
    this.pushOnce({ kind: 'disableShadow' });
    const current = this.s.route ?? this.servedRoute(0, 'weighted', null);
    await this.route({ ...current, shadow: { version: this.m.candidate, sampleRate: step.sampleRate } }, `shadow ${step.sampleRate * 100}% → ${this.m.candidate}`);
    this.shadowRequests = 0;
    await this.timedAnalysis({
      label: 'shadow',
      kind: 'shadow',
      minRequests: step.minRequests,
      minMs: step.minDuration,
      maxMs: step.maxDuration,
      intervalMs: step.interval,
      promotable: false,
      failTrigger: 'shadow-failed',
      window: null,
      measure: async (window) => {
        const q = { model: this.m.model, champion: this.s.champion, candidate: this.m.candidate, ...window };
        const report = patched(LOCAL_MEASUREMENTS)
          ? await measureActs.analyzeShadow(q)
          : await acts.analyzeShadow.executeWithOptions({ summary: 'measure shadow divergence' }, [q]);
        this.shadowRequests = report.requests;
        if (!this.sequential) return shadowGates(report, this.m.gates);
        return shadowLook(this.s.step as StepProgress, report, this.lookSubject());
      },
      enough: () => this.shadowRequests >= step.minRequests,
    });
    await this.route({ ...(this.s.route as RouteSpec), shadow: null }, 'shadow off');
    this.s.compensations = this.s.compensations.filter((c) => c.kind !== 'disableShadow');
  }

  private async warm(): Promise<void> {
    this.setPhase('warming');
    await this.route(this.servedRoute(0, 'weighted', null), `warm ${this.m.candidate} (0% traffic)`);
    for (let attempt = 1; ; attempt++) {
      const ok = await acts.checkHealth.executeWithOptions({ summary: `health of ${this.m.candidate}` }, [
        { model: this.m.model, version: this.m.candidate },
      ]);
      if (ok) return;
      if (attempt >= 10) throw new RollbackRequested('warm-failed', `${this.m.candidate} not healthy after ${attempt} checks`);
      await this.wait(Date.now() + 30_000, 'wait for the candidate to become healthy');
    }
  }

  private async smoke(step: StepOf<'smoke'>): Promise<void> {
    this.setPhase('smoke-testing');
    const report = await acts.smokeTest.executeWithOptions({ summary: `smoke test: ${step.requests} requests` }, [
      { model: this.m.model, version: this.m.candidate, requests: step.requests },
    ]);
    const result = smokeGate(report, step.maxErrorRate, this.m.gates);
    this.measured([result]);
    if (result.outcome !== 'pass') throw new RollbackRequested('smoke-failed', result.summary, [result]);
  }

  private async bake(step: StepOf<'bake'>): Promise<void> {
    await this.timedAnalysis({
      label: `bake at ${this.candidatePercent()}%`,
      kind: 'canary',
      minRequests: 0,
      minMs: step.duration,
      maxMs: step.duration + step.extension,
      intervalMs: step.interval,
      promotable: true,
      failTrigger: 'gate-breach',
      window: step.window ?? null,
      measure: async (window) => {
        if (this.sequential) return this.judgeInterval(window.to);
        const [cand, champ] = await Promise.all([
          this.measure(this.m.candidate, window),
          this.measure(this.s.champion, window),
        ]);
        this.s.baseline = champ;
        return canaryGates(cand, champ, this.m.gates);
      },
      enough: () => true,
    });
  }

  /** Sequential gates: one look of the canary, measured by local activities (src/domain/looks.ts). */
  private judgeInterval(to: number): Promise<GateResult[]> {
    return canaryLook(this.s.step as StepProgress, to, this.lookSubject(), (version, window) => this.measure(version, window));
  }

  private lookSubject(): LookSubject {
    return { model: this.m.model, champion: this.s.champion, candidate: this.m.candidate, gates: this.m.gates, budget: this.stepBudget() };
  }

  private stepBudget(): TestBudget {
    const b = this.s.budget?.[this.s.stepIndex];
    if (!b) throw ApplicationFailure.nonRetryable(`no gate budget for step ${this.s.stepIndex}`, ErrorType.enum.InvalidManifest);
    return b;
  }

  private get sequential(): boolean {
    return this.s.judge === 'sequential';
  }

  private async fullRollout(step: StepOf<'fullRollout'>): Promise<void> {
    this.setPhase('promoting');
    if (this.sequential) {
      // The previous version keeps a small holdback as the watch's concurrent reference (it stays warm
      // anyway); without a watch to come there is nothing to compare, and no holdback.
      const watchFollows = this.s.plan.slice(this.s.stepIndex + 1).some((s) => s.kind === 'watch');
      const holdback = watchFollows ? (step.holdback ?? DEFAULT_WATCH_HOLDBACK) : 0;
      const to = step.mode === 'atomic' ? 'atomic switch' : 'traffic';
      await this.route(this.servedRoute(100 - holdback, 'weighted', null), holdback ? `${to} → ${100 - holdback}% (${holdback}% held back on ${this.s.champion})` : `${to} → 100%`);
      this.s.compensations.push({ kind: 'restoreAlias', alias: 'champion', version: this.s.champion });
      await acts.setAlias.executeWithOptions({ summary: `champion alias → ${this.m.candidate}` }, [
        { model: this.m.model, alias: 'champion', version: this.m.candidate },
      ]);
      return;
    }
    // The watch compares the candidate with the champion as it served just before the switch; the last
    // canary measurement of the champion stands in if metrics cannot be read now.
    const watch = this.s.plan.find((s): s is StepOf<'watch'> => s.kind === 'watch');
    const now = Date.now();
    const before = await this.measure(this.s.champion, { from: now - (watch?.window ?? 3_600_000), to: now }).catch(() => null);
    if (before && before.requests >= (this.s.baseline?.requests ?? 0)) this.s.baseline = before;
    await this.route(this.servedRoute(100, 'weighted', null), step.mode === 'atomic' ? 'atomic switch → 100%' : 'traffic → 100%');
    this.s.compensations.push({ kind: 'restoreAlias', alias: 'champion', version: this.s.champion });
    await acts.setAlias.executeWithOptions({ summary: `champion alias → ${this.m.candidate}` }, [
      { model: this.m.model, alias: 'champion', version: this.m.candidate },
    ]);
  }

  private async watch(step: StepOf<'watch'>): Promise<void> {
    const baseline = this.s.baseline;
    await this.timedAnalysis({
      label: 'watch',
      kind: 'canary',
      minRequests: 0,
      minMs: step.duration,
      maxMs: step.duration + step.extension,
      intervalMs: step.interval,
      promotable: false,
      failTrigger: 'watch-breach',
      window: step.window,
      measure: async (window) => {
        if (this.sequential) return this.judgeInterval(window.to);
        return watchGates(await this.measure(this.m.candidate, window), baseline, this.m.gates);
      },
      enough: () => true,
    });
  }

  private async retire(): Promise<void> {
    this.setPhase('retiring');
    await this.route(
      { ...this.servedRoute(100, 'weighted', null), variants: [{ version: this.m.candidate, weight: 100 }] },
      `retire ${this.s.champion} from the router`,
    );
    // Past this point there is nothing to undo: the previous version is gone from the router.
    this.s.compensations = [];
    await acts.archiveVersion.executeWithOptions({ summary: `archive ${this.s.champion}` }, [
      { model: this.m.model, version: this.s.champion },
    ]);
    await acts.setAlias({ model: this.m.model, alias: 'challenger', version: null });
  }

  // ------------------------------------------------------------------------------------------ waiting

  /**
   * Measures gates every interval while the step's clock runs (paused time does not count; gates are
   * still measured while paused). Ends when the minimum time has passed and the latest measurement, taken
   * at or after it, passes. A breach repeated `failureLimit` times rolls back. Missing data extends the
   * step up to `maxMs`, then follows the insufficient-data policy.
   */
  private async timedAnalysis(spec: AnalysisSpec): Promise<void> {
    const p = this.s.step as StepProgress;
    for (;;) {
      this.checkAbort();
      const now = Date.now();
      if (spec.promotable && this.s.promote) {
        this.s.promote = null;
        this.note({ type: 'step-completed', step: this.s.stepIndex, message: `${spec.label}: promoted, rest of the bake skipped` });
        return;
      }
      const elapsed = this.elapsed(p, now);
      const exit = analysisExit(p, spec, elapsed, this.s.paused !== null, spec.enough());
      if (exit === 'done') return;
      if (exit === 'breach') throw new RollbackRequested(spec.failTrigger, failedSummary(p.lastResults), failed(p.lastResults));
      if (exit === 'lacking') {
        await this.insufficientData(spec.label, p.lastResults);
        return;
      }
      if (this.batched(spec) && (await this.takeChecks(spec, p))) continue;
      const running = this.s.paused === null;
      const nextMeasure = (p.lastMeasuredAt ?? p.startedAt) + spec.intervalMs;
      // The step's clock only runs unpaused; a measurement is always taken once the minimum is reached.
      const finalDue = (at: number) => this.s.paused === null && this.elapsed(p, at) >= spec.minMs && p.lastMeasuredElapsed < spec.minMs;
      const untilMin = running && elapsed < spec.minMs ? now + spec.minMs - elapsed : Infinity;
      const untilMax = running ? now + spec.maxMs - elapsed : Infinity;
      const wake = finalDue(now) ? now : Math.min(nextMeasure, untilMin, untilMax, this.pauseDeadline());
      this.s.nextTransitionAt = wake;
      this.publish();
      await this.wait(
        wake,
        `${spec.label}: next measurement`,
        () => (spec.promotable && this.s.promote !== null) || (this.s.paused === null) !== running || (this.sequential && this.historyFull()),
      );
      await this.checkPauseDeadline();
      const at = Date.now();
      if (at >= nextMeasure || finalDue(at)) {
        const from = spec.window === null ? p.startedAt : Math.max(p.startedAt, at - spec.window);
        const results = await scoped(() => spec.measure({ from, to: at }), 'leave').catch((err: Error) => unavailable(err, spec.label === 'shadow' ? SHADOW_GATES : CANARY_GATES));
        p.lastMeasuredAt = at;
        const breached = recordLook(p, results, this.elapsed(p, at), this.m.gates.failureLimit);
        this.measured(results);
        if (breached) throw new RollbackRequested(spec.failTrigger, `${spec.label}: ${failedSummary(results)}`, failed(results));
      }
      await this.maybeContinueAsNew();
    }
  }

  /**
   * Looks more often than once a minute are taken by the takeChecks activity, which wakes the release
   * every WAKE_AFTER_MS: a look then costs the workflow no timer, no local activity and no task of its
   * own. Paused steps, the fixed-horizon gates, histories from before and releases that ask for it
   * (`options.looks`, the simulator's) keep the workflow's own loop.
   */
  private batched(spec: AnalysisSpec): boolean {
    return this.sequential && this.s.paused === null && spec.intervalMs < BATCHED_BELOW_MS && this.input.options?.looks !== 'workflow' && patched(BATCHED_LOOKS);
  }

  /**
   * One takeChecks activity, its looks recorded as if the workflow had taken them. Cut short, and the
   * activity cancelled, by anything the loop must act on: a message, a pause, a full history. False when
   * the loop must take its next look itself: the activity failed, a promote or a pause cut it short, or it
   * came back with no look.
   */
  private async takeChecks(spec: AnalysisSpec, p: StepProgress): Promise<boolean> {
    const interrupted = () => (spec.promotable && this.s.promote !== null) || this.s.paused !== null || this.s.abort !== null || this.historyFull();
    // Back to the loop, which acts on what interrupted (a full history continues as new here).
    const acted = async () => {
      await this.maybeContinueAsNew();
      return true;
    };
    if (interrupted()) return acted();
    const limits = { minMs: spec.minMs, maxMs: spec.maxMs, intervalMs: spec.intervalMs, failureLimit: this.m.gates.failureLimit, minRequests: spec.minRequests };
    const scheduledAt = Date.now();
    this.s.nextTransitionAt = nextLookAt(p, limits, scheduledAt);
    this.publish();
    let reply: LooksReply | null;
    // What the activity came back with, even when a message won the race in the same activation.
    let settled: LooksReply | undefined;
    try {
      reply = await scoped(() =>
        Promise.race([
          lookActs(spec.intervalMs)
            .takeChecks.executeWithOptions({ summary: `${spec.label}: looks every ${spec.intervalMs / 1000} s` }, [
              { kind: spec.kind, subject: this.lookSubject(), limits, progress: p, requests: this.shadowRequests, wakeAfterMs: WAKE_AFTER_MS },
            ])
            .then((r) => (settled = r)),
          condition(interrupted).then(() => null),
        ]),
      );
    } catch (err) {
      if (isCancellation(err) && CancellationScope.current().consideredCancelled) throw err;
      // Only a failure the server reported came in a later task; one thrown while scheduling (an input the
      // converter refuses) comes in this task, and refusing it would fail every replay of it alike.
      if (err instanceof ActivityFailure && !isCancellation(err)) clockPastReply(scheduledAt, undefined);
      this.note({ type: 'looks-failed', message: `${spec.label}: looks not taken by the worker (${causeOf(err)}); the release takes the next one itself` });
      return false;
    }
    // A query replayed on a worker without the release in its cache delivers the reply on the clock of the
    // task that scheduled the activity: deciding the step's end on it would cache a different next command.
    if (reply ?? settled) clockPastReply(scheduledAt, reply ?? settled);
    // The SDK keeps this call's scope, and what its reactions hold (this call's closures, so `settled`: a
    // reply of a dozen looks), until `scoped()` lets go of its parent, up to 64 scopes later. Let go of it here.
    settled = undefined;
    // Interrupted: the looks in flight are dropped. An abort or a full history acts at once; a promote or
    // a pause first takes a look here, over everything since the last look recorded (the canary judges
    // from `judgedTo`, the shadow from the step's start), so no breach already in the data is skipped.
    if (!reply) return this.s.abort !== null || this.historyFull() ? acted() : false;
    // Nothing taken: the worker's clock put the step's end before the workflow's. The workflow's own
    // timers decide the end; without this, each takeChecks would come back at once until the clocks agree.
    if (reply.looks.length === 0) return false;
    this.shadowRequests = reply.requests;
    for (const look of reply.looks) this.measured(look.results, look.at);
    const q = reply.progress;
    Object.assign(p, {
      consecutiveFailures: q.consecutiveFailures,
      lastOutcome: q.lastOutcome,
      lastResults: q.lastResults,
      lastMeasuredAt: q.lastMeasuredAt,
      lastMeasuredElapsed: q.lastMeasuredElapsed,
      canary: q.canary,
      shadow: q.shadow,
      judgedTo: q.judgedTo,
    });
    if (reply.looks.length > 0 && p.consecutiveFailures >= this.m.gates.failureLimit) {
      throw new RollbackRequested(spec.failTrigger, `${spec.label}: ${failedSummary(p.lastResults)}`, failed(p.lastResults));
    }
    return acted();
  }

  private async insufficientData(label: string, results: GateResult[]): Promise<void> {
    const why = `${label}: gates still lack data after the extension (${results.filter((r) => r.outcome !== 'pass').map((r) => r.summary).join('; ')})`;
    if (this.m.gates.onInsufficientData === 'abort') throw new RollbackRequested('insufficient-data', why, results);
    await this.approval(`hold: ${why}`, 'insufficient-data');
  }

  private async approval(reason: string, timeoutTrigger: RollbackTrigger = 'approval-timeout'): Promise<void> {
    const a = this.m.approvals;
    const resumePhase = this.s.phase;
    const p = this.s.step as StepProgress;
    if (!this.s.pendingApproval) {
      const now = Date.now();
      this.s.pendingApproval = {
        step: this.s.stepIndex,
        reason,
        approvers: a.approvers,
        requestedAt: iso(now),
        deadline: iso(now + a.timeout),
        onTimeout: a.onTimeout,
        held: false,
      };
      this.note({ type: 'approval-requested', step: this.s.stepIndex, message: reason, data: { deadline: this.s.pendingApproval.deadline } });
      this.setPhase('awaiting-approval');
      await this.notify('warning', `Approval needed: ${this.m.model} ${this.m.candidate}`, `${reason}\nDeadline: ${this.s.pendingApproval.deadline}`);
    }
    this.setPhase('awaiting-approval');
    for (;;) {
      const pending = this.s.pendingApproval as PendingApproval;
      const decision = this.s.decision;
      if (decision) {
        this.s.decision = null;
        this.s.pendingApproval = null;
        if (decision.action === 'reject') {
          throw new RollbackRequested('rejected', decision.payload.reason || 'rejected', [], decision.payload.by);
        }
        this.setPhase(resumePhase === 'awaiting-approval' ? 'canary' : resumePhase);
        return;
      }
      const now = Date.now();
      const deadline = Date.parse(pending.deadline);
      if (now >= deadline) {
        if (pending.onTimeout === 'abort' || pending.held) {
          throw new RollbackRequested(timeoutTrigger, `no decision by ${pending.deadline}: ${reason}`);
        }
        pending.held = true;
        pending.deadline = iso(deadline + a.holdFor);
        this.note({ type: 'approval-paged', step: this.s.stepIndex, message: `approval overdue; holding until ${pending.deadline}` });
        await this.notify('critical', `PAGE: approval overdue for ${this.m.model} ${this.m.candidate}`, `${reason}\nHolding until ${pending.deadline}, then rolling back.`);
        continue;
      }
      const reminderAt = deadline - a.reminderBefore;
      if (!p.reminderSent && now >= reminderAt) {
        p.reminderSent = true;
        this.note({ type: 'approval-reminder', step: this.s.stepIndex, message: `approval due by ${pending.deadline}` });
        await this.notify('warning', `Reminder: approval due for ${this.m.model} ${this.m.candidate}`, `${reason}\nDeadline: ${pending.deadline}`);
        continue;
      }
      const wake = p.reminderSent ? deadline : Math.min(reminderAt, deadline);
      this.s.nextTransitionAt = wake;
      this.publish();
      // Releases since the sequential gates continue-as-new here too, so a flood of messages while a
      // release waits for a human cannot grow its history to the server's limit.
      await this.wait(wake, 'approval deadline', () => this.s.decision !== null || (this.sequential && this.historyFull()));
      if (this.sequential) await this.maybeContinueAsNew();
    }
  }

  private async waitWhilePaused(): Promise<void> {
    while (this.s.paused) {
      this.s.nextTransitionAt = this.pauseDeadline();
      this.publish();
      await this.wait(this.pauseDeadline(), 'paused: deadline', () => this.s.paused === null || (this.sequential && this.historyFull()));
      if (this.sequential) await this.maybeContinueAsNew();
      await this.checkPauseDeadline();
    }
  }

  /**
   * Waits until `at`, or until `wake` holds, or until someone aborts. Abort interrupts every wait at once;
   * short activities in flight finish first (cancelling them could let a write land after its own undo).
   */
  private async wait(at: number, summary: string, wake: () => boolean = () => false): Promise<void> {
    await sleepUntil(at, summary, () => wake() || this.s.abort !== null);
    this.checkAbort();
  }

  private checkAbort(): void {
    const a = this.s.abort;
    if (a) throw new RollbackRequested('manual-abort', a.reason || 'aborted', [], a.by);
  }

  /** Long activities (offline evaluation) are cancelled by an abort rather than awaited. */
  private async abortable<T>(fn: () => Promise<T>): Promise<T> {
    this.checkAbort();
    return scoped(() =>
      Promise.race([
        fn(),
        condition(() => this.s.abort !== null).then((): never => {
          this.checkAbort();
          throw new Error('unreachable');
        }),
      ]),
    );
  }

  private pauseDeadline(): number {
    return this.s.paused ? Date.parse(this.s.paused.deadline) : Infinity;
  }

  private async checkPauseDeadline(): Promise<void> {
    const paused = this.s.paused;
    if (!paused || Date.now() < Date.parse(paused.deadline)) return;
    if (this.m.pause.onTimeout === 'abort') {
      throw new RollbackRequested('pause-timeout', `paused by ${paused.by} since ${paused.since}, not resumed by ${paused.deadline}`);
    }
    this.endPause(Date.now());
    this.note({ type: 'action', message: 'resume (pause deadline reached)', by: 'model-rollout' });
  }

  private elapsed(p: StepProgress, now: number): number {
    const pausedNow = this.s.paused ? now - Math.max(this.s.paused.sinceMs, p.startedAt) : 0;
    return now - p.startedAt - p.pausedMs - pausedNow;
  }

  // ------------------------------------------------------------------------------------------ side effects

  /** The route that serves `percent` to the candidate and the rest to the champion, which stays warm. */
  private servedRoute(percent: number, mode: TrafficMode, shadow: RouteSpec['shadow']): RouteSpec {
    return {
      model: this.m.model,
      releaseId: this.s.releaseId,
      generation: this.s.generation,
      mode,
      variants: [
        { version: this.s.champion, weight: 100 - percent },
        { version: this.m.candidate, weight: percent },
      ],
      shadow,
    };
  }

  /**
   * Applies a route and returns once the router reads it back. The undo (traffic back to the champion) is
   * pushed before the change, not after: an interrupted write may still land, and the undo is safe either way.
   * A router outage is retried here, in the workflow, so the status shows it.
   */
  private async route(desired: RouteSpec, summary: string): Promise<void> {
    this.pushOnce({ kind: 'restoreTraffic' });
    await this.applyUntilVerified(desired, summary);
    this.note({ type: 'traffic', step: this.s.stepIndex, message: summary, data: { generation: this.s.generation, variants: desired.variants, shadow: desired.shadow } });
    this.publish();
  }

  private async applyUntilVerified(desired: RouteSpec, summary: string): Promise<void> {
    this.s.generation += 1;
    const route = { ...desired, releaseId: this.s.releaseId, generation: this.s.generation };
    for (let attempt = 1; ; attempt++) {
      try {
        await routeActs.applyRoute.executeWithOptions({ summary }, [route]);
        this.s.route = route;
        return;
      } catch (err) {
        if (isCancellation(err)) throw err;
        // A route the router refuses (a version it has no backend for, a config it rejects) cannot pass on
        // a retry: the forward path gives up and rolls back. The rollback's own route keeps retrying.
        const refused = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === ErrorType.enum.RouteRefused;
        // patched() last: it is reached only on a refusal, which older activities never reported, so
        // histories recorded before it replay without meeting it.
        if (refused && this.s.phase !== 'rolling-back' && patched(ROUTE_REFUSALS)) throw new RollbackRequested('error', `router refused ${summary}: ${causeOf(err)}`);
        const message = `router: ${causeOf(err)}; retrying (${summary}, attempt ${attempt})`;
        // Retries of the rollback's own route are compensation retries; before it, router retries.
        this.note({ type: this.s.phase === 'rolling-back' ? 'compensation-retry' : 'router-retry', step: this.s.stepIndex, message });
        log.warn('route not applied yet', { attempt, error: causeOf(err) });
        const backoff = Math.min(30_000, 1_000 * 2 ** Math.min(attempt - 1, 5));
        // During the rollback itself an abort changes nothing: keep retrying.
        if (this.s.phase === 'rolling-back') await sleep(backoff, { summary: 'wait before retrying the router' });
        else await this.wait(Date.now() + backoff, 'wait before retrying the router');
      }
    }
  }

  private pushOnce(c: Compensation): void {
    if (!this.s.compensations.some((x) => x.kind === c.kind)) this.s.compensations.push(c);
  }

  private async measure(version: string, window: { from: number; to: number }): Promise<VariantStats> {
    if (patched(LOCAL_MEASUREMENTS)) return measureActs.measureVariant({ model: this.m.model, version, ...window });
    return acts.measureVariant.executeWithOptions({ summary: `measure ${version}` }, [{ model: this.m.model, version, ...window }]);
  }

  private async notify(severity: 'info' | 'warning' | 'critical', title: string, text: string): Promise<void> {
    try {
      await notifyActs.notify.executeWithOptions({ summary: `notify: ${title}` }, [
        { releaseId: this.s.releaseId, model: this.m.model, candidate: this.m.candidate, severity, title, text, webhooks: this.m.notifications.webhooks },
      ]);
    } catch (err) {
      // A failing notifier never blocks a release or a rollback; it is surfaced in the timeline.
      this.note({ type: 'notification-failed', message: `${title}: ${causeOf(err)}` });
    }
  }

  // ------------------------------------------------------------------------------------------ rollback

  /** The ordered, verified undo: newest compensation first, traffic verified before anything else. */
  private async rollback(rb: RollbackRequested): Promise<void> {
    const startedAt = Date.now();
    this.s.pendingApproval = null;
    this.s.paused = null;
    this.s.nextTransitionAt = null;
    this.s.rollback = {
      trigger: rb.trigger,
      by: rb.by,
      reason: rb.reason,
      startedAt: iso(startedAt),
      evidence: rb.evidence,
      impact: { candidateRequests: null, candidateErrors: null },
      compensationFailures: [],
    };
    this.note({ type: 'rollback-started', message: `${rb.trigger}: ${rb.reason}`, by: rb.by, data: rb.evidence.map((e) => e.summary) });
    this.setPhase('rolling-back');
    // Traffic first, whatever order the stack was built in.
    const ordered = [...this.s.compensations].reverse().sort((a, b) => rank(a) - rank(b));
    for (const c of ordered) {
      await this.compensate(c);
      this.s.compensations = this.s.compensations.filter((x) => x !== c);
    }
    try {
      const served = await this.measure(this.m.candidate, { from: this.s.startedAt, to: Date.now() });
      this.s.rollback.impact = { candidateRequests: served.requests, candidateErrors: served.errors };
    } catch (err) {
      this.s.rollback.compensationFailures.push(`impact estimate: ${causeOf(err)}`);
    }
    const outcome = outcomeOf(rb.trigger);
    try {
      await acts.recordOutcome.executeWithOptions({ summary: `mark ${this.m.candidate} ${outcome}` }, [
        { model: this.m.model, version: this.m.candidate, releaseId: this.s.releaseId, outcome, trigger: rb.trigger, at: Date.now() },
      ]);
    } catch (err) {
      this.s.rollback.compensationFailures.push(`registry outcome: ${causeOf(err)}`);
    }
    this.s.rollback.completedAt = iso(Date.now());
    this.note({ type: 'rollback-completed', message: `traffic on ${this.s.champion}; ${outcome}`, data: this.s.rollback.impact });
    const failures = this.s.rollback.compensationFailures;
    await this.notify(
      'critical',
      `Rolled back: ${this.m.model} ${this.m.candidate} (${rb.trigger})`,
      [rb.reason, ...rb.evidence.map((e) => e.summary), `candidate served ${this.s.rollback.impact.candidateRequests ?? 'unknown'} requests`, ...failures.map((f) => `FAILED: ${f}`)].join('\n'),
    );
    await this.finish(outcome);
  }

  private async compensate(c: Compensation): Promise<void> {
    const rb = this.s.rollback as RollbackRecord;
    switch (c.kind) {
      case 'restoreTraffic':
        await this.applyUntilVerified(
          { ...this.servedRoute(0, 'weighted', this.s.route?.shadow ?? null), variants: [{ version: this.s.champion, weight: 100 }] },
          `rollback: traffic → ${this.s.champion} 100%`,
        );
        rb.trafficRestoredAt = iso(Date.now());
        this.note({ type: 'compensation', message: `traffic verified on ${this.s.champion}` });
        break;
      case 'disableShadow':
        await this.applyUntilVerified({ ...(this.s.route as RouteSpec), shadow: null }, 'rollback: shadow off');
        this.note({ type: 'compensation', message: 'shadow off' });
        break;
      case 'restoreAlias':
        try {
          await acts.setAlias.executeWithOptions({ summary: `rollback: ${c.alias} alias → ${c.version ?? '(none)'}` }, [
            { model: this.m.model, alias: c.alias, version: c.version },
          ]);
          this.note({ type: 'compensation', message: `${c.alias} alias restored to ${c.version ?? '(none)'}` });
        } catch (err) {
          rb.compensationFailures.push(`${c.alias} alias: ${causeOf(err)}`);
          this.note({ type: 'compensation', message: `FAILED to restore ${c.alias} alias: ${causeOf(err)}` });
        }
        break;
    }
    this.publish();
  }

  private async finish(outcome: Outcome): Promise<void> {
    if (outcome === 'promoted' && this.sequential && this.candidatePercent() < 100) {
      // A plan that ends without retire: the watch's holdback ends with the release, the previous version kept warm.
      await this.route(this.servedRoute(100, 'weighted', null), `holdback ends: traffic → 100% ${this.m.candidate}`);
    }
    if (outcome === 'promoted') {
      try {
        await acts.recordOutcome.executeWithOptions({ summary: `mark ${this.m.candidate} promoted` }, [
          { model: this.m.model, version: this.m.candidate, releaseId: this.s.releaseId, outcome, at: Date.now() },
        ]);
      } catch (err) {
        // Traffic is already on the candidate and the previous version retired: surface, do not undo.
        this.note({ type: 'registry-failed', message: `registry outcome not recorded: ${causeOf(err)}` });
      }
      await this.notify('info', `Promoted: ${this.m.model} ${this.m.candidate}`, 'watch clean, previous version retired');
    }
    this.s.outcome = outcome;
    this.setPhase(outcome);
    this.s.nextTransitionAt = null;
    this.note({ type: 'completed', message: outcome });
    this.publish();
  }

  // ------------------------------------------------------------------------------------------ state out

  private historyFull(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= (this.input.options?.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT) || info.historySize >= this.sizeLimit;
  }

  private async maybeContinueAsNew(): Promise<void> {
    if (!this.historyFull()) return;
    await condition(allHandlersFinished);
    const { historyLength: events, historySize: bytes } = workflowInfo();
    // The size only in runs with a size limit: the carried state of runs begun before replays as it ran.
    const size = Number.isFinite(this.sizeLimit) ? ` (${Math.round(bytes / 1024)} KiB)` : '';
    this.note({ type: 'continued-as-new', message: `run ${this.s.run} → ${this.s.run + 1} after ${events} events${size}` });
    this.s.run += 1;
    // The carried state must stay far below the server's payload limit (2 MB by default).
    this.trimmed(compact(this.s.timeline, () => JSON.stringify(this.s).length, CARRIED_STATE_LIMIT_BYTES));
    await continueAsNew<typeof releaseWorkflow>({ ...this.input, carried: this.s });
  }

  private setPhase(phase: Phase): void {
    if (this.s.phase === phase) return;
    this.s.phase = phase;
    this.publish();
  }

  private measured(results: GateResult[], atMs = Date.now()): void {
    const at = iso(atMs);
    for (const r of results) this.s.gates[r.gate] = { ...r, at };
    const outcome = verdict(results);
    const message = `${outcome}: ${results.map((r) => r.summary).join('; ')}`;
    record({ kind: 'measurement', at, step: this.s.stepIndex, results });
    this.trimmed(appendMeasurement(this.s.timeline, { at, step: this.s.stepIndex, outcome, message, data: results }));
    this.publish();
  }

  private note(e: Omit<TimelineEntry, 'at'>): void {
    const entry: TimelineEntry = { at: iso(Date.now()), ...e };
    record({ kind: 'entry', entry });
    this.trimmed(appendEntry(this.s.timeline, entry));
  }

  private trimmed(n: number): void {
    if (n) this.s.timelineTrimmed = (this.s.timelineTrimmed ?? 0) + n;
  }

  private candidatePercent(): number {
    return this.s.route?.variants.find((v) => v.version === this.m.candidate)?.weight ?? 0;
  }

  status(): ReleaseStatus {
    const s = this.s;
    const route = s.route;
    return {
      releaseId: s.releaseId,
      model: this.m.model,
      candidate: this.m.candidate,
      champion: s.champion,
      strategy: this.m.plan ? 'custom' : this.m.strategy,
      blastRadius: this.m.blastRadius,
      phase: s.phase,
      outcome: s.outcome,
      stepIndex: s.stepIndex,
      plan: s.plan.map((step) => ({ kind: step.kind, description: describeStep(step) })),
      traffic: {
        candidatePercent: this.candidatePercent(),
        mode: route?.mode ?? 'weighted',
        shadowSampleRate: route?.shadow?.sampleRate ?? 0,
        previousWarm: !route || route.variants.some((v) => v.version === s.champion),
      },
      gates: s.gates,
      pendingApproval: s.pendingApproval,
      paused: s.paused ? { by: s.paused.by, reason: s.paused.reason, since: s.paused.since, deadline: s.paused.deadline } : null,
      nextTransitionAt: s.nextTransitionAt === null || !Number.isFinite(s.nextTransitionAt) ? null : iso(s.nextTransitionAt),
      startedAt: iso(s.startedAt),
      updatedAt: iso(Date.now()),
      rollback: s.rollback,
      timeline: s.timeline,
      ...(s.timelineTrimmed ? { timelineTrimmed: s.timelineTrimmed } : {}),
      run: s.run,
    };
  }

  /** Search attributes for the UI's list, and the current details shown on the workflow's page. */
  private publish(): void {
    const attrs = releaseSearchAttributes({
      model: this.m.model,
      candidate: this.m.candidate,
      champion: this.s.champion || 'unknown',
      phase: this.s.phase,
      trafficPercent: this.candidatePercent(),
      strategy: this.m.plan ? 'custom' : this.m.strategy,
    });
    // Each upsert is a history event: only changes are sent.
    const key = JSON.stringify(attrs.map((a) => a.value));
    if (key !== this.published) {
      this.published = key;
      upsertSearchAttributes(attrs);
    }
    setCurrentDetails(renderDetails(this.status()));
  }
}


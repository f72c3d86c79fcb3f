// Starting releases from outside (CLI, CI, tests): parse first, then start at most one release per model.
import { randomUUID } from 'node:crypto';
import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { SearchAttributes, TASK_QUEUE, releaseSearchAttributes, releaseWorkflowId } from '../constants';
import { parseManifest } from '../domain/manifest';
import { describeStep, expandPlan } from '../domain/plan';
import { releaseWorkflow, type ReleaseWorkflowOptions } from '../workflows/release';

/** Another version of the same model is in flight. */
export class ReleaseConflictError extends Error {
  override name = 'ReleaseConflictError';
  readonly type = 'ReleaseConflict';
  constructor(
    readonly model: string,
    readonly inFlight: string,
    readonly requested: string,
    readonly workflowId: string,
  ) {
    super(
      `${model} already has release of version ${inFlight} in flight (${workflowId}); ` +
        `finish or abort it before releasing ${requested}`,
    );
  }
}

export interface StartedRelease {
  workflowId: string;
  runId: string;
  /** True when the same model and version was already in flight: this start returned it. */
  existing: boolean;
  handle: WorkflowHandle<typeof releaseWorkflow>;
}

/**
 * Starts a release. Invalid manifests throw ManifestError before anything is started. Starting the same
 * model and version again returns the release in flight (CI retries are safe); a different version of a
 * model with a release in flight throws ReleaseConflictError.
 */
export async function startRelease(
  client: Client,
  raw: unknown,
  opts: { requestedBy: string; taskQueue?: string; options?: ReleaseWorkflowOptions },
): Promise<StartedRelease> {
  const m = parseManifest(raw);
  const workflowId = releaseWorkflowId(m.model);
  const inFlight = await runningVersion(client, workflowId);
  if (inFlight) return sameOrConflict(client, m.model, m.candidate, inFlight, workflowId);

  const planPreview = expandPlan(m, { lastRollbackAt: null, now: Date.now() }).map((s, i) => `${i + 1}. ${describeStep(s)}`);
  // Which call created the release: with USE_EXISTING, every concurrent start gets the same run, and
  // only the winner's memo carries its own token.
  const startToken = randomUUID();
  try {
    const handle = await client.workflow.start(releaseWorkflow, {
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      workflowId,
      args: [{ manifest: raw, requestedBy: opts.requestedBy, options: opts.options }],
      // A concurrent start of the same model joins the one that won; the version check below decides.
      workflowIdConflictPolicy: 'USE_EXISTING',
      memo: { startToken },
      typedSearchAttributes: releaseSearchAttributes({
        model: m.model,
        candidate: m.candidate,
        champion: m.champion ?? 'unknown',
        phase: 'pending',
        trafficPercent: 0,
        strategy: m.plan ? 'custom' : m.strategy,
      }),
      staticSummary: `Release ${m.model} ${m.candidate}${m.champion ? ` (champion ${m.champion})` : ''}, ${m.plan ? 'custom plan' : m.strategy}, blast radius ${m.blastRadius}, by ${opts.requestedBy}`,
      staticDetails: [m.description ?? '', '**Plan** (approvals may be added at start):', '', ...planPreview].join('\n'),
    });
    const desc = await handle.describe();
    const version = desc.typedSearchAttributes.get(SearchAttributes.candidateVersion);
    if (version && version !== m.candidate) throw new ReleaseConflictError(m.model, version, m.candidate, workflowId);
    return { workflowId, runId: handle.firstExecutionRunId, existing: desc.memo?.startToken !== startToken, handle };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const version = await runningVersion(client, workflowId);
      if (version) return sameOrConflict(client, m.model, m.candidate, version, workflowId);
    }
    throw err;
  }
}

async function sameOrConflict(client: Client, model: string, candidate: string, inFlight: string, workflowId: string): Promise<StartedRelease> {
  if (inFlight !== candidate) throw new ReleaseConflictError(model, inFlight, candidate, workflowId);
  const desc = await client.workflow.getHandle(workflowId).describe();
  const handle = client.workflow.getHandle<typeof releaseWorkflow>(workflowId, desc.runId);
  return { workflowId, runId: desc.runId, existing: true, handle };
}

/** The candidate version of the model's running release, or null when none runs. */
async function runningVersion(client: Client, workflowId: string): Promise<string | null> {
  try {
    const desc = await client.workflow.getHandle(workflowId).describe();
    if (desc.status.name !== 'RUNNING') return null;
    return desc.typedSearchAttributes.get(SearchAttributes.candidateVersion) ?? 'unknown';
  } catch (err) {
    if ((err as Error).name === 'WorkflowNotFoundError') return null;
    throw err;
  }
}

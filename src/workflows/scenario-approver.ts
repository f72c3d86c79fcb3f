// The simulator's human: answers a release's approval after the scenario's delay, on the server's clock.
// A timer in a workflow takes part in time skipping like the release's own; a client-side
// `env.sleep` racing the release's long-poll for its result left the time-skipping server waiting on
// itself (3 of 4 high-stakes simulations with an hour's delay never finished). Only `rollout simulate`
// starts it; it is in the bundle because every workflow of the task queue must be.
import { ApplicationFailure, getExternalWorkflowHandle, sleep } from '@temporalio/workflow';
import type { ActionPayloadInput } from '../domain/release';
import { actionSignals } from './release-messages';

export interface ScenarioApproverInput {
  /** The release to answer. */
  workflowId: string;
  decision: 'approve' | 'reject';
  payload: ActionPayloadInput;
  afterMs: number;
}

export async function scenarioApprover(input: ScenarioApproverInput): Promise<void> {
  await sleep(input.afterMs, { summary: `${input.decision} after the scenario's delay` });
  try {
    await getExternalWorkflowHandle(input.workflowId).signal(actionSignals[input.decision], input.payload);
  } catch (err) {
    // The release may have ended in the meantime (an abort, a timeout policy): nothing to answer.
    throw ApplicationFailure.nonRetryable(`release ${input.workflowId} not answered: ${err instanceof Error ? err.message : String(err)}`);
  }
}

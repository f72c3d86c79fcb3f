// The release's messages: what the CLI, the client, the simulator and the `temporal` CLI send and ask.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { describeIssues } from '../domain/issues';
import { AcceptedActionPayload, ActionPayload, type Action, type ActionAck, type ActionPayloadInput, type ReleaseStatus } from '../domain/release';

/** Signals: plain JSON payloads `{"by": "...", "reason": "..."}`, for the official `temporal` CLI. */
export const actionSignals = {
  approve: defineSignal<[ActionPayloadInput]>('approve'),
  reject: defineSignal<[ActionPayloadInput]>('reject'),
  abort: defineSignal<[ActionPayloadInput]>('abort'),
  pause: defineSignal<[ActionPayloadInput]>('pause'),
  resume: defineSignal<[ActionPayloadInput]>('resume'),
  promote: defineSignal<[ActionPayloadInput]>('promote'),
} as const satisfies Record<Action, unknown>;

/** The same actions as updates: accepted or rejected on the spot, with the workflow's reason. */
export const actionUpdates = {
  approve: defineUpdate<ActionAck, [ActionPayloadInput]>('approve'),
  reject: defineUpdate<ActionAck, [ActionPayloadInput]>('reject'),
  abort: defineUpdate<ActionAck, [ActionPayloadInput]>('abort'),
  pause: defineUpdate<ActionAck, [ActionPayloadInput]>('pause'),
  resume: defineUpdate<ActionAck, [ActionPayloadInput]>('resume'),
  promote: defineUpdate<ActionAck, [ActionPayloadInput]>('promote'),
} as const satisfies Record<Action, unknown>;

export const statusQuery = defineQuery<ReleaseStatus>('status');

/** An action's payload, or an error naming the bad field. */
export function parseAction(raw: unknown, strict: boolean): ActionPayload {
  const parsed = (strict ? ActionPayload : AcceptedActionPayload).safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(describeIssues(parsed.error, 'payload'));
}

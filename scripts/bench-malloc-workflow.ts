// bench:malloc's workflow: it waits for a signal and does nothing else, so what a worker keeps for it is the
// SDK's own cost of a cached workflow.
import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const release = defineSignal('release');

export async function parked(): Promise<void> {
  let released = false;
  setHandler(release, () => void (released = true));
  await condition(() => released);
}

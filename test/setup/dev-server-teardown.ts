import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function teardown(): Promise<void> {
  await (globalThis as { __devServerEnv?: TestWorkflowEnvironment }).__devServerEnv?.teardown();
}

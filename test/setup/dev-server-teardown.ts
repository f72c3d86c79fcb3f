import fs from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function teardown(): Promise<void> {
  const g = globalThis as { __devServerEnv?: TestWorkflowEnvironment; __devServerDir?: string };
  try {
    await g.__devServerEnv?.teardown();
  } finally {
    if (g.__devServerDir) fs.rmSync(g.__devServerDir, { recursive: true, force: true });
  }
}

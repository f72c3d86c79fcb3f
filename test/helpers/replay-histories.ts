// Replays every committed history in this process and prints one JSON line: which replayed, which failed.
// With `--without-stack-traces`, the SDK's stack-trace hook is refused here first, as WORKER_STACK_TRACES=off
// refuses it in a worker's workflow thread (test/workflows/replay-without-stack-traces.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { releaseRecordSinks } from '../../src/report/record';
import { refuseSdkStackTraceHookHere } from '../../src/workers/stack-traces';
import { bundle, quietRuntime } from './temporal';

const DIR = path.resolve(__dirname, '../replay/histories');

async function main(): Promise<void> {
  if (process.argv.includes('--without-stack-traces')) refuseSdkStackTraceHookHere();
  quietRuntime();
  const workflowBundle = await bundle();
  const replayed: string[] = [];
  const failed: Record<string, string> = {};
  for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    try {
      await Worker.runReplayHistory({ workflowBundle, sinks: releaseRecordSinks() }, history, file);
      replayed.push(file);
    } catch (err) {
      failed[file] = err instanceof Error ? err.message : String(err);
    }
  }
  const refused = (globalThis as { __modelRolloutRefusedHooks?: number }).__modelRolloutRefusedHooks ?? null;
  process.stdout.write(`${JSON.stringify({ replayed, failed, refused })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

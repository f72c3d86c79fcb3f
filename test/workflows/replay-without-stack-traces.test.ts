// WORKER_STACK_TRACES=off must not change what a release decides: every committed history replays without
// the SDK's stack-trace hook as it does with it. In a process of its own, because the SDK installs the hook
// once per process and the refusal must come first.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function replayAll(...args: string[]): { replayed: string[]; failed: Record<string, string>; refused: number | null } {
  const r = spawnSync(process.execPath, ['-r', '@swc-node/register', 'test/helpers/replay-histories.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
  if (r.status !== 0) throw new Error(`replay exited with ${r.status}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

it('given the SDK stack-trace hook refused, then every committed history replays without non-determinism', () => {
  const files = fs.readdirSync(path.join(ROOT, 'test/replay/histories')).filter((f) => f.endsWith('.json')).sort();
  const without = replayAll('--without-stack-traces');
  expect(without.refused).toBe(1);
  expect(without.failed).toEqual({});
  expect(without.replayed).toEqual(files);
}, 180_000);

// Runs the `rollout` command as a user does: a separate process, its output and exit code.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROLLOUT = path.resolve(__dirname, '../../bin/rollout.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  done: Promise<CliRun>;
  stdout: () => string;
}

export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [ROLLOUT, ...args], { env: { ...process.env, ROLLOUT_ACTOR: 'ci-bot', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, stdout: () => stdout };
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).done;
}

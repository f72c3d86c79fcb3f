// The package as the image ships it: dist/ built by `npm run build`, bin/, package.json, no sources and
// no scripts/. The CLI answers, `simulate --runs` needs no server, one simulated run needs the
// time-skipping server and says so plainly when it cannot have one, and the worker loads the prebuilt
// workflow bundle instead of bundling at start.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalServers } from '../../src/dev/servers';
import type { CliRun } from '../helpers/cli';
import { uniqueQueue, useDevServer } from '../helpers/temporal';

const ctx = useDevServer();
const ROOT = path.resolve(__dirname, '../..');
const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'installed-'));

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist')], { stdio: 'inherit' });
  execFileSync(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'scripts/bundle-workflows.ts'), path.join(pkg, 'dist/workflow-bundle.js')], { cwd: ROOT, stdio: 'ignore' });
  fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  fs.cpSync(path.join(ROOT, 'examples'), path.join(pkg, 'examples'), { recursive: true });
}, 120_000);
afterAll(() => fs.rmSync(pkg, { recursive: true, force: true }));

function installed(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, ['bin/rollout.js', ...args], { cwd: pkg, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

it('given the built package without sources, then the CLI runs from dist and Monte Carlo needs no server', async () => {
  expect(fs.existsSync(path.join(pkg, 'src'))).toBe(false);
  expect((await installed(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  const oc = await installed(['simulate', '-f', 'examples/standard.yaml', '-m', 'examples/scenarios/healthy.json', '--runs', '20', '--json']);
  expect(oc.code).toBe(0);
  expect(JSON.parse(oc.stdout)).toMatchObject({ runs: 20 });
});

it('given one simulated run, then it uses the test server named by TEMPORAL_TEST_SERVER_PATH, and without one says what to do', async () => {
  const server = findTemporalServers(false).timeSkippingServer;
  if (server.type !== 'existing-path') throw new Error('the pretest step installs the time-skipping server');
  const ok = await installed(['simulate', '-f', 'examples/demo-fast.yaml', '-m', 'examples/scenarios/healthy.json', '--json'], { TEMPORAL_TEST_SERVER_PATH: server.path });
  expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: 'promoted' });
  const missing = await installed(['simulate', '-f', 'examples/demo-fast.yaml', '-m', 'examples/scenarios/healthy.json'], { TEMPORAL_TEST_SERVER_PATH: path.join(pkg, 'nowhere') });
  expect(missing).toMatchObject({ code: 1, stdout: '' });
  expect(missing.stderr).toMatch(/^rollout: TEMPORAL_TEST_SERVER_PATH: no such file/);
}, 120_000);

it('given the built package, when the worker starts, then it loads the prebuilt workflow bundle and stops cleanly on SIGTERM', async () => {
  const worker = spawn(process.execPath, ['dist/workers/main.js'], {
    cwd: pkg,
    env: { PATH: process.env.PATH ?? '', TEMPORAL_ADDRESS: ctx.server.address, TEMPORAL_TASK_QUEUE: uniqueQueue('installed'), MODEL_ROLLOUT_DATA_DIR: path.join(pkg, 'data'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
  worker.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => worker.on('close', resolve));
  const deadline = Date.now() + 30_000;
  while (!/worker started/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const started = out.split('\n').find((l) => l.includes('worker started'));
  expect(JSON.parse(started ?? '{}')).toMatchObject({ prebuiltBundle: true });
  expect(out).not.toMatch(/webpack|Workflow bundle created/);
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 60_000);

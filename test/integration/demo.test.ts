// `npm run demo -- --ci` as a user runs it, in its own process with its own dev server, gateway, model
// servers and worker: release 1 must be promoted and release 2 rolled back automatically, or it exits 1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/backends';

/** Runs `npm run demo -- --ci` with the extra flags on free ports; returns its exit code and output. */
async function runDemo(extra: string[], dataDir: string): Promise<{ code: number | null; out: string }> {
  const [tp, up, gp, ep, ea] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(
    'npm',
    ['run', '--silent', 'demo', '--', '--ci', '--temporal-port', String(tp), '--ui-port', String(up), '--gateway-port', String(gp), '--envoy-port', String(ep), '--envoy-admin-port', String(ea), ...extra],
    { cwd: path.resolve(__dirname, '../..'), env: { ...process.env, MODEL_ROLLOUT_DATA_DIR: dataDir, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // A demo that never ends fails this test with its output, and takes its servers with it, rather than
  // keeping jest (and CI) waiting on its processes.
  const deadline = setTimeout(() => {
    out += `\n[test] the demo did not end within ${DEMO_DEADLINE_MS / 1000} s; its process group is killed\n`;
    process.kill(-(child.pid as number), 'SIGKILL');
  }, DEMO_DEADLINE_MS);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(deadline);
  return { code, out };
}

const DEMO_DEADLINE_MS = 270_000;

it('given the demo in CI mode, then the better version is promoted and the degraded one rolled back on its evidence', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-'));
  const { code, out } = await runDemo([], dataDir);
  try {
    // On a failure, the demo's own account of what happened is the message.
    if (code !== 0) throw new Error(`npm run demo -- --ci exited ${code}:\n${out.slice(-6000)}`);
    expect(out).toMatch(/good\s+features: .*holdout accuracy 9\d\.\d%/);
    expect(out).toMatch(/release 1 \(better\): promoted\s+\[as expected\]/);
    expect(out).toMatch(/release 2 \(degraded\): rolled-back — trigger shadow-failed, traffic back on better at \S+\s+\[as expected\]/);
    expect(out).toMatch(/shadow-divergence: fail — divergence \d+(\.\d+)?% of \d+ mirrored requests \(allowed 5%\)/);
    // Release 1 went through every stage with live ground truth.
    expect(out).toMatch(/canary traffic → 50%/);
    expect(out).toMatch(/pass: correct-identifications/);
    expect(out).toMatch(/completed\s+promoted/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);

it('given the demo on Envoy, then the same releases end the same way, judged on Envoy’s stats in Prometheus and the inference log', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-envoy-'));
  const { code, out } = await runDemo(['--router', 'envoy'], dataDir);
  try {
    if (code !== 0) throw new Error(`npm run demo -- --ci --router envoy exited ${code}:\n${out.slice(-6000)}`);
    expect(out).toMatch(/Envoy http:\/\/127\.0\.0\.1:\d+ \(admin http:\/\/127\.0\.0\.1:\d+\), Prometheus http/);
    expect(out).toMatch(/release 1 \(better\): promoted\s+\[as expected\]/);
    expect(out).toMatch(/release 2 \(degraded\): rolled-back — trigger shadow-failed, traffic back on better at \S+\s+\[as expected\]/);
    // The shadow's answers came from the inference log, the canary's evidence from Envoy's stats:
    // outcomes, errors and a latency histogram per version.
    expect(out).toMatch(/shadow-divergence: fail — divergence \d+(\.\d+)?% of \d+ mirrored requests/);
    expect(out).toMatch(/pass: correct-identifications .*could detect \+[\d.]+% over 250 ms/);
    expect(out).toMatch(/completed\s+promoted/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);

// `npm run dev` as a user runs it: server, Web UI on 8233, worker; Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('given npm run dev, then the UI answers on 8233, the gateway on 8100 and the worker polls; on Ctrl-C nothing is left running', async () => {
  for (const port of [7233, 8233, 8100]) if (await portOpen(port)) throw new Error(`port ${port} is taken: stop whatever runs there first`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-rollout-dev-'));
  const child = spawn('npm', ['run', 'dev', '--silent'], {
    cwd: root,
    env: { ...process.env, MODEL_ROLLOUT_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // npm re-raises Ctrl-C on itself, so it ends by SIGINT; our own process must have stopped cleanly.
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  try {
    await until('the worker to start', () => out.includes('"msg":"worker started"'), 90_000);
    const ui = await fetch('http://127.0.0.1:8233/');
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/<html/i);
    expect(fs.existsSync(path.join(dataDir, 'temporal.sqlite'))).toBe(true);
    expect((await fetch('http://127.0.0.1:8100/v2/health/ready')).status).toBe(200);
    expect(fs.existsSync(path.join(dataDir, 'gateway-token'))).toBe(true);
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  } finally {
    process.kill(-child.pid!, 'SIGINT');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
  }
  expect(['0', 'SIGINT']).toContain(await exited);
  expect(out).toContain('"msg":"worker stopped"');
  expect(out).toContain('"msg":"dev server stopped"');
  await until('ports 7233, 8233 and 8100 to close', async () => !(await portOpen(7233)) && !(await portOpen(8233)) && !(await portOpen(8100)), 10_000);
  const left = spawnSync('pgrep', ['-f', `db-filename ${dataDir}`], { encoding: 'utf8' });
  expect(left.stdout.trim()).toBe('');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

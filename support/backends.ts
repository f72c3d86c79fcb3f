// Real production backends for the integration tests and the demo, started on loopback in a temporary
// directory and stopped after: Prometheus (Debian package) and MLflow (PyPI). `scripts/backends.sh`
// installs them; a missing one fails with the command that installs it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net';
import { killGroupOnExit } from './process-groups';

export { freePort };

export interface Backend {
  url: string;
  close: () => Promise<void>;
}

function which(candidates: string[]): string | null {
  for (const c of candidates) {
    if (c.includes('/')) {
      if (fs.existsSync(c)) return c;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const p = path.join(dir, c);
      if (fs.existsSync(p)) return p;
    }
  }
  return null;
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready at ${url} after ${timeoutMs} ms:\n${log()}`);
}

function start(bin: string, args: string[], dir: string): { child: ChildProcess; log: () => string } {
  const logFile = path.join(dir, 'log');
  const out = fs.openSync(logFile, 'w');
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  killGroupOnExit(child);
  return { child, log: () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') };
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.pid) {
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM'); // the process group: mlflow's uvicorn workers too
    } catch {
      /* gone */
    }
    const t = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** One scrape job: its host:port targets and the path they expose metrics at. */
export interface ScrapeJob {
  name: string;
  targets: string[];
  path: string;
}

/** Prometheus scraping the given host:port targets every second, at `metricsPath` (default /metrics), or the given jobs. */
export async function startPrometheus(targets: string[] | ScrapeJob[], metricsPath = '/metrics'): Promise<Backend> {
  const jobs: ScrapeJob[] = targets.every((t) => typeof t === 'string') ? [{ name: 'router', targets: targets as string[], path: metricsPath }] : (targets as ScrapeJob[]);
  const bin = which([process.env.PROMETHEUS_BIN ?? '', 'prometheus', '/usr/bin/prometheus'].filter(Boolean));
  if (!bin) throw new Error('prometheus not found: run `bash scripts/backends.sh` (apt-get install prometheus)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prom-'));
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n${jobs.map((j) => `  - job_name: ${j.name}\n    metrics_path: ${j.path}\n    static_configs: [{ targets: ${JSON.stringify(j.targets)} }]\n`).join('')}`,
  );
  const port = await freePort();
  const { child, log } = start(bin, [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`], dir);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, child, log, 30_000);
  return { url, close: () => stop(child, dir) };
}

/** An MLflow tracking server on a SQLite backend store. */
export async function startMlflow(): Promise<Backend> {
  const cached = path.join(os.homedir(), '.cache/model-rollout/mlflow-venv/bin/mlflow');
  const bin = which([process.env.MLFLOW_BIN ?? '', cached, 'mlflow'].filter(Boolean));
  if (!bin) throw new Error('mlflow not found: run `bash scripts/backends.sh` (pip install mlflow into ~/.cache/model-rollout/mlflow-venv)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlflow-'));
  const port = await freePort();
  const { child, log } = start(
    bin,
    ['server', '--backend-store-uri', `sqlite:///${dir}/mlflow.db`, '--default-artifact-root', `${dir}/artifacts`, '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
    dir,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/health`, child, log, 60_000);
  return { url, close: () => stop(child, dir) };
}

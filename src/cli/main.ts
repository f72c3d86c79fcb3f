// `rollout`: the release engine's command line, for CI and for humans. Commands, options and help come
// from one definition (commander); connection settings are the config schema's (src/config.ts), a flag
// overriding its variable. Every command takes --help and --json. Exit codes tell CI the outcome.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { actionsFromHistory } from '../client/actions-history';
import { liveLooks, type LiveLooks } from '../client/live-looks';
import { followRelease, formatEntry, queryStatus } from '../client/progress';
import { ReleaseConflictError, startRelease } from '../client/releases';
import { ConfigError, loadCliConfig, type CliConfig } from '../config';
import { releaseWorkflowId } from '../constants';
import { ManifestError, parseManifest } from '../domain/manifest';
import { describeStep, expandPlan } from '../domain/plan';
import { Action, type Outcome, type ReleaseStatus } from '../domain/release';
import { parseScenario, ScenarioError } from '../simulate/scenario';
import { actionUpdates, type releaseWorkflow } from '../workflows/release';
import { renderDecisions, renderHistoryMarkdown, renderOperatingCharacteristics, renderStatus, renderWatch } from './render';

/** Exit codes: documented in the README and in `rollout --help`. */
export const EXIT = {
  ok: 0,
  error: 1,
  invalid: 2,
  unreachable: 3,
  notFound: 4,
  refused: 5,
  rolledBack: 10,
  rejected: 11,
  aborted: 12,
  failed: 13,
  awaitingApproval: 20,
} as const;

const OUTCOME_EXIT: Record<Outcome, number> = { promoted: EXIT.ok, 'rolled-back': EXIT.rolledBack, rejected: EXIT.rejected, aborted: EXIT.aborted, failed: EXIT.failed };

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const EXIT_HELP = `Exit codes:
  0 promoted (or the command succeeded)     10 rolled back automatically   11 rejected
  12 aborted                                13 failed (an error in the release)
  20 waiting at an approval (--until approval)
  1 unexpected error   2 invalid input   3 Temporal unreachable   4 release not found
  5 refused (by the workflow: wrong approver or phase; another version in flight)`;

const SCENARIO_HELP = `
Scenario (JSON or YAML): requestsPerMinute; champion and candidate, lists of {at, errorRate, successRate,
outcomeRate, p99Ms, p50Ms} from which each variant behaves so; dailyCycle {amplitude, peakAt, metrics};
shadow, a list of {at, divergenceRate, psi}; evaluation (the offline scores); approvals {decision:
approve|reject|never, after, by}.`;

/** Options every command takes. */
interface OutputFlags {
  json?: boolean;
}

/** Options of the commands that talk to Temporal; each stands for a variable of the CLI's config schema. */
interface ConnectionFlags extends OutputFlags {
  address?: string;
  namespace?: string;
  tls?: boolean;
  apiKey?: string;
  taskQueue?: string;
  uiUrl?: string;
  as?: string;
}

const FLAG_OF: Record<string, string> = {
  TEMPORAL_ADDRESS: '--address',
  TEMPORAL_NAMESPACE: '--namespace',
  TEMPORAL_TLS: '--tls',
  TEMPORAL_API_KEY: '--api-key',
  TEMPORAL_TASK_QUEUE: '--task-queue',
  TEMPORAL_UI_URL: '--ui-url',
  ROLLOUT_ACTOR: '--as',
};

/** The CLI's configuration for this command: the environment, with its flags laid over. */
function configOf(flags: ConnectionFlags): CliConfig {
  try {
    return loadCliConfig(process.env, {
      TEMPORAL_ADDRESS: flags.address,
      TEMPORAL_NAMESPACE: flags.namespace,
      TEMPORAL_TLS: flags.tls ? 'true' : undefined,
      TEMPORAL_API_KEY: flags.apiKey,
      TEMPORAL_TASK_QUEUE: flags.taskQueue,
      TEMPORAL_UI_URL: flags.uiUrl,
      ROLLOUT_ACTOR: flags.as,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Name the flag beside its variable: the user may have set either.
    throw new CliError(err.message.replace(/^( {2})([A-Z_]+):/gm, (_, pad: string, v: string) => `${pad}${v}${FLAG_OF[v] ? ` (${FLAG_OF[v]})` : ''}:`), EXIT.invalid);
  }
}

interface Conn {
  client: Client;
  config: CliConfig;
  close(): Promise<void>;
}

async function connect(flags: ConnectionFlags): Promise<Conn> {
  const config = configOf(flags);
  const { address, tls, apiKey, namespace } = config.temporal;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, tls: tls || undefined, apiKey, connectTimeout: '5s' });
    // The connection is lazy about the server; ask it something cheap to know it answers.
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${address}${tls ? ' (TLS)' : ''}: ${firstLine(err)}`, EXIT.unreachable);
  }
  return { client: new Client({ connection, namespace }), config, close: () => connection.close() };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

const workflowIdOf = (id: string) => (id.startsWith('release/') ? id : releaseWorkflowId(id));
const actorOf = (config: CliConfig) => config.actor ?? os.userInfo().username;
const uiLink = (c: Conn, workflowId: string, runId?: string) =>
  `${c.config.uiUrl}/namespaces/${encodeURIComponent(c.config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;

function readDocument(file: string | undefined, flag: string): unknown {
  if (!file) throw new CliError(`${flag}: a file is required`, EXIT.invalid);
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? firstLine(err)}`, EXIT.invalid);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new CliError(`${file}: not YAML or JSON: ${firstLine(err)}`, EXIT.invalid);
  }
}

function print(flags: OutputFlags, human: string, json: unknown): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);
}

/** Connects, runs the command, and closes the connection whatever happens. */
async function withConnection<T>(flags: ConnectionFlags, fn: (c: Conn) => Promise<T>): Promise<T> {
  const c = await connect(flags);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

interface FoundRelease {
  handle: WorkflowHandle<typeof releaseWorkflow>;
  /** The execution's status when found (RUNNING, COMPLETED, …). */
  execution: string;
  /** Its latest run. */
  runId: string;
}

/** The release behind an ID, described once; a missing one is exit 4. */
async function findRelease(c: Conn, id: string): Promise<FoundRelease> {
  const workflowId = workflowIdOf(id);
  const handle = c.client.workflow.getHandle<typeof releaseWorkflow>(workflowId);
  try {
    const d = await handle.describe();
    return { handle, execution: d.status.name, runId: d.runId };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no release ${workflowId} in namespace ${c.config.temporal.namespace}`, EXIT.notFound);
    throw err;
  }
}

/** The status: from the query while running, from the result once completed (no worker needed). */
async function statusOf({ handle, execution }: FoundRelease): Promise<ReleaseStatus> {
  if (execution === 'COMPLETED') return (await handle.result()).status;
  return queryStatus(handle);
}

// ------------------------------------------------------------------------------------------- commands

async function validate(flags: OutputFlags & { file?: string }): Promise<number> {
  const raw = readDocument(flags.file, '-f');
  const m = parseManifest(raw);
  const plan = expandPlan(m, { lastRollbackAt: null, now: Date.now() });
  print(flags, [`${m.model} ${m.candidate}: valid (${m.plan ? 'custom plan' : m.strategy}, blast radius ${m.blastRadius})`, ...plan.map((s, i) => `  ${i + 1}. ${describeStep(s)}`)].join('\n'), {
    valid: true,
    model: m.model,
    candidate: m.candidate,
    plan: plan.map((s) => ({ ...s, description: describeStep(s) })),
  });
  return EXIT.ok;
}

async function start(flags: ConnectionFlags & { file?: string; wait?: boolean; until: string }): Promise<number> {
  const { until } = flags;
  if (!['approval', 'done'].includes(until)) throw new CliError(`--until: expected approval or done, got "${until}"`, EXIT.invalid);
  const raw = readDocument(flags.file, '-f');
  parseManifest(raw); // invalid input stops here, before any connection
  return withConnection(flags, async (c) => {
    const started = await startRelease(c.client, raw, { requestedBy: actorOf(c.config), taskQueue: c.config.temporal.taskQueue }).catch((err: unknown) => {
      throw err instanceof ReleaseConflictError ? new CliError(err.message, EXIT.refused) : err;
    });
    const link = uiLink(c, started.workflowId, started.runId);
    if (!flags.json) process.stdout.write(`${started.existing ? 'already in flight' : 'started'}: ${started.workflowId} (run ${started.runId})\n  ${link}\n`);
    if (!flags.wait) {
      if (flags.json) print(flags, '', { workflowId: started.workflowId, runId: started.runId, existing: started.existing, url: link });
      return EXIT.ok;
    }
    const { result, status } = await followRelease(started.handle, {
      intervalMs: 1_000,
      onEntry: (e) => flags.json || process.stdout.write(`  ${formatEntry(e)}\n`),
      until: until === 'approval' ? (s) => s.pendingApproval !== null : undefined,
    });
    const out = { workflowId: started.workflowId, runId: started.runId, existing: started.existing, url: link, outcome: result?.outcome ?? null, phase: status?.phase, pendingApproval: status?.pendingApproval ?? null, rollback: status?.rollback ?? null };
    if (!result) {
      print(flags, `waiting at approval: ${status?.pendingApproval?.reason} (approvers ${status?.pendingApproval?.approvers.join(', ') || 'anyone'}; deadline ${status?.pendingApproval?.deadline})`, out);
      return EXIT.awaitingApproval;
    }
    print(flags, `outcome: ${result.outcome}${result.status.rollback ? ` (${result.status.rollback.trigger}: ${result.status.rollback.reason})` : ''}`, out);
    return OUTCOME_EXIT[result.outcome];
  });
}

async function status(id: string, flags: ConnectionFlags): Promise<number> {
  return withConnection(flags, async (c) => {
    const found = await findRelease(c, id);
    const s = await statusOf(found);
    const live = found.execution === 'RUNNING' && !s.outcome ? await liveLooks(found.handle).catch(() => null) : null;
    print(flags, renderStatus(s, Date.now(), live), live ? { ...s, liveLooks: live } : s);
    return EXIT.ok;
  });
}

type ListFlags = ConnectionFlags & { model?: string; phase?: string; all?: boolean; limit: string };

async function list(flags: ListFlags): Promise<number> {
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError(`--limit: expected a whole number ≥ 1, got "${flags.limit}"`, EXIT.invalid);
  const q = [`WorkflowType = 'releaseWorkflow'`];
  if (!flags.all) q.push(`ExecutionStatus = 'Running'`);
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  if (flags.model) q.push(`RolloutModel = ${quote(flags.model)}`);
  if (flags.phase) q.push(`RolloutPhase = ${quote(flags.phase)}`);
  return withConnection(flags, async (c) => {
    const rows: { workflowId: string; runId: string; status: string; model?: string; candidate?: string; champion?: string; phase?: string; trafficPercent?: number; startTime: string }[] = [];
    for await (const w of c.client.workflow.list({ query: q.join(' AND ') })) {
      const sa = w.searchAttributes as Record<string, unknown[] | undefined>;
      const one = (k: string) => sa[k]?.[0] as string | number | undefined;
      rows.push({
        workflowId: w.workflowId,
        runId: w.runId,
        status: w.status.name,
        model: one('RolloutModel') as string | undefined,
        candidate: one('RolloutCandidateVersion') as string | undefined,
        champion: one('RolloutChampionVersion') as string | undefined,
        phase: one('RolloutPhase') as string | undefined,
        trafficPercent: one('RolloutTrafficPercent') as number | undefined,
        startTime: w.startTime.toISOString(),
      });
      if (rows.length >= limit) break;
    }
    // Thousands in flight: say how many there are, rather than a silently cut list.
    if (rows.length >= limit) {
      const { count } = await c.client.workflow.count(q.join(' AND '));
      if (count > rows.length) {
        process.stderr.write(`showing the newest ${rows.length} of ${count.toLocaleString('en')} releases: narrow with --model or --phase, or raise --limit\n`);
      }
    }
    const human = rows.length
      ? [
          `${'RELEASE'.padEnd(32)} ${'CANDIDATE'.padEnd(12)} ${'CHAMPION'.padEnd(12)} ${'PHASE'.padEnd(18)} ${'TRAFFIC'.padStart(7)}  STARTED`,
          ...rows.map((r) => `${r.workflowId.padEnd(32)} ${(r.candidate ?? '?').padEnd(12)} ${(r.champion ?? '?').padEnd(12)} ${(r.phase ?? r.status).padEnd(18)} ${`${r.trafficPercent ?? 0}%`.padStart(7)}  ${r.startTime}`),
        ].join('\n')
      : 'no releases';
    print(flags, human, rows);
    return EXIT.ok;
  });
}

async function watch(id: string, flags: ConnectionFlags & { interval: string }): Promise<number> {
  const intervalMs = Number(flags.interval) * 1000;
  if (!(intervalMs >= 100)) throw new CliError(`--interval: expected seconds ≥ 0.1, got "${flags.interval}"`, EXIT.invalid);
  return withConnection(flags, async (c) => {
    const found = await findRelease(c, id);
    const tty = process.stdout.isTTY && !flags.json;
    let last = '';
    let lastStatus: ReleaseStatus | null = null;
    // A fast step's looks in the worker, read beside the redraws (one read at a time, at most every 2 s)
    // and shown from the next one.
    let live: LiveLooks | null = null;
    let reading = false;
    let readAt = 0;
    const readLive = () => {
      if (reading || Date.now() - readAt < 2_000) return;
      reading = true;
      readAt = Date.now();
      void liveLooks(found.handle)
        .then((l) => (live = l), () => (live = null))
        .finally(() => (reading = false));
    };
    const draw = (s: ReleaseStatus) => {
      lastStatus = s;
      if (flags.json) {
        const line = JSON.stringify(s);
        if (line !== last) process.stdout.write(`${line}\n`);
        last = line;
        return;
      }
      if (!s.outcome) readLive();
      const screen = renderWatch(s, Date.now(), s.outcome ? null : live);
      if (tty) process.stdout.write(`\x1b[H\x1b[2J${screen}\n`);
      else if (screen.replace(/in \d.*$/gm, '') !== last) process.stdout.write(`${screen}\n\n`);
      last = screen.replace(/in \d.*$/gm, '');
    };
    if (found.execution !== 'RUNNING') {
      const s = await statusOf(found);
      draw(s);
      return s.outcome ? OUTCOME_EXIT[s.outcome] : EXIT.failed;
    }
    const { result } = await followRelease(found.handle, { intervalMs, onStatus: draw });
    if (result) draw(result.status);
    const outcome = result?.outcome ?? (lastStatus as ReleaseStatus | null)?.outcome;
    return outcome ? OUTCOME_EXIT[outcome] : EXIT.failed;
  });
}

async function act(action: Action, id: string, flags: ConnectionFlags & { reason?: string }): Promise<number> {
  const reason = flags.reason ?? '';
  if (!reason.trim() && action !== 'resume') throw new CliError(`--reason: say why (it is recorded with who did it)`, EXIT.invalid);
  return withConnection(flags, async (c) => {
    const by = actorOf(c.config);
    const { handle } = await findRelease(c, id);
    try {
      const ack = await handle.executeUpdate(actionUpdates[action], { args: [{ by, reason }] });
      print(flags, `${action} accepted (${ack.phase}): ${ack.message}`, { ...ack, by, reason, workflowId: handle.workflowId });
      return EXIT.ok;
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const why = err.cause instanceof ApplicationFailure ? err.cause.message : firstLine(err.cause ?? err);
        const out = { accepted: false, action, by, reason: why, workflowId: handle.workflowId };
        if (flags.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        throw new CliError(`${action} refused: ${why}`, EXIT.refused);
      }
      const d = await handle.describe().catch(() => null);
      if (d && d.status.name !== 'RUNNING') throw new CliError(`${action} refused: ${handle.workflowId} has ended (${d.status.name.toLowerCase()})`, EXIT.refused);
      throw err;
    }
  });
}

/** Writes a report to FILE, or to stdout without one; a file that cannot be written is named before anything runs. */
function reportTarget(file: string | undefined, flag: string): (text: string) => void {
  if (file === undefined) return (text) => process.stdout.write(text);
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CliError(`${flag}: no such directory: ${dir}`, EXIT.invalid);
  return (text) => {
    fs.writeFileSync(file, text);
    process.stderr.write(`report written to ${file}\n`);
  };
}

async function history(id: string, flags: ConnectionFlags & { format: string; output?: string }): Promise<number> {
  const format = flags.json ? 'json' : flags.format;
  if (!['md', 'json', 'html'].includes(format)) throw new CliError(`--format: expected md, json or html, got "${format}"`, EXIT.invalid);
  const write = reportTarget(flags.output, '--output');
  return withConnection(flags, async (c) => {
    const found = await findRelease(c, id);
    const s = await statusOf(found);
    if (format === 'html') {
      // Loaded late: the replay worker and the charting library are only needed here.
      const { releaseReportHtml } = await import('../report');
      const { html, warning } = await releaseReportHtml(c.client, found.handle.workflowId, found.runId, s, { version: version() });
      if (warning) process.stderr.write(`rollout: ${warning}\n`);
      write(html);
      return EXIT.ok;
    }
    // The timeline is bounded; past its bounds the complete list of actions comes from the event history.
    const actions = s.timelineTrimmed ? await actionsFromHistory(c.client, found.handle.workflowId, found.runId) : undefined;
    write(format === 'json' ? `${JSON.stringify(actions ? { ...s, actionsFromHistory: actions } : s, null, 2)}\n` : renderHistoryMarkdown(s, actions));
    return EXIT.ok;
  });
}

function integerFlag(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name}: expected a whole number from ${min} to ${max}, got "${text}"`, EXIT.invalid);
  return n;
}

interface SimulateFlags extends OutputFlags {
  file?: string;
  report?: string;
  metrics?: string;
  seed?: string;
  runs?: string;
  policy?: string;
}

async function simulateCommand(flags: SimulateFlags): Promise<number> {
  const raw = readDocument(flags.file, '-f');
  const manifest = parseManifest(raw);
  const scenario = parseScenario(readDocument(flags.metrics, '--metrics'));
  const seed = integerFlag(flags.seed, 'seed', 1, 0, 2 ** 31 - 1);
  const report = flags.report === undefined ? null : reportTarget(flags.report, '--report');
  if (flags.runs !== undefined) {
    const runs = integerFlag(flags.runs, 'runs', 1, 1, 100_000);
    const policy = flags.policy ?? 'sequential';
    if (policy !== 'sequential' && policy !== 'fixed-horizon') throw new CliError(`--policy: expected sequential or fixed-horizon, got "${policy}"`, EXIT.invalid);
    const { onsetOf, simulateRuns } = await import('../simulate/montecarlo');
    const { oc, results } = simulateRuns(manifest, scenario, { runs, seed, policy });
    if (report) {
      const { renderOperatingCharacteristicsReport } = await import('../report');
      report(renderOperatingCharacteristicsReport(oc, results, { manifest: `${manifest.model} ${manifest.candidate}`, onsetMs: onsetOf(scenario), version: version() }));
    }
    print(flags, renderOperatingCharacteristics(oc), oc);
    return EXIT.ok;
  }
  if (flags.policy !== undefined) throw new CliError('--policy: only with --runs', EXIT.invalid);
  // Loaded late: the time-skipping server and the worker are only needed here.
  const { simulate, SimulatorUnavailable } = await import('../simulate/run');
  const run = await simulate(raw, scenario, seed, configOf({}).testServerPath, { record: report !== null }).catch((err: unknown) => {
    throw err instanceof SimulatorUnavailable ? new CliError(err.message, EXIT.error) : err;
  });
  const { result, wallMs, simulatedMs } = run;
  if (report) {
    const { buildReport, renderReleaseReport } = await import('../report');
    report(renderReleaseReport(buildReport(result.status, run.record), { version: version(), source: `a simulated run (seed ${seed})` }));
  }
  const decisions = renderDecisions(result.status);
  const summary = `outcome: ${result.outcome}${result.status.rollback ? ` (${result.status.rollback.trigger}: ${result.status.rollback.reason})` : ''}; ${(simulatedMs / 3_600_000).toFixed(1)} h of policy time in ${(wallMs / 1000).toFixed(1)} s`;
  print(flags, [...decisions, summary].join('\n'), {
    outcome: result.outcome,
    rollback: result.status.rollback,
    simulatedHours: Number((simulatedMs / 3_600_000).toFixed(2)),
    wallSeconds: Number((wallMs / 1000).toFixed(2)),
    decisions: result.status.timeline.map((e) => ({ ...e, sinceStartMs: Date.parse(e.lastAt ?? e.at) - Date.parse(result.status.startedAt) })),
  });
  return OUTCOME_EXIT[result.outcome];
}

// ------------------------------------------------------------------------------------ the command line

function version(): string {
  // src/cli/ and dist/cli/ both sit two levels under the package root.
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

const ID_ARGUMENT = ['<id>', 'a model name, or a release ID (release/<model>)'] as const;

function withJson(cmd: Command): Command {
  return cmd.option('--json', 'machine-readable output on stdout');
}

function withConnectionOptions(cmd: Command): Command {
  return withJson(cmd)
    .option('--address <host:port>', 'Temporal frontend (TEMPORAL_ADDRESS, default localhost:7233)')
    .option('--namespace <name>', 'Temporal namespace (TEMPORAL_NAMESPACE, default "default")')
    .option('--tls', 'connect with TLS (TEMPORAL_TLS=true; implied by an API key)')
    .option('--api-key <key>', 'Temporal Cloud API key (TEMPORAL_API_KEY)')
    .option('--task-queue <name>', "the workers' task queue (TEMPORAL_TASK_QUEUE, default model-rollout)")
    .option('--ui-url <url>', 'the Web UI, for links (TEMPORAL_UI_URL, default http://localhost:8233)');
}

/**
 * The command tree: one definition of every command and option, from which commander parses and prints
 * help. Each action stores its exit code in `exit.code`.
 */
export function buildProgram(exit: { code: number }): Command {
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      exit.code = await fn(...args);
    };
  const program = new Command('rollout')
    .description('Durable model releases on Temporal: evaluation, shadow, staged canary, approval, watch, verified rollback.')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`rollout: ${text.replace(/^error: /, '')}`) })
    .addHelpText('after', `\nID is a model name or a release ID (release/<model>).\n\n${EXIT_HELP}`);

  withJson(program.command('validate').description('check a manifest, print the expanded plan').option('-f, --file <file>', 'the manifest, YAML or JSON ("-" for stdin)'))
    .addHelpText('after', '\nErrors name each field\'s path; exit 2. On success prints the plan the release will run (a final approval\nmay be added at start if the model was rolled back recently).')
    .action(run((flags: OutputFlags & { file?: string }) => validate(flags)));

  withConnectionOptions(
    program
      .command('start')
      .description('start a release (idempotent for the same model and version)')
      .option('-f, --file <file>', 'the manifest, YAML or JSON ("-" for stdin)')
      .option('--wait', "follow the release, printing each event, and exit with its outcome's code")
      .option('--until <when>', 'with --wait: "approval" stops at the first pending approval (exit 20), "done" at the outcome', 'done')
      .option('--as <who>', 'who requests it (ROLLOUT_ACTOR, else your login name)'),
  )
    .addHelpText('after', `\nStarting the same model and version again returns the release in flight; another version of a model with a\nrelease in flight is refused (exit 5). Prints the release ID and its Web UI link.\n\n${EXIT_HELP}`)
    .action(run((flags: ConnectionFlags & { file?: string; wait?: boolean; until: string }) => start(flags)));

  withConnectionOptions(program.command('status').description('where a release is, from its own query').argument(...ID_ARGUMENT)).action(
    run((id: string, flags: ConnectionFlags) => status(id, flags)),
  );

  withConnectionOptions(
    program
      .command('list')
      .description("releases in flight (all of them with --all), newest first, from Temporal's visibility")
      .option('--model <model>', 'only this model')
      .option('--phase <phase>', 'only releases in this phase')
      .option('--all', 'ended releases too')
      .option('--limit <n>', 'at most this many, newest first (the total is printed when there are more)', '200'),
  ).action(run((flags: ListFlags) => list(flags)));

  withConnectionOptions(
    program
      .command('watch')
      .description('a live view until the release ends; exits with its outcome\'s code')
      .argument(...ID_ARGUMENT)
      .option('--interval <seconds>', 'how often to redraw', '1'),
  )
    .addHelpText('after', '\nRedrawn in place: phase and plan, the traffic split, each gate\'s latest measurement against its threshold, the\npending approval and its deadline, a countdown to the next step. With --json, one status per line on change.')
    .action(run((id: string, flags: ConnectionFlags & { interval: string }) => watch(id, flags)));

  const ACTIONS: Record<Action, string> = {
    approve: 'approve the pending approval (approvers only)',
    reject: 'reject the pending approval: the release rolls back (approvers only)',
    abort: 'stop the release and roll back to the champion',
    pause: 'hold the release where it is; gates keep watching',
    resume: 'resume a paused release',
    promote: 'skip the remaining steps to 100% (promoters only)',
  };
  for (const action of Action.options) {
    withConnectionOptions(
      program
        .command(action)
        .description(ACTIONS[action])
        .argument(...ID_ARGUMENT)
        .option('--reason <text>', 'why (required except for resume; recorded with who did it)')
        .option('--as <who>', 'who acts (ROLLOUT_ACTOR, else your login name)'),
    )
      .addHelpText('after', '\nSent as a workflow update: the answer is immediate. Refused (exit 5) with the workflow\'s reason when the\nrelease is not in a phase that takes it, or when WHO is not among its approvers or promoters.')
      .action(run((id: string, flags: ConnectionFlags & { reason?: string }) => act(action, id, flags)));
  }

  withConnectionOptions(
    program
      .command('history')
      .description('the audit record: actions with who, when and why; every measurement; every rollback')
      .argument(...ID_ARGUMENT)
      .option('--format <format>', 'md (suits a compliance ticket), json, or html (the release report: one self-contained page of charts)', 'md')
      .option('-o, --output <file>', 'write to FILE instead of stdout'),
  )
    .addHelpText('after', '\nThe html report replays the release\'s event history (every run of it) to draw every check, so it needs no\nworker; from a checkout it bundles the workflow code first (a few seconds).')
    .action(run((id: string, flags: ConnectionFlags & { format: string; output?: string }) => history(id, flags)));

  withJson(
    program
      .command('simulate')
      .description('play the policy against a metric scenario, time-skipped; with --runs, its operating characteristics')
      .option('-f, --file <file>', 'the manifest')
      .option('-m, --metrics <file>', 'the metric scenario, YAML or JSON')
      .option('--seed <n>', "the sampling noise's seed (default 1); one seed always gives the same run")
      .option('--runs <n>', 'N releases by Monte Carlo instead of one through Temporal: P(promoted), P(rolled back), P(held), detection delay, where rollbacks happened; exit 0')
      .option('--policy <policy>', 'with --runs: sequential (the gates of releases started today, default) or fixed-horizon (the per-look z-tests of releases started before)')
      .option('--report <file>', 'also write the release report (HTML) of the run; with --runs, the distribution of outcomes and detection delays'),
  )
    .addHelpText(
      'after',
      `\nOne run plays the real release workflow under Temporal's time-skipping test server (Java; found by\nscripts/temporal-servers.sh in a checkout, or at TEMPORAL_TEST_SERVER_PATH) and prints each decision at its\npolicy time, exit code as for an outcome. --runs needs no server. Every measurement carries sampling noise.\n${SCENARIO_HELP}\n${EXIT_HELP}`,
    )
    .action(run((flags: SimulateFlags) => simulateCommand(flags)));

  return program;
}

function debugging(): boolean {
  try {
    return loadCliConfig().debug;
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<number> {
  const exit = { code: EXIT.ok as number };
  const program = buildProgram(exit);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.ok;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exit.code;
  } catch (err) {
    // Help and --version end parsing with a zero exit code; a usage error was printed already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    if (err instanceof CliError || err instanceof ManifestError || err instanceof ScenarioError) {
      process.stderr.write(`rollout: ${err.message}\n`);
      return err instanceof CliError ? err.code : EXIT.invalid;
    }
    process.stderr.write(`rollout: ${firstLine(err)}\n`);
    if (debugging()) process.stderr.write(`${(err as Error).stack}\n`);
    return EXIT.error;
  }
}

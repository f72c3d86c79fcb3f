// `rollout`: the release engine's command line, for CI and for humans. Every command takes --help and
// --json; connection options come from flags or the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_TLS, TEMPORAL_API_KEY, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL). Exit codes tell CI the outcome.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Client, Connection, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { parse as parseYaml } from 'yaml';
import { actionsFromHistory } from '../client/actions-history';
import { followRelease, formatEntry } from '../client/progress';
import { ReleaseConflictError, startRelease } from '../client/releases';
import { TASK_QUEUE, releaseWorkflowId } from '../constants';
import { ManifestError, parseManifest } from '../domain/manifest';
import { describeStep, expandPlan } from '../domain/plan';
import { Action, type Outcome, type ReleaseStatus } from '../domain/release';
import { parseScenario, ScenarioError } from '../simulate/scenario';
import { actionUpdates, statusQuery, type releaseWorkflow } from '../workflows/release';
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

const CONNECTION_OPTIONS = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  tls: { type: 'boolean' },
  'api-key': { type: 'string' },
  'task-queue': { type: 'string' },
  'ui-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

const CONNECTION_HELP = `Connection (flags, or the environment):
  --address host:port   TEMPORAL_ADDRESS      (localhost:7233)
  --namespace NAME      TEMPORAL_NAMESPACE    (default)
  --tls                 TEMPORAL_TLS=true     (implied by an API key)
  --api-key KEY         TEMPORAL_API_KEY      (Temporal Cloud)
  --task-queue NAME     TEMPORAL_TASK_QUEUE   (model-rollout)
  --ui-url URL          TEMPORAL_UI_URL       (http://localhost:8233), for links
  --json                machine-readable output on stdout`;

const EXIT_HELP = `Exit codes:
  0 promoted (or the command succeeded)     10 rolled back automatically   11 rejected
  12 aborted                                13 failed (an error in the release)
  20 waiting at an approval (--until approval)
  1 unexpected error   2 invalid input   3 Temporal unreachable   4 release not found
  5 refused (by the workflow: wrong approver or phase; another version in flight)`;

const HELP: Record<string, string> = {
  main: `rollout — durable model releases on Temporal

Usage: rollout <command> [options]

Commands:
  validate -f FILE                   check a manifest, print the expanded plan
  start -f FILE [--wait] [--until approval|done] [--as WHO]
                                     start a release (idempotent for the same model and version)
  status ID                          where a release is, from its own query
  list [--model M] [--phase P] [--all]
                                     releases in flight (or all, --all) from Temporal's visibility
  watch ID                           live view until the release ends
  approve|reject|abort|pause|resume|promote ID --reason TEXT [--as WHO]
                                     act on a release; accepted or refused on the spot
  history ID [--format md|json]      the audit record
  simulate -f FILE --metrics SCENARIO [--seed S] [--runs N]
                                     play the policy against a metric scenario, time-skipped;
                                     with --runs, its operating characteristics by Monte Carlo

ID is a model name or a release ID (release/<model>). Run "rollout <command> --help" for details.

${CONNECTION_HELP}

${EXIT_HELP}
`,
  validate: `Usage: rollout validate -f FILE [--json]

Parses the manifest (YAML or JSON). Errors name each field's path; exit 2. On success prints the plan the
release will run (a final approval may be added at start if the model was rolled back recently).`,
  start: `Usage: rollout start -f FILE [--wait] [--until approval|done] [--as WHO] [--json]

Starts the release. Starting the same model and version again returns the release in flight; another
version of a model with a release in flight is refused (exit 5). Prints the release ID and its Web UI link.
  --wait              follow the release, printing each event, and exit with its outcome's code
  --until approval    with --wait: stop at the first pending approval (exit 20), or the outcome
  --until done        with --wait: until the outcome (default)
  --as WHO            who requests it (ROLLOUT_ACTOR, else your login name)

${EXIT_HELP}`,
  status: `Usage: rollout status ID [--json]

The release's state from its status query: phase, traffic, gates, pending approval, rollback.`,
  list: `Usage: rollout list [--model M] [--phase P] [--all] [--json]

Releases in flight (all releases with --all), newest first, from Temporal's visibility.`,
  watch: `Usage: rollout watch ID [--interval SECONDS]

A live view, redrawn every second: phase and plan, a bar for the traffic split, each gate's latest
measurement against its threshold, the pending approval and its deadline, a countdown to the next step.
Exits when the release ends, with its outcome's code. With --json, prints one status per line on change.`,
  action: `Usage: rollout approve|reject|abort|pause|resume|promote ID --reason TEXT [--as WHO] [--json]

Sends the action as a workflow update: the answer is immediate. Refused (exit 5) with the workflow's
reason when the release is not in a phase that takes it, or when WHO is not among its approvers (for
approve, reject) or promoters (for promote). WHO comes from --as, else ROLLOUT_ACTOR, else your login.`,
  history: `Usage: rollout history ID [--format md|json]

The audit record: every action with who, when and why; every gate measurement with its evidence; every
rollback with its trigger. Markdown suits a compliance ticket.`,
  simulate: `Usage: rollout simulate -f FILE --metrics SCENARIO [--seed S] [--runs N [--policy P]] [--json]

Runs the real release workflow under Temporal's time-skipping test server against a metric scenario and
prints each decision at its policy time: "what would this policy do?". Exit code as for an outcome.
Every measurement carries sampling noise (counts drawn from their distributions, latency from a
log-normal); one seed always gives the same run.
  --seed S          the noise's seed (default 1)
  --runs N          N releases by Monte Carlo instead of one through Temporal: the policy's operating
                    characteristics (P(promoted), P(rolled back), P(held), detection delay after the
                    candidate's first change, and where rollbacks happened). The gates and step rules
                    are the workflow's own functions. Exit 0.
  --policy P        with --runs: sequential (the gates of releases started today, default) or
                    fixed-horizon (the per-look z-tests of releases started before), for comparison
Scenario (JSON or YAML): requestsPerMinute; champion and candidate, lists of {at, errorRate, successRate,
outcomeRate, p99Ms, p50Ms} from which each variant behaves so; dailyCycle {amplitude, peakAt, metrics};
shadow, a list of {at, divergenceRate, psi}; evaluation (the offline scores); approvals {decision:
approve|reject|never, after, by}.`,
};

type Flags = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: ParseArgsConfig['options']): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...CONNECTION_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw new CliError(`${(err as Error).message}`, EXIT.invalid);
  }
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

interface Conn {
  client: Client;
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
  close(): Promise<void>;
}

async function connect(flags: Flags): Promise<Conn> {
  const address = (flags.address as string | undefined) ?? env('TEMPORAL_ADDRESS') ?? 'localhost:7233';
  const namespace = (flags.namespace as string | undefined) ?? env('TEMPORAL_NAMESPACE') ?? 'default';
  const apiKey = (flags['api-key'] as string | undefined) ?? env('TEMPORAL_API_KEY');
  const tls = Boolean(flags.tls) || ['1', 'true'].includes(env('TEMPORAL_TLS') ?? '') || apiKey !== undefined;
  if (!/^[^\s:]+:\d{1,5}$/.test(address)) throw new CliError(`--address: expected host:port, got "${address}"`, EXIT.invalid);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, tls: tls || undefined, apiKey, connectTimeout: '5s' });
    // The connection is lazy about the server; ask it something cheap to know it answers.
    await connection.workflowService.getSystemInfo({});
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${address}${tls ? ' (TLS)' : ''}: ${firstLine(err)}`, EXIT.unreachable);
  }
  return {
    client: new Client({ connection, namespace }),
    address,
    namespace,
    taskQueue: (flags['task-queue'] as string | undefined) ?? env('TEMPORAL_TASK_QUEUE') ?? TASK_QUEUE,
    uiUrl: ((flags['ui-url'] as string | undefined) ?? env('TEMPORAL_UI_URL') ?? 'http://localhost:8233').replace(/\/$/, ''),
    close: () => connection.close(),
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

const workflowIdOf = (id: string) => (id.startsWith('release/') ? id : releaseWorkflowId(id));
const actor = (flags: Flags) => (flags.as as string | undefined) ?? env('ROLLOUT_ACTOR') ?? os.userInfo().username;
const uiLink = (c: Conn, workflowId: string, runId?: string) => `${c.uiUrl}/namespaces/${encodeURIComponent(c.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;

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

function print(flags: Flags, human: string, json: unknown): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${human}\n`);
}

/** Connects, runs the command, and closes the connection whatever happens. */
async function withConnection<T>(flags: Flags, fn: (c: Conn) => Promise<T>): Promise<T> {
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
}

/** The release behind an ID, described once; a missing one is exit 4. */
async function findRelease(c: Conn, id: string): Promise<FoundRelease> {
  const workflowId = workflowIdOf(id);
  const handle = c.client.workflow.getHandle<typeof releaseWorkflow>(workflowId);
  try {
    return { handle, execution: (await handle.describe()).status.name };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new CliError(`no release ${workflowId} in namespace ${c.namespace}`, EXIT.notFound);
    throw err;
  }
}

/** The status: from the query while running, from the result once completed (no worker needed). */
async function statusOf({ handle, execution }: FoundRelease): Promise<ReleaseStatus> {
  if (execution === 'COMPLETED') return (await handle.result()).status;
  return handle.query(statusQuery);
}

// ------------------------------------------------------------------------------------------- commands

async function validate(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { file: { type: 'string', short: 'f' } });
  if (flags.help) return help('validate');
  const raw = readDocument(flags.file as string | undefined, '-f');
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

async function start(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { file: { type: 'string', short: 'f' }, wait: { type: 'boolean', default: false }, until: { type: 'string' }, as: { type: 'string' } });
  if (flags.help) return help('start');
  const until = (flags.until as string | undefined) ?? 'done';
  if (!['approval', 'done'].includes(until)) throw new CliError(`--until: expected approval or done, got "${until}"`, EXIT.invalid);
  const raw = readDocument(flags.file as string | undefined, '-f');
  parseManifest(raw); // invalid input stops here, before any connection
  return withConnection(flags, async (c) => {
    const started = await startRelease(c.client, raw, { requestedBy: actor(flags), taskQueue: c.taskQueue }).catch((err: unknown) => {
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

async function status(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, {});
  if (flags.help) return help('status');
  const id = requireId(positionals);
  return withConnection(flags, async (c) => {
    const s = await statusOf(await findRelease(c, id));
    print(flags, renderStatus(s), s);
    return EXIT.ok;
  });
}

async function list(argv: string[]): Promise<number> {
  const { flags } = parse(argv, { model: { type: 'string' }, phase: { type: 'string' }, all: { type: 'boolean', default: false } });
  if (flags.help) return help('list');
  const q = [`WorkflowType = 'releaseWorkflow'`];
  if (!flags.all) q.push(`ExecutionStatus = 'Running'`);
  const quote = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  if (flags.model) q.push(`RolloutModel = ${quote(flags.model as string)}`);
  if (flags.phase) q.push(`RolloutPhase = ${quote(flags.phase as string)}`);
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
      if (rows.length >= 500) break;
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

async function watch(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { interval: { type: 'string', default: '1' } });
  if (flags.help) return help('watch');
  const id = requireId(positionals);
  const intervalMs = Number(flags.interval) * 1000;
  if (!(intervalMs >= 100)) throw new CliError(`--interval: expected seconds ≥ 0.1, got "${flags.interval}"`, EXIT.invalid);
  return withConnection(flags, async (c) => {
    const found = await findRelease(c, id);
    const tty = process.stdout.isTTY && !flags.json;
    let last = '';
    let lastStatus: ReleaseStatus | null = null;
    const draw = (s: ReleaseStatus) => {
      lastStatus = s;
      if (flags.json) {
        const line = JSON.stringify(s);
        if (line !== last) process.stdout.write(`${line}\n`);
        last = line;
        return;
      }
      const screen = renderWatch(s);
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

async function act(action: Action, argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { reason: { type: 'string' }, as: { type: 'string' } });
  if (flags.help) return help('action');
  const id = requireId(positionals);
  const by = actor(flags);
  const reason = (flags.reason as string | undefined) ?? '';
  if (!reason.trim() && action !== 'resume') throw new CliError(`--reason: say why (it is recorded with who did it)`, EXIT.invalid);
  return withConnection(flags, async (c) => {
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

async function history(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, { format: { type: 'string', default: 'md' } });
  if (flags.help) return help('history');
  const id = requireId(positionals);
  const format = flags.json ? 'json' : (flags.format as string);
  if (!['md', 'json'].includes(format)) throw new CliError(`--format: expected md or json, got "${format}"`, EXIT.invalid);
  return withConnection(flags, async (c) => {
    const found = await findRelease(c, id);
    const s = await statusOf(found);
    // The timeline is bounded; past its bounds the complete list of actions comes from the event history.
    const actions = s.timelineTrimmed ? await actionsFromHistory(c.client, found.handle.workflowId, (await found.handle.describe()).runId) : undefined;
    process.stdout.write(format === 'json' ? `${JSON.stringify(actions ? { ...s, actionsFromHistory: actions } : s, null, 2)}\n` : renderHistoryMarkdown(s, actions));
    return EXIT.ok;
  });
}

function integerFlag(flags: Flags, name: string, fallback: number, min: number, max: number): number {
  const text = flags[name] as string | undefined;
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name}: expected a whole number from ${min} to ${max}, got "${text}"`, EXIT.invalid);
  return n;
}

async function simulateCommand(argv: string[]): Promise<number> {
  const { flags } = parse(argv, {
    file: { type: 'string', short: 'f' },
    metrics: { type: 'string', short: 'm' },
    seed: { type: 'string' },
    runs: { type: 'string' },
    policy: { type: 'string' },
  });
  if (flags.help) return help('simulate');
  const raw = readDocument(flags.file as string | undefined, '-f');
  const manifest = parseManifest(raw);
  const scenario = parseScenario(readDocument(flags.metrics as string | undefined, '--metrics'));
  const seed = integerFlag(flags, 'seed', 1, 0, 2 ** 31 - 1);
  if (flags.runs !== undefined) {
    const runs = integerFlag(flags, 'runs', 1, 1, 100_000);
    const policy = (flags.policy as string | undefined) ?? 'sequential';
    if (policy !== 'sequential' && policy !== 'fixed-horizon') throw new CliError(`--policy: expected sequential or fixed-horizon, got "${policy}"`, EXIT.invalid);
    const { operatingCharacteristics } = await import('../simulate/montecarlo');
    const oc = operatingCharacteristics(manifest, scenario, { runs, seed, policy });
    print(flags, renderOperatingCharacteristics(oc), oc);
    return EXIT.ok;
  }
  if (flags.policy !== undefined) throw new CliError('--policy: only with --runs', EXIT.invalid);
  // Loaded late: the time-skipping server and the worker are only needed here.
  const { simulate } = await import('../simulate/run');
  const { result, wallMs, simulatedMs } = await simulate(raw, scenario, seed);
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

function requireId(positionals: string[]): string {
  const id = positionals[0];
  if (!id) throw new CliError('a release is required: a model name or release/<model>', EXIT.invalid);
  if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}"`, EXIT.invalid);
  return id;
}

function help(topic: string): number {
  process.stdout.write(`${HELP[topic] ?? HELP.main}\n${topic === 'main' ? '' : `\n${CONNECTION_HELP}\n`}`);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        return help('main');
      case 'validate':
        return await validate(rest);
      case 'start':
        return await start(rest);
      case 'status':
        return await status(rest);
      case 'list':
        return await list(rest);
      case 'watch':
        return await watch(rest);
      case 'history':
        return await history(rest);
      case 'simulate':
        return await simulateCommand(rest);
      default: {
        const action = Action.safeParse(command);
        if (action.success) return await act(action.data, rest);
        throw new CliError(`unknown command "${command}"; see rollout --help`, EXIT.invalid);
      }
    }
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`rollout: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof ManifestError || err instanceof ScenarioError) {
      process.stderr.write(`rollout: ${err.message}\n`);
      return EXIT.invalid;
    }
    process.stderr.write(`rollout: ${firstLine(err)}\n`);
    if (process.env.ROLLOUT_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return EXIT.error;
  }
}

// Runs a manifest against a metric scenario: the real release workflow and activities, under the Java
// time-skipping server, over ScenarioPorts. Returns the release's result; its timeline is the policy's
// decisions, each at its policy time.
import fs from 'node:fs';
import { TestWorkflowEnvironment, type EphemeralServerExecutable } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { runHistories } from '../client/actions-history';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../activities';
import { ALL_SEARCH_ATTRIBUTES, releaseWorkflowId } from '../constants';
import { findTemporalServers, SERVERS_SCRIPT } from '../dev/servers';
import { parseManifest } from '../domain/manifest';
import type { ReleaseResult } from '../domain/release';
import { quietSdkRuntime, recordFromHistories, releaseRecordSinks, workflowCode, type ReleaseEvent } from '../report/record';
import { releaseWorkflow } from '../workflows/release';
import { scenarioApprover } from '../workflows/scenario-approver';
import { ScenarioPorts, type Scenario } from './scenario';

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

/** The time-skipping server knows only its built-in search attributes until told ours. */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, INDEXED[k.type] as number])),
  });
}

export interface SimulationResult {
  result: ReleaseResult;
  /** Everything the release recorded, unmerged (what its report draws), when asked for. */
  record: ReleaseEvent[] | null;
  wallMs: number;
  simulatedMs: number;
}

/** The time-skipping server is missing and cannot be obtained: the message says how to provide it. */
export class SimulatorUnavailable extends Error {
  override name = 'SimulatorUnavailable';
}

/**
 * The time-skipping server: the given executable; in a checkout, the one scripts/temporal-servers.sh
 * builds from Maven; in an installed package or the image, the SDK's download (it needs the internet).
 */
function timeSkippingServer(testServerPath: string | undefined): EphemeralServerExecutable {
  if (testServerPath) {
    if (!fs.existsSync(testServerPath)) throw new SimulatorUnavailable(`TEMPORAL_TEST_SERVER_PATH: no such file: ${testServerPath}`);
    return { type: 'existing-path', path: testServerPath };
  }
  if (fs.existsSync(SERVERS_SCRIPT)) return findTemporalServers(true).timeSkippingServer;
  return { type: 'cached-download' };
}

export async function simulate(rawManifest: unknown, scenario: Scenario, seed = 1, testServerPath?: string, o: { record?: boolean } = {}): Promise<SimulationResult> {
  const m = parseManifest(rawManifest);
  // The simulation prints decisions; the SDK and its core speak only on errors.
  quietSdkRuntime();
  const executable = timeSkippingServer(testServerPath);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } }).catch((err: unknown) => {
    throw new SimulatorUnavailable(
      `cannot start Temporal's time-skipping test server (${executable.type === 'existing-path' ? executable.path : 'the SDK downloads it, which needs the internet'}): ` +
        `${err instanceof Error ? err.message.split('\n')[0] : String(err)}. Set TEMPORAL_TEST_SERVER_PATH to its executable, or use --runs N, which needs no server.`,
    );
  });
  try {
    await registerSearchAttributes(env);
    const champion = m.champion ?? 'champion';
    const ports = new ScenarioPorts(scenario, champion, seed);
    const taskQueue = 'rollout-simulate';
    // Bundled once: the worker runs it, and the report's replay reads the record back with it.
    const workflowBundle = await workflowCode();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle,
      activities: createActivities(ports),
      sinks: releaseRecordSinks(),
    });
    const t0 = Date.now();
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(releaseWorkflow, {
        taskQueue,
        workflowId: releaseWorkflowId(m.model),
        // Every look on the server's skipped clock: an activity's sleep would run on the wall clock.
        args: [{ manifest: rawManifest, requestedBy: 'simulator', options: { looks: 'workflow' } }],
      });
      const { decision, after, by } = scenario.approvals;
      let asked = 0;
      ports.onApprovalRequested = () => {
        if (decision === 'never') return;
        asked += 1;
        // The answer's delay runs on the server's clock, in a workflow (src/workflows/scenario-approver.ts).
        void env.client.workflow
          .start(scenarioApprover, {
            taskQueue,
            workflowId: `${handle.workflowId}/approver/${asked}`,
            args: [{ workflowId: handle.workflowId, decision, payload: { by, reason: `scenario: ${decision} after ${after / 60_000} min` }, afterMs: after }],
          })
          .catch(() => undefined);
      };
      return handle.result();
    });
    const wallMs = Date.now() - t0;
    // The record by replay, as `rollout history --format html` reads it: each decided task exactly once.
    let record: ReleaseEvent[] | null = null;
    if (o.record) {
      const workflowId = releaseWorkflowId(m.model);
      const { runId } = await env.client.workflow.getHandle(workflowId).describe();
      record = await recordFromHistories(workflowId, await runHistories(env.client, workflowId, runId), workflowBundle);
    }
    const end = result.status.timeline.at(-1)?.at ?? result.status.updatedAt;
    return { result, record, wallMs, simulatedMs: Date.parse(end) - Date.parse(result.status.startedAt) };
  } finally {
    await env.teardown();
  }
}

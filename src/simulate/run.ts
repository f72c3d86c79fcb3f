// Runs a manifest against a metric scenario: the real release workflow and activities, under the Java
// time-skipping server, over ScenarioPorts. Returns the release's result; its timeline is the policy's
// decisions, each at its policy time.
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createActivities } from '../activities';
import { ALL_SEARCH_ATTRIBUTES, releaseWorkflowId } from '../constants';
import { findTemporalServers } from '../dev/servers';
import { parseManifest } from '../domain/manifest';
import type { ReleaseResult } from '../domain/release';
import { actionSignals, releaseWorkflow } from '../workflows/release';
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
  wallMs: number;
  simulatedMs: number;
}

let runtimeInstalled = false;

export async function simulate(rawManifest: unknown, scenario: Scenario, seed = 1): Promise<SimulationResult> {
  const m = parseManifest(rawManifest);
  if (!runtimeInstalled) {
    // The simulation prints decisions; the SDK and its core speak only on errors.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
    runtimeInstalled = true;
  }
  const servers = findTemporalServers(true);
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: servers.timeSkippingServer } });
  try {
    await registerSearchAttributes(env);
    const champion = m.champion ?? 'champion';
    const ports = new ScenarioPorts(scenario, champion, seed);
    const taskQueue = 'rollout-simulate';
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve(path.join(__dirname, '../workflows')),
      activities: createActivities(ports),
    });
    const t0 = Date.now();
    const result = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(releaseWorkflow, {
        taskQueue,
        workflowId: releaseWorkflowId(m.model),
        args: [{ manifest: rawManifest, requestedBy: 'simulator' }],
      });
      const { decision, after, by } = scenario.approvals;
      ports.onApprovalRequested = () => {
        if (decision === 'never') return;
        void (async () => {
          await env.sleep(after);
          await handle.signal(actionSignals[decision], { by, reason: `scenario: ${decision} after ${after / 60_000} min` }).catch(() => undefined);
        })();
      };
      return handle.result();
    });
    const wallMs = Date.now() - t0;
    const end = result.status.timeline.at(-1)?.at ?? result.status.updatedAt;
    return { result, wallMs, simulatedMs: Date.parse(end) - Date.parse(result.status.startedAt) };
  } finally {
    await env.teardown();
  }
}

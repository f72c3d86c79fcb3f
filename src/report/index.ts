// The release report, end to end: a release's histories replayed into its full record, drawn as one page.
import type { Client } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { runHistories } from '../client/actions-history';
import type { ReleaseStatus } from '../domain/release';
import { renderReleaseReport } from './html';
import { buildReport } from './model';
import { recordFromHistories } from './record';

export { renderOperatingCharacteristicsReport, renderReleaseReport } from './html';
export { buildReport } from './model';

/**
 * The report of a release on the server: its status, and every check replayed from each run's history.
 * A history this code cannot replay (a release started by a build it does not know) still gets a page,
 * drawn from the bounded timeline, and `warning` says why.
 */
export async function releaseReportHtml(
  client: Client,
  workflowId: string,
  runId: string,
  status: ReleaseStatus,
  o: { version?: string; workflowBundle?: WorkflowBundle } = {},
): Promise<{ html: string; warning?: string }> {
  const histories = await runHistories(client, workflowId, runId);
  const events = histories.reduce((n, h) => n + (h.events?.length ?? 0), 0);
  const source = `${events} events in ${histories.length} run${histories.length > 1 ? 's' : ''} of ${workflowId}`;
  try {
    const record = await recordFromHistories(workflowId, histories, o.workflowBundle);
    return { html: renderReleaseReport(buildReport(status, record), { version: o.version, source }) };
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { html: renderReleaseReport(buildReport(status, null), { version: o.version }), warning: `the event history could not be replayed (${why}): the report draws the bounded timeline only` };
  }
}

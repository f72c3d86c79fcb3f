// Records event histories of representative releases under the time-skipping server, into
// test/replay/histories/. The replay test runs today's workflow code over them: a change that would
// break in-flight releases (non-determinism) fails CI. Re-record only on purpose, when a change is
// versioned with patched(), and commit the result:  npm run record-histories
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../src/constants';
import { findTemporalServers } from '../src/dev/servers';
import { actionSignals, actionUpdates } from '../src/workflows/release';
import { aManifest } from '../test/helpers/builders';
import { instantLooks } from '../test/helpers/recorded-looks';
import { Harness } from '../test/helpers/release-harness';
import { BROKEN, HEALTHY, StubPorts, type VariantBehaviour } from '../test/helpers/stub-ports';

const OUT = path.resolve(__dirname, '../test/replay/histories');
// `--suffix -v2` records beside the existing histories instead of over them: after a patched() change,
// both the old and the new command sequences must keep replaying.
const SUFFIX = process.argv.includes('--suffix') ? (process.argv[process.argv.indexOf('--suffix') + 1] ?? '') : '';
// `--only a,b` records just those: a new scenario is added without re-recording the others.
const ONLY = process.argv.includes('--only') ? (process.argv[process.argv.indexOf('--only') + 1] ?? '').split(',') : null;

/** Busy enough that a 2 s look has its samples. */
const BUSY = (b: VariantBehaviour): VariantBehaviour => ({ ...b, rpm: 60_000 });
/**
 * A bake looked at every 2 s. The fast-looks histories were recorded when takeChecks woke every 30 s: their
 * 40 s bakes came back in two batches. Recorded again at today's 2-minute wake they would come back in one
 * (and lose the two-batch case), so they are kept as recorded.
 */
const fastLooks = (model: string) =>
  aManifest({ model, plan: [{ kind: 'setTraffic', percent: 20 }, { kind: 'bake', duration: '40s', interval: '2s', extension: '20s' }, { kind: 'fullRollout' }] });

async function main(): Promise<void> {
  const h = await Harness.create();
  const env = h.env;
  // Looks more often than once a minute are taken by the takeChecks activity, whose sleep runs on the
  // wall clock: those releases are recorded on the dev server, in real time.
  let live: Harness | null = null;
  const onDevServer = async () => {
    live ??= new Harness(
      await TestWorkflowEnvironment.createLocal({ server: { executable: findTemporalServers(true).devServer, ip: '127.0.0.1', searchAttributes: ALL_SEARCH_ATTRIBUTES } }),
      h.workflowBundle,
    );
    return live;
  };
  const scenarios: Record<string, () => Promise<void>> = {
    'standard-promoted': async () => {
      const ports = new StubPorts();
      await save('standard-promoted', ports, aManifest({ model: 'replay-standard' }));
    },
    'canary-breach-at-25': async () => {
      const ports = new StubPorts();
      const m = aManifest({ model: 'replay-breach' });
      ports.behaviours.v2 = () => (ports.candidateWeight(m.model, 'v2') === 25 ? BROKEN : HEALTHY);
      await save('canary-breach-at-25', ports, m);
    },
    'approval-rejected': async () => {
      const ports = new StubPorts();
      const m = aManifest({ model: 'replay-reject', blastRadius: 'high', plan: [{ kind: 'setTraffic', percent: 50 }, { kind: 'bake', duration: '30m' }, { kind: 'fullRollout' }] });
      await save('approval-rejected', ports, m, async (handle) => {
        await h.until(handle, 'awaiting-approval');
        await handle.executeUpdate(actionUpdates.reject, { args: [{ by: 'bob', reason: 'not now' }] });
      });
    },
    'paused-then-aborted': async () => {
      const ports = new StubPorts();
      const m = aManifest({ model: 'replay-abort' });
      await save('paused-then-aborted', ports, m, async (handle) => {
        await h.until(handle, 'canary', { step: 10 * 60_000 });
        await handle.signal(actionSignals.pause, { by: 'erin', reason: 'look' });
        await env.sleep(30 * 60_000);
        await handle.signal(actionSignals.abort, { by: 'erin', reason: 'bad dashboard' });
      });
    },
    'fast-looks-promoted': async () => {
      const ports = new StubPorts({ behaviours: { v1: BUSY(HEALTHY), v2: BUSY(HEALTHY) } });
      await save('fast-looks-promoted', ports, fastLooks('replay-fast'), undefined, await onDevServer());
    },
    'fast-looks-breach': async () => {
      // Healthy through the first batch of looks, broken from 35 s into the bake: the second batch breaches.
      const ports = new StubPorts({ behaviours: { v1: BUSY(HEALTHY) } });
      const m = fastLooks('replay-fast-breach');
      let brokenFrom = Infinity;
      ports.behaviours.v2 = (at) => {
        if (brokenFrom === Infinity && ports.candidateWeight(m.model, 'v2') === 20) brokenFrom = Date.now() + 35_000;
        return at >= brokenFrom ? BUSY(BROKEN) : BUSY(HEALTHY);
      };
      await save('fast-looks-breach', ports, m, undefined, await onDevServer());
    },
    'fast-looks-paused-promoted': async () => {
      // takeChecks cancelled twice: by a pause 6 s into the bake (the release takes a look itself, then its
      // own timers while paused), and, after a resume, by a promote (one look itself, the rest skipped).
      const ports = new StubPorts({ behaviours: { v1: BUSY(HEALTHY), v2: BUSY(HEALTHY) } });
      const live = await onDevServer();
      await save(
        'fast-looks-paused-promoted',
        ports,
        fastLooks('replay-fast-paused'),
        async (handle) => {
          // On the dev server the harness's wait sleeps in real time, a quarter second a poll.
          await live.until(handle, (s) => s.phase === 'canary' && s.plan[s.stepIndex]?.kind === 'bake', { step: 250 });
          await new Promise((r) => setTimeout(r, 6_000));
          await handle.signal(actionSignals.pause, { by: 'erin', reason: 'checking a dashboard' });
          await new Promise((r) => setTimeout(r, 5_000));
          await handle.signal(actionSignals.resume, { by: 'erin', reason: 'dashboard fine' });
          await new Promise((r) => setTimeout(r, 6_000));
          await handle.executeUpdate(actionUpdates.promote, { args: [{ by: 'alice', reason: 'enough seen' }] });
        },
        live,
      );
    },
    'fast-looks-long-run': async () => {
      // A run past 1 MiB: 40 takeChecks replies of 12 recorded looks answered at once (about 1.4 MiB), then
      // the release's own looks to the bake's end. The committed file was recorded at ffa8bc5, before runs
      // continued as new at 1 MiB: it guards patched('run-size-limit'). Recorded today it would hold the
      // marker and a continue-as-new, and lose that case.
      const m = aManifest({ model: 'replay-long-run', plan: [{ kind: 'setTraffic', percent: 20 }, { kind: 'bake', duration: '2m', interval: '10s' }, { kind: 'fullRollout' }] });
      await save('fast-looks-long-run', new StubPorts(), m, undefined, h, { takeChecks: instantLooks(12, 40) });
    },
  };

  async function save(
    name: string,
    ports: StubPorts,
    manifest: ReturnType<typeof aManifest>,
    drive?: (handle: Awaited<ReturnType<Harness['start']>>) => Promise<void>,
    on: Harness = h,
    replaced: Parameters<Harness['withWorker']>[2] = {},
  ): Promise<void> {
    await on.withWorker(ports, async (q) => {
      const handle = await on.start(q, manifest);
      if (drive) await drive(handle);
      const result = await handle.result();
      const history = await handle.fetchHistory();
      const json = temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(history), {
        longs: String,
        enums: String,
        bytes: String,
      });
      fs.writeFileSync(path.join(OUT, `${name}${SUFFIX}.json`), `${JSON.stringify(json)}\n`);
      console.log(`${name}: ${result.outcome}, ${history.events?.length} events`);
    }, replaced);
  }

  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, run] of Object.entries(scenarios)) if (!ONLY || ONLY.includes(name)) await run();
  await env.teardown();
  await (live as Harness | null)?.teardown();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

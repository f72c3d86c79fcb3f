// Records event histories of representative releases under the time-skipping server, into
// test/replay/histories/. The replay test runs today's workflow code over them: a change that would
// break in-flight releases (non-determinism) fails CI. Re-record only on purpose, when a change is
// versioned with patched(), and commit the result:  npm run record-histories
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { actionSignals, actionUpdates } from '../src/workflows/release';
import { aManifest } from '../test/helpers/builders';
import { Harness } from '../test/helpers/release-harness';
import { BROKEN, HEALTHY, StubPorts } from '../test/helpers/stub-ports';

const OUT = path.resolve(__dirname, '../test/replay/histories');
// `--suffix -v2` records beside the existing histories instead of over them: after a patched() change,
// both the old and the new command sequences must keep replaying.
const SUFFIX = process.argv.includes('--suffix') ? (process.argv[process.argv.indexOf('--suffix') + 1] ?? '') : '';

async function main(): Promise<void> {
  const h = await Harness.create();
  const env = h.env;
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
  };

  async function save(
    name: string,
    ports: StubPorts,
    manifest: ReturnType<typeof aManifest>,
    drive?: (handle: Awaited<ReturnType<Harness['start']>>) => Promise<void>,
  ): Promise<void> {
    await h.withWorker(ports, async (q) => {
      const handle = await h.start(q, manifest);
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
    });
  }

  fs.mkdirSync(OUT, { recursive: true });
  for (const run of Object.values(scenarios)) await run();
  await env.teardown();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

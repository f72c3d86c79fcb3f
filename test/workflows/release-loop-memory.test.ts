// What a cached release keeps as the workflow takes its looks (every minute or more: the presets' 5
// minutes). Each look waits on a timer and measures with local activities; the SDK keeps every scope and
// every reaction on a scope until that scope's parent is cancelled, so each look kept about 3 KiB until the
// run continued as new (3.35 KiB a look measured here). Now each look's scopes are let go of
// (`scoped()` in src/workflows/release-support.ts): -0.07 KiB a look here, 0.01 to 0.09 with 60 releases.
// Live heap after a full collection, through the inspector: not a timing.
import { statusQuery } from '../../src/workflows/release';
import { isWorkflowThread, ThreadInspector } from '../../support/thread-inspector';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';

let h: Harness;
beforeAll(async () => void (h = await Harness.create()), 120_000);
afterAll(() => h?.teardown());

const RELEASES = 30;

it('given releases in cache whose looks the workflow takes, when each takes 100 more, then the workflow thread holds no more of them', async () => {
  const inspected = new ThreadInspector();
  try {
    await h.withWorker(new StubPorts(), async (q) => {
      const handles = [];
      for (let i = 0; i < RELEASES; i++) {
        const m = aManifest({ plan: [{ kind: 'setTraffic', percent: 10 }, { kind: 'bake', duration: '24h', interval: '1m' }, { kind: 'fullRollout' }] });
        handles.push(await h.start(q, m, { looks: 'workflow' }));
      }
      for (const handle of handles) await h.until(handle, 'canary');
      const heap = async () => {
        // Every release has taken the minute's look: nothing is left in flight.
        await new Promise((r) => setTimeout(r, 1_000));
        const workflows = await inspected.liveHeaps(isWorkflowThread);
        expect(workflows).toHaveLength(1);
        return (workflows[0] as { used: number }).used;
      };
      await h.env.sleep(10 * 60_000);
      const early = await heap();
      await h.env.sleep(100 * 60_000);
      const late = await heap();
      const perLook = (late - early) / RELEASES / 100;
      if (process.env.MEMORY_TEST_PRINT) console.log({ early, late, perLook });
      // Before: about 3 KiB a look. After: under 0.1 KiB.
      expect(perLook).toBeLessThan(1024);
      // Every look is in the run the worker caches: all still baking, none continued as new.
      const statuses = await Promise.all(handles.map((hd) => hd.query(statusQuery)));
      expect(statuses.filter((s) => s.phase !== 'canary' || s.timeline.some((e) => e.type === 'continued-as-new'))).toEqual([]);
      await Promise.all(handles.map((hd) => hd.terminate('memory test done')));
    });
  } finally {
    inspected.close();
  }
}, 180_000);

// The production worker's workflow code: the bundle `npm run build` writes, loaded from its file, runs a
// release to the end; without the file, the worker bundles the sources.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowSource, writeWorkflowBundle } from '../../src/workers/bundle';
import { aManifest } from '../helpers/builders';
import { Harness } from '../helpers/release-harness';
import { StubPorts } from '../helpers/stub-ports';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('given no prebuilt bundle, then the worker bundles the workflow sources', () => {
  expect(workflowSource({ defaultBundle: path.join(dir, 'absent.js') })).toEqual({
    workflowsPath: expect.stringMatching(/src[/\\]workflows[/\\]index\.ts$/),
    bundlerOptions: { preloadModules: ['zod', expect.stringMatching(/src[/\\]workflows[/\\]preload\.ts$/)] },
    interceptors: { workflowModules: [expect.stringMatching(/src[/\\]workflows[/\\]interceptors\.ts$/)] },
  });
});

it('given WORKFLOW_BUNDLE naming a file that is not there, then the worker refuses to start rather than run other code', () => {
  expect(() => workflowSource({ bundle: path.join(dir, 'absent.js') })).toThrow(/WORKFLOW_BUNDLE: no such file: .*absent\.js/);
});

it('given the prebuilt bundle, when a worker loads it from its file, then a release runs to promotion', async () => {
  const file = path.join(dir, 'workflow-bundle.js');
  await writeWorkflowBundle(file);
  const source = workflowSource({ bundle: file });
  expect(source).toEqual({ workflowBundle: { codePath: file } });
  const h = await Harness.create(source.workflowBundle);
  try {
    const ports = new StubPorts();
    const m = aManifest();
    const result = await h.release(ports, m);
    expect(result.outcome).toBe('promoted');
    expect(ports.routes.get(m.model)?.variants).toEqual([{ version: 'v2', weight: 100 }]);
  } finally {
    await h.teardown();
  }
}, 120_000);

// Four layers, one command. Files run serially (`--runInBand` in npm test: 2 cores, real servers),
// in layer order: unit tests, then time-skipping workflow tests, then dev-server integration tests, then
// drills on the production topology.
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  // Per test; workflow tests skip time, dev-server tests run real releases.
  testTimeout: 120_000,
  // A native worker or server handle left open by a failed test would otherwise keep jest (and CI)
  // waiting for ever after the summary. Leaks still fail their file (test/helpers/temporal.ts).
  forceExit: true,
  testSequencer: '<rootDir>/test/setup/layer-sequencer.js',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...base,
      displayName: 'workflows',
      testMatch: ['<rootDir>/test/workflows/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/servers-setup.ts',
    },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/dev-server-setup.ts',
      globalTeardown: '<rootDir>/test/setup/dev-server-teardown.ts',
    },
    // The production topology as processes (PostgreSQL, the full Temporal server, worker processes):
    // each file starts its own stack (support/prod-stack.ts).
    { ...base, displayName: 'production', testMatch: ['<rootDir>/test/production/**/*.test.ts'] },
  ],
};

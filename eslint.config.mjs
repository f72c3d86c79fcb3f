// Lint: no floating promises anywhere; no Node built-ins (or modules that need them) in workflow code,
// which runs in Temporal's deterministic sandbox.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['assert', 'buffer', 'child_process', 'crypto', 'dns', 'events', 'fs', 'http', 'https', 'net', 'os', 'path', 'process', 'stream', 'timers', 'tls', 'url', 'util', 'worker_threads', 'zlib'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'data/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts', 'src/constants.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.flatMap((m) => [
              { name: m, message: 'Workflow code runs in a sandbox: no Node built-ins.' },
              { name: `node:${m}`, message: 'Workflow code runs in a sandbox: no Node built-ins.' },
            ]),
            { name: '@temporalio/activity', message: 'Workflows call activities through proxyActivities.' },
            { name: '@temporalio/worker', message: 'Worker code does not belong in workflows.' },
            { name: '@temporalio/client', message: 'Client code does not belong in workflows.' },
            { name: 'pino', message: 'Workflows log through the SDK\u2019s replay-safe logger.' },
          ],
          patterns: [{ group: ['../activities', '../activities/*', '../adapters/*'], allowTypeImports: true, message: 'Import activity types only.' }],
        },
      ],
    },
  },
);

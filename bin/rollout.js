#!/usr/bin/env node
// The `rollout` command. Runs the compiled CLI from dist/ when built (npm run build), else the
// TypeScript sources through @swc-node/register (a development checkout).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
let cli;
if (fs.existsSync(built)) {
  cli = require(built);
} else {
  require('@swc-node/register');
  cli = require(path.join(__dirname, '..', 'src', 'cli', 'main.ts'));
}
cli.main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err) => {
    process.stderr.write(`rollout: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

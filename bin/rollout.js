#!/usr/bin/env node
// The `rollout` command. In a development checkout it runs the TypeScript sources through
// @swc-node/register, so it never lags behind an edit; where only the build is shipped (the Docker
// image: dist/, no sources, no dev dependencies) it runs dist/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const source = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
const hasSwc = (() => {
  try {
    require.resolve('@swc-node/register');
    return true;
  } catch {
    return false;
  }
})();
let cli;
if (fs.existsSync(source) && hasSwc) {
  require('@swc-node/register');
  cli = require(source);
} else {
  cli = require(path.join(__dirname, '..', 'dist', 'cli', 'main.js'));
}
cli.main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err) => {
    process.stderr.write(`rollout: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

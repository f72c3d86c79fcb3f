// Where the Temporal servers are on this machine; scripts/temporal-servers.sh holds the lookup order.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

export interface TemporalServers {
  devServer: EphemeralServerExecutable;
  timeSkippingServer: EphemeralServerExecutable;
}

/** Present in a checkout, absent from an installed package or the image. */
export const SERVERS_SCRIPT = path.resolve(__dirname, '../../scripts/temporal-servers.sh');

/**
 * Runs one of the scripts that find or install a tool (scripts/temporal-servers.sh, envoy.sh,
 * temporal-prod.sh) and returns the `NAME=value` lines it prints; its own progress goes to stderr.
 */
export function runLocator(script: string, args: string[] = []): Record<string, string | undefined> {
  const out = execFileSync('bash', [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.match(/^([A-Z_]+)=(.+)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

/**
 * @param obtain build or fetch a missing server (slow the first time); otherwise only look.
 * A server not found falls back to the SDK's own download, which needs internet.
 */
export function findTemporalServers(obtain = true): TemporalServers {
  const found = runLocator(SERVERS_SCRIPT, obtain ? [] : ['--locate']);
  const pick = (p: string | undefined): EphemeralServerExecutable =>
    p ? { type: 'existing-path', path: p } : { type: 'cached-download' };
  return {
    devServer: pick(found.TEMPORAL_CLI_PATH),
    timeSkippingServer: pick(found.TEMPORAL_TEST_SERVER_PATH),
  };
}

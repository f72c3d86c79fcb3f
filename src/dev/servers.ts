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
 * @param obtain build or fetch a missing server (slow the first time); otherwise only look.
 * A server not found falls back to the SDK's own download, which needs internet.
 */
export function findTemporalServers(obtain = true): TemporalServers {
  const out = execFileSync('bash', [SERVERS_SCRIPT, ...(obtain ? [] : ['--locate'])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const found = Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.match(/^(TEMPORAL_\w+)=(.+)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1], m[2]]),
  ) as Record<string, string | undefined>;
  const pick = (p: string | undefined): EphemeralServerExecutable =>
    p ? { type: 'existing-path', path: p } : { type: 'cached-download' };
  return {
    devServer: pick(found.TEMPORAL_CLI_PATH),
    timeSkippingServer: pick(found.TEMPORAL_TEST_SERVER_PATH),
  };
}

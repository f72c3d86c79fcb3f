// Finds (or, on a fresh machine, obtains) the Temporal servers once per run, for every test file.
import { findTemporalServers } from '../../src/dev/servers';

export default function setup(): void {
  const servers = findTemporalServers(true);
  if (servers.devServer.type === 'existing-path') process.env.TEMPORAL_CLI_PATH = servers.devServer.path;
  if (servers.timeSkippingServer.type === 'existing-path') {
    process.env.TEMPORAL_TEST_SERVER_PATH = servers.timeSkippingServer.path;
  }
}

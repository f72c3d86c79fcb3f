// `npm run prod-stack`: docker-compose.yml's production topology as processes, until Ctrl-C: PostgreSQL,
// the full Temporal server on it (schema by Temporal's SQL tool), the namespace and search attributes,
// and two workers on one task queue. Point the CLI at the address it prints.
//
//   npm run prod-stack [-- --workers N --port 7233 --dir DIR]
import { parseArgs } from 'node:util';
import { startProdStack } from '../support/prod-stack';

async function main(): Promise<void> {
  // Ctrl-C during start-up stops what has started (support/prod-stack.ts kills its process groups on exit).
  const early = () => process.exit(130);
  process.once('SIGINT', early);
  const { values } = parseArgs({ options: { workers: { type: 'string', default: '2' }, port: { type: 'string', default: '7233' }, dir: { type: 'string' } } });
  const workers = Number(values.workers);
  const port = Number(values.port);
  if (!Number.isInteger(workers) || workers < 0 || workers > 16) throw new Error(`--workers: expected 0 to 16, got ${values.workers}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port: expected a port, got ${values.port}`);
  const stack = await startProdStack({ workers, frontendPort: port, dir: values.dir });
  process.stdout.write(
    `Temporal ${stack.address} (namespace ${stack.namespace}) on PostgreSQL 127.0.0.1:${stack.postgres.port}; ${workers} workers on ${stack.taskQueue}.\n` +
      `  TEMPORAL_ADDRESS=${stack.address} npx rollout list\nCtrl-C stops it.\n`,
  );
  process.off('SIGINT', early);
  await new Promise<void>((r) => process.once('SIGINT', () => r()));
  await stack.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`prod-stack failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

// A minimal Open Inference Protocol model server for gateway tests: answers a fixed label, after an
// optional delay, failing a given share of requests.
import http from 'node:http';

export interface FakeModel {
  url: string;
  calls: number;
  close: () => Promise<void>;
}

export async function fakeModelServer(opts: {
  label: string;
  delayMs?: number;
  /** Fail every n-th request … */
  failEvery?: number;
  /** … only while this holds (default: always). */
  failWhen?: () => boolean;
  predict?: (data: unknown[]) => unknown;
  /** Sees each request's headers (a router's request id, a mirror's host). */
  onRequest?: (headers: Record<string, string | undefined>) => void;
}): Promise<FakeModel> {
  const state = { calls: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      opts.onRequest?.(req.headers as Record<string, string | undefined>);
      state.calls += 1;
      const n = state.calls;
      setTimeout(() => {
        if (opts.failEvery && n % opts.failEvery === 0 && (opts.failWhen?.() ?? true)) {
          res.writeHead(500).end('{"error":"boom"}');
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { id?: string; inputs?: { data: unknown[] }[] };
        const label = opts.predict ? opts.predict(body.inputs?.[0]?.data ?? []) : opts.label;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ model_name: 'm', id: body.id, outputs: [{ name: 'label', shape: [1], datatype: 'BYTES', data: [label] }] }));
      }, opts.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return state.calls;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

export { seeded } from '../../src/shared/random';

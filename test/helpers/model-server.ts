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
  /**
   * Logs each answered request as KServe's inference logger does: a CloudEvent in binary mode to this URL,
   * ce-type …inference.response, ce-metadata carrying the request's x-request-id, the response as body.
   */
  logTo?: string;
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
        const answer = JSON.stringify({ model_name: 'm', id: body.id, outputs: [{ name: 'label', shape: [1], datatype: 'BYTES', data: [label] }] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer);
        if (opts.logTo) {
          const rid = req.headers['x-request-id'];
          void fetch(opts.logTo, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'ce-specversion': '1.0',
              'ce-type': 'org.kubeflow.serving.inference.response',
              'ce-id': `evt-${n}-${Math.random().toString(36).slice(2)}`,
              'ce-source': 'http://localhost:9081/',
              'ce-inferenceservicename': 'm',
              'ce-component': 'predictor',
              'ce-metadata': JSON.stringify({ 'x-request-id': [rid] }),
            },
            body: answer,
          }).catch(() => undefined);
        }
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

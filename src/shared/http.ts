// HTTP to model servers, on the served path: node:http with pooled keep-alive connections (fetch's
// stream machinery cost the gateway most of its CPU; see `npm run bench:gateway`). A connection that
// fails before any answer (a keep-alive socket the server closed as it was reused) is tried once more,
// as proxies do; a timeout or an answer, even an error answer, is final: those count against the model.
import http from 'node:http';
import https from 'node:https';

export interface ModelResponse {
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 512 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 512 }),
};

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

function send(url: URL, payload: string, timeoutMs: number): Promise<ModelResponse> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: agents[url.protocol as 'http:' | 'https:'],
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ ok: status >= 200 && status < 300, status, json: async () => JSON.parse(text) as unknown });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new TimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

export async function fetchModel(url: string, body: unknown, timeoutMs: number): Promise<ModelResponse> {
  const u = new URL(url);
  const payload = JSON.stringify(body);
  return send(u, payload, timeoutMs).catch((err: Error) => (err.name === 'TimeoutError' ? Promise.reject(err) : send(u, payload, timeoutMs)));
}

// What the project's HTTP servers share (the embedded gateway, the inference log): starting and
// stopping, an error that carries its status, reading a header and a bounded body, a JSON answer.
import http from 'node:http';

/** An error answered with its own status (4xx); anything else is a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Starts an HTTP server on host:port (0: any free port); resolves with the port it listens on. */
export function listenOn(server: http.Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

/** Stops an HTTP server, keep-alive connections included. */
export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A request header's (first) value, or null. */
export function header(req: http.IncomingMessage, name: string): string | null {
  const v = req.headers[name.toLowerCase()];
  return (Array.isArray(v) ? v[0] : v) ?? null;
}

/** The request body, refused with 413 past `limit` bytes (default 10 MiB). */
export async function readBody(req: http.IncomingMessage, limit = 10 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit / (1024 * 1024)} MiB`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a body as JSON; `what` names it in the 400 otherwise. */
export function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, `${what} is not JSON`);
  }
}

/** A JSON answer. */
export function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// The inference log's HTTP endpoint. Model servers' loggers post CloudEvents to it, as KServe's inference
// logger does (binary mode: ce-* headers, the raw payload as body; structured mode is accepted too):
//   POST /log/<model>/<version>   one logger URL per served version (KServe: spec.predictor.logger.url)
//   POST /log                     the model from ce-inferenceservicename, the version from the body's
//                                 model_version (Open Inference Protocol responses carry it)
// Only response events count (ce-type org.kubeflow.serving.inference.response); request events are
// accepted and dropped. The join key is the request's x-request-id, which Envoy gives the served request
// and its mirror alike: from ce-metadata (KServe's logger.metadataHeaders: ["x-request-id"]), else an
// x-request-id header, else ce-id.
//   GET /shadow/<model>?champion=&candidate=&from=&to=   divergence and PSI over the joined answers
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { closeServer, header, HttpError, listenOn, parseJson, readBody, send } from '../shared/http-server';
import { labelOf } from '../shared/prediction';
import { InferenceLog } from './store';

export const RESPONSE_TYPE = 'org.kubeflow.serving.inference.response';
export const REQUEST_TYPE = 'org.kubeflow.serving.inference.request';

interface Event {
  type: string;
  id: string;
  source: string;
  inferenceservicename?: string;
  metadata?: string;
  data: unknown;
}

/** A CloudEvent from either HTTP binding: binary (ce-* headers) or structured (application/cloudevents+json). */
function parseEvent(req: http.IncomingMessage, raw: Buffer): Event {
  if ((header(req, 'content-type') ?? '').startsWith('application/cloudevents+json')) {
    const e = parseJson(raw, 'the structured event') as Record<string, unknown>;
    for (const k of ['type', 'id', 'source', 'specversion']) if (typeof e[k] !== 'string') throw new HttpError(400, `${k}: required in a CloudEvent`);
    const data = e.data !== undefined ? e.data : typeof e.data_base64 === 'string' ? parseJson(Buffer.from(e.data_base64, 'base64'), 'data_base64') : undefined;
    return { type: e.type as string, id: e.id as string, source: e.source as string, inferenceservicename: e.inferenceservicename as string | undefined, metadata: typeof e.metadata === 'string' ? e.metadata : e.metadata ? JSON.stringify(e.metadata) : undefined, data };
  }
  const need = (k: string) => {
    const v = header(req, k);
    if (!v) throw new HttpError(400, `${k}: required header of a CloudEvent (binary mode)`);
    return v;
  };
  need('ce-specversion');
  const type = need('ce-type');
  return { type, id: need('ce-id'), source: need('ce-source'), inferenceservicename: header(req, 'ce-inferenceservicename') ?? undefined, metadata: header(req, 'ce-metadata') ?? undefined, data: type === RESPONSE_TYPE ? parseJson(raw, 'the response payload') : null };
}

/** The request id the router gave the request (see the header comment for the order). */
function requestIdOf(req: http.IncomingMessage, e: Event): string {
  if (e.metadata) {
    try {
      const m = JSON.parse(e.metadata) as Record<string, unknown>;
      const v = m['x-request-id'] ?? m['X-Request-Id'];
      const id = Array.isArray(v) ? v[0] : v;
      if (typeof id === 'string' && id) return id;
    } catch {
      throw new HttpError(400, 'ce-metadata: not JSON');
    }
  }
  return header(req, 'x-request-id') ?? e.id;
}

/** The prediction's label, from an Open Inference Protocol (v2) or a v1 ({predictions: [...]}) response. */
function predictionOf(data: unknown): { label: string; modelVersion?: string } {
  const d = data as { outputs?: { data?: unknown[] }[]; predictions?: unknown[]; model_version?: unknown };
  if (Array.isArray(d?.outputs) && Array.isArray(d.outputs[0]?.data)) return { label: labelOf(d.outputs as { data: unknown[] }[]), modelVersion: typeof d.model_version === 'string' ? d.model_version : undefined };
  if (Array.isArray(d?.predictions)) return { label: labelOf([{ data: d.predictions }]) };
  throw new HttpError(400, 'data: neither an Open Inference Protocol response (outputs[0].data) nor a v1 one (predictions)');
}

export class InferenceLogServer {
  private readonly server: http.Server;

  /** `token`: when set, loggers must send it as a bearer token (INFERENCE_LOG_TOKEN). */
  constructor(
    readonly log: InferenceLog = new InferenceLog(),
    private readonly token?: string,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.server, port, host);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://log');
      let parts: string[];
      try {
        parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        throw new HttpError(400, `path: ${url.pathname} is not percent-encoded correctly`);
      }
      if (this.token && req.method === 'POST') {
        const given = Buffer.from(header(req, 'authorization') ?? '');
        const want = Buffer.from(`Bearer ${this.token}`);
        if (given.length !== want.length || !timingSafeEqual(given, want)) throw new HttpError(401, 'the inference log needs Authorization: Bearer <INFERENCE_LOG_TOKEN>');
      }
      if (req.method === 'POST' && parts[0] === 'log' && (parts.length === 1 || parts.length === 3)) {
        const e = parseEvent(req, await readBody(req));
        if (e.type === REQUEST_TYPE) return send(res, 202, { recorded: false, reason: 'request events are not needed' });
        if (e.type !== RESPONSE_TYPE) throw new HttpError(400, `ce-type: expected ${RESPONSE_TYPE} or ${REQUEST_TYPE}, got ${e.type}`);
        const p = predictionOf(e.data);
        const model = parts[1] ?? e.inferenceservicename;
        const version = parts[2] ?? p.modelVersion;
        if (!model) throw new HttpError(400, 'ce-inferenceservicename: required when the URL does not name the model (/log/<model>/<version>)');
        if (!version) throw new HttpError(400, 'model_version: required in the response when the URL does not name the version (/log/<model>/<version>)');
        this.log.record({ model, version, requestId: requestIdOf(req, e), label: p.label });
        return send(res, 202, { recorded: true });
      }
      if (req.method === 'GET' && parts[0] === 'shadow' && parts[1]) {
        const q = (k: string) => {
          const v = url.searchParams.get(k);
          if (!v) throw new HttpError(400, `${k}: required query parameter`);
          return v;
        };
        const from = Number(q('from'));
        const to = Number(q('to'));
        if (!Number.isFinite(from) || !Number.isFinite(to)) throw new HttpError(400, 'from, to: epoch milliseconds');
        return send(res, 200, this.log.shadowWindow({ model: parts[1], champion: q('champion'), candidate: q('candidate'), from, to }));
      }
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, pending: this.log.pendingSize, dropped: this.log.dropped, series: this.log.seriesCount, refused: this.log.refused });
      throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
    } catch (err) {
      send(res, err instanceof HttpError ? err.status : 500, { error: (err as Error).message });
    }
  }
}

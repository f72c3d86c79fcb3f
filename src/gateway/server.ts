// The embedded inference gateway: speaks the Open Inference Protocol (KServe v2) in front of model
// servers, splits traffic by the route table, mirrors a sample to a shadow off the served path, and keeps
// the per-variant statistics gates are measured on.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { z } from 'zod';
import { GatewayMetrics, LabelBudget } from './metrics';
import { pickVariant, RouteSchema, RouteTable, type Route } from './routes';
import { StatsStore } from './stats';
import { describeIssues } from '../domain/issues';
import { bootstrapRoute } from '../domain/route';
import { fetchModel } from '../shared/http';
import { closeServer, header, HttpError, listenOn, parseJson, readBody, send } from '../shared/http-server';
import { labelOf } from '../shared/prediction';

export interface GatewayOptions {
  /** Bearer token the admin API requires. */
  adminToken: string;
  /** Where routes and backends persist; null keeps them in memory. */
  stateFile: string | null;
  /** Header whose value keys sticky cohorts. Default `x-user-id`. */
  userHeader?: string;
  /** Timeout of one backend call. Default 10 s. */
  backendTimeoutMs?: number;
  stats?: StatsStore;
  random?: () => number;
  /** Writes one access-log line per request, with the release and variant that served it. Default none. */
  accessLog?: Logger;
}

/** What the access log says about a request beyond method, path and status: who served it, for which release. */
interface Served {
  model: string;
  version?: string;
  release?: string;
  generation?: number;
  /** The id the gateway answered with (x-request-id), which feedback and the inference log join on. */
  requestId?: string;
}

const InferRequest = z
  .object({
    id: z.string().optional(),
    inputs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), datatype: z.string(), data: z.array(z.unknown()) })).min(1),
  })
  .passthrough();
const InferResponse = z
  .object({ outputs: z.array(z.object({ name: z.string(), data: z.array(z.unknown()) }).passthrough()).min(1) })
  .passthrough();
const Feedback = z.object({ id: z.string().min(1), success: z.boolean() });
const Backend = z.object({ url: z.url() });

export class Gateway {
  readonly routes: RouteTable;
  readonly stats: StatsStore;
  readonly metrics = new GatewayMetrics();
  private readonly labels = new LabelBudget();
  private readonly servedBy = new Map<string, { model: string; version: string }>();
  private readonly served = new WeakMap<http.ServerResponse, Served>();
  private readonly server: http.Server;

  constructor(private readonly opts: GatewayOptions) {
    this.routes = new RouteTable(opts.stateFile);
    this.stats = opts.stats ?? new StatsStore();
    const log = opts.accessLog ? this.accessLog(opts.accessLog) : null;
    this.server = http.createServer((req, res) => {
      log?.(req, res);
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 65_000;
    for (const [model, version] of this.routes.versions()) this.initSeries(model, version);
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return listenOn(this.server, port, host);
  }

  /** Stops serving, with every change on disk. */
  async close(): Promise<void> {
    await closeServer(this.server);
    await this.routes.flush();
  }

  /** The HTTP server, for observers that count requests (bench:scale counts gate measurements). */
  get httpServer(): http.Server {
    return this.server;
  }

  setBackend(model: string, version: string, url: string): void {
    this.routes.setBackend(model, version, url);
    this.initSeries(model, version);
  }

  /**
   * Puts a model behind the gateway: where each version is served, and all traffic on the champion
   * (generation 0 of a `bootstrap` route, which any release's first change supersedes).
   */
  serveModel(model: string, backends: Record<string, string>, champion: string): void {
    for (const [version, url] of Object.entries(backends)) this.setBackend(model, version, url);
    this.routes.apply(bootstrapRoute(model, champion));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const method = req.method ?? 'GET';
      if (parts[0] === 'v2') return await this.oip(req, res, method, parts.slice(1));
      if (parts[0] === 'admin') return await this.admin(req, res, method, parts.slice(1));
      if (method === 'GET' && parts[0] === 'stats' && parts.length === 3) {
        const from = Number(url.searchParams.get('from') ?? 0);
        const to = Number(url.searchParams.get('to') ?? Date.now());
        if (!Number.isFinite(from) || !Number.isFinite(to)) throw new HttpError(400, 'from and to are epoch milliseconds');
        const [, model, version] = parts as [string, string, string];
        return send(res, 200, version === '_shadow' ? this.stats.shadowWindow(model, from, to) : this.stats.window(model, version, from, to));
      }
      if (method === 'GET' && url.pathname === '/metrics') {
        const text = await this.metrics.text();
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        return void res.end(text);
      }
      throw new HttpError(404, `no route for ${method} ${url.pathname}`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      send(res, status, { error: (err as Error).message });
    }
  }

  // ------------------------------------------------------------------------------------ inference

  private async oip(req: http.IncomingMessage, res: http.ServerResponse, method: string, p: string[]): Promise<void> {
    if (method === 'GET' && p[0] === 'health' && (p[1] === 'live' || p[1] === 'ready')) return send(res, 200, { live: true, ready: true });
    if (p[0] !== 'models' || !p[1]) throw new HttpError(404, 'not an Open Inference Protocol path');
    const model = p[1];
    if (method === 'GET' && p.length === 2) {
      const route = this.routes.get(model);
      if (!route) throw new HttpError(404, `unknown model ${model}`);
      return send(res, 200, { name: model, versions: route.variants.map((v) => v.version), platform: 'model-rollout-gateway', route });
    }
    if (method === 'GET' && p[2] === 'versions' && p[3] && p[4] === 'ready') {
      // Readiness of one version: its backend must answer its own readiness probe.
      const base = this.routes.backend(model, p[3]);
      const ready = !!base && (await fetch(`${base}/v2/models/${encodeURIComponent(model)}/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false));
      return send(res, ready ? 200 : 503, { name: model, version: p[3], ready });
    }
    if (method === 'GET' && p[2] === 'ready') {
      const route = this.routes.get(model);
      const ready = !!route && route.variants.filter((v) => v.weight > 0).every((v) => this.routes.backend(model, v.version) !== null);
      return send(res, ready ? 200 : 503, { name: model, ready });
    }
    if (method === 'POST' && p[2] === 'infer') return this.infer(req, res, model);
    if (method === 'POST' && p[2] === 'feedback') {
      const fb = parse(Feedback, await readJson(req));
      const served = this.servedBy.get(fb.id);
      if (!served || served.model !== model) throw new HttpError(404, `no recent request ${fb.id} for ${model}`);
      this.stats.recordOutcome(model, served.version, fb.success);
      this.metrics.outcome(model, served.version, fb.success);
      this.served.set(res, { model, version: served.version });
      return send(res, 202, { accepted: true, version: served.version });
    }
    throw new HttpError(404, `no route for ${method} /v2/${p.join('/')}`);
  }

  private async infer(req: http.IncomingMessage, res: http.ServerResponse, model: string): Promise<void> {
    const route = this.routes.get(model);
    if (!route) throw new HttpError(404, `unknown model ${model}`);
    const raw = await readJson(req);
    const body = parse(InferRequest, raw);
    const id = body.id ?? randomUUID();
    const userKey = header(req, this.opts.userHeader ?? 'x-user-id');
    const version = pickVariant(route, userKey, this.opts.random);
    this.served.set(res, { model, version, release: route.releaseId, generation: route.generation, requestId: id });
    const started = performance.now();
    const served = this.call(model, version, { ...raw as object, id });
    // The shadow's copy leaves now, in parallel, and is never awaited by the served path.
    if (route.shadow && route.shadow.version !== version && (this.opts.random ?? Math.random)() < route.shadow.sampleRate) {
      void this.mirror(model, route.shadow.version, { ...raw as object, id }, served);
    }
    let answer: z.infer<typeof InferResponse>;
    try {
      answer = await served;
    } catch (err) {
      this.observe(model, version, performance.now() - started, false);
      // Which version failed is worth as much to a client as which one answered.
      res.writeHead(502, { 'content-type': 'application/json', 'x-model-version': version, 'x-request-id': id });
      return void res.end(JSON.stringify({ error: `${model} ${version}: ${(err as Error).message}` }));
    }
    const label = this.labels.label(model, labelOf(answer.outputs));
    this.observe(model, version, performance.now() - started, true, label);
    this.remember(id, model, version);
    res.writeHead(200, { 'content-type': 'application/json', 'x-model-version': version, 'x-request-id': id });
    res.end(JSON.stringify({ ...answer, model_name: model, model_version: version, id }));
  }

  private async mirror(model: string, version: string, body: object, served: Promise<z.infer<typeof InferResponse>>): Promise<void> {
    try {
      const [mine, theirs] = await Promise.all([this.call(model, version, body), served]);
      this.stats.recordShadowPair(model, this.labels.label(model, labelOf(theirs.outputs)), this.labels.label(model, labelOf(mine.outputs)));
      this.metrics.shadowRequest(model, version, true);
    } catch {
      this.metrics.shadowRequest(model, version, false);
    }
  }

  private async call(model: string, version: string, body: object): Promise<z.infer<typeof InferResponse>> {
    const base = this.routes.backend(model, version);
    if (!base) throw new Error('no backend registered');
    // A failed connection would otherwise count as the version's error and could breach a gate.
    const r = await fetchModel(`${base}/v2/models/${encodeURIComponent(model)}/infer`, body, this.opts.backendTimeoutMs ?? 10_000);
    if (!r.ok) throw new Error(`backend answered ${r.status}`);
    const parsed = InferResponse.safeParse(await r.json());
    if (!parsed.success) throw new Error('backend answer is not an Open Inference Protocol response');
    return parsed.data;
  }

  private remember(id: string, model: string, version: string): void {
    this.servedBy.set(id, { model, version });
    if (this.servedBy.size > 200_000) this.servedBy.delete(this.servedBy.keys().next().value as string);
  }

  // ------------------------------------------------------------------------------------ admin

  private async admin(req: http.IncomingMessage, res: http.ServerResponse, method: string, p: string[]): Promise<void> {
    const given = Buffer.from(header(req, 'authorization') ?? '');
    const want = Buffer.from(`Bearer ${this.opts.adminToken}`);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new HttpError(401, 'admin API needs Authorization: Bearer <token>');
    if (p[0] === 'routes' && p[1] && method === 'GET') {
      const route = this.routes.get(p[1]);
      if (!route) throw new HttpError(404, `no route for ${p[1]}`);
      return send(res, 200, route);
    }
    if (p[0] === 'routes' && p[1] && method === 'PUT') {
      const route: Route = parse(RouteSchema, await readJson(req));
      if (route.model !== p[1]) throw new HttpError(400, `model: body names ${route.model}, path names ${p[1]}`);
      // A version served or mirrored must have somewhere to go; a refused route changes nothing.
      route.variants.forEach((v, i) => {
        if (v.weight > 0 && !this.routes.backend(route.model, v.version)) throw new HttpError(400, `variants[${i}].version: ${route.model} ${v.version} has no backend`);
      });
      if (route.shadow && !this.routes.backend(route.model, route.shadow.version)) throw new HttpError(400, `shadow.version: ${route.model} ${route.shadow.version} has no backend`);
      const result = this.routes.apply(route);
      // Acknowledged only once on disk, so a restart never loses a split the release was told is live.
      await this.routes.flush();
      return send(res, result === 'stale' ? 409 : 200, { result, route: this.routes.get(route.model) });
    }
    if (p[0] === 'backends' && p[1] && p[2] && method === 'GET') {
      const url = this.routes.backend(p[1], p[2]);
      if (!url) throw new HttpError(404, `no backend for ${p[1]} ${p[2]}`);
      return send(res, 200, { model: p[1], version: p[2], url });
    }
    if (p[0] === 'backends' && p[1] && p[2] && method === 'PUT') {
      this.setBackend(p[1], p[2], parse(Backend, await readJson(req)).url);
      await this.routes.flush();
      return send(res, 200, { model: p[1], version: p[2] });
    }
    throw new HttpError(404, `no admin route for ${method} /admin/${p.join('/')}`);
  }

  // ------------------------------------------------------------------------------------ metrics

  private observe(model: string, version: string, ms: number, ok: boolean, label?: string): void {
    this.stats.recordRequest(model, version, { latencyMs: ms, ok, label });
    this.metrics.request(model, version, ms / 1000, ok, label);
  }

  private initSeries(model: string, version: string): void {
    this.metrics.initSeries(model, version);
  }

  /** The access log: pino-http's line per request, with the model, version, release and route generation. */
  private accessLog(logger: Logger): HttpLogger {
    return pinoHttp({
      logger,
      quietReqLogger: true,
      customProps: (_req, res) => {
        const s = this.served.get(res);
        return s ? { model: s.model, version: s.version, release: s.release, generation: s.generation, requestId: s.requestId } : {};
      },
      // The admin token never reaches the log.
      serializers: { req: (req: { method: string; url: string; id: unknown }) => ({ id: req.id, method: req.method, url: req.url }), res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }) },
      genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    });
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(req), 'request body');
}

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new HttpError(400, describeIssues(r.error, 'body'));
}

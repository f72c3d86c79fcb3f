// What the Envoy router writes and reads: xDS resources for Envoy's file-watched config sources
// (`path_config_source`), rendered from our RouteSpec, and the RouteSpec read back from Envoy's
// /config_dump. Pure functions; the adapter (src/adapters/envoy.ts) does the I/O.
//
// One route configuration holds every model. Per model, in this order:
//   - `/v2/models/<model>/versions/<version>/…` goes to that version's cluster, path rewritten to
//     `/v2/models/<model>/…`: readiness probes and the evaluator address one version through Envoy;
//   - `/v2/models/<model>` and `/v2/models/<model>/…` go to a weighted split of the served versions,
//     in the release's order (champion first), weights in basis points (total 10,000). Each cluster
//     answers with an `x-model-version` response header, for the caller to echo back with ground truth;
//   - cohort mode reads the split's random value from `x-rollout-bucket`, which the bootstrap's Lua
//     filter sets to FNV-1a of "<model>:<user>" modulo 10,000: the embedded gateway's bucket, and the
//     same ranges (the champion's [0, w₁), the candidate's above it), so a user keeps one variant, a
//     switch of router keeps the cohorts, and as the candidate's weight grows its cohort only gains users;
//   - a shadow is a request mirror policy with a runtime fraction in millionths; Envoy sends the mirror
//     with the same x-request-id and throws its answer away.
// The route carries our release tag (release, generation, mode) as filter metadata, so the read-back
// says which generation Envoy really serves.
import type { RouteSpec } from '../domain/route';

export const ROUTE_CONFIG_NAME = 'model-rollout';
export const METADATA_KEY = 'model-rollout';
export const BUCKET_HEADER = 'x-rollout-bucket';
export const VERSION_HEADER = 'x-model-version';
/** Weights in basis points: a RouteSpec's percentages to two decimals. */
export const TOTAL_WEIGHT = 10_000;
const MIRROR_DENOMINATOR = 1_000_000;

const TYPE = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  routeConfig: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;

/** A model version served behind Envoy. */
export interface Backend {
  model: string;
  version: string;
  /** http://host:port of the model server. */
  url: string;
}

/**
 * The cluster of a model version: `<model>__<version>`, with every character outside [A-Za-z0-9_-]
 * replaced by '-'. No dots: Envoy's Prometheus exporter cuts `envoy_cluster_name` at the first dot.
 * The same function names the cluster in PromQL ($cluster), so the two never disagree.
 */
export function clusterName(model: string, version: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-');
  return `${safe(model)}__${safe(version)}`;
}

export class EnvoyConfigError extends Error {
  override name = 'EnvoyConfigError';
}

/** Two versions whose cluster names collide cannot both be served: refused, naming both. */
export function checkBackends(backends: readonly Backend[]): void {
  const seen = new Map<string, Backend>();
  for (const b of backends) {
    const name = clusterName(b.model, b.version);
    const other = seen.get(name);
    if (other && (other.model !== b.model || other.version !== b.version)) {
      throw new EnvoyConfigError(`${b.model} ${b.version} and ${other.model} ${other.version} would share the Envoy cluster ${name}: rename one`);
    }
    seen.set(name, b);
  }
}

/** The clusters resource (CDS): one cluster per served version, HTTP/1.1 to its model server. */
export function renderClusters(backends: readonly Backend[], versionInfo: string): object {
  checkBackends(backends);
  return {
    version_info: versionInfo,
    resources: backends.map((b) => {
      const u = backendUrl(b);
      const port = Number(u.port || 80);
      const name = clusterName(b.model, b.version);
      const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
      const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');
      return {
        '@type': TYPE.cluster,
        name,
        type: isIp ? 'STATIC' : 'STRICT_DNS',
        connect_timeout: '1s',
        load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }] },
      };
    }),
  };
}

/**
 * A backend's URL as Envoy can reach it: plain HTTP to a host and port. TLS to the model server and a
 * path prefix are refused, naming the backend, rather than silently dropped.
 */
function backendUrl(b: Backend): URL {
  let u: URL;
  try {
    u = new URL(b.url);
  } catch {
    throw new EnvoyConfigError(`${b.model} ${b.version}: backend url ${JSON.stringify(b.url)} is not a URL`);
  }
  if (u.protocol !== 'http:') throw new EnvoyConfigError(`${b.model} ${b.version}: backend url ${b.url}: only http:// backends (TLS to the model server is not configured)`);
  if (u.pathname !== '/' && u.pathname !== '') throw new EnvoyConfigError(`${b.model} ${b.version}: backend url ${b.url}: a path prefix is not supported; give the server's root`);
  return u;
}

/** A RouteSpec's percentages as basis points; a weight finer than 0.01% is refused, naming it. */
export function basisPoints(route: RouteSpec): number[] {
  return route.variants.map((v, i) => {
    const bp = Math.round(v.weight * 100);
    if (Math.abs(bp - v.weight * 100) > 1e-6) throw new EnvoyConfigError(`variants[${i}].weight: ${v.weight} is finer than Envoy's 0.01% steps`);
    return bp;
  });
}

/** The routes of one model, most specific first. */
function modelRoutes(route: RouteSpec, backends: ReadonlyMap<string, Backend>): object[] {
  const base = `/v2/models/${encodeURIComponent(route.model)}`;
  const out: object[] = [];
  for (const b of backends.values()) {
    if (b.model !== route.model) continue;
    out.push({
      name: `${route.model}/versions/${b.version}`,
      match: { prefix: `${base}/versions/${encodeURIComponent(b.version)}/` },
      route: { cluster: clusterName(b.model, b.version), prefix_rewrite: `${base}/`, timeout: '10s' },
      response_headers_to_add: [{ header: { key: VERSION_HEADER, value: b.version }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    });
  }
  // Any other version under /versions/ is not served here: 404, not the split.
  out.push({ name: `${route.model}/versions/*`, match: { prefix: `${base}/versions/` }, direct_response: { status: 404, body: { inline_string: `no version of ${route.model} by that name behind this router` } } });
  const bps = basisPoints(route);
  // In the release's order, as the gateway assigns buckets: the champion's [0, w₁), then the candidate's.
  const order = route.variants.map((v, i) => ({ v, bp: bps[i] as number }));
  for (const { v } of order) {
    if (!backends.has(clusterName(route.model, v.version))) throw new EnvoyConfigError(`variants: ${route.model} ${v.version} has no backend registered with the Envoy router`);
  }
  if (route.shadow && !backends.has(clusterName(route.model, route.shadow.version))) {
    throw new EnvoyConfigError(`shadow.version: ${route.model} ${route.shadow.version} has no backend registered with the Envoy router`);
  }
  const action: Record<string, unknown> = {
    weighted_clusters: {
      ...(route.mode === 'cohort' ? { header_name: BUCKET_HEADER } : {}),
      clusters: order.map(({ v, bp }) => ({
        name: clusterName(route.model, v.version),
        weight: bp,
        response_headers_to_add: [{ header: { key: VERSION_HEADER, value: v.version }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      })),
    },
    timeout: '10s',
  };
  if (route.shadow) {
    const millionths = route.shadow.sampleRate * MIRROR_DENOMINATOR;
    if (Math.abs(millionths - Math.round(millionths)) > 1e-6) throw new EnvoyConfigError(`shadow.sampleRate: ${route.shadow.sampleRate} is finer than Envoy's millionths`);
    action.request_mirror_policies = [
      {
        cluster: clusterName(route.model, route.shadow.version),
        runtime_fraction: { default_value: { numerator: Math.round(route.shadow.sampleRate * MIRROR_DENOMINATOR), denominator: 'MILLION' } },
      },
    ];
  }
  const metadata = { filter_metadata: { [METADATA_KEY]: { model: route.model, releaseId: route.releaseId, generation: route.generation, mode: route.mode } } };
  out.push({ name: route.model, match: { path: base }, route: action, metadata });
  out.push({ name: `${route.model}/`, match: { prefix: `${base}/` }, route: action, metadata });
  return out;
}

/** The route configuration resource (RDS) for every model with a route. */
export function renderRoutes(routes: readonly RouteSpec[], backends: readonly Backend[], versionInfo: string): object {
  const byCluster = new Map(backends.map((b) => [clusterName(b.model, b.version), b]));
  // Longer model names first, so `/v2/models/ab/` is tried before a model named `a` could shadow it (it
  // cannot, prefixes end in '/', but the order keeps the dump readable and stable).
  const sorted = [...routes].sort((a, b) => b.model.length - a.model.length || a.model.localeCompare(b.model));
  return {
    version_info: versionInfo,
    resources: [
      {
        '@type': TYPE.routeConfig,
        name: ROUTE_CONFIG_NAME,
        // Every write differs, so Envoy takes each one and reports its version: a change that only adds a
        // cluster is confirmed too.
        metadata: { filter_metadata: { [METADATA_KEY]: { version: versionInfo } } },
        virtual_hosts: [{ name: 'models', domains: ['*'], routes: sorted.flatMap((r) => modelRoutes(r, byCluster)) }],
      },
    ],
  };
}

interface DumpedRoute {
  name?: string;
  metadata?: { filter_metadata?: Record<string, Record<string, unknown>> };
  route?: {
    weighted_clusters?: { header_name?: string; clusters?: { name: string; weight?: number }[] };
    request_mirror_policies?: { cluster: string; runtime_fraction?: { default_value?: { numerator?: number; denominator?: string } } }[];
  };
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/**
 * The RouteSpec Envoy serves for a model, from GET /config_dump?resource=dynamic_route_configs, or null
 * when Envoy has no route for it. `versionOf` maps a cluster back to its version.
 */
export function routeFromConfigDump(dump: unknown, model: string, versionOf: (cluster: string) => string | undefined): RouteSpec | null {
  const configs = (dump as { configs?: { route_config?: { name?: string; virtual_hosts?: { routes?: DumpedRoute[] }[] } }[] }).configs ?? [];
  const config = configs.find((c) => c.route_config?.name === ROUTE_CONFIG_NAME)?.route_config;
  const route = config?.virtual_hosts?.flatMap((v) => v.routes ?? []).find((r) => r.name === model);
  const tag = route?.metadata?.filter_metadata?.[METADATA_KEY];
  const split = route?.route?.weighted_clusters;
  if (!route || !tag || !split?.clusters) return null;
  const version = (cluster: string) => {
    const v = versionOf(cluster);
    if (v === undefined) throw new EnvoyConfigError(`Envoy routes ${model} to cluster ${cluster}, which the router does not know`);
    return v;
  };
  const mirror = route.route?.request_mirror_policies?.[0];
  const fraction = mirror?.runtime_fraction?.default_value;
  return {
    model,
    releaseId: String(tag.releaseId),
    generation: Number(tag.generation),
    mode: split.header_name ? 'cohort' : 'weighted',
    variants: split.clusters.map((c) => ({ version: version(c.name), weight: (c.weight ?? 0) / (TOTAL_WEIGHT / 100) })),
    shadow: mirror ? { version: version(mirror.cluster), sampleRate: (fraction?.numerator ?? 0) / (DENOMINATORS[fraction?.denominator ?? 'HUNDRED'] ?? 100) } : null,
  };
}

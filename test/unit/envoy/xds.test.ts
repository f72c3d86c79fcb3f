import fc from 'fast-check';
import { sameRoute } from '../../../src/activities';
import { renderQuery } from '../../../src/adapters/prometheus';
import type { RouteSpec } from '../../../src/domain/route';
import { basisPoints, clusterName, renderClusters, renderRoutes, routeFromConfigDump, type Backend } from '../../../src/envoy/xds';

const versions = ['v1', 'v2', '7', 'v1.2-rc'];
const backends: Backend[] = versions.map((v, i) => ({ model: 'fraud.eu', version: v, url: `http://127.0.0.1:${9000 + i}` }));

/** What Envoy's config dump shows for a route configuration it loaded from our file. */
const dumpOf = (rds: { version_info: string; resources: object[] }) => ({
  configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig', version_info: rds.version_info, route_config: rds.resources[0] }],
});

const routeArb: fc.Arbitrary<RouteSpec> = fc
  .record({
    pick: fc.shuffledSubarray(versions, { minLength: 1, maxLength: 3 }),
    cuts: fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 2, maxLength: 2 }),
    generation: fc.nat(1_000),
    mode: fc.constantFrom('weighted' as const, 'cohort' as const),
    shadow: fc.option(fc.record({ version: fc.constantFrom(...versions), sampleRate: fc.integer({ min: 1, max: 1_000_000 }).map((n) => n / 1_000_000) }), { nil: null }),
  })
  .map(({ pick, cuts, generation, mode, shadow }) => {
    const sorted = [...cuts].sort((a, b) => a - b);
    const bps = pick.length === 1 ? [10_000] : pick.length === 2 ? [sorted[0] as number, 10_000 - (sorted[0] as number)] : [sorted[0] as number, (sorted[1] as number) - (sorted[0] as number), 10_000 - (sorted[1] as number)];
    // The first variant's weight as the workflow computes a champion's, 100 minus the others, in floating point.
    const rest = bps.slice(1).map((b) => b / 100);
    const weights = [100 - rest.reduce((a, b) => a + b, 0), ...rest];
    return { model: 'fraud.eu', releaseId: 'release/fraud.eu', generation, mode, variants: pick.map((version, i) => ({ version, weight: weights[i] as number })), shadow };
  });

describe('Envoy xDS rendering', () => {
  it('given any route in 0.01% steps, then what Envoy would load reads back as the same route, and the route activity agrees', () => {
    const versionOf = new Map(backends.map((b) => [clusterName(b.model, b.version), b.version]));
    fc.assert(
      fc.property(routeArb, (route) => {
        const rds = renderRoutes([route], backends, '7') as { version_info: string; resources: object[] };
        const read = routeFromConfigDump(dumpOf(rds), route.model, (c) => versionOf.get(c));
        expect(read).toMatchObject({ model: route.model, releaseId: route.releaseId, generation: route.generation, mode: route.mode });
        expect(sameRoute(read as RouteSpec, route)).toBe(true);
      }),
    );
  });

  it('given a champion weight of 100 − 8.04 in floating point, then the read-back of 91.96 verifies', () => {
    const asked: RouteSpec = { model: 'm', releaseId: 'r', generation: 1, mode: 'weighted', variants: [{ version: 'v1', weight: 100 - 8.04 }, { version: 'v2', weight: 8.04 }], shadow: { version: 'v2', sampleRate: 0.1 + 0.2 } };
    expect(asked.variants[0]?.weight).not.toBe(91.96);
    expect(sameRoute({ ...asked, variants: [{ version: 'v1', weight: 91.96 }, { version: 'v2', weight: 8.04 }], shadow: { version: 'v2', sampleRate: 0.3 } }, asked)).toBe(true);
    expect(sameRoute({ ...asked, variants: [{ version: 'v1', weight: 91.95 }, { version: 'v2', weight: 8.05 }] }, asked)).toBe(false);
  });

  it('names clusters without dots, so Envoy’s Prometheus exporter keeps the whole name', () => {
    expect(clusterName('fraud.eu', 'v1.2-rc')).toBe('fraud-eu__v1-2-rc');
    // The PromQL variable names the same cluster.
    expect(renderQuery('x{envoy_cluster_name="$cluster"}[$window]', { model: 'fraud.eu', version: 'v1.2-rc', windowSeconds: 60 })).toBe('x{envoy_cluster_name="fraud-eu__v1-2-rc"}[60s]');
    const cds = renderClusters(backends, '1') as { resources: { name: string; type: string }[] };
    expect(cds.resources.map((r) => r.name)).toEqual(versions.map((v) => clusterName('fraud.eu', v)));
    expect(cds.resources[0]?.type).toBe('STATIC');
    expect((renderClusters([{ model: 'm', version: 'v', url: 'http://model-a.svc:8080' }], '1') as { resources: { type: string }[] }).resources[0]?.type).toBe('STRICT_DNS');
  });

  it('refuses what Envoy cannot serve exactly, naming the field: weights finer than 0.01%, colliding cluster names, versions without a backend', () => {
    const r: RouteSpec = { model: 'fraud.eu', releaseId: 'r', generation: 1, mode: 'weighted', variants: [{ version: 'v1', weight: 99.995 }, { version: 'v2', weight: 0.005 }], shadow: null };
    expect(() => basisPoints(r)).toThrow(/variants\[0\]\.weight: 99\.995 is finer than Envoy's 0\.01% steps/);
    expect(() => renderClusters([...backends, { model: 'fraud-eu', version: 'v1', url: 'http://127.0.0.1:1' }], '1')).toThrow(/would share the Envoy cluster fraud-eu__v1/);
    expect(() => renderRoutes([{ ...r, variants: [{ version: 'v9', weight: 100 }] }], backends, '1')).toThrow(/variants: fraud\.eu v9 has no backend/);
    expect(() => renderRoutes([{ ...r, variants: [{ version: 'v1', weight: 100 }], shadow: { version: 'v2', sampleRate: 1 / 3 } }], backends, '1')).toThrow(/shadow\.sampleRate/);
  });

  it('orders the split as the gateway assigns buckets: the champion’s range first, then the candidate’s', () => {
    const rds = renderRoutes([{ model: 'fraud.eu', releaseId: 'r', generation: 1, mode: 'cohort', variants: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }], shadow: null }], backends, '1') as {
      resources: { virtual_hosts: { routes: { name: string; route?: { weighted_clusters?: { header_name?: string; clusters: { name: string; weight: number }[] } } }[] }[] }[];
    };
    const main = rds.resources[0]?.virtual_hosts[0]?.routes.find((x) => x.name === 'fraud.eu');
    expect(main?.route?.weighted_clusters).toMatchObject({ header_name: 'x-rollout-bucket', clusters: [{ name: 'fraud-eu__v1', weight: 8000 }, { name: 'fraud-eu__v2', weight: 2000 }] });
  });

  it('refuses backends Envoy would reach differently than written: TLS, a path prefix', () => {
    expect(() => renderClusters([{ model: 'm', version: 'v', url: 'https://model:8443' }], '1')).toThrow(/only http:\/\/ backends/);
    expect(() => renderClusters([{ model: 'm', version: 'v', url: 'http://model:8080/serving' }], '1')).toThrow(/a path prefix is not supported/);
    const v6 = renderClusters([{ model: 'm', version: 'v', url: 'http://[::1]:9001' }], '1') as { resources: { type: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] } }[] };
    expect(v6.resources[0]?.type).toBe('STATIC');
    expect(v6.resources[0]?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.address).toBe('::1');
  });
});

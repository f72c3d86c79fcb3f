// The Envoy bootstrap the project generates: an admin listener, one inference listener whose routes come
// from a watched file (RDS), clusters from another (CDS), and a Lua filter that turns the user header into
// the bucket cohort routing reads. Envoy reloads a file when it is moved into the watched directory, so
// the router writes each change atomically (write, then rename) and no restart is needed; after a
// restart, Envoy reads the same files, so the state in force survives it.
import path from 'node:path';
import { BUCKET_HEADER, TOTAL_WEIGHT } from './xds';

export interface BootstrapOptions {
  /** Where cds.json and rds.json live; watched by Envoy. */
  configDir: string;
  adminPort: number;
  listenerPort: number;
  /** The inference listener's address. Default 127.0.0.1. */
  host?: string;
  /**
   * The admin API's address. Default 127.0.0.1. Envoy's admin has no authentication and can stop Envoy
   * (/quitquitquit) or rewrite its runtime: keep it on loopback or a private network.
   */
  adminHost?: string;
  /** The header that keys sticky cohorts. Default x-user-id. */
  userHeader?: string;
}

export const CDS_FILE = 'cds.json';
export const RDS_FILE = 'rds.json';

/**
 * The cohort bucket: FNV-1a (32 bit) of "<model>:<user>" modulo the total weight, exactly as the
 * embedded gateway computes it (src/gateway/routes.ts bucketOf; the same for ASCII names), so a switch of
 * router keeps every user's cohort. The multiply by the FNV prime 16777619 = 2^24 + 403 is split in two so
 * it stays exact in LuaJIT's doubles. The model comes from the path (/v2/models/<model>/…, percent-decoded).
 * A request without the user header gets no bucket, so Envoy draws one at random; a client-supplied
 * bucket is always replaced or removed, so a client cannot pick its own variant.
 */
export function cohortLua(userHeader: string): string {
  if (!/^[a-z0-9-]+$/i.test(userHeader)) throw new Error(`user header ${JSON.stringify(userHeader)}: letters, digits and '-' only`);
  return `local bit = require("bit")
local function decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
function envoy_on_request(handle)
  local headers = handle:headers()
  local user = headers:get("${userHeader}")
  local model = string.match(headers:get(":path") or "", "^/v2/models/([^/?]+)")
  if user == nil or user == "" or model == nil then
    headers:remove("${BUCKET_HEADER}")
    return
  end
  local key = decode(model) .. ":" .. user
  local hash = bit.tobit(2166136261)
  for i = 1, #key do
    hash = bit.bxor(hash, key:byte(i))
    hash = bit.tobit(bit.lshift(hash, 24) + hash * 403)
  end
  if hash < 0 then hash = hash + 4294967296 end
  headers:replace("${BUCKET_HEADER}", string.format("%d", hash % ${TOTAL_WEIGHT}))
end
`;
}

export function renderBootstrap(o: BootstrapOptions): object {
  const host = o.host ?? '127.0.0.1';
  const dir = path.resolve(o.configDir);
  const source = (file: string) => ({ path_config_source: { path: path.join(dir, file), watched_directory: { path: dir } }, resource_api_version: 'V3' });
  return {
    node: { id: 'model-rollout', cluster: 'model-rollout' },
    // Histograms reach /stats/prometheus at each flush (default 5 s): every second, so a gate's window of a
    // few seconds holds several scrapes that differ.
    stats_flush_interval: '1s',
    admin: { address: { socket_address: { address: o.adminHost ?? '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: { cds_config: source(CDS_FILE) },
    static_resources: {
      listeners: [
        {
          name: 'inference',
          address: { socket_address: { address: host, port_value: o.listenerPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'inference',
                    // Envoy makes an x-request-id when the caller sent none; the mirror carries the same one.
                    generate_request_id: true,
                    // … and the caller gets it back, to join its ground truth and the inference log on.
                    always_set_request_id_in_response: true,
                    rds: { route_config_name: 'model-rollout', config_source: source(RDS_FILE) },
                    http_filters: [
                      { name: 'envoy.filters.http.lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: cohortLua(o.userHeader ?? 'x-user-id') } } },
                      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

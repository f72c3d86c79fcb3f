// Benchmark: what the gateway and Envoy add in front of a model server, against calling the model server
// directly and against an nginx reverse proxy (Debian's), in the same run on the same machine.
//
// Every piece is its own process: the model server (the demo's real penguin classifier over the Open
// Inference Protocol), the gateway (`src/gateway/main.ts`, routing 100% to it with metrics and stats),
// nginx (one worker, upstream keep-alive), Envoy (the Envoy router's bootstrap, one worker thread), and
// this load generator. Three measurements per target:
//   - latency at fixed rates, open loop: requests leave on a schedule whatever the answers do, and each
//     latency counts from its scheduled time (no coordinated omission): p50, p99, achieved rate;
//   - throughput, closed loop, with wrk (Debian's) when installed: requests per second at 32 connections;
//   - for the two routers, the time from a weight change being asked to the traffic following it: the
//     route flips between two versions, and a client calling back to back notes the first answer from
//     the new one (x-model-version), 20 times.
//
//   npm run bench:gateway [-- --rates 250,500,1000 --seconds 8]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { EnvoyRouter } from '../src/adapters/envoy';
import { startEnvoy, type EnvoyProcess } from '../src/envoy/process';
import { freePort, waitHttp } from './bench-util';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : dflt;
};

const MODEL = 'penguin-species';
const BODY = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [39.1, 18.7, 181, 3750] }] });
const ROOT = path.resolve(__dirname, '..');
const NODE = [process.execPath, '-r', '@swc-node/register'];

async function modelServerRole(port: number, version: string): Promise<void> {
  const { loadPenguins, split } = await import('../support/demo/penguins');
  const { train } = await import('../support/demo/softmax');
  const { serveModel } = await import('../support/demo/model-server');
  const model = train(split(loadPenguins()).train, { features: [0, 1, 2, 3], missing: 'impute-mean' });
  await serveModel(MODEL, version, model, port);
}

function start(cmd: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd[0] as string, cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

interface Result {
  rate: number;
  achieved: number;
  p50: number;
  p99: number;
  errors: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('error', () => resolve(false));
    req.end(BODY);
  });
}

/** The version that answers a request now (the routers' x-model-version header). */
function versionOf(url: URL): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
      res.resume();
      res.on('end', () => resolve((res.headers['x-model-version'] as string | undefined) ?? null));
    });
    req.on('error', () => resolve(null));
    req.end(BODY);
  });
}

/** Open loop at a fixed rate: each request's latency counts from when it was due. */
async function fixedRate(url: URL, rate: number, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Late requests count from when they were due (no coordinated omission), early ones from when they left.
    const from = Math.min(due, performance.now());
    pending.push(
      post(url).then((ok) => {
        latencies.push(performance.now() - from);
        if (!ok) errors += 1;
      }),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] as number;
  return { rate, achieved: total / elapsed, p50: q(0.5), p99: q(0.99), errors };
}

function wrk(url: URL, seconds: number): Promise<number | null> {
  const bin = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => fs.existsSync(p));
  if (!bin) return Promise.resolve(null);
  const script = path.join(os.tmpdir(), 'bench-gateway-post.lua');
  fs.writeFileSync(script, `wrk.method = "POST"\nwrk.body = '${BODY}'\nwrk.headers["content-type"] = "application/json"\n`);
  return new Promise((resolve) => {
    const child = spawn(bin, ['-t1', '-c32', `-d${seconds}s`, '-s', script, url.toString()], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
      resolve(m && !non2xx ? Number(m[1]) : null);
    });
  });
}

function nginx(upstreamPort: number, port: number): { child: ChildProcess | null; dir: string } {
  const bin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nginx-'));
  if (!bin) return { child: null, dir };
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream model { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://model; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
  );
  return { child: spawn(bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'inherit'] }), dir };
}

async function main(): Promise<void> {
  const role = arg('role', '');
  if (role === 'model') return modelServerRole(Number(arg('port', '0')), arg('version', 'v1'));

  const rates = arg('rates', '250,500,1000').split(',').map(Number);
  const seconds = Number(arg('seconds', '8'));
  const [modelPort, model2Port, gatewayPort, nginxPort, envoyPort, envoyAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  let envoy: EnvoyProcess | null = null;
  const token = 'bench-admin-token-0123456789';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gateway-'));
  const children: ChildProcess[] = [];
  try {
    children.push(start([...NODE, __filename, '--role', 'model', '--port', String(modelPort)]));
    children.push(start([...NODE, __filename, '--role', 'model', '--port', String(model2Port), '--version', 'v2']));
    children.push(start([...NODE, 'src/gateway/main.ts'], { GATEWAY_PORT: String(gatewayPort), GATEWAY_ADMIN_TOKEN: token, MODEL_ROLLOUT_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }));
    const ng = nginx(modelPort, nginxPort);
    if (ng.child) children.push(ng.child);
    await waitHttp(`http://127.0.0.1:${modelPort}/v2/health/ready`);
    await waitHttp(`http://127.0.0.1:${gatewayPort}/v2/health/ready`);
    const admin = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await waitHttp(`http://127.0.0.1:${model2Port}/v2/health/ready`);
    await fetch(`http://127.0.0.1:${gatewayPort}/admin/backends/${MODEL}/v1`, { method: 'PUT', headers: admin, body: JSON.stringify({ url: `http://127.0.0.1:${modelPort}` }) });
    await fetch(`http://127.0.0.1:${gatewayPort}/admin/backends/${MODEL}/v2`, { method: 'PUT', headers: admin, body: JSON.stringify({ url: `http://127.0.0.1:${model2Port}` }) });
    envoy = await startEnvoy({ configDir: path.join(dataDir, 'envoy'), adminPort: envoyAdminPort, listenerPort: envoyPort });
    const envoyRouter = new EnvoyRouter({ adminUrl: envoy.adminUrl, listenerUrl: envoy.listenerUrl, configDir: path.join(dataDir, 'envoy') });
    await envoyRouter.serveModel(MODEL, { v1: `http://127.0.0.1:${modelPort}`, v2: `http://127.0.0.1:${model2Port}` }, 'v1');
    const r = await fetch(`http://127.0.0.1:${gatewayPort}/admin/routes/${MODEL}`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ model: MODEL, releaseId: 'bench', generation: 1, mode: 'weighted', variants: [{ version: 'v1', weight: 100 }], shadow: null }),
    });
    if (!r.ok) throw new Error(`gateway refused the route: ${r.status} ${await r.text()}`);

    const targets: [string, URL][] = [
      ['direct', new URL(`http://127.0.0.1:${modelPort}/v2/models/${MODEL}/infer`)],
      ['gateway', new URL(`http://127.0.0.1:${gatewayPort}/v2/models/${MODEL}/infer`)],
      ['envoy', new URL(`http://127.0.0.1:${envoyPort}/v2/models/${MODEL}/infer`)],
    ];
    if (ng.child) {
      await waitHttp(`http://127.0.0.1:${nginxPort}/v2/health/ready`);
      targets.push(['nginx', new URL(`http://127.0.0.1:${nginxPort}/v2/models/${MODEL}/infer`)]);
    } else {
      process.stderr.write('nginx not installed (apt-get install nginx-light): skipping it\n');
    }

    console.log(`model-server → ${os.cpus().length} cores, ${seconds}s per rate; latency from each request's scheduled time (open loop)`);
    console.log('target   rate/s  achieved  p50 ms  p99 ms  errors');
    const byTarget = new Map<string, Result[]>();
    for (const rate of rates) {
      for (const [name, url] of targets) {
        await fixedRate(url, Math.min(rate, 200), 1); // warm the connections and the JIT
        const res = await fixedRate(url, rate, seconds);
        byTarget.set(name, [...(byTarget.get(name) ?? []), res]);
        console.log(`${name.padEnd(8)} ${String(rate).padStart(6)}  ${res.achieved.toFixed(0).padStart(8)}  ${res.p50.toFixed(2).padStart(6)}  ${res.p99.toFixed(2).padStart(6)}  ${res.errors}`);
      }
    }
    console.log('\noverhead over direct (p50 ms added / p99 ms added)');
    rates.forEach((rate, i) => {
      const d = byTarget.get('direct')?.[i] as Result;
      const parts = targets.filter(([n]) => n !== 'direct').map(([n]) => {
        const t = byTarget.get(n)?.[i] as Result;
        const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
        return `${n} ${signed(t.p50 - d.p50)} / ${signed(t.p99 - d.p99)}`;
      });
      console.log(`  ${String(rate).padStart(5)}/s  ${parts.join('   ')}`);
    });
    console.log('\nthroughput, closed loop (wrk -t1 -c32)');
    const tput: Record<string, number | null> = {};
    for (const [name, url] of targets) {
      tput[name] = await wrk(url, seconds);
      console.log(`  ${name.padEnd(8)} ${tput[name] === null ? 'wrk not installed or errors' : `${tput[name]?.toFixed(0)} req/s`}`);
    }
    if (tput.direct && tput.gateway) console.log(`  gateway / direct = ${(tput.gateway / tput.direct).toFixed(2)}${tput.nginx ? `; gateway / nginx = ${(tput.gateway / tput.nginx).toFixed(2)}` : ''}`);
    if (tput.direct && tput.envoy) console.log(`  envoy / direct = ${(tput.envoy / tput.direct).toFixed(2)}${tput.gateway ? `; envoy / gateway = ${(tput.envoy / tput.gateway).toFixed(2)}` : ''}`);

    console.log('\nweight change asked → traffic follows (ms, 20 flips between v1 and v2 at 100%)');
    const flips = 20;
    const measure = async (name: string, url: URL, apply: (version: string, generation: number) => Promise<void>) => {
      const ms: number[] = [];
      for (let g = 0; g < flips; g++) {
        const version = g % 2 === 0 ? 'v2' : 'v1';
        const t0 = performance.now();
        const applied = apply(version, 100 + g);
        for (;;) {
          if ((await versionOf(url)) === version) break;
          if (performance.now() - t0 > 10_000) throw new Error(`${name}: traffic never followed the change to ${version}`);
        }
        ms.push(performance.now() - t0);
        await applied;
      }
      ms.sort((a, b) => a - b);
      const q = (p: number) => (ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)] as number).toFixed(1);
      console.log(`  ${name.padEnd(8)} p50 ${q(0.5)}  p90 ${q(0.9)}  max ${q(1)}`);
    };
    const spec = (version: string, generation: number) => ({ model: MODEL, releaseId: 'bench-flip', generation, mode: 'weighted' as const, variants: [{ version, weight: 100 }], shadow: null });
    await measure('gateway', new URL(`http://127.0.0.1:${gatewayPort}/v2/models/${MODEL}/infer`), async (v, g) => {
      await fetch(`http://127.0.0.1:${gatewayPort}/admin/routes/${MODEL}`, { method: 'PUT', headers: admin, body: JSON.stringify(spec(v, g)) });
    });
    await measure('envoy', new URL(`http://127.0.0.1:${envoyPort}/v2/models/${MODEL}/infer`), (v, g) => envoyRouter.apply(spec(v, g)));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await envoy?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    agent.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

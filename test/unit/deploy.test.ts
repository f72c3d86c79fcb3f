import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/constants';
import { IMAGE_JEMALLOC, WORKER_MALLOC_ARENA_MAX } from '../../support/prod-stack';

const root = path.resolve(__dirname, '../..');

describe('docker-compose.yml', () => {
  it('is valid for a real compose parser (Debian docker-compose; .ci/run installs it)', () => {
    const which = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' });
    if (which.status !== 0) throw new Error('docker-compose is not installed: apt-get install docker-compose (.ci/run does)');
    const out = execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: root, encoding: 'utf8' });
    const resolved = YAML.parse(out);
    expect(Object.keys(resolved.services).sort()).toEqual(['postgresql', 'temporal', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker', 'worker-current-version']);
    expect(resolved.services.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(resolved.services.temporal.depends_on['temporal-schema'].condition).toBe('service_completed_successfully');
    expect(resolved.services.worker.depends_on['temporal-setup'].condition).toBe('service_completed_successfully');
    expect(resolved.services.worker.environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(resolved.services.worker.build.dockerfile).toBe('Dockerfile');
    // Worker Versioning: the worker is a build of a deployment, made current by a one-shot service.
    expect(resolved.services.worker.environment).toMatchObject({ TEMPORAL_WORKER_DEPLOYMENT: 'model-rollout', TEMPORAL_WORKER_BUILD_ID: 'dev' });
    const current = resolved.services['worker-current-version'];
    expect(current.environment).toMatchObject({ DEPLOYMENT: 'model-rollout', BUILD_ID: 'dev', TEMPORAL_ADDRESS: 'temporal:7233' });
    expect(current.depends_on.worker.condition).toBe('service_started');
    expect(current.command).toBe('/scripts/set-current-version.sh');
  });

  it('registers exactly the search attributes the workflow upserts', () => {
    const script = fs.readFileSync(path.join(root, 'deploy/temporal/setup-namespace.sh'), 'utf8');
    const registered = [...script.matchAll(/(Rollout\w+):(Keyword|Int)/g)].map((m) => `${m[1]}:${m[2]?.toUpperCase()}`);
    expect(registered.sort()).toEqual(ALL_SEARCH_ATTRIBUTES.map((k) => `${k.name}:${k.type}`).sort());
  });

  it('mounts only scripts and config that exist in the repository', () => {
    for (const p of ['deploy/temporal/setup-postgres.sh', 'deploy/temporal/setup-namespace.sh', 'deploy/temporal/set-current-version.sh', 'deploy/dynamicconfig/development-sql.yaml', 'Dockerfile']) {
      expect(fs.existsSync(path.join(root, p))).toBe(true);
    }
  });
});

describe('Dockerfile', () => {
  it('copies only what exists, and builds what the worker loads: the compiled code and the prebuilt workflow bundle', () => {
    const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(/\s+/));
    expect(sources.length).toBeGreaterThan(3);
    for (const s of sources) expect({ s, exists: fs.existsSync(path.join(root, s)) }).toEqual({ s, exists: true });
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(text).toMatch(/RUN npm run build/);
    expect(pkg.scripts.build).toMatch(/scripts\/bundle-workflows\.ts dist\/workflow-bundle\.js/);
    expect(text).toMatch(/COPY scripts\/bundle-workflows\.ts/);
  });
});

describe('the process stack (npm run prod-stack) and docker-compose.yml', () => {
  const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
  const text = fs.readFileSync(path.join(root, 'support/prod-stack.ts'), 'utf8');
  const prodScript = fs.readFileSync(path.join(root, 'scripts/temporal-prod.sh'), 'utf8');

  it('run the same versions: the Temporal server, its SQL tool, and PostgreSQL', () => {
    const serverImage = compose.services.temporal.image as string;
    const toolsImage = compose.services['temporal-schema'].image as string;
    const built = /TEMPORAL_SERVER_VERSION:-([\d.]+)/.exec(prodScript)?.[1];
    expect(serverImage).toBe(`temporalio/server:\${TEMPORAL_VERSION:-${built}}`);
    expect(toolsImage).toBe(`temporalio/admin-tools:\${TEMPORAL_ADMINTOOLS_VERSION:-${built}}`);
    // PostgreSQL 15: Debian 12's, which the process stack runs (scripts/backends.sh installs it).
    expect(compose.services.postgresql.image).toBe('postgres:${POSTGRESQL_VERSION:-15}');
    expect(fs.readdirSync('/usr/lib/postgresql').sort().at(-1)).toBe('15');
  });

  it('configure Temporal from the same variables, and set it up with the same scripts', () => {
    const composeEnv = { ...compose['x-temporal-db'], ...compose.services.temporal.environment } as Record<string, string>;
    const keys = /export interface ComposeEnv \{([^}]*)\}/.exec(text)?.[1]?.match(/^\s+([A-Z_]+):/gm)?.map((k) => k.trim().replace(':', '')) ?? [];
    expect(keys.sort()).toEqual(Object.keys(composeEnv).filter((k) => k !== '<<').sort());
    for (const script of ['deploy/temporal/setup-postgres.sh', 'deploy/temporal/setup-namespace.sh', 'deploy/temporal/set-current-version.sh']) {
      expect(text).toContain(script);
      expect(JSON.stringify(compose.services)).toContain(`/scripts/${path.basename(script)}`);
    }
    expect(text).toContain('deploy/dynamicconfig/development-sql.yaml');
    expect(composeEnv.DYNAMIC_CONFIG_FILE_PATH).toBe('config/dynamicconfig/development-sql.yaml');
    expect(compose.services.worker.environment.TEMPORAL_TASK_QUEUE).toBe('model-rollout');
    // The same worker deployment, and the same default build ID.
    expect(text).toContain(`WORKER_DEPLOYMENT = '${compose.services.worker.environment.TEMPORAL_WORKER_DEPLOYMENT}'`);
    expect(compose.services.worker.environment.TEMPORAL_WORKER_BUILD_ID).toBe('${BUILD_ID:-dev}');
    expect(text).toMatch(/o\.buildId \?\? 'dev'/);
    // The same malloc arenas as the image, which the environment overrides in both.
    expect(text).toMatch(/^\s+MALLOC_ARENA_MAX: process\.env\.MALLOC_ARENA_MAX \?\? WORKER_MALLOC_ARENA_MAX,$/m);
    expect(compose.services.worker.environment.MALLOC_ARENA_MAX).toBe(`\${MALLOC_ARENA_MAX:-${WORKER_MALLOC_ARENA_MAX}}`);
    const image = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8').split(/^FROM /m).at(-1) ?? '';
    const env = image.split('\n').filter((l) => /^ENV MALLOC_ARENA_MAX=/.test(l));
    expect(env).toEqual([`ENV MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}`]);
    // jemalloc under the worker: the image installs and preloads it, and the process stack preloads this
    // machine's (findJemalloc) beside whatever the environment preloads.
    expect(image).toMatch(/apt-get install -y --no-install-recommends libjemalloc2\b/);
    expect(image).toContain(`ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\\.so\\.2$')" ${IMAGE_JEMALLOC}`);
    expect(image.split('\n').filter((l) => /^ENV LD_PRELOAD=/.test(l))).toEqual([`ENV LD_PRELOAD=${IMAGE_JEMALLOC}`]);
    expect(image.indexOf('ENV LD_PRELOAD=')).toBeGreaterThan(image.indexOf('ln -s'));
    // Compose leaves it to the image: a host's own LD_PRELOAD must not replace it in the container.
    expect(compose.services.worker.environment.LD_PRELOAD).toBeUndefined();
    expect(text).toMatch(/const jemalloc = findJemalloc\(\);/);
    expect(text).toMatch(/^\s+\.\.\.\(preload \? \{ LD_PRELOAD: preload \} : \{\}\),$/m);
  });
});

import { ConfigError, loadCliConfig, loadConfig } from '../../src/config';

describe('worker configuration', () => {
  it('uses the embedded defaults', () => {
    const c = loadConfig({});
    expect(c.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'model-rollout', tls: false });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('refuses a bad value, naming the variable', () => {
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'nohost', LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'nohost' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
  it('turns TLS on with an API key', () => {
    expect(loadConfig({ TEMPORAL_API_KEY: 'k' }).temporal.tls).toBe(true);
  });
  it('reads the gateway and webhooks, naming a bad one', () => {
    const c = loadConfig({ NOTIFY_WEBHOOKS: 'https://hooks.example/a, https://hooks.example/b' });
    expect(c.notifyWebhooks).toEqual(['https://hooks.example/a', 'https://hooks.example/b']);
    expect(c.gateway.url).toBe('http://127.0.0.1:8100');
    expect(() => loadConfig({ NOTIFY_WEBHOOKS: 'not a url' })).toThrow(/NOTIFY_WEBHOOKS\[0\]: Invalid URL/);
    expect(() => loadConfig({ GATEWAY_URL: 'nope' })).toThrow(/GATEWAY_URL/);
  });
  it('chooses Prometheus and MLflow only when their URLs are set, naming a bad one', () => {
    expect(loadConfig({})).toMatchObject({ prometheus: null, mlflow: null });
    const c = loadConfig({ PROMETHEUS_URL: 'http://prom:9090', MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_TRACKING_TOKEN: 't' });
    expect(c.prometheus).toEqual({ url: 'http://prom:9090', token: undefined, queriesFile: undefined, preset: 'gateway' });
    expect(c.mlflow).toMatchObject({ url: 'http://mlflow:5000', token: 't' });
    expect(() => loadConfig({ PROMETHEUS_URL: 'prom:9090' })).toThrow(/PROMETHEUS_URL/);
    expect(() => loadConfig({ MLFLOW_TRACKING_URI: 'mlflow' })).toThrow(/MLFLOW_TRACKING_URI/);
  });
});

describe('Worker Versioning', () => {
  it('given a deployment and a build ID, then the worker is versioned; given either alone, then it names the one missing', () => {
    expect(loadConfig({}).deployment).toBeNull();
    expect(loadConfig({ TEMPORAL_WORKER_DEPLOYMENT: 'model-rollout', TEMPORAL_WORKER_BUILD_ID: 'abc123' }).deployment).toEqual({ deploymentName: 'model-rollout', buildId: 'abc123' });
    expect(() => loadConfig({ TEMPORAL_WORKER_DEPLOYMENT: 'model-rollout' })).toThrow(/TEMPORAL_WORKER_BUILD_ID: required with TEMPORAL_WORKER_DEPLOYMENT/);
    expect(() => loadConfig({ TEMPORAL_WORKER_BUILD_ID: 'abc123' })).toThrow(/TEMPORAL_WORKER_DEPLOYMENT: required with TEMPORAL_WORKER_BUILD_ID/);
  });
  it('loads a named bundle instead of the default one', () => {
    expect(loadConfig({ WORKFLOW_BUNDLE: '/b/workflow-bundle.js' }).workflowBundle).toBe('/b/workflow-bundle.js');
    expect(loadConfig({}).workflowBundle).toBeUndefined();
  });
  it('sets how the worker polls: autoscaling, or at most N, naming the variable when it is neither', () => {
    expect(loadConfig({}).tuning).toEqual({ maxConcurrentActivityTaskExecutions: 5_000 });
    expect(loadConfig({ TEMPORAL_WORKFLOW_TASK_POLLERS: 'autoscaling', TEMPORAL_ACTIVITY_TASK_POLLERS: '20' }).tuning).toMatchObject({
      workflowTaskPollerBehavior: { type: 'autoscaling' },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 20 },
    });
    expect(() => loadConfig({ TEMPORAL_WORKFLOW_TASK_POLLERS: 'lots' })).toThrow(/TEMPORAL_WORKFLOW_TASK_POLLERS: expected autoscaling or a number of pollers from 2 to 1000/);
    expect(() => loadConfig({ TEMPORAL_ACTIVITY_TASK_POLLERS: '1' })).toThrow(/TEMPORAL_ACTIVITY_TASK_POLLERS/);
  });
  it('sets how far the heaps grow between full collections, naming the variable when it is not a percentage from 5 to 400', () => {
    expect(loadConfig({}).heapGrowingPercent).toBeUndefined();
    expect(loadConfig({ WORKER_HEAP_GROWING_PERCENT: '20' }).heapGrowingPercent).toBe(20);
    for (const bad of ['0', '401', '12.5', 'small']) expect(() => loadConfig({ WORKER_HEAP_GROWING_PERCENT: bad })).toThrow(/WORKER_HEAP_GROWING_PERCENT: expected a (whole )?percentage/);
  });
  it('keeps the SDK stack traces unless WORKER_STACK_TRACES=off, naming the variable for anything else', () => {
    expect(loadConfig({}).stackTraces).toBe(true);
    expect(loadConfig({ WORKER_STACK_TRACES: 'on' }).stackTraces).toBe(true);
    expect(loadConfig({ WORKER_STACK_TRACES: 'off' }).stackTraces).toBe(false);
    for (const bad of ['false', 'OFF', '0', '']) expect(() => loadConfig({ WORKER_STACK_TRACES: bad })).toThrow(/WORKER_STACK_TRACES: expected on or off/);
  });
});

describe('router choice', () => {
  it('given ROUTER=envoy, then it needs Prometheus, and reads Envoy’s admin, listener, config directory and the inference log', () => {
    expect(() => loadConfig({ ROUTER: 'envoy' })).toThrow(/PROMETHEUS_URL: required with ROUTER=envoy/);
    const c = loadConfig({ ROUTER: 'envoy', PROMETHEUS_URL: 'http://prom:9090', MODEL_ROLLOUT_DATA_DIR: '/d' });
    expect(c.envoy).toEqual({ adminUrl: 'http://127.0.0.1:9901', listenerUrl: 'http://127.0.0.1:10000', configDir: '/d/envoy', inferenceLogUrl: 'http://127.0.0.1:8200' });
    expect(c.prometheus?.preset).toBe('envoy');
    expect(loadConfig({}).envoy).toBeNull();
    expect(() => loadConfig({ ROUTER: 'nginx' })).toThrow(/ROUTER/);
  });
});

describe('CLI configuration', () => {
  it('reads the same Temporal variables as the worker, with its own UI link and actor', () => {
    const env = { TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'ml', TEMPORAL_TASK_QUEUE: 'q', TEMPORAL_API_KEY: 'k', TEMPORAL_UI_URL: 'https://ui.example/', ROLLOUT_ACTOR: 'alice' };
    const c = loadCliConfig(env);
    expect(c.temporal).toEqual(loadConfig(env).temporal);
    expect(c).toMatchObject({ uiUrl: 'https://ui.example', actor: 'alice', debug: false });
    expect(c.temporal.tls).toBe(true);
  });
  it('lets a flag win over its variable, and counts an empty variable as unset', () => {
    const c = loadCliConfig({ TEMPORAL_ADDRESS: 'a:1', TEMPORAL_NAMESPACE: '', ROLLOUT_ACTOR: '' }, { TEMPORAL_ADDRESS: 'b:2', ROLLOUT_ACTOR: 'bob' });
    expect(c.temporal).toMatchObject({ address: 'b:2', namespace: 'default' });
    expect(c.actor).toBe('bob');
    expect(loadCliConfig({ ROLLOUT_ACTOR: 'env' }, { ROLLOUT_ACTOR: undefined }).actor).toBe('env');
  });
  it('refuses a bad address or link, naming the variable', () => {
    expect(() => loadCliConfig({}, { TEMPORAL_ADDRESS: 'no port' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
    expect(() => loadCliConfig({ TEMPORAL_UI_URL: 'ftp://x' })).toThrow(/TEMPORAL_UI_URL/);
  });
});

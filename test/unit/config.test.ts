import { ConfigError, loadConfig } from '../../src/config';

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
    expect(c.prometheus).toEqual({ url: 'http://prom:9090', token: undefined, queriesFile: undefined });
    expect(c.mlflow).toMatchObject({ url: 'http://mlflow:5000', token: 't' });
    expect(() => loadConfig({ PROMETHEUS_URL: 'prom:9090' })).toThrow(/PROMETHEUS_URL/);
    expect(() => loadConfig({ MLFLOW_TRACKING_URI: 'mlflow' })).toThrow(/MLFLOW_TRACKING_URI/);
  });
});

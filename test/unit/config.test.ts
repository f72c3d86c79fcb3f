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
    expect(() => loadConfig({ NOTIFY_WEBHOOKS: 'not a url' })).toThrow(/NOTIFY_WEBHOOKS\.0/);
    expect(() => loadConfig({ GATEWAY_URL: 'nope' })).toThrow(/GATEWAY_URL/);
  });
});

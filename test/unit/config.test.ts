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
});

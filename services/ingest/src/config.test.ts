import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  const base = { INGEST_API_KEYS: 'a, b', GOOGLE_CLOUD_PROJECT: 'p', PII_HASH_SECRET: 'test-secret-0123456789' };

  it('parses defaults and lists', () => {
    expect(loadConfig(base)).toMatchObject({ apiKeys: ['a', 'b'], topic: 'strata-events', port: 8081, maxEventsPerRequest: 500 });
  });

  it.each([
    [{ GOOGLE_CLOUD_PROJECT: 'p' }, 'INGEST_API_KEYS is required'],
    [{ INGEST_API_KEYS: 'a', GOOGLE_CLOUD_PROJECT: 'p' }, 'PII_HASH_SECRET is required but not set'],
    [{ INGEST_API_KEYS: 'a' }, 'GOOGLE_CLOUD_PROJECT is required but not set'],
    [{ ...base, PORT: 'eighty' }, 'PORT must be an integer, got "eighty"'],
    [{ ...base, INGEST_MAX_EVENTS: '0' }, 'INGEST_MAX_EVENTS must be between 1 and 10000, got 0'],
  ])('fails fast naming the variable (%#)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

import { ConfigError } from '@strata/runtime';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const required = { LAKE_BUCKET: 'lake', PUSH_AUDIENCE: 'https://writer/push', PUSH_SERVICE_ACCOUNT: 'push@p.iam.gserviceaccount.com', PII_HASH_SECRET: 'test-secret-0123456789' };

describe('loadConfig', () => {
  it('applies the defaults', () => {
    expect(loadConfig(required)).toEqual({
      port: 8082,
      projectId: undefined,
      lakeBucket: 'lake',
      pushAudience: 'https://writer/push',
      pushServiceAccount: 'push@p.iam.gserviceaccount.com',
      oidcCertsUrl: undefined,
      flushMaxRows: 10_000,
      flushMaxAgeMs: 5_000,
      flushMaxBytes: 32 * 1024 * 1024,
      maxBufferedRows: 100_000,
      logLevel: 'info',
      piiHashSecret: 'test-secret-0123456789',
      schemaRegistryDatabaseUrl: undefined,
      schemaRegistryTtlMs: 30_000,
    });
  });

  it.each(Object.keys(required))('fails naming %s when it is missing', (name) => {
    expect(() => loadConfig({ ...required, [name]: '' })).toThrow(new ConfigError(`${name} is required but not set`));
  });

  it('fails naming a limit that is not a positive integer', () => {
    expect(() => loadConfig({ ...required, FLUSH_MAX_ROWS: '0' })).toThrow(/FLUSH_MAX_ROWS/);
    expect(() => loadConfig({ ...required, MAX_BUFFERED_ROWS: 'lots' })).toThrow(/MAX_BUFFERED_ROWS/);
  });
});

import { ConfigError } from '@strata/runtime';
import { defaultPiiKeyId } from '@strata/schemas';
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
      flushMaxRows: 50_000,
      flushMaxAgeMs: 5_000,
      flushMaxBytes: 32 * 1024 * 1024,
      flushQuietMs: 250,
      flushMaxOpenPartitions: 64,
      pushConcurrency: 80,
      maxBufferedBytes: 32 * 1024 * 1024,
      pushAckDeadlineSeconds: 25,
      logLevel: 'info',
      pii: { secret: 'test-secret-0123456789', keyId: defaultPiiKeyId('test-secret-0123456789'), extraKeys: ['email', 'phone', 'ip'] },
      schemaRegistryDatabaseUrl: undefined,
      schemaRegistryTtlMs: 30_000,
      eventTimeWindow: { maxLateMs: 7 * 86_400_000, maxFutureMs: 3_600_000 },
    });
  });

  it.each(Object.keys(required))('fails naming %s when it is missing', (name) => {
    expect(() => loadConfig({ ...required, [name]: '' })).toThrow(new ConfigError(`${name} is required but not set`));
  });

  it('fails naming a limit that is not a positive integer', () => {
    expect(() => loadConfig({ ...required, FLUSH_MAX_ROWS: '0' })).toThrow(/FLUSH_MAX_ROWS/);
    expect(() => loadConfig({ ...required, MAX_BUFFERED_BYTES: 'lots' })).toThrow(/MAX_BUFFERED_BYTES/);
  });

  it('checks the flush age against the ack deadline, which defaults to that of the default flush age', () => {
    expect(() => loadConfig({ ...required, FLUSH_MAX_AGE_MS: '30000' })).toThrow(/an ack deadline of 25 s is too short for a flush age of 30000 ms/);
    expect(loadConfig({ ...required, FLUSH_MAX_AGE_MS: '30000', PUSH_ACK_DEADLINE_SECONDS: '50' }).pushAckDeadlineSeconds).toBe(50);
    expect(loadConfig({ ...required, FLUSH_MAX_AGE_MS: '1000', PUSH_ACK_DEADLINE_SECONDS: '21' }).pushAckDeadlineSeconds).toBe(21);
    expect(() => loadConfig({ ...required, FLUSH_MAX_AGE_MS: '9000', PUSH_ACK_DEADLINE_SECONDS: '25' })).toThrow(/needs at least 29 s \(or lower FLUSH_MAX_AGE_MS to at most 5000 ms\)$/);
    expect(() => loadConfig({ ...required, FLUSH_MAX_AGE_MS: '5000', PUSH_ACK_DEADLINE_SECONDS: '10' })).toThrow(
      new ConfigError(
        'FLUSH_MAX_AGE_MS and PUSH_ACK_DEADLINE_SECONDS disagree: an ack deadline of 10 s is too short for a flush age of 5000 ms: ' +
          'a push is held up to the flush age plus 20000 ms to write its file, so the subscription needs at least 25 s',
      ),
    );
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { keyDigest } from './keys.js';
import { defaultWorkerThreads } from './prepare-pool.js';

describe('loadConfig', () => {
  const KEYS = JSON.stringify([{ name: 'web', sha256: keyDigest('k1'), origins: ['https://shop.example'] }]);
  const base = { INGEST_KEYS: KEYS, GOOGLE_CLOUD_PROJECT: 'p', PII_HASH_SECRET: 'test-secret-0123456789' };

  it('parses defaults and lists', () => {
    expect(loadConfig(base)).toMatchObject({ topic: 'strata-events', port: 8081, maxEventsPerRequest: 500 });
    expect(loadConfig(base).keys).toEqual([
      { name: 'web', sha256: keyDigest('k1'), origins: ['https://shop.example'], rate: { points: 1000, durationSeconds: 1 } },
    ]);
  });

  it('reads the worker threads: one per CPU by default, 0 for none, a bad count named', () => {
    expect(loadConfig(base).workerThreads).toBe(defaultWorkerThreads());
    expect(loadConfig({ ...base, INGEST_WORKER_THREADS: '0' }).workerThreads).toBe(0);
    expect(() => loadConfig({ ...base, INGEST_WORKER_THREADS: 'two' })).toThrow(/INGEST_WORKER_THREADS/);
  });

  it('bounds the bytes waiting for the workers: 64 MiB by default, at least 1 MiB', () => {
    expect(loadConfig(base).maxQueuedBytes).toBe(64 * 1_048_576);
    expect(loadConfig({ ...base, INGEST_MAX_QUEUED_BYTES: '2097152' }).maxQueuedBytes).toBe(2_097_152);
    expect(() => loadConfig({ ...base, INGEST_MAX_QUEUED_BYTES: '1000' })).toThrow(/INGEST_MAX_QUEUED_BYTES/);
  });

  it('reads the PII settings shared with the writer', () => {
    expect(loadConfig({ ...base, PII_HASH_KEY_ID: 'k2', PII_EXTRA_KEYS: 'email,iban' }).pii).toEqual({ secret: 'test-secret-0123456789', keyId: 'k2', extraKeys: ['email', 'iban'] });
  });

  it('reads the keys from INGEST_KEYS_FILE (a mounted secret)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingest-keys-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, KEYS);
    const { INGEST_KEYS: _, ...rest } = base;
    try {
      expect(loadConfig({ ...rest, INGEST_KEYS_FILE: file }).keys.map((k) => k.name)).toEqual(['web']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ GOOGLE_CLOUD_PROJECT: 'p', PII_HASH_SECRET: 'x' }, 'INGEST_KEYS or INGEST_KEYS_FILE is required'],
    [{ ...base, INGEST_KEYS_FILE: '/k.json' }, 'set INGEST_KEYS or INGEST_KEYS_FILE, not both'],
    [{ ...base, INGEST_KEYS: 'a,b' }, 'INGEST_KEYS is not valid JSON'],
    [{ ...base, INGEST_KEYS: '[{"name":"web","sha256":"k1"}]' }, 'INGEST_KEYS[0] ("web").sha256 must be the 64 hex digits'],
    [{ GOOGLE_CLOUD_PROJECT: 'p', PII_HASH_SECRET: 'x', INGEST_KEYS_FILE: '/nonexistent/keys.json' }, 'INGEST_KEYS_FILE: cannot read /nonexistent/keys.json'],
    [{ INGEST_KEYS: KEYS, GOOGLE_CLOUD_PROJECT: 'p' }, 'PII_HASH_SECRET is required but not set'],
    [{ INGEST_KEYS: KEYS }, 'GOOGLE_CLOUD_PROJECT is required but not set'],
    [{ ...base, PORT: 'eighty' }, 'PORT must be an integer, got "eighty"'],
    [{ ...base, INGEST_MAX_EVENTS: '0' }, 'INGEST_MAX_EVENTS must be between 1 and 10000, got 0'],
  ])('fails fast naming the variable (%#)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

import { createLogger } from '@strata/runtime';
import { DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, loadEnvelope, type LogTypeVersion, createPiiHasher } from '@strata/schemas';
import { createRegistryPool, createRegistrySource, publishSchemas, type RegistrySource } from '@strata/schemas/postgres';
import { resetTestDatabase, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from './app.js';
import { FakePublisher } from './publisher.fake.js';
import { testKeys } from './keys.fake.js';

const KEY = 'test-key';
const TTL = 300;
const envelope = loadEnvelope();
const silent = createLogger({ service: 'ingest', level: 'silent' });

/** A log type no bundle ships; it rejects unknown fields, so a newly published field shows. */
function signup(version: number, properties: Record<string, object> = {}): LogTypeVersion {
  const schema = { 'x-log-type': 'test_signup', 'x-version': version, 'x-unknown-properties': 'reject' as const, type: 'object', required: ['event'] };
  return { logType: 'test_signup', version, schema: { ...schema, properties: { event: { enum: ['signed_up'] }, ...properties } } };
}

describe('ingest with the schema registry in PostgreSQL', () => {
  let db: TestDatabase;
  let registry: RegistrySource;
  beforeAll(async () => {
    db = await testDatabase();
    await resetTestDatabase(db.url);
  });
  afterAll(async () => {
    await registry?.close();
    await db?.stop();
  });

  it('accepts a field within the TTL of its version being published, without a restart', async () => {
    expect(await publishSchemas({ databaseUrl: db.url, versions: [signup(1)], envelope })).toMatchObject({ ok: true });
    registry = createRegistrySource({ bundled: loadBundledSchemas(), envelope, pool: createRegistryPool(db.url, silent), ttlMs: TTL, logger: silent });
    const publisher = new FakePublisher();
    const app = createApp({
      config: { keys: testKeys(KEY), maxEventsPerRequest: 10, maxBodyBytes: 100_000, maxDecodedBytes: 1_000_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry,
      publisher,
      hash: createPiiHasher('test-secret-0123456789'),
      logger: silent,
      newId: () => 'id-1',
    });
    const event = { log_type: 'test_signup', event: 'signed_up', ts: new Date().toISOString(), user_id: 'u1', plan: 'pro' };
    // Atomic, so "accepted" means the event itself, not its quarantined copy.
    const post = () => request(app).post('/v1/events?atomic=true').set('x-api-key', KEY).send([event]);

    const before = await post();
    expect(before.status).toBe(400);
    expect(before.body.errors).toEqual([{ index: 0, path: '/plan', message: 'is not a known field' }]);

    const published = await publishSchemas({ databaseUrl: db.url, versions: [signup(1), signup(2, { plan: { type: 'string', maxLength: 32 } })], envelope });
    expect(published).toMatchObject({ ok: true, alreadyPresent: 1 });
    const start = Date.now();
    await vi.waitFor(
      async () => {
        const res = await post();
        expect(res.status).toBe(202);
      },
      { timeout: 5_000, interval: 50 },
    );
    // The TTL plus a refresh and a request; generous for a shared 2-core machine.
    expect(Date.now() - start).toBeLessThan(TTL + 1_500);

    expect(publisher.published).toHaveLength(1);
    const [message] = publisher.published;
    expect(message!.attributes).toEqual({ log_type: 'test_signup', schema_version: '2', event_count: '1', encoding: 'ndjson', source: 'ingest', pii_protected: createPiiHasher('test-secret-0123456789').keyId });
    expect(JSON.parse(message!.data.toString())).toMatchObject({ event: 'signed_up', plan: 'pro', user_id: 'u1' });
  });
});

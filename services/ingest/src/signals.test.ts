import { createLogger } from '@strata/runtime';
import { captureLogs, signalGaps } from '@strata/runtime/signals-testing';
import { createPiiHasher, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import { makeEvent } from '@strata/test';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { testKeys } from './keys.fake.js';
import { FakePublisher } from './publisher.fake.js';

const KEY = 'test-key';
const registry = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: createLogger({ service: 'ingest', level: 'silent' }) });

// The local counters and the log-based metrics count ingest's signals (runtime/src/signals.ts):
// this fails when the app stops emitting one of them, or one of its fields.
describe("ingest's signals", () => {
  it('emits every signal declared for ingest, each with its declared fields', async () => {
    const { logger, lines } = captureLogs('ingest');
    const publisher = new FakePublisher();
    let ids = 0;
    const app = createApp({
      config: { keys: testKeys(KEY), maxEventsPerRequest: 3, maxBodyBytes: 10_000, maxDecodedBytes: 100_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry,
      publisher,
      hash: createPiiHasher('test-secret-0123456789'),
      logger,
      newId: () => `id-${++ids}`,
      now: () => new Date('2026-11-21T12:00:00.000Z'),
    });
    const post = (body: unknown, path = '/v1/events') => request(app).post(path).set('x-api-key', KEY).send(body as object);
    const invalid = makeEvent({ ts: 'yesterday' });

    expect((await post([makeEvent(), invalid])).status).toBe(202); // accepted, and rejected to quarantine
    expect((await post([makeEvent(), invalid], '/v1/events?atomic=true')).status).toBe(400); // rejected, nothing published
    expect((await post([makeEvent(), makeEvent(), makeEvent(), makeEvent()])).status).toBe(400); // the whole request
    publisher.fail = new Error('UNAVAILABLE');
    expect((await post([makeEvent()])).status).toBe(503);

    expect(signalGaps('ingest', lines)).toEqual([]);
    const emitted = lines.filter((l) => l.signal).map(({ signal, accepted, rejected, quarantined, status }) => ({ signal, accepted, rejected, quarantined, status }));
    expect(emitted).toEqual([
      { signal: 'ingest.events_accepted', accepted: 1 },
      { signal: 'ingest.events_rejected', rejected: 1, quarantined: true },
      { signal: 'ingest.events_rejected', rejected: 1, quarantined: false },
      { signal: 'ingest.request_rejected', status: 400 },
      { signal: 'ingest.publish_failed' },
    ]);
  });
});

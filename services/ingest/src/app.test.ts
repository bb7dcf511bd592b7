import { createLogger } from '@strata/runtime';
import { createPiiHasher, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import { makeEvent } from '@strata/test';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { testApp, testHasher } from './app.fake.js';
import type { FakePublisher } from './publisher.fake.js';
import { testKeys } from './keys.fake.js';

const silent = createLogger({ service: 'ingest', level: 'silent' });
const registry = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: silent });
const KEY = 'test-key';

describe('POST /v1/events', () => {
  let publisher: FakePublisher;
  let app: ReturnType<typeof createApp>;

  beforeEach(() => {
    ({ app, publisher } = testApp({
      config: { keys: testKeys(KEY), maxEventsPerRequest: 3, maxBodyBytes: 10_000, maxDecodedBytes: 100_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry,
      now: '2026-11-21T12:00:00.000Z',
    }));
  });

  /** Every event published so far, decoded from the batch messages, with its message's attributes. */
  const publishedEvents = async () => {
    const out: Array<{ attributes: Record<string, string>; event: Record<string, unknown> }> = [];
    for (const message of publisher.published.filter((m) => m.attributes.kind !== 'rejected')) {
      const decoded = await decodeBatch(message.attributes, message.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      for (const line of decoded.lines) if (line.ok) out.push({ attributes: message.attributes, event: line.value as Record<string, unknown> });
    }
    return out;
  };

  /** The lines of the "rejected" messages published so far, which the writer files in quarantine. */
  const rejectedLines = async () => {
    const out: Array<{ attributes: Record<string, string>; line: Record<string, unknown> }> = [];
    for (const message of publisher.published.filter((m) => m.attributes.kind === 'rejected')) {
      const decoded = await decodeBatch(message.attributes, message.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      for (const line of decoded.lines) if (line.ok) out.push({ attributes: message.attributes, line: line.value as Record<string, unknown> });
    }
    return out;
  };

  const post = (body: unknown, key: string | null = KEY) => {
    const req = request(app).post('/v1/events');
    if (key) req.set('x-api-key', key);
    return typeof body === 'string' ? req.set('content-type', 'application/json').send(body) : req.send(body as object);
  };

  it('publishes one batch message per log type with routing attributes and answers 202', async () => {
    const order = { log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1' };
    const res = await post([makeEvent({ user_id: 'u1' }), order, makeEvent({ event_id: 'mine', schema_version: 1 })]);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 3, event_ids: ['id-1', 'id-2', 'mine'], rejected: [] });
    expect(publisher.published).toHaveLength(2);
    const [users, orders] = publisher.published;
    // The versions differ, so the message names none; each event carries its own. pii_protected: the
    // key id ingest hashed with, so the writer does not hash again.
    const pii_protected = createPiiHasher('test-secret-0123456789').keyId;
    expect(users!.attributes).toEqual({ log_type: 'user_action', event_count: '2', encoding: 'ndjson', source: 'ingest', pii_protected });
    expect(orders!.attributes).toEqual({ log_type: 'order_event', event_count: '1', encoding: 'ndjson', source: 'ingest', schema_version: '1', pii_protected });
    const events = await publishedEvents();
    expect(events.map((e) => e.event.event_id)).toEqual(['id-1', 'mine', 'id-2']);
    // The latest version unless the producer pinned one; the version is stored with the event.
    expect(events[0]!.event).toMatchObject({ event_id: 'id-1', user_id: 'u1', received_at: '2026-11-21T12:00:00.000Z', schema_version: 2 });
    expect(events[1]!.event.schema_version).toBe(1);
    // Routing fields travel as attributes, not in the stored event.
    expect(events[0]!.event).not.toHaveProperty('log_type');
  });

  it('accepts the valid events and keeps the invalid ones for quarantine, answering which and why', async () => {
    const bad = makeEvent({ ts: 'yesterday', price: 'cheap' });
    const res = await post([makeEvent(), bad, { event: 'x' }]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.event_ids).toEqual(['id-1', null, null]);
    expect(res.body.rejected).toEqual([
      { index: 1, errors: expect.arrayContaining([{ path: '/ts', message: 'must match format "date-time"' }, { path: '/price', message: 'must be number' }]) },
      { index: 2, errors: [{ path: '/log_type', message: 'is required and must be a string' }] },
    ]);
    expect((await publishedEvents()).map((e) => e.event.event_id)).toEqual(['id-1']);
    // Nothing is lost: the rejected events travel on, flagged, with their reasons, as sent.
    const kept = await rejectedLines();
    expect(kept.map((k) => [k.attributes.log_type, k.attributes.kind, k.line.index, k.line.event_id])).toEqual([
      ['user_action', 'rejected', 1, 'id-2'],
      ['_unknown', 'rejected', 2, undefined],
    ]);
    expect(kept[0]!.line.data).toEqual(bad);
  });

  it('answers all or nothing with ?atomic=true or Strata-Atomic: true', async () => {
    const body = [makeEvent(), makeEvent({ ts: 'yesterday', price: 'cheap' }), { event: 'x' }];
    for (const req of [request(app).post('/v1/events?atomic=true'), request(app).post('/v1/events').set('strata-atomic', 'true')]) {
      const res = await req.set('x-api-key', KEY).send(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_events', reason: '2 of 3 events are invalid; nothing was published (atomic)' });
      expect(res.body.errors).toEqual(
        expect.arrayContaining([
          { index: 1, path: '/ts', message: 'must match format "date-time"' },
          { index: 1, path: '/price', message: 'must be number' },
          { index: 2, path: '/log_type', message: 'is required and must be a string' },
        ]),
      );
    }
    expect(publisher.published).toHaveLength(0);
  });

  it('rejects an event outside the time window into quarantine, naming the window', async () => {
    const res = await post([makeEvent({ ts: '2026-11-01T00:00:00Z' }), makeEvent({ ts: '0000-01-01T00:00:00Z' })]);
    expect(res.status).toBe(202);
    expect(res.body.rejected).toEqual([
      { index: 0, errors: [{ path: '/ts', message: 'is more than 7 days before the event was received (2026-11-21T12:00:00.000Z)' }] },
      { index: 1, errors: [{ path: '/ts', message: 'must match format "date-time"' }] },
    ]);
  });

  it('refuses an explicit null event_id rather than replacing it', async () => {
    const res = await post([makeEvent({ event_id: null })]);
    expect(res.body.rejected).toEqual([{ index: 0, errors: [{ path: '/event_id', message: 'must be string' }] }]);
  });

  it('rejects unknown fields for a log type that says reject, and keeps them where it says keep', async () => {
    const order = { log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1', coupon: 'X' };
    expect((await post([order])).body.rejected).toEqual([{ index: 0, errors: [{ path: '/coupon', message: 'is not a known field' }] }]);
    expect((await post([makeEvent({ coupon: 'X' })])).status).toBe(202);
    expect((await publishedEvents())[0]!.event.coupon).toBe('X');
  });

  it('protects PII before publishing: hashes, redacts and drops as the schema says', async () => {
    const order = {
      log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1',
      customer_email: 'ada@example.com', shipping_address: { street: 'Main St 1' }, context: { ip: '203.0.113.7' },
    };
    expect((await post([order])).status).toBe(202);
    const data = (await publishedEvents())[0]!.event as Record<string, Record<string, unknown>>;
    expect(data.customer_email).toBe(createPiiHasher('test-secret-0123456789')('ada@example.com'));
    expect(data.context).toEqual({ ip: '[redacted]' });
    expect(data).not.toHaveProperty('shipping_address');
  });

  it('protects PII in kept unknown fields by key name, and in rejected events before they are published', async () => {
    const hash = createPiiHasher('test-secret-0123456789');
    expect((await post([makeEvent({ contact_email: 'ada@example.com', coupon: 'X' })])).status).toBe(202);
    expect((await publishedEvents())[0]!.event).toMatchObject({ contact_email: hash('ada@example.com'), coupon: 'X' });

    const invalidOrder = { log_type: 'order_event', event: 'order_paid', ts: 'soon', customer_email: 'ada@example.com', shipping_address: { street: 'Main St 1' }, phone: '+49 151' };
    expect((await post([invalidOrder])).body.rejected).toHaveLength(1);
    const [kept] = await rejectedLines();
    // The declared rules of order_event (hash, drop) and the key patterns (phone), though the event is invalid.
    expect(kept!.line.data).toEqual({ log_type: 'order_event', event: 'order_paid', ts: 'soon', customer_email: hash('ada@example.com'), phone: hash('+49 151') });
    expect(kept!.attributes.pii_protected).toBe(hash.keyId);
  });

  it('hashes a producer value that looks hashed, and a producer cannot set the pii_protected mark', async () => {
    const hash = createPiiHasher('test-secret-0123456789');
    const forged = `hmac:${hash.keyId}:${'0'.repeat(64)}`;
    const order = { log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1', customer_email: forged };
    expect((await post([order, makeEvent({ pii_protected: 'forged' })])).status).toBe(202);
    const [orderEvent, userEvent] = await publishedEvents();
    expect(orderEvent!.event.customer_email).toBe(hash(forged));
    // A field of that name is a kept unknown field like any other; the attribute is ingest's own.
    expect(userEvent!.event.pii_protected).toBe('forged');
    expect(userEvent!.attributes.pii_protected).toBe(hash.keyId);
  });

  it('names an unknown log type and a bad schema_version', async () => {
    const res = await post([makeEvent({ log_type: 'nope' }), makeEvent({ schema_version: 9 }), makeEvent({ schema_version: 'one' })]);
    expect(res.status).toBe(202);
    const [unknown, version, malformed] = res.body.rejected;
    expect(unknown).toMatchObject({ index: 0, errors: [{ path: '/log_type', message: expect.stringContaining('unknown log type "nope"') }] });
    expect(version).toMatchObject({ index: 1, errors: [{ path: '/schema_version', message: expect.stringContaining('unknown version 9') }] });
    expect(malformed).toMatchObject({ index: 2, errors: [{ path: '/schema_version', message: 'must be a positive integer' }] });
  });

  it.each([
    ['empty', [], 'body must contain at least one event'],
    ['too many', [makeEvent(), makeEvent(), makeEvent(), makeEvent()], 'at most 3 events per request, got 4'],
  ])('answers 400 for a body that is %s', async (_name, body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', reason: message });
  });

  it('keeps an array element that is not an object for quarantine too', async () => {
    expect((await post([1])).body.rejected).toEqual([{ index: 0, errors: [{ path: '', message: 'must be a JSON object' }] }]);
    expect((await rejectedLines())[0]!.line).toMatchObject({ index: 0, data: 1 });
  });

  it('answers 400 in JSON for malformed JSON and 413 for an oversized body', async () => {
    const bad = await post('[{"event":');
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toMatch(/^body is not valid JSON/);
    const big = await post(JSON.stringify([makeEvent({ properties: { blob: 'x'.repeat(20_000) } })]));
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: 'payload_too_large', reason: expect.stringMatching(/^body is larger than the limit of 10000 bytes/) });
  });

  it('requires a known API key, by header or by query for sendBeacon', async () => {
    expect((await post([makeEvent()], null)).status).toBe(401);
    expect((await post([makeEvent()], 'wrong')).body.reason).toBe('unknown API key');
    const beacon = await request(app)
      .post(`/v1/events?api_key=${KEY}`)
      .set('content-type', 'text/plain')
      .send(JSON.stringify([makeEvent()]));
    expect(beacon.status).toBe(202);
  });

  it('answers 503 and accepts nothing when Pub/Sub does not acknowledge', async () => {
    publisher.fail = new Error('UNAVAILABLE');
    const res = await post([makeEvent()]);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ error: 'unavailable', published: 0, event_ids: ['id-1'], unpublished: [0] });
  });

  it('says which events were published when a publish fails partway, and a retry with those ids dedups', async () => {
    publisher.failWhen = (m) => m.attributes.log_type === 'order_event';
    const order = { log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1' };
    const res = await post([makeEvent(), order, makeEvent()]);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'unavailable', published: 2, event_ids: ['id-1', 'id-2', 'id-3'], unpublished: [1] });
    expect(res.body.reason).toMatch(/could not publish 1 of 3 events/);

    // The producer retries with the ids it was given: the two already published keep their ids.
    publisher.failWhen = undefined;
    const ids: string[] = res.body.event_ids;
    const retry = await post([makeEvent({ event_id: ids[0] }), { ...order, event_id: ids[1] }, makeEvent({ event_id: ids[2] })]);
    expect(retry.status).toBe(202);
    const stored = (await publishedEvents()).map((e) => e.event.event_id);
    expect(stored.sort()).toEqual(['id-1', 'id-1', 'id-2', 'id-3', 'id-3']);
    expect(new Set(stored)).toEqual(new Set(ids));
  });

  it('answers 503 with Connection: close once stopping, publishing nothing', async () => {
    let stopping = false;
    const stoppable = createApp({
      config: { keys: testKeys(KEY), maxEventsPerRequest: 3, maxBodyBytes: 10_000, maxDecodedBytes: 100_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry,
      publisher,
      hash: testHasher,
      logger: silent,
      newId: () => 'id',
      stopping: () => stopping,
    });
    stopping = true;
    const res = await request(stoppable).post('/v1/events').set('x-api-key', KEY).send([makeEvent()]);
    expect(res.status).toBe(503);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({ error: 'stopping' });
    expect(publisher.published).toHaveLength(0);
    expect((await request(stoppable).get('/healthz')).status).toBe(503);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

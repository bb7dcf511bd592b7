import { gzipSync } from 'node:zlib';
import { createRegistry, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas } from '@strata/schemas';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { createKey } from './keys.js';
import { testApp, testHasher } from './app.fake.js';
import type { FakePublisher } from './publisher.fake.js';

/**
 * The Segment HTTP Tracking API routes: what Segment SDKs send (analytics-node's batch, single
 * calls, Basic auth or `writeKey` in the body) becomes Strata events through the same pipeline as
 * /v1/events, and the answers are what the SDKs expect.
 */
const NOW = '2026-11-21T12:00:00.000Z';
const registry = createRegistry(loadBundledSchemas());
const server = createKey({ name: 'backend', rate: { points: 1_000_000, durationSeconds: 1 } });
const segmentOnly = createKey({ name: 'segment-only', logTypes: ['segment_track', 'segment_page', 'segment_identify'] });
const tiny = createKey({ name: 'tiny', rate: { points: 1, durationSeconds: 60 } });

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** A batch item as @segment/analytics-node 3.x builds it. */
const call = (fields: Record<string, unknown>) => ({
  messageId: `node-next-1763726000000-${Math.random().toString(16).slice(2, 10)}`,
  timestamp: '2026-11-21T11:59:58.123Z',
  context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
  integrations: {},
  _metadata: { nodeVersion: '20.19.0', jsRuntime: 'node' },
  ...fields,
});

describe('Segment HTTP Tracking API', () => {
  let publisher: FakePublisher;
  let app: ReturnType<typeof createApp>;

  beforeEach(() => {
    ({ app, publisher } = testApp({
      config: { keys: [server.entry, segmentOnly.entry, tiny.entry], maxEventsPerRequest: 10, maxBodyBytes: 100_000, maxDecodedBytes: 1_000_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry: { current: async () => registry },
      now: NOW,
    }));
  });

  /** Every published event by log type, decoded; `rejected` holds the quarantine lines. */
  const published = async () => {
    const out: Record<string, Array<Record<string, unknown>>> = {};
    for (const message of publisher.published) {
      const decoded = await decodeBatch(message.attributes, message.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      const bucket = message.attributes.kind === 'rejected' ? `rejected/${message.attributes.log_type}` : message.attributes.log_type!;
      for (const line of decoded.lines) if (line.ok) (out[bucket] ??= []).push(line.value as Record<string, unknown>);
    }
    return out;
  };

  const batch = (items: unknown[], key = server.key) =>
    request(app).post('/v1/batch').set('authorization', basic(key)).send({ batch: items, writeKey: key, sentAt: '2026-11-21T11:59:59.000Z' });

  it('maps every call type of an analytics-node batch onto its log type and answers 200 {"success":true}', async () => {
    const res = await batch([
      call({ type: 'track', messageId: 'm-1', event: 'Order Completed', userId: 'u-1', properties: { revenue: 42.5, currency: 'EUR', coupon: 'WINTER', source: 'newsletter' } }),
      call({ type: 'track', messageId: 'm-2', event: 'Add To Cart', anonymousId: 'a-1', properties: { product_id: 'p-42', price: 12.5, quantity: 2, color: 'red' } }),
      call({ type: 'page', messageId: 'm-3', userId: 'u-1', name: 'Home', category: 'Docs', properties: { url: 'https://shop.example/', path: '/', title: 'Shop', tab: 'new' } }),
      call({ type: 'screen', messageId: 'm-4', userId: 'u-1', name: 'Settings' }),
      call({ type: 'identify', messageId: 'm-5', userId: 'u-1', traits: { email: 'ada@example.com', name: 'Ada', plan: 'pro' } }),
      call({ type: 'group', messageId: 'm-6', userId: 'u-1', groupId: 42, traits: { name: 'Initech', employees: 300 } }),
      call({ type: 'alias', messageId: 'm-7', userId: 'u-1', previousId: 'a-1' }),
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    const common = { ts: '2026-11-21T11:59:58.123Z', received_at: NOW, source: 'backend', segment: { context: { library: { name: '@segment/analytics-node', version: '3.1.0' } }, _metadata: { nodeVersion: '20.19.0', jsRuntime: 'node' } } };
    const events = await published();
    expect(Object.keys(events).sort()).toEqual(['segment_identify', 'segment_page', 'segment_track', 'user_action']);
    expect(events.segment_track).toEqual([
      {
        ...common,
        event_id: 'm-1', event: 'order_completed', event_name: 'Order Completed', user_id: 'u-1', schema_version: 1,
        revenue: 42.5, currency: 'EUR', coupon: 'WINTER',
        // `source` is an envelope field: the property is kept, not allowed to overwrite it.
        segment: { ...common.segment, properties: { source: 'newsletter' } },
      },
    ]);
    // "Add To Cart" is user_action's add_to_cart: typed columns, the rest in extra (color), the name as sent in extra.segment.
    expect(events.user_action).toEqual([
      { ...common, event_id: 'm-2', event: 'add_to_cart', anonymous_id: 'a-1', schema_version: 2, product_id: 'p-42', price: 12.5, quantity: 2, color: 'red', segment: { ...common.segment, event: 'Add To Cart' } },
    ]);
    expect(events.segment_page).toEqual([
      { ...common, event_id: 'm-3', event: 'page', user_id: 'u-1', schema_version: 1, name: 'Home', category: 'Docs', url: 'https://shop.example/', path: '/', title: 'Shop', tab: 'new' },
      { ...common, event_id: 'm-4', event: 'screen', user_id: 'u-1', schema_version: 1, name: 'Settings' },
    ]);
    expect(events.segment_identify).toEqual([
      // email is declared x-pii hash: it leaves ingest hashed.
      { ...common, event_id: 'm-5', event: 'identify', user_id: 'u-1', schema_version: 1, email: testHasher('ada@example.com'), name: 'Ada', plan: 'pro' },
      { ...common, event_id: 'm-6', event: 'group', user_id: 'u-1', schema_version: 1, group_id: '42', name: 'Initech', employees: 300 },
      { ...common, event_id: 'm-7', event: 'alias', user_id: 'u-1', schema_version: 1, previous_id: 'a-1' },
    ]);
    // The write key is a credential: never stored.
    expect(JSON.stringify(events)).not.toContain(server.key);
  });

  it('serves each call on its own route, with the write key in Basic auth or in the body', async () => {
    const track = await request(app).post('/v1/track').set('authorization', basic(server.key)).send(call({ messageId: 'single-1', event: 'Signed Up', userId: 'u-2' }));
    expect(track.status).toBe(200);
    expect(track.body).toEqual({ success: true });
    // The route names the call; the body's own `type`, if any, is not needed.
    const identify = await request(app).post('/v1/identify').send({ writeKey: server.key, userId: 'u-2', traits: { plan: 'free' }, messageId: 'single-2', timestamp: NOW });
    expect(identify.status).toBe(200);
    const events = await published();
    expect(events.segment_track![0]).toMatchObject({ event_id: 'single-1', event: 'signed_up', event_name: 'Signed Up', user_id: 'u-2' });
    expect(events.segment_identify![0]).toEqual({ event_id: 'single-2', event: 'identify', user_id: 'u-2', ts: NOW, received_at: NOW, source: 'backend', schema_version: 1, plan: 'free' });
  });

  it("serves analytics.js's one-letter paths: /v1/t, /v1/p, /v1/i, … and its batches at /v1/b", async () => {
    expect((await request(app).post('/v1/p').set('content-type', 'text/plain').send(JSON.stringify({ writeKey: server.key, messageId: 'short-1', anonymousId: 'a', name: 'Home' }))).status).toBe(200);
    expect((await request(app).post('/v1/b').send({ writeKey: server.key, batch: [{ type: 'alias', messageId: 'short-2', userId: 'u', previousId: 'a' }] })).status).toBe(200);
    const events = await published();
    expect(events.segment_page![0]).toMatchObject({ event_id: 'short-1', event: 'page', name: 'Home' });
    expect(events.segment_identify![0]).toMatchObject({ event_id: 'short-2', event: 'alias', previous_id: 'a' });
  });

  it('keeps a messageId that fits event_id, hashes one that does not the same way on every retry, and assigns one when absent', async () => {
    const odd = 'ünïcode id / with spaces and more than sixty-four characters................';
    const item = call({ type: 'track', messageId: odd, event: 'Retried', userId: 'u-3' });
    for (let attempt = 0; attempt < 2; attempt++) expect((await batch([item])).status).toBe(200);
    await batch([{ type: 'track', event: 'No Id', userId: 'u-3', timestamp: NOW }]);
    const [first, retry, none] = (await published()).segment_track!;
    expect(first!.event_id).toMatch(/^seg-[0-9a-f]{40}$/);
    expect(retry!.event_id).toBe(first!.event_id);
    expect(first!.segment).toMatchObject({ messageId: odd });
    expect(none!.event_id).toBe('id-1');
  });

  it('takes ts from timestamp, else originalTimestamp corrected by sentAt, else the receipt time', async () => {
    await request(app).post('/v1/batch').set('authorization', basic(server.key)).send({
      sentAt: '2026-11-21T12:10:00.000Z', // the device's clock is 10 minutes fast
      batch: [
        { type: 'track', messageId: 't-1', event: 'a', userId: 'u', timestamp: '2026-11-20T08:00:00Z' },
        { type: 'track', messageId: 't-2', event: 'b', userId: 'u', originalTimestamp: '2026-11-21T12:09:00.000Z' },
        { type: 'track', messageId: 't-3', event: 'c', userId: 'u' },
      ],
    });
    expect((await published()).segment_track!.map((e) => [e.event_id, e.ts])).toEqual([
      ['t-1', '2026-11-20T08:00:00Z'],
      ['t-2', '2026-11-21T11:59:00.000Z'],
      ['t-3', NOW],
    ]);
  });

  it('maps context onto the declared struct and keeps the rest; merges the batch context under each call', async () => {
    await request(app).post('/v1/batch').set('authorization', basic(server.key)).send({
      context: { locale: 'de-DE', app: { name: 'shop' } },
      batch: [
        {
          type: 'page', messageId: 'c-1', anonymousId: 'a', timestamp: NOW,
          context: { userAgent: 'Mozilla/5.0', ip: '203.0.113.9', page: { url: 'https://shop.example/p', path: '/p', referrer: 'https://search.example/' }, campaign: { name: 'winter' } },
        },
      ],
    });
    const [page] = (await published()).segment_page!;
    expect(page!.context).toEqual({ user_agent: 'Mozilla/5.0', ip: '[redacted]', locale: 'de-DE', page: { url: 'https://shop.example/p', referrer: 'https://search.example/' } });
    expect(page!.segment).toEqual({ context: { app: { name: 'shop' }, page: { path: '/p' }, campaign: { name: 'winter' } } });
  });

  it('routes a track by properties.log_type, and by event name only to a log type the key may write', async () => {
    await batch([call({ type: 'track', messageId: 'r-1', event: 'impression', anonymousId: 'a', properties: { log_type: 'impression', publisher_id: 'pub-1', link_url: 'https://l/', placement: 'inline' } })]);
    expect((await published()).impression![0]).toMatchObject({ event_id: 'r-1', event: 'impression', publisher_id: 'pub-1' });
    expect((await published()).impression![0]).not.toHaveProperty('log_type');

    // The same name from a key that may not write user_action stays a segment_track...
    expect((await batch([call({ type: 'track', messageId: 'r-2', event: 'Add To Cart', userId: 'u' })], segmentOnly.key)).status).toBe(200);
    expect((await published()).segment_track![0]).toMatchObject({ event_id: 'r-2', event: 'add_to_cart', event_name: 'Add To Cart' });
    // ...but naming the log type is a request to write it: refused, as on /v1/events.
    const forbidden = await batch([call({ type: 'track', event: 'x', userId: 'u', properties: { log_type: 'user_action' } })], segmentOnly.key);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: 'forbidden_log_type', index: 0 });
  });

  it('answers 200 for invalid calls, as Segment does, and keeps them in quarantine with their reasons', async () => {
    const res = await batch([
      call({ type: 'track', messageId: 'ok-1', event: 'Fine', userId: 'u' }),
      call({ type: 'track', messageId: 'bad-1', userId: 'u' }), // no event name
      call({ type: 'track', messageId: 'bad-2', event: 'Add To Cart', userId: 'u', properties: { price: 'cheap' } }),
      { type: 'unknown', messageId: 'bad-3', writeKey: server.key },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    const events = await published();
    expect(events.segment_track!.map((e) => e.event_id)).toEqual(['ok-1']);
    expect(events['rejected/segment_track']).toEqual([expect.objectContaining({ index: 1, event_id: 'bad-1', reasons: expect.arrayContaining([{ path: '/event', message: 'is required' }]) })]);
    expect(events['rejected/user_action']).toEqual([expect.objectContaining({ index: 2, event_id: 'bad-2', reasons: [{ path: '/price', message: 'must be number' }] })]);
    expect(events['rejected/_unknown']).toEqual([expect.objectContaining({ index: 3, data: { type: 'unknown', messageId: 'bad-3' } })]);
  });

  it('keeps the good calls of a batch whose device clock correction leaves the date range, and quarantines that one', async () => {
    const res = await batch([
      call({ type: 'track', messageId: 'ok-2', event: 'Fine', userId: 'u' }),
      { ...call({ type: 'track', messageId: 'far-1', event: 'Fine', userId: 'u' }), timestamp: undefined, originalTimestamp: '+275760-09-13T00:00:00Z', sentAt: '2020-01-01T00:00:00Z' },
    ]);
    expect(res.status).toBe(200);
    const events = await published();
    expect(events.segment_track!.map((e) => e.event_id)).toEqual(['ok-2']);
    expect(events['rejected/segment_track']).toEqual([expect.objectContaining({ index: 1, event_id: 'far-1' })]);
  });

  it('reads a gzip body, and text/plain (what analytics.js posts to avoid a preflight)', async () => {
    const body = gzipSync(JSON.stringify({ writeKey: server.key, batch: [call({ type: 'track', messageId: 'gz-1', event: 'Zipped', userId: 'u' })] }));
    const res = await request(app).post('/v1/batch').set('content-type', 'text/plain').set('content-encoding', 'gzip').send(body);
    expect(res.body).toEqual({ success: true });
    expect((await published()).segment_track![0]).toMatchObject({ event_id: 'gz-1', event: 'zipped' });
  });

  it.each([
    ['invalid JSON', (r: request.Test) => r.set('content-type', 'application/json').send('{"batch": ['), 'invalid_json'],
    ['a batch that is not an array', (r: request.Test) => r.send({ batch: { type: 'track' } }), 'invalid_batch'],
    ['a body that is not an object', (r: request.Test) => r.send([{ type: 'track' }]), 'invalid_body'],
    ['an empty batch', (r: request.Test) => r.send({ batch: [] }), 'invalid_request'],
  ])('answers 400 with a JSON body for %s (Segment SDKs do not retry it)', async (_what, send, error) => {
    const res = await send(request(app).post('/v1/batch').set('authorization', basic(server.key)));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error, reason: expect.any(String) });
    expect(publisher.published).toEqual([]);
  });

  it('answers 401 without a known write key', async () => {
    for (const auth of [undefined, basic('nope'), 'Basic %%%']) {
      const req = request(app).post('/v1/track');
      if (auth) req.set('authorization', auth);
      const res = await req.send({ event: 'x', userId: 'u' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthenticated');
    }
  });

  it("spends the key's rate in events and answers 429 with Retry-After, which analytics-node waits for", async () => {
    expect((await batch([call({ type: 'track', event: 'a', userId: 'u' })], tiny.key)).status).toBe(200);
    const res = await batch([call({ type: 'track', event: 'b', userId: 'u' })], tiny.key);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.body.error).toBe('rate_limited');
  });

  it('answers 503 with Retry-After when Pub/Sub refuses, so the SDK retries (and dedup removes what was published)', async () => {
    publisher.fail = new Error('UNAVAILABLE');
    const res = await batch([call({ type: 'track', event: 'a', userId: 'u' })]);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
  });
});

import { gzipSync } from 'node:zlib';
import { createLogger } from '@strata/runtime';
import { createPiiHasher, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import { makeEvent } from '@strata/test';
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { keyDigest, type KeyConfig } from './keys.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * The whole front door as producers meet it: formats and encodings from the body reader, keys with
 * their log types, origins and rates, CORS, and the source a key names, wired in createApp.
 */
const silent = createLogger({ service: 'ingest', level: 'silent' });
const registry = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: silent });
const SHOP = 'https://shop.example';
const keys: KeyConfig[] = [
  { name: 'web-shop', sha256: keyDigest('browser-key'), logTypes: ['user_action'], origins: [SHOP], rate: { points: 5, durationSeconds: 60 } },
  { name: 'orders-service', sha256: keyDigest('server-key'), rate: { points: 1000, durationSeconds: 1 } },
];

describe('ingest for real producers', () => {
  let publisher: FakePublisher;
  let app: ReturnType<typeof createApp>;

  beforeEach(() => {
    publisher = new FakePublisher();
    app = createApp({
      config: { keys, maxEventsPerRequest: 500, maxBodyBytes: 100_000, maxDecodedBytes: 1_000_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
      registry,
      publisher,
      hash: createPiiHasher('test-secret-0123456789'),
      logger: silent,
      newId: (() => {
        let n = 0;
        return () => `id-${++n}`;
      })(),
      now: () => new Date('2026-11-21T12:00:00.000Z'),
    });
  });

  const published = async () => {
    const events: Record<string, unknown>[] = [];
    for (const message of publisher.published.filter((m) => m.attributes.kind !== 'rejected')) {
      const decoded = await decodeBatch(message.attributes, message.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      for (const line of decoded.lines) if (line.ok) events.push(line.value as Record<string, unknown>);
    }
    return events;
  };

  it('takes NDJSON, gzip-compressed, with a Bearer key, and names the key as the source', async () => {
    const { source: _s, ...event } = makeEvent();
    const ndjson = `${JSON.stringify(event)}\n${JSON.stringify(makeEvent({ source: 'ios' }))}\n`;
    const res = await request(app)
      .post('/v1/events')
      .set('authorization', 'Bearer server-key')
      .set('content-type', 'application/x-ndjson')
      .set('content-encoding', 'gzip')
      .send(gzipSync(ndjson));
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect((await published()).map((e) => e.source)).toEqual(['orders-service', 'ios']);
  });

  it('takes a batch object whose common fields every event shares, as sendBeacon text/plain with ?key=', async () => {
    const { session_id: _s, context: _c, ...bare } = makeEvent();
    const batch = {
      common: { session_id: 's-9', context: { user_agent: 'Mozilla/5.0', locale: 'de-DE' } },
      events: [{ ...bare, context: { page: { url: 'https://shop.example/a' } } }, { ...bare, session_id: 'own' }],
    };
    const res = await request(app).post('/v1/events?key=browser-key').set('content-type', 'text/plain').set('origin', SHOP).send(JSON.stringify(batch));
    expect(res.status).toBe(202);
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    const [first, second] = await published();
    expect(first).toMatchObject({ session_id: 's-9', context: { user_agent: 'Mozilla/5.0', locale: 'de-DE', page: { url: 'https://shop.example/a' } } });
    expect(second!.session_id).toBe('own');
  });

  it('answers a CORS preflight from an allowed origin and refuses others', async () => {
    const ok = await request(app).options('/v1/events').set('origin', SHOP).set('access-control-request-method', 'POST');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(SHOP);
    expect(ok.headers['access-control-allow-headers']).toMatch(/authorization/i);
    const bad = await request(app).options('/v1/events').set('origin', 'https://evil.example').set('access-control-request-method', 'POST');
    expect(bad.status).toBe(403);
    expect(bad.body.error).toBe('forbidden_origin');
  });

  it('refuses a key from an origin it does not list, and a log type it may not write, saying why', async () => {
    const page = await request(app).post('/v1/events').set('x-api-key', 'server-key').set('origin', SHOP).send([makeEvent()]);
    expect(page.status).toBe(403);
    expect(page.body.error).toBe('forbidden_origin');
    const order = { log_type: 'order_event', event: 'order_paid', ts: '2026-11-21T10:00:00Z', order_id: 'o-1' };
    const type = await request(app).post('/v1/events').set('x-api-key', 'browser-key').send([makeEvent(), order]);
    expect(type.status).toBe(403);
    expect(type.body).toMatchObject({ error: 'forbidden_log_type', index: 1, reason: expect.stringContaining('order_event') });
    expect(publisher.published).toHaveLength(0);
  });

  it('limits a key by events: 429 with Retry-After once its window is spent', async () => {
    const send = (n: number) => request(app).post('/v1/events').set('x-api-key', 'browser-key').send(Array.from({ length: n }, () => makeEvent()));
    expect((await send(3)).status).toBe(202);
    const refused = await send(3);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('answers 415 for a content type or encoding it does not take, and 413 for a gzip bomb', async () => {
    const xml = await request(app).post('/v1/events').set('x-api-key', 'server-key').set('content-type', 'application/xml').send('<e/>');
    expect(xml.status).toBe(415);
    expect(xml.body.error).toBe('unsupported_media_type');
    const br = await request(app).post('/v1/events').set('x-api-key', 'server-key').set('content-type', 'application/json').set('content-encoding', 'br').send('[]');
    expect(br.status).toBe(415);
    const bomb = await request(app)
      .post('/v1/events')
      .set('x-api-key', 'server-key')
      // (supertest would JSON-encode a Buffer sent as application/json; NDJSON goes as bytes)
      .set('content-type', 'application/x-ndjson')
      .set('content-encoding', 'gzip')
      .send(gzipSync(Buffer.alloc(5_000_000, 0x20)));
    expect(bomb.status, JSON.stringify(bomb.body)).toBe(413);
    expect(bomb.body.error).toBe('payload_too_large');
  });
});

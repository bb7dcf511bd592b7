import { gzipSync } from 'node:zlib';
import { createLogger } from '@strata/runtime';
import { createPiiHasher, createRegistry, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas } from '@strata/schemas';
import { makeEvent } from '@strata/test';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { createKey } from './keys.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * What ingest does with the key a request presents: it never writes it to a log line, on any
 * path, wherever the key was presented; and /healthz needs none and tells nothing.
 */
const SHOP = 'https://shop.example';
const registry = createRegistry(loadBundledSchemas());
const server = createKey({ name: 'orders-service', rate: { points: 1_000_000, durationSeconds: 1 } });
const tiny = createKey({ name: 'tiny', rate: { points: 1, durationSeconds: 60 } });
const browser = createKey({ name: 'web-shop', logTypes: ['user_action'], origins: [SHOP] });
// Well formed, and configured nowhere.
const stranger = createKey({ name: 'stranger' }).key;
const secrets = [server.key, tiny.key, browser.key, stranger];

function makeApp(options: { publisher?: FakePublisher; stopping?: () => boolean } = {}) {
  const lines: string[] = [];
  // `trace`, the lowest level, so a debug line that leaks fails the test too.
  const logger = createLogger({ service: 'ingest', level: 'trace' }, { write: (line: string) => void lines.push(line) });
  const app = createApp({
    config: { keys: [server.entry, tiny.entry, browser.entry], maxEventsPerRequest: 3, maxBodyBytes: 10_000, maxDecodedBytes: 100_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
    registry: { current: async () => registry },
    publisher: options.publisher ?? new FakePublisher(),
    hash: createPiiHasher('test-secret-0123456789'),
    logger,
    newId: () => 'id',
    now: () => new Date('2026-11-21T12:00:00.000Z'),
    ...(options.stopping && { stopping: options.stopping }),
  });
  return { app, lines };
}

type Where = 'X-API-Key' | 'Authorization: Bearer' | '?key=';

/** POST /v1/events presenting `key` the given way. */
function post(app: ReturnType<typeof makeApp>['app'], where: Where, key: string, query: Record<string, string> = {}) {
  const req = request(app).post('/v1/events').query(where === '?key=' ? { ...query, key } : query);
  if (where === 'X-API-Key') return req.set('x-api-key', key);
  if (where === 'Authorization: Bearer') return req.set('authorization', `Bearer ${key}`);
  return req;
}

describe.each<Where>(['X-API-Key', 'Authorization: Bearer', '?key='])('a key in %s', (where) => {
  it('appears in no log line, whatever the request ends in', async () => {
    const { app, lines } = makeApp();
    const statuses: number[] = [];
    const send = async (test: request.Test) => statuses.push((await test).status);

    await send(post(app, where, server.key).send([makeEvent()]));
    await send(post(app, where, server.key, { atomic: 'true' }).send([makeEvent(), makeEvent({ price: 'free' })]));
    await send(post(app, where, server.key).send([makeEvent({ price: 'free' })]));
    await send(post(app, where, server.key).set('content-type', 'application/json').send('[{"log_type":'));
    await send(post(app, where, server.key).send({ not: 'events' }));
    await send(post(app, where, server.key).send([makeEvent(), makeEvent(), makeEvent(), makeEvent()]));
    await send(post(app, where, server.key).set('content-type', 'application/x-ndjson').set('content-encoding', 'gzip').send(gzipSync(Buffer.alloc(200_000, 0x20))));
    await send(post(app, where, stranger).send([makeEvent()]));
    await send(post(app, where, server.key).set('origin', SHOP).send([makeEvent()]));
    await send(post(app, where, browser.key).set('origin', SHOP).send([makeEvent({ log_type: 'order_event' })]));
    await send(post(app, where, tiny.key).send([makeEvent(), makeEvent()]));
    await send(post(app, where, tiny.key).send([makeEvent()]));
    // Two different keys in one request, the other in the query or a header.
    const other = where === '?key=' ? post(app, where, server.key).set('x-api-key', tiny.key) : post(app, where, server.key).query({ key: tiny.key });
    await send(other.send([makeEvent()]));

    const down = new FakePublisher();
    down.fail = new Error('UNAVAILABLE');
    const failing = makeApp({ publisher: down });
    await send(post(failing.app, where, server.key).send([makeEvent()]));

    expect(new Set(statuses)).toEqual(new Set([202, 400, 401, 403, 413, 429, 503]));
    const logged = [...lines, ...failing.lines].join('');
    // The lines are there (so the assertion below can fail), the ?key= one redacted.
    expect(logged).toContain('events accepted');
    expect(logged).toContain('publish failed');
    if (where === '?key=') expect(logged).toContain('key=REDACTED');
    for (const secret of secrets) {
      // The random part alone, and a slice of it: a truncated or re-encoded key counts too.
      const random = secret.slice('strata_'.length);
      expect(logged).not.toContain(random);
      expect(logged).not.toContain(random.slice(0, 16));
    }
  });
});

describe('GET /healthz', () => {
  it('needs no key and says only whether the instance is serving', async () => {
    let stopping = false;
    const { app } = makeApp({ stopping: () => stopping });
    const probe = async () => request(app).get('/healthz').then((res) => [res.status, res.text]);
    expect(await probe()).toEqual([200, '{"ok":true}']);
    stopping = true;
    expect(await probe()).toEqual([503, '{"ok":false}']);
  });
});

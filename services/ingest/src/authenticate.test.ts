import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { authenticate, authenticatedKey, redactedUrl } from './authenticate.js';
import { createKeyRegistry, keyDigest, parseKeys } from './keys.js';

const registry = createKeyRegistry(
  parseKeys(
    JSON.stringify([
      { name: 'orders-service', sha256: keyDigest('server-key') },
      { name: 'web-shop', sha256: keyDigest('browser-key'), logTypes: ['user_action'], origins: ['https://shop.example'] },
    ]),
    'test',
  ),
);

const app = express();
app.post('/v1/events', authenticate(registry), (req, res) => {
  res.json({ key: authenticatedKey(res), url: redactedUrl(req) });
});

describe('authenticate', () => {
  it.each([
    ['Authorization: Bearer', (r: request.Test) => r.set('authorization', 'Bearer server-key')],
    ['Authorization: bearer, extra spaces', (r: request.Test) => r.set('authorization', 'bearer   server-key ')],
    ['X-API-Key', (r: request.Test) => r.set('x-api-key', 'server-key')],
    ['the same key twice', (r: request.Test) => r.set('x-api-key', 'server-key').set('authorization', 'Bearer server-key')],
  ])('accepts the key from %s and sets res.locals.key', async (_how, present) => {
    const res = await present(request(app).post('/v1/events'));
    expect(res.status).toBe(200);
    expect(res.body.key).toEqual({ name: 'orders-service', rate: { points: 1000, durationSeconds: 1 } });
  });

  it('accepts ?key= (sendBeacon) and the old ?api_key=, and redacts them for logs', async () => {
    const res = await request(app).post('/v1/events?key=server-key&atomic=true');
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('/v1/events?key=REDACTED&atomic=true');
    const old = await request(app).post('/v1/events?api_key=server-key');
    expect(old.status).toBe(200);
    expect(old.body.url).toBe('/v1/events?api_key=REDACTED');
  });

  it.each([
    ['no key', (r: request.Test) => r, 'missing API key'],
    ['an empty X-API-Key', (r: request.Test) => r.set('x-api-key', ''), 'missing API key'],
    ['an unknown key', (r: request.Test) => r.set('x-api-key', 'guess'), 'unknown API key'],
    ['the key hash itself', (r: request.Test) => r.set('x-api-key', keyDigest('server-key')), 'unknown API key'],
    ['a scheme other than Bearer and Basic', (r: request.Test) => r.set('authorization', 'Token server-key'), 'must be "Bearer <key>" or "Basic'],
    ['Basic credentials that are not base64', (r: request.Test) => r.set('authorization', 'Basic server-key!'), 'must be "Bearer <key>" or "Basic'],
    ['Basic credentials without a user name', (r: request.Test) => r.set('authorization', `Basic ${Buffer.from(':server-key').toString('base64')}`), 'empty user name'],
    ['two different keys', (r: request.Test) => r.set('authorization', 'Bearer server-key').set('x-api-key', 'browser-key'), 'different keys in Authorization and X-API-Key'],
  ])('answers 401 unauthenticated for %s, saying why', async (_what, present, reason) => {
    const res = await present(request(app).post('/v1/events'));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated', reason: expect.stringContaining(reason) });
  });

  it('accepts Basic auth with the key as the user name, as Segment SDKs send it', async () => {
    const res = await request(app).post('/v1/events').set('authorization', `Basic ${Buffer.from('server-key:').toString('base64')}`);
    expect(res.status).toBe(200);
    expect(res.body.key).toMatchObject({ name: 'orders-service' });
  });

  it('refuses a repeated ?key', async () => {
    const res = await request(app).post('/v1/events?key=server-key&key=server-key');
    expect(res.status).toBe(401);
    expect(res.body.reason).toContain('key query parameter must be given once');
  });

  it('lets a browser key be used from its origins and from servers', async () => {
    const page = await request(app).post('/v1/events').set('origin', 'https://shop.example').set('x-api-key', 'browser-key');
    expect(page.status).toBe(200);
    expect(page.body.key).toMatchObject({ name: 'web-shop', logTypes: ['user_action'], origins: ['https://shop.example'] });
    const server = await request(app).post('/v1/events').set('x-api-key', 'browser-key');
    expect(server.status).toBe(200);
  });

  it('answers 403 forbidden_origin for a browser key from another origin', async () => {
    const res = await request(app).post('/v1/events?key=browser-key').set('origin', 'https://evil.example');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'forbidden_origin',
      key: 'web-shop',
      reason: 'key "web-shop" may not be used from https://evil.example; its origins are https://shop.example',
    });
  });

  it('answers 403 forbidden_origin for a server key from any page, even without a preflight (sendBeacon)', async () => {
    const res = await request(app).post('/v1/events?key=server-key').set('origin', 'https://shop.example').set('content-type', 'text/plain').send('[]');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('forbidden_origin');
    expect(res.body.reason).toContain('key "orders-service" is a server key and is refused from web pages');
  });

  it('never echoes the key in an answer', async () => {
    for (const key of ['server-key', 'browser-key', 'unknown-key']) {
      const res = await request(app).post(`/v1/events?key=${key}`).set('origin', 'https://evil.example');
      expect(res.text).not.toContain(key);
    }
  });
});

describe('redactedUrl', () => {
  it.each([
    ['/v1/events', '/v1/events'],
    ['/v1/events?atomic=true', '/v1/events?atomic=true'],
    ['/v1/events?key=s3cret', '/v1/events?key=REDACTED'],
    ['/v1/events?KEY=s3cret&x=%20a', '/v1/events?KEY=REDACTED&x=%20a'],
    ['/v1/events?a=1&api_key=s&apikey=s&token=s&access_token=s&k%65y=s', '/v1/events?a=1&api_key=REDACTED&apikey=REDACTED&token=REDACTED&access_token=REDACTED&k%65y=REDACTED'],
    ['/v1/events?key', '/v1/events?key=REDACTED'],
    ['/v1/events?%E0%A4%A=1', '/v1/events?%E0%A4%A=1'],
  ])('%s → %s', (originalUrl, expected) => {
    expect(redactedUrl({ originalUrl })).toBe(expected);
  });
});

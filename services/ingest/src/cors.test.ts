import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createCors } from './cors.js';

const cors = createCors(['https://shop.example', 'http://localhost:8080']);
const app = express();
app.options('/v1/events', cors.preflight);
app.post('/v1/events', cors.headers, (_req, res) => {
  res.status(401).json({ error: 'unauthenticated', reason: 'missing API key' });
});

const preflight = (origin: string | undefined) => {
  const req = request(app).options('/v1/events').set('access-control-request-method', 'POST').set('access-control-request-headers', 'content-type, authorization');
  return origin === undefined ? req : req.set('origin', origin);
};

describe('CORS', () => {
  it('answers an allowed origin’s preflight 204 with the headers browsers need', async () => {
    const res = await preflight('https://shop.example');
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://shop.example',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'Content-Type, Content-Encoding, Authorization, X-API-Key, Idempotency-Key',
      'access-control-max-age': '7200',
      vary: 'Origin',
    });
    // Keys never travel in cookies.
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect((await preflight('http://localhost:8080')).headers['access-control-allow-origin']).toBe('http://localhost:8080');
  });

  it('answers an unknown origin’s preflight 403 in the error shape, with no CORS headers', async () => {
    for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', 'null']) {
      const res = await preflight(origin);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'forbidden_origin', reason: expect.stringContaining(`origin ${origin} is not allowed`) });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-methods']).toBeUndefined();
    }
  });

  it('answers a plain OPTIONS (no Origin) with Allow', async () => {
    const res = await preflight(undefined);
    expect(res.status).toBe(204);
    expect(res.headers.allow).toBe('POST, OPTIONS');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('lets an allowed page read every answer, errors and Retry-After included', async () => {
    const res = await request(app).post('/v1/events').set('origin', 'https://shop.example');
    expect(res.status).toBe(401);
    expect(res.headers).toMatchObject({ 'access-control-allow-origin': 'https://shop.example', 'access-control-expose-headers': 'Retry-After', vary: 'Origin' });
  });

  it('gives an unknown origin or a server-side client no CORS headers', async () => {
    const evil = await request(app).post('/v1/events').set('origin', 'https://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers.vary).toBe('Origin');
    const server = await request(app).post('/v1/events');
    expect(server.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows nothing when no key is a browser key', async () => {
    const none = express().options('/v1/events', createCors([]).preflight);
    const res = await request(none).options('/v1/events').set('origin', 'https://shop.example');
    expect(res.status).toBe(403);
  });
});

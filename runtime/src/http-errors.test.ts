import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { healthz, jsonErrors, notFound, sendError } from './http-errors.js';

function app(stopping = false) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'test' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const a = express();
  a.post('/json', express.json({ limit: 20 }), (_req, res) => res.status(204).end());
  a.get('/refuse', (_req, res) => sendError(res, 409, 'busy', 'try later', { retry_in: 5 }));
  a.get('/boom', () => {
    throw new Error('secret internals');
  });
  a.get('/healthz', healthz(() => stopping));
  a.use(notFound('GET /healthz is the only endpoint'));
  a.use(jsonErrors(logger));
  return { a, lines };
}

describe('the shared error body', () => {
  it('answers every refusal as { error, reason, …details }', async () => {
    const { a } = app();
    expect((await request(a).get('/refuse')).body).toEqual({ error: 'busy', reason: 'try later', retry_in: 5 });
    const missing = await request(a).delete('/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'not_found', reason: 'DELETE /nothing does not exist; GET /healthz is the only endpoint' });
  });

  it('maps body-parser errors to codes and sentences, and hides a bug behind a 500', async () => {
    const { a, lines } = app();
    const bad = await request(a).post('/json').type('json').send('{"a":');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_json', reason: expect.stringMatching(/^body is not valid JSON/) });
    const big = await request(a).post('/json').send({ text: 'x'.repeat(100) });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'payload_too_large', reason: 'body is larger than 20 bytes' });
    const boom = await request(a).get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.body).toEqual({ error: 'internal', reason: "request failed; see the service's logs" });
    expect(JSON.stringify(boom.body)).not.toContain('secret');
    expect(lines.find((l) => l.severity === 'ERROR')).toMatchObject({ message: 'request failed' });
  });

  it('healthz answers {"ok":true} while serving and {"ok":false} with 503 while stopping, and nothing more', async () => {
    const serving = await request(app().a).get('/healthz');
    expect(serving.status).toBe(200);
    expect(serving.text).toBe('{"ok":true}');
    const stopping = await request(app(true).a).get('/healthz');
    expect(stopping.status).toBe(503);
    expect(stopping.text).toBe('{"ok":false}');
  });
});

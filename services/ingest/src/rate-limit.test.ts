import express from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Key } from './keys.js';
import { createRateLimiter, sendRateLimited } from './rate-limit.js';

const key = (name: string, points: number, durationSeconds = 10): Key => ({ name, rate: { points, durationSeconds } });

describe('createRateLimiter', () => {
  beforeEach(() => {
    // Fake Date and timers: the fixed window is timed by Date.now and expired by setTimeout.
    vi.useFakeTimers({ now: new Date('2026-11-21T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts events, not requests, per window', async () => {
    const limiter = createRateLimiter();
    const web = key('web', 100);
    expect(await limiter.consumeEvents(web, 60)).toEqual({ ok: true });
    expect(await limiter.consumeEvents(web, 40)).toEqual({ ok: true });
    expect(await limiter.consumeEvents(web, 1)).toEqual({ ok: false, retryAfterSeconds: 10 });
    vi.advanceTimersByTime(7_500);
    expect(await limiter.consumeEvents(web, 1)).toEqual({ ok: false, retryAfterSeconds: 3 });
    vi.advanceTimersByTime(2_500);
    expect(await limiter.consumeEvents(web, 100)).toEqual({ ok: true });
  });

  it('does not count refused events, so smaller batches still fit the window', async () => {
    const limiter = createRateLimiter();
    const web = key('web', 100);
    await limiter.consumeEvents(web, 90);
    expect((await limiter.consumeEvents(web, 50)).ok).toBe(false);
    expect(await limiter.consumeEvents(web, 10)).toEqual({ ok: true });
  });

  it('lets a batch larger than the window through when the window is empty, instead of refusing it forever', async () => {
    const limiter = createRateLimiter();
    const small = key('small', 10);
    expect(await limiter.consumeEvents(small, 500)).toEqual({ ok: true });
    expect((await limiter.consumeEvents(small, 1)).ok).toBe(false);
    vi.advanceTimersByTime(10_000);
    await limiter.consumeEvents(small, 1);
    expect((await limiter.consumeEvents(small, 500)).ok).toBe(false);
  });

  it('keeps one window per key', async () => {
    const limiter = createRateLimiter();
    expect((await limiter.consumeEvents(key('a', 5), 5)).ok).toBe(true);
    expect((await limiter.consumeEvents(key('a', 5), 1)).ok).toBe(false);
    expect((await limiter.consumeEvents(key('b', 5), 5)).ok).toBe(true);
    expect(await limiter.consumeEvents(key('a', 5), 0)).toEqual({ ok: true });
  });

  describe('over HTTP', () => {
    const appFor = (limiter: ReturnType<typeof createRateLimiter>, k: Key) => {
      const app = express();
      app.post(
        '/v1/events',
        (_req, res, next) => {
          res.locals.key = k;
          next();
        },
        limiter.admit,
        express.json(),
        async (req, res) => {
          const result = await limiter.consumeEvents(k, (req.body as unknown[]).length);
          if (!result.ok) return sendRateLimited(res, k, result.retryAfterSeconds);
          res.status(202).json({ accepted: (req.body as unknown[]).length });
        },
      );
      return app;
    };

    it('answers 429 rate_limited with Retry-After, after parsing and then before reading the body', async () => {
      const limiter = createRateLimiter();
      const web = key('web', 3, 2);
      const app = appFor(limiter, web);
      expect((await request(app).post('/v1/events').send([1, 2])).status).toBe(202);

      const over = await request(app).post('/v1/events').send([1, 2]);
      expect(over.status).toBe(429);
      expect(over.headers['retry-after']).toBe('2');
      expect(over.body).toEqual({ error: 'rate_limited', reason: 'key "web" has used its 3 events for this 2 s window; retry after 2 s', retry_after_seconds: 2 });

      expect((await request(app).post('/v1/events').send([1])).status).toBe(202);
      // The window is spent: admit refuses before the body is parsed (this one is not even JSON).
      const spent = await request(app).post('/v1/events').set('content-type', 'application/json').send('not json');
      expect(spent.status).toBe(429);
      expect(spent.headers['retry-after']).toBe('2');

      vi.advanceTimersByTime(2_000);
      expect((await request(app).post('/v1/events').send([1, 2, 3])).status).toBe(202);
    });
  });
});

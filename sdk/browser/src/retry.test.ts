import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyResponse, parseRetryAfter, retryDelay } from './retry.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 1000, maxMs: 8000 };
  it('doubles per attempt up to the cap, jittered over the upper half', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy, () => 0))).toEqual([500, 1000, 2000, 4000, 4000]);
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy, () => 0.999999))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('retryDelay', () => {
  it('never retries earlier than Retry-After, and backs off beyond it after repeated failures', () => {
    const policy = { baseMs: 1000, maxMs: 60_000 };
    expect(retryDelay(1, 5000, policy, () => 0.5)).toBe(5000);
    expect(retryDelay(6, 5000, policy, () => 0)).toBe(16_000);
    expect(retryDelay(1, undefined, policy, () => 0)).toBe(500);
  });
});

describe('classifyResponse', () => {
  it('accepts 2xx, retries 429 and 503 with their Retry-After, and gives up on other errors', () => {
    expect(classifyResponse(202, null, null)).toEqual({ ok: true });
    expect(classifyResponse(429, '2', { error: 'rate_limited' })).toEqual({ ok: false, retry: true, retryAfterMs: 2000 });
    expect(classifyResponse(503, null, { error: 'stopping' })).toEqual({ ok: false, retry: true });
    expect(classifyResponse(403, null, { error: 'forbidden_origin', reason: 'not this page' })).toEqual({ ok: false, retry: false, status: 403, reason: 'not this page' });
    expect(classifyResponse(500, null, null)).toEqual({ ok: false, retry: false, status: 500, reason: 'HTTP 500' });
  });

  it('retries only the events a 503 says were not published', () => {
    expect(classifyResponse(503, '1', { error: 'unavailable', published: 1, unpublished: [0, 2] })).toEqual({ ok: false, retry: true, retryAfterMs: 1000, only: [0, 2] });
  });
});

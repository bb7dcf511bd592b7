import { describe, expect, it } from 'vitest';
import { PUSH_BACKOFF, backoffDelayMs, redeliveryDelayMs } from './backoff.js';

describe('redelivery backoff', () => {
  it('doubles from the minimum and stops at the maximum', () => {
    const policy = { minMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelayMs(policy, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('uses the retry policy when set, push backoff for push, and none for pull', () => {
    expect(redeliveryDelayMs({ minMs: 0, maxMs: 600_000 }, 'push', 3)).toBe(0);
    expect(redeliveryDelayMs(undefined, 'push', 1)).toBe(PUSH_BACKOFF.minMs);
    expect(redeliveryDelayMs(undefined, 'push', 99)).toBe(PUSH_BACKOFF.maxMs);
    expect(redeliveryDelayMs(undefined, 'pull', 7)).toBe(0);
  });
});

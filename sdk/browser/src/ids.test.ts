import { describe, expect, it } from 'vitest';
import { createIdFactory } from './ids.js';

describe('createIdFactory', () => {
  it('makes 26-character ULID-shaped ids the envelope accepts, sorted by time', () => {
    let t = 1_700_000_000_000;
    const newId = createIdFactory(undefined, () => t);
    const ids = Array.from({ length: 50 }, () => ((t += 1), newId()));
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes the time in the first 10 characters, as a ULID does', () => {
    const newId = createIdFactory((b) => b.fill(0), () => 1469918176385);
    expect(newId()).toBe('01ARYZ6S41' + '0'.repeat(16));
  });

  it('takes its randomness from the generator given (crypto.getRandomValues by default)', () => {
    const newId = createIdFactory((b) => b.fill(31), () => 0);
    expect(newId().slice(10)).toBe('Z'.repeat(16));
  });
});

import { decodeTime, isValid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { createUlidFactory } from './ids.js';

describe('createUlidFactory', () => {
  it('makes valid, unique ULIDs that sort by creation and carry the time', () => {
    const newId = createUlidFactory();
    const before = Date.now();
    const ids = Array.from({ length: 5000 }, () => newId());
    expect(ids.every(isValid)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(decodeTime(ids[0]!)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(ids.at(-1)!)).toBeLessThanOrEqual(Date.now());
  });

  it('is random across factories: two factories never meet', () => {
    const a = createUlidFactory();
    const b = createUlidFactory();
    const seen = new Set(Array.from({ length: 1000 }, () => a()));
    for (let i = 0; i < 1000; i++) expect(seen.has(b())).toBe(false);
  });
});

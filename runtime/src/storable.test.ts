import { describe, expect, it } from 'vitest';
import { MAX_STORABLE_DEPTH, storable } from './storable.js';

const arrays = (depth: number) => JSON.parse('['.repeat(depth) + '1' + ']'.repeat(depth)) as unknown;

describe('storable', () => {
  it('keeps scalars and values up to the depth bound as they are', () => {
    expect(storable('x')).toBe('x');
    const value = { a: [{ b: 1 }] };
    expect(storable(value)).toBe(value);
    const deepest = arrays(MAX_STORABLE_DEPTH);
    expect(storable(deepest)).toBe(deepest);
  });

  it('replaces anything deeper with a stand-in that says why, whatever the stack later writes it from', () => {
    for (const depth of [MAX_STORABLE_DEPTH + 1, 4_200, 100_000]) {
      expect(storable(arrays(depth))).toEqual({ unstorable: expect.stringMatching(/nested more than 1000 levels/) });
    }
    const deepObject = JSON.parse('{"n":'.repeat(5_000) + '1' + '}'.repeat(5_000)) as unknown;
    expect(storable({ data: deepObject })).toHaveProperty('unstorable');
  });
});

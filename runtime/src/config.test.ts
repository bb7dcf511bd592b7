import { describe, expect, it } from 'vitest';
import { ConfigError, optionalString, readInt, readList, requireString } from './config.js';

describe('config readers', () => {
  it('read strings, with fallbacks, trimming blanks to absent', () => {
    expect(requireString({ A: ' x ' }, 'A')).toBe('x');
    expect(requireString({ A: '  ' }, 'A', 'd')).toBe('d');
    expect(() => requireString({}, 'A')).toThrow(new ConfigError('A is required but not set'));
    expect(optionalString({ A: '' }, 'A')).toBeUndefined();
  });

  it('read integers within bounds, naming the variable when not', () => {
    expect(readInt({}, 'N', 7)).toBe(7);
    expect(readInt({ N: '42' }, 'N', 7)).toBe(42);
    expect(() => readInt({ N: '4.2' }, 'N', 7)).toThrow('N must be an integer, got "4.2"');
    expect(() => readInt({ N: '99' }, 'N', 7, { max: 10 })).toThrow('N must be between 0 and 10, got 99');
  });

  it('read comma-separated lists', () => {
    expect(readList({ L: 'a, b,,c ' }, 'L')).toEqual(['a', 'b', 'c']);
    expect(readList({}, 'L', ['d'])).toEqual(['d']);
  });
});

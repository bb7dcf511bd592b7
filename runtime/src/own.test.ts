import { describe, expect, it } from 'vitest';
import { setOwn } from './own.js';

describe('setOwn', () => {
  it('assigns ordinary keys and defines "__proto__" as an own data property', () => {
    const obj: Record<string, unknown> = {};
    setOwn(obj, 'a', 1);
    setOwn(obj, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
    expect(Object.keys(obj)).toEqual(['a', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(obj, '__proto__')).toEqual({ value: { polluted: true }, enumerable: true, writable: true, configurable: true });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

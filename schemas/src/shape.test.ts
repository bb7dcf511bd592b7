import { describe, expect, it } from 'vitest';
import { checkShape, DEFAULT_SHAPE_LIMITS } from './shape.js';

const check = (value: unknown) => checkShape(value, DEFAULT_SHAPE_LIMITS);

describe('checkShape: what no event may hold, wherever it is', () => {
  it('refuses numbers JSON cannot hold, naming where', () => {
    expect(check(JSON.parse('{"extra_field": {"n": 1e309}}'))).toEqual({ path: '/extra_field/n', message: 'must be a finite number (it is out of range)' });
    expect(check(JSON.parse('{"n": -1e400}'))?.path).toBe('/n');
    expect(check({ n: 1.7976931348623157e308 })).toBeUndefined();
  });

  it('refuses lone surrogates in values and in field names', () => {
    expect(check(JSON.parse('{"title": "a\\ud800b"}'))).toEqual({ path: '/title', message: 'must be well-formed Unicode (it holds a lone surrogate)' });
    expect(check(JSON.parse('{"t": "\\udc00"}'))?.path).toBe('/t');
    expect(check(JSON.parse('{"k\\ud800": 1}'))).toEqual({ path: '', message: 'must NOT have field names holding a lone surrogate' });
    expect(check({ emoji: '😀 ü' })).toBeUndefined();
  });

  it('bounds field names, which unknown fields keep in extra', () => {
    expect(check({ ['k'.repeat(257)]: 1 })).toEqual({ path: '', message: 'must NOT have field names longer than 256 characters (one has 257)' });
    expect(check({ nested: { ['k'.repeat(1_000_000)]: 1 } })?.path).toBe('/nested');
    expect(check({ ['k'.repeat(256)]: 1 })).toBeUndefined();
  });

  it('keeps the existing bounds: depth, string length, array size', () => {
    expect(check({ s: 'x'.repeat(65_537) })?.message).toMatch(/more than 65536 characters/);
    expect(check({ a: Array.from({ length: 1001 }, () => 1) })?.message).toMatch(/more than 1000 items/);
    expect(check({ a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } })?.message).toMatch(/nested deeper than 8/);
  });
});

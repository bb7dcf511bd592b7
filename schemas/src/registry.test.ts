import { describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createRegistry } from './registry.js';

const registry = createRegistry(loadBundledSchemas());
const valid = {
  event_id: '01JD0000000000000000000000',
  event: 'page_view',
  ts: '2026-11-21T10:00:00.5Z',
  received_at: '2026-11-21T10:00:01Z',
  user_id: 'u1',
  properties: { page: '/' },
};

describe('registry', () => {
  it('knows the bundled log types and their latest versions', () => {
    expect(registry.logTypes()).toContain('user_action');
    expect(registry.latestVersion('user_action')).toBe(1);
    expect(registry.latestVersion('nope')).toBeUndefined();
  });

  it('accepts a valid event at the latest or an explicit version', () => {
    expect(registry.validate('user_action', undefined, valid)).toMatchObject({ ok: true, version: 1 });
    expect(registry.validate('user_action', 1, valid)).toMatchObject({ ok: true, version: 1 });
  });

  it('reports every error with its JSON pointer and rule', () => {
    const result = registry.validate('user_action', 1, { ...valid, event: 'Page View', user_id: 7, extra: true, ts: undefined });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([
        { path: '/ts', message: 'is required' },
        { path: '/extra', message: 'is not a known field' },
        { path: '/user_id', message: 'must be string' },
        { path: '/event', message: 'must match pattern "^[a-z][a-z0-9_]*$"' },
      ]),
    );
  });

  it('bounds hostile input: overlong strings and too many properties', () => {
    const props = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    const result = registry.validate('user_action', 1, { ...valid, user_id: 'x'.repeat(129), properties: props });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.path).sort()).toEqual(['/properties', '/user_id']);
  });

  it('names unknown log types and versions', () => {
    expect(registry.validate('nope', undefined, valid)).toEqual({
      ok: false,
      errors: [{ path: '/log_type', message: 'unknown log type "nope" (known: user_action)' }],
    });
    expect(registry.validate('user_action', 4, valid)).toEqual({
      ok: false,
      errors: [{ path: '/schema_version', message: 'unknown version 4 of log type user_action (known: 1)' }],
    });
  });
});

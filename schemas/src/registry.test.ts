import { describe, expect, it } from 'vitest';
import { loadBundledSchemas, loadEnvelope } from './bundled.js';
import { ENVELOPE } from './compose.js';
import type { JsonSchema } from './log-type.js';
import { createRegistry } from './registry.js';

const registry = createRegistry(loadBundledSchemas());
const valid = {
  event_id: '01JD0000000000000000000000',
  event: 'product_view',
  ts: '2026-11-21T10:00:00.5Z',
  received_at: '2026-11-21T10:00:01Z',
  schema_version: 2,
  user_id: 'u1',
  context: { page: { url: 'https://shop.example/' } },
  product_id: 'p1',
  price: 3.5,
};

describe('registry', () => {
  it('knows the bundled log types and their versions', () => {
    expect(registry.logTypes()).toEqual(['impression', 'order_event', 'segment_identify', 'segment_page', 'segment_track', 'seller_action', 'user_action']);
    expect(registry.versions('user_action')).toEqual([1, 2]);
    expect(registry.latestVersion('user_action')).toBe(2);
    expect(registry.latestVersion('nope')).toBeUndefined();
  });

  it('accepts a valid event at the latest or an explicit version', () => {
    expect(registry.validate('user_action', undefined, valid)).toMatchObject({ ok: true, version: 2 });
    expect(registry.validate('user_action', 1, { ...valid, schema_version: 1 })).toMatchObject({ ok: true, version: 1 });
  });

  it('applies each version: a v2-only enum value fails v1', () => {
    const wish = { ...valid, event: 'add_to_wishlist' };
    expect(registry.validate('user_action', 2, wish).ok).toBe(true);
    expect(registry.validate('user_action', 1, wish)).toMatchObject({ ok: false, errors: [{ path: '/event', message: expect.stringContaining('must be one of "page_view"') }] });
  });

  it('reports every error with its JSON pointer and rule', () => {
    const result = registry.validate('user_action', 2, { ...valid, price: 'cheap', user_id: 7, ts: undefined, quantity: -1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual(
      expect.arrayContaining([
        { path: '/ts', message: 'is required' },
        { path: '/price', message: 'must be number' },
        { path: '/user_id', message: 'must be string' },
        { path: '/quantity', message: 'must be >= 0' },
      ]),
    );
  });

  it('rejects unknown fields where the schema says reject, keeps them where it says keep', () => {
    const order = { ...valid, event: 'order_paid', order_id: 'o1', product_id: undefined, price: undefined, coupon: 'X' };
    expect(registry.validate('order_event', 1, JSON.parse(JSON.stringify(order)))).toMatchObject({
      ok: false,
      errors: [{ path: '/coupon', message: 'is not a known field' }],
    });
    expect(registry.validate('user_action', 2, { ...valid, coupon: 'X' }).ok).toBe(true);
  });

  it('rejects unknown fields inside the envelope context', () => {
    const result = registry.validate('user_action', 2, { ...valid, context: { screen: '4k' } });
    expect(result).toMatchObject({ ok: false, errors: [{ path: '/context/screen', message: 'is not a known field' }] });
  });

  it('accepts only timestamps the lake can store', () => {
    for (const ts of ['2026-11-21T10:00:00+0100', '2026-02-30T10:00:00Z', '2026-11-21T24:00:00Z', '2026-11-21']) {
      expect(registry.validate('user_action', 2, { ...valid, ts }), ts).toMatchObject({ ok: false, errors: [{ path: '/ts', message: 'must match format "date-time"' }] });
    }
    expect(registry.validate('user_action', 2, { ...valid, ts: '2026-11-21T10:00:00.123456-05:30' }).ok).toBe(true);
  });

  it.each([
    ['an overlong typed string', { search_query: 'x'.repeat(513) }, '/search_query', 'must NOT have more than 512 characters'],
    ['a huge kept string', { blob: 'x'.repeat(70_000) }, '/blob', 'must NOT have more than 65536 characters'],
    ['deep nesting', { nest: JSON.parse('{"a":'.repeat(9) + '1' + '}'.repeat(9)) }, '/nest/a/a/a/a/a/a/a', 'must NOT be nested deeper than 8 levels'],
    ['a huge array', { list: Array.from({ length: 1001 }, () => 1) }, '/list', 'must NOT have more than 1000 items'],
    ['too many fields', Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`k${i}`, i])), '', 'must NOT have more than 100 properties'],
  ])('bounds hostile input: %s', (_name, extra, path, message) => {
    const result = registry.validate('user_action', 2, { ...valid, ...extra });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message });
  });

  it('names unknown log types and versions', () => {
    expect(registry.validate('nope', undefined, valid)).toEqual({
      ok: false,
      errors: [{ path: '/log_type', message: 'unknown log type "nope" (known: impression, order_event, segment_identify, segment_page, segment_track, seller_action, user_action)' }],
    });
    expect(registry.validate('user_action', 4, valid)).toEqual({
      ok: false,
      errors: [{ path: '/schema_version', message: 'unknown version 4 of log type user_action (known: 1, 2)' }],
    });
  });

  it('refuses schemas that redefine envelope fields or use reserved names', () => {
    const base = { logType: 'x', version: 1 };
    const file = (properties: Record<string, JsonSchema>) => ({ ...base, schema: { 'x-log-type': 'x', 'x-version': 1, 'x-unknown-properties': 'reject' as const, properties } });
    expect(() => createRegistry([file({ user_id: { type: 'integer' } })])).toThrow('x v1: field "user_id" is an envelope field and cannot be redefined');
    expect(() => createRegistry([file({ dt: { type: 'string' } })])).toThrow('x v1: field "dt" is reserved');
    expect(() => createRegistry([file({ '1st': { type: 'string' } })])).toThrow('"1st" is not a valid BigQuery column name');
    expect(() => createRegistry([file({ _PARTITIONTIME2: { type: 'string' } })])).toThrow("reserved prefix _partition");
  });

  it('has every envelope field the services use by name', () => {
    const fields = Object.keys(loadEnvelope().properties ?? {});
    for (const name of Object.values(ENVELOPE)) expect(fields).toContain(name);
  });
});

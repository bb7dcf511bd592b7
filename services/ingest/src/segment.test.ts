import { createRegistry, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_FIELDS, eventId, eventTime, SEGMENT_LOG_TYPES, segmentEvents, snakeCase } from './segment.js';

const registry = createRegistry(loadBundledSchemas());
const receivedAt = new Date('2026-11-21T12:00:00.000Z');
const deps = { registry, receivedAt, mayWrite: () => true };

describe('segment mapping', () => {
  it('names every envelope field, so no property can overwrite one', () => {
    expect([...ENVELOPE_FIELDS].sort()).toEqual(Object.keys(loadEnvelope().properties ?? {}).sort());
  });

  it('maps each call to a bundled log type', () => {
    for (const logType of new Set(Object.values(SEGMENT_LOG_TYPES))) expect(registry.latestVersion(logType), logType).toBe(1);
  });

  it.each([
    ['Order Completed', 'order_completed'],
    ['orderCompleted', 'order_completed'],
    ['order-completed', 'order_completed'],
    ['  Produkt angesehen (Übersicht) ', 'produkt_angesehen_ubersicht'],
    ['404 Seen', 'e_404_seen'],
    ['x'.repeat(70), 'x'.repeat(64)],
  ])('snake_cases the event name %j as %j', (name, snake) => {
    expect(snakeCase(name)).toBe(snake);
  });

  it('gives a name with no letter or digit a stable, distinct name', () => {
    expect(snakeCase('商品を見た')).toMatch(/^event_[0-9a-f]{8}$/);
    expect(snakeCase('商品を見た')).toBe(snakeCase('商品を見た'));
    expect(snakeCase('商品を見た')).not.toBe(snakeCase('カート'));
  });

  it('keeps a messageId that fits event_id and hashes any other', () => {
    expect(eventId('node-next-1668208232027-743be593-7789-4b74-8078-cbcc8894c586')).toEqual({ eventId: 'node-next-1668208232027-743be593-7789-4b74-8078-cbcc8894c586', kept: false });
    expect(eventId(12)).toEqual({ eventId: '12', kept: false });
    expect(eventId('a b')).toEqual({ eventId: expect.stringMatching(/^seg-[0-9a-f]{40}$/), kept: true });
    expect(eventId('a'.repeat(65)).eventId).toMatch(/^seg-/);
    expect(eventId(undefined)).toEqual({ eventId: undefined, kept: false });
  });

  it('corrects originalTimestamp by the device clock, and passes a bad time on for validation to refuse', () => {
    expect(eventTime({ originalTimestamp: '2026-11-21T12:00:00Z', sentAt: '2026-11-21T12:00:05Z' }, undefined, receivedAt)).toBe('2026-11-21T11:59:55.000Z');
    expect(eventTime({ originalTimestamp: '2026-11-21T12:00:00Z' }, '2026-11-21T11:00:00Z', receivedAt)).toBe('2026-11-21T13:00:00.000Z');
    expect(eventTime({ originalTimestamp: '2026-11-21T10:00:00Z' }, undefined, receivedAt)).toBe('2026-11-21T10:00:00Z');
    expect(eventTime({ timestamp: 'yesterday' }, undefined, receivedAt)).toBe('yesterday');
    expect(eventTime({ timestamp: null }, undefined, receivedAt)).toBe('2026-11-21T12:00:00.000Z');
    // Both parse, but the corrected time is beyond Date's range: passed on for validation to refuse, not a RangeError.
    expect(eventTime({ originalTimestamp: '+275760-09-13T00:00:00Z', sentAt: '2020-01-01T00:00:00Z' }, undefined, receivedAt)).toBe('+275760-09-13T00:00:00Z');
  });

  it('treats null and empty ids as absent, and never copies the write key', () => {
    const result = segmentEvents('track', { event: 'A', userId: null, anonymousId: '', writeKey: 'secret', messageId: 'm' }, deps);
    expect(result).toEqual({ ok: true, events: [{ log_type: 'segment_track', event: 'a', event_name: 'A', event_id: 'm', ts: receivedAt.toISOString() }] });
  });

  it('keeps properties named like envelope or reserved fields in extra.segment', () => {
    const result = segmentEvents('track', { event: 'A', messageId: 'm', properties: { ts: 1, extra: 2, dt: 3, segment: 4, user_id: 'x', event_name: 'y', plain: 5 } }, deps);
    expect(result.ok && result.events[0]).toMatchObject({ plain: 5, event_name: 'A', segment: { properties: { ts: 1, extra: 2, dt: 3, segment: 4, user_id: 'x', event_name: 'y' } } });
  });

  it('routes by a properties.log_type that is a name, and keeps one that is not', () => {
    const named = segmentEvents('track', { event: 'impression', messageId: 'm', properties: { log_type: 'impression' } }, deps);
    expect(named.ok && named.events[0]).toMatchObject({ log_type: 'impression', event: 'impression' });
    expect(named.ok && named.events[0]).not.toHaveProperty('segment');
    const odd = segmentEvents('track', { event: 'A', messageId: 'm', properties: { log_type: 7 } }, deps);
    expect(odd.ok && odd.events[0]).toMatchObject({ log_type: 'segment_track', segment: { properties: { log_type: 7 } } });
  });

  it('leaves out a null property of a declared column and keeps an undeclared null in extra', () => {
    const result = segmentEvents('track', { event: 'A', messageId: 'm', properties: { revenue: null, note: null } }, deps);
    expect(result.ok && result.events[0]).not.toHaveProperty('revenue');
    expect(result.ok && result.events[0]).toHaveProperty('note', null);
  });
});

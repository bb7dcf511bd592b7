import { createPiiPolicy, createRegistry, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { prepareEvents, type PrepareDeps } from './prepare.js';

const registry = createRegistry(loadBundledSchemas());
const deps = (): PrepareDeps => {
  let ids = 0;
  return {
    registry,
    pii: createPiiPolicy({ secret: 'test-secret-0123456789', keyId: 'k1' }),
    newId: () => `id-${++ids}`,
    now: () => new Date('2026-11-21T12:00:00.000Z'),
    maxEvents: 500,
    window: DEFAULT_EVENT_TIME_WINDOW,
    defaultSource: 'key-name',
  };
};
const action = { log_type: 'user_action', event: 'page_view', ts: '2026-11-21T11:59:00.000Z', user_id: 'u-1' };

describe('prepareEvents', () => {
  it('copies each event once: without log_type, with the id, receive time, source and version Strata fills in', () => {
    const raw = { ...action, context: { locale: 'de-DE' } };
    const result = prepareEvents([raw], deps());
    expect(result.ok && result.rejected).toEqual([]);
    const [prepared] = result.ok ? result.events : [];
    expect(prepared).toMatchObject({ index: 0, logType: 'user_action', eventId: 'id-1' });
    expect(prepared!.event).toMatchObject({ event: 'page_view', user_id: 'u-1', event_id: 'id-1', received_at: '2026-11-21T12:00:00.000Z', source: 'key-name', schema_version: registry.latestVersion('user_action') });
    expect(prepared!.event).not.toHaveProperty('log_type');
    // The producer's object is left as it came: it is what quarantine would keep.
    expect(raw).toEqual({ ...action, context: { locale: 'de-DE' } });
  });

  it("keeps the producer's event_id and source", () => {
    const result = prepareEvents([{ ...action, event_id: 'mine', source: 'ios' }], deps());
    expect(result.ok && result.events[0]!.event).toMatchObject({ event_id: 'mine', source: 'ios' });
  });

  it('keeps a "__proto__" field as an inert own field and never sets the prototype', () => {
    const raw = JSON.parse('{"log_type":"user_action","event":"page_view","ts":"2026-11-21T11:59:00.000Z","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const result = prepareEvents([raw], deps());
    expect(result.ok && result.rejected).toEqual([]);
    const event = result.ok ? result.events[0]!.event : {};
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(Object.hasOwn(event, '__proto__')).toBe(true);
    expect((event as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(event)).__proto__).toEqual({ polluted: true });
  });

  it('rejects each bad event with its index and reasons, keeping the good ones', () => {
    const result = prepareEvents([action, 'nope', { ...action, ts: '0000-01-01T00:00:00Z' }, { event: 'x' }], deps());
    expect(result.ok && result.events.map((e) => e.index)).toEqual([0]);
    const rejected = result.ok ? result.rejected : [];
    expect(rejected.map((r) => [r.index, r.logType, r.errors[0]!.path])).toEqual([
      [1, undefined, ''],
      [2, 'user_action', '/ts'],
      [3, undefined, '/log_type'],
    ]);
    expect(rejected[1]!.data).toEqual({ ...action, ts: '0000-01-01T00:00:00Z' });
  });

  it('protects the PII of rejected events by the rules of the version they name, else the latest, and by key name', () => {
    const { pii } = deps();
    const order = { log_type: 'order_event', event: 'order_paid', ts: 'soon', customer_email: 'ada@example.com', context: { ip: '203.0.113.7' } };
    const unknown = { log_type: 'nope', event: 'x', user_email: 'bob@example.com', context: { ip: '203.0.113.7' } };
    const result = prepareEvents([order, { ...order, schema_version: 9 }, unknown, 'ada@example.com'], deps());
    const data = result.ok ? result.rejected.map((r) => r.data) : [];
    const protectedOrder = { ...order, customer_email: pii.hash('ada@example.com'), context: { ip: '[redacted]' } };
    expect(data[0]).toEqual(protectedOrder);
    expect(data[1]).toEqual({ ...protectedOrder, schema_version: 9 });
    // An unknown log type declares nothing: the key patterns catch user_email, and ip (hashed, being a string).
    expect(data[2]).toEqual({ log_type: 'nope', event: 'x', user_email: pii.hash('bob@example.com'), context: { ip: pii.hash('203.0.113.7') } });
    // A bare string has no keys: it is kept as it came.
    expect(data[3]).toBe('ada@example.com');
    expect(order.customer_email).toBe('ada@example.com');
  });
});

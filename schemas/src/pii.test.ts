import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createPiiHasher, piiRulesOf, protectPii, REDACTED } from './pii.js';
import { createRegistry } from './registry.js';

const registry = createRegistry(loadBundledSchemas());
const hash = createPiiHasher('test-secret-0123456789');

describe('PII declared in the schema', () => {
  const order = {
    event: 'order_paid',
    order_id: 'o1',
    customer_email: 'ada@example.com',
    shipping_address: { street: 'Main St 1' },
    context: { ip: '203.0.113.7', user_agent: 'UA', page: { url: 'https://shop.example/' } },
  };

  it('hashes with keyed HMAC-SHA256, redacts and drops, without touching the input', () => {
    const protectedEvent = protectPii(order, registry.piiRules('order_event', 1), hash);
    const expectedHash = 'hmac:' + createHmac('sha256', 'test-secret-0123456789').update('ada@example.com').digest('hex');
    expect(protectedEvent).toEqual({
      event: 'order_paid',
      order_id: 'o1',
      customer_email: expectedHash,
      context: { ip: REDACTED, user_agent: 'UA', page: { url: 'https://shop.example/' } },
    });
    expect(order.customer_email).toBe('ada@example.com');
    expect(order.context.ip).toBe('203.0.113.7');
  });

  it('is idempotent, so ingest and the writer can both apply it', () => {
    const rules = registry.piiRules('order_event', 1);
    const once = protectPii(order, rules, hash);
    expect(protectPii(once, rules, hash)).toEqual(once);
  });

  it('gives the same hash across log types (joins work) but another with another secret', () => {
    expect(hash('ada@example.com')).toBe(hash('ada@example.com'));
    expect(createPiiHasher('another-secret-9876543210')('ada@example.com')).not.toBe(hash('ada@example.com'));
  });

  it('leaves events without the fields alone', () => {
    expect(protectPii({ event: 'order_created', order_id: 'o2' }, registry.piiRules('order_event', 1), hash)).toEqual({ event: 'order_created', order_id: 'o2' });
  });

  it('refuses declarations that cannot work', () => {
    expect(() => piiRulesOf({ properties: { email: { type: 'string', format: 'date-time', 'x-pii': 'hash' } } })).toThrow('/email: x-pii "hash" needs a plain string field');
    expect(() => piiRulesOf({ properties: { email: { type: 'string', maxLength: 20, 'x-pii': 'hash' } } })).toThrow('/email: x-pii "hash" needs maxLength ≥ 69');
    expect(() => piiRulesOf({ properties: { n: { type: 'integer', 'x-pii': 'redact' } } })).toThrow('/n: x-pii "redact" applies to string fields');
    expect(() => piiRulesOf({ properties: { a: { type: 'array', items: { type: 'object', properties: { e: { type: 'string', 'x-pii': 'drop' } } } } } })).toThrow(
      '/a/e: x-pii is not supported inside arrays',
    );
    expect(() => createPiiHasher('short')).toThrow('at least 16 characters');
  });
});

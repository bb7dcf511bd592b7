import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createPiiHasher, createPiiPolicy, defaultPiiKeyId, HASHED_LENGTH, readPiiSettings } from './pii-key.js';
import { keyNamesPii, piiPlanOf, piiRulesOf, protectPii, protectStored, protectText, REDACTED } from './pii.js';
import { createRegistry } from './registry.js';

const registry = createRegistry(loadBundledSchemas());
const SECRET = 'test-secret-0123456789';
const policy = createPiiPolicy({ secret: SECRET, keyId: 'k1' });
const orderPlan = registry.pii('order_event', 1)!;
const hmac = (value: string, secret = SECRET) => createHmac('sha256', secret).update(value).digest('hex');

describe('PII declared in the schema', () => {
  const order = {
    event: 'order_paid',
    order_id: 'o1',
    customer_email: 'ada@example.com',
    shipping_address: { street: 'Main St 1' },
    context: { ip: '203.0.113.7', user_agent: 'UA', page: { url: 'https://shop.example/' } },
  };

  it('hashes with keyed HMAC-SHA256 labelled with its key id, redacts and drops, without touching the input', () => {
    const protectedEvent = protectPii(order, orderPlan, policy);
    expect(protectedEvent).toEqual({
      event: 'order_paid',
      order_id: 'o1',
      customer_email: `hmac:k1:${hmac('ada@example.com')}`,
      context: { ip: REDACTED, user_agent: 'UA', page: { url: 'https://shop.example/' } },
    });
    expect(order.customer_email).toBe('ada@example.com');
    expect(order.context.ip).toBe('203.0.113.7');
  });

  it('hashes a value that already looks hashed like any other, so no producer can choose a stored hash', () => {
    const forged = `hmac:k1:${'0'.repeat(64)}`;
    const once = protectPii({ ...order, customer_email: forged }, orderPlan, policy);
    expect(once.customer_email).toBe(`hmac:k1:${hmac(forged)}`);
    // Hashing is applied exactly once per copy, so a second pass is a second hash: the callers' job (ingest marks what it protected).
    expect(protectPii(once, orderPlan, policy).customer_email).not.toBe(once.customer_email);
  });

  it('gives the same hash across log types (joins work), another under another secret, and each its key id', () => {
    const hash = policy.hash;
    expect(hash('ada@example.com')).toBe(hash('ada@example.com'));
    const rotated = createPiiHasher('another-secret-9876543210', 'k2');
    expect(rotated('ada@example.com')).toBe(`hmac:k2:${hmac('ada@example.com', 'another-secret-9876543210')}`);
    expect(hash.keyId).toBe('k1');
    expect(rotated.keyId).toBe('k2');
  });

  it('labels hashes with a fingerprint of the secret when no key id is set, so a new secret always gets a new id', () => {
    const hash = createPiiHasher(SECRET);
    expect(hash.keyId).toMatch(/^[0-9a-f]{8}$/);
    expect(hash.keyId).toBe(defaultPiiKeyId(SECRET));
    expect(createPiiHasher('another-secret-9876543210').keyId).not.toBe(hash.keyId);
    expect(hash('x')).toBe(`hmac:${hash.keyId}:${hmac('x')}`);
  });

  it('leaves events without the fields alone', () => {
    const event = { event: 'order_created', order_id: 'o2' };
    expect(protectPii(event, orderPlan, policy)).toBe(event);
  });

  it('refuses declarations that cannot work', () => {
    expect(() => piiRulesOf({ properties: { email: { type: 'string', format: 'date-time', 'x-pii': 'hash' } } })).toThrow('/email: x-pii "hash" needs a plain string field');
    expect(() => piiRulesOf({ properties: { email: { type: 'string', maxLength: 80, 'x-pii': 'hash' } } })).toThrow(`/email: x-pii "hash" needs maxLength ≥ ${HASHED_LENGTH}`);
    expect(() => piiRulesOf({ properties: { n: { type: 'integer', 'x-pii': 'redact' } } })).toThrow('/n: x-pii "redact" applies to string fields');
    expect(() => piiRulesOf({ properties: { a: { type: 'array', items: { type: 'object', properties: { e: { type: 'string', 'x-pii': 'drop' } } } } } })).toThrow(
      '/a/e: x-pii is not supported inside arrays',
    );
    expect(() => createPiiHasher('short')).toThrow('at least 16 characters');
    expect(() => createPiiHasher(SECRET, 'has:colon')).toThrow('key id');
  });

  it('makes room for the longest key id: every hash fits HASHED_LENGTH', () => {
    expect(HASHED_LENGTH).toBe(86);
    expect(createPiiHasher(SECRET, 'k'.repeat(16))('ada@example.com')).toHaveLength(HASHED_LENGTH);
  });
});

describe('PII of invalid events (quarantine, dead letters)', () => {
  it('applies each declared rule to the fields present, whatever their type', () => {
    const invalid = { event: 'order_paid', customer_email: 42, context: { ip: ['203.0.113.7'], locale: 'de' }, shipping_address: 'Main St 1' };
    expect(protectStored(invalid, orderPlan, policy)).toEqual({ event: 'order_paid', customer_email: REDACTED, context: { ip: REDACTED, locale: 'de' } });
  });

  it('redacts a declared object that is not one, since it may hold a protected field', () => {
    expect(protectStored({ context: 'ip=203.0.113.7' }, registry.pii('user_action'), policy)).toEqual({ context: REDACTED });
  });

  it('uses the version named, else the latest, and no declarations for an unknown log type', () => {
    expect(registry.pii('order_event', 99)).toBe(registry.pii('order_event'));
    expect(registry.pii('nope')).toBeUndefined();
    // Without declarations, the key patterns are all there is: they still catch the email.
    expect(protectStored({ customer_email: 'ada@example.com', note: 'hi' }, undefined, policy)).toEqual({ customer_email: policy.hash('ada@example.com'), note: 'hi' });
  });
});

describe('PII in undeclared fields (extra, free-form JSON)', () => {
  const plan = registry.pii('user_action')!;

  it('hashes strings and redacts other values under keys matching a pattern, case-insensitively and at any depth', () => {
    const event = {
      event: 'page_view',
      user_id: 'u-1',
      coupon: 'X1',
      Contact_EMAIL: 'ada@example.com',
      profile: { mobilePhone: 4915112345678, addresses: [{ billing_email: 'b@example.com', city: 'Berlin' }] },
      client_ip: null,
    };
    expect(protectPii(event, plan, policy)).toEqual({
      event: 'page_view',
      user_id: 'u-1',
      coupon: 'X1',
      Contact_EMAIL: policy.hash('ada@example.com'),
      profile: { mobilePhone: REDACTED, addresses: [{ billing_email: policy.hash('b@example.com'), city: 'Berlin' }] },
      // Nothing to hide in a null.
      client_ip: null,
    });
  });

  it('matches patterns against the words of a key name, not any substring', () => {
    const patterns = ['email', 'phone', 'ip'];
    for (const key of ['ip', 'client_ip', 'clientIp', 'ipAddress', 'IPAddress', 'IPv4', 'remote-ip', 'emails', 'workEmail', 'telephone', 'phone_number']) {
      expect(keyNamesPii(key, patterns), key).toBe(true);
    }
    // Substrings inside a word are not a match, nor is a short pattern at a word's start or end:
    // these keys hold no PII and must stay readable.
    for (const key of ['shipping', 'description', 'subscription', 'multiple', 'participant', 'recipe', 'typing', 'trip_id', 'zip_code', 'membership_tier', 'tip_amount', 'vip']) {
      expect(keyNamesPii(key, patterns), key).toBe(false);
    }
    // Longer patterns match at a word's start or end.
    expect(keyNamesPii('headphone_model', patterns)).toBe(true);
    // A pattern of several words matches them in a row.
    expect(keyNamesPii('client_ip_addr', ['ip_addr'])).toBe(true);
    expect(keyNamesPii('ip_of_addr', ['ip_addr'])).toBe(false);
    expect(protectPii({ event: 'page_view', shipping_method: 'express', client_ip: '203.0.113.7' }, plan, policy)).toEqual({
      event: 'page_view',
      shipping_method: 'express',
      client_ip: policy.hash('203.0.113.7'),
    });
  });

  it('reads a hostile key name in one pass (a backtracking split took seconds on 64,000 capitals)', () => {
    const started = performance.now();
    expect(keyNamesPii('A'.repeat(1_000_000), ['email', 'phone', 'ip'])).toBe(false);
    expect(keyNamesPii(`${'A'.repeat(100_000)}_ip`, ['ip'])).toBe(true);
    // Generous for a shared machine: the quadratic split took minutes at this size.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('protects the key/value pairs of text that is not JSON, in linear time', () => {
    const orderPlan = registry.pii('order_event');
    const text = '{"customer_email": "ada@example.com", "shipping_address": "Main St 1", "phone": 4915, "note": "hi",}';
    expect(protectText(text, orderPlan, policy)).toBe(
      `{"customer_email": ${JSON.stringify(policy.hash('ada@example.com'))}, "shipping_address": "[redacted]", "phone": "[redacted]", "note": "hi",}`,
    );
    expect(protectText('a=1&client_ip=203.0.113.7', undefined, policy)).toBe(`a=1&client_ip=${encodeURIComponent(policy.hash('203.0.113.7'))}`);
    expect(protectText('nothing to see', undefined, policy)).toBe('nothing to see');
    const started = performance.now();
    protectText(`${'"a":"'.repeat(50_000)}${'x'.repeat(500_000)}`, orderPlan, policy);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('walks objects whose patternProperties admit keys the schema does not name, even in a valid event', () => {
    const withPatterns = piiPlanOf({
      type: 'object',
      additionalProperties: false,
      properties: { labels: { type: 'object', additionalProperties: false, patternProperties: { '^x_': { type: 'string' } } } },
    });
    expect(protectPii({ labels: { x_email: 'ada@example.com', x_note: 'hi' } }, withPatterns, policy)).toEqual({ labels: { x_email: policy.hash('ada@example.com'), x_note: 'hi' } });
  });

  it('leaves declared fields to the schema, however they are named', () => {
    // context.ip is declared (redact); page_url is declared without x-pii, though it would match nothing anyway.
    const event = { event: 'page_view', context: { ip: '203.0.113.7', locale: 'de' }, page_url: 'https://shop.example/' };
    expect(protectPii(event, plan, policy)).toEqual({ event: 'page_view', context: { ip: REDACTED, locale: 'de' }, page_url: 'https://shop.example/' });
  });

  it('skips what the schema closes for a valid event, and walks it for anything else', () => {
    const closed = { event: 'page_view', context: { locale: 'de', email: 'ada@example.com' } };
    // A valid event cannot hold context.email (context allows no other keys): nothing to walk.
    expect(protectPii(closed, plan, policy)).toBe(closed);
    expect(protectStored(closed, plan, policy)).toEqual({ event: 'page_view', context: { locale: 'de', email: policy.hash('ada@example.com') } });
    // A declared free-form object is open: walked even in a valid event.
    const open = piiPlanOf({ type: 'object', additionalProperties: false, properties: { meta: { type: 'object' }, n: { type: 'string' } } });
    expect(protectPii({ n: 'x', meta: { Email: 'ada@example.com' } }, open, policy)).toEqual({ n: 'x', meta: { Email: policy.hash('ada@example.com') } });
  });

  it('walks arrays and keeps a "__proto__" key an inert own field', () => {
    const value = JSON.parse('[{"__proto__":{"email":"ada@example.com"}}, "text", 3]') as unknown[];
    const out = protectStored(value, undefined, policy) as Array<Record<string, unknown>>;
    expect(Object.getPrototypeOf(out[0])).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe(`[{"__proto__":{"email":"${policy.hash('ada@example.com')}"}},"text",3]`);
    expect(value[0]).toEqual(JSON.parse('{"__proto__":{"email":"ada@example.com"}}'));
  });

  it('takes its patterns from the policy: none turns them off', () => {
    const event = { event: 'page_view', email: 'ada@example.com', tax_id: 'DE123' };
    expect(protectPii(event, plan, createPiiPolicy({ secret: SECRET, keyId: 'k1', extraKeys: ['tax'] }))).toEqual({ ...event, tax_id: policy.hash('DE123') });
    expect(protectPii(event, plan, createPiiPolicy({ secret: SECRET, extraKeys: [] }))).toBe(event);
  });
});

describe('readPiiSettings', () => {
  it('reads the secret, the key id (a fingerprint of the secret by default) and the patterns (email, phone, ip by default)', () => {
    expect(readPiiSettings({ PII_HASH_SECRET: SECRET })).toEqual({ secret: SECRET, keyId: defaultPiiKeyId(SECRET), extraKeys: ['email', 'phone', 'ip'] });
    expect(readPiiSettings({ PII_HASH_SECRET: SECRET, PII_HASH_KEY_ID: '2025-06', PII_EXTRA_KEYS: ' Email, IBAN ,ssn' })).toEqual({ secret: SECRET, keyId: '2025-06', extraKeys: ['email', 'iban', 'ssn'] });
    expect(readPiiSettings({ PII_HASH_SECRET: SECRET, PII_EXTRA_KEYS: 'none' }).extraKeys).toEqual([]);
  });

  it.each([
    [{}, 'PII_HASH_SECRET is required'],
    [{ PII_HASH_SECRET: 'short' }, 'PII_HASH_SECRET must be at least 16 characters'],
    [{ PII_HASH_SECRET: SECRET, PII_HASH_KEY_ID: 'k:1' }, 'PII_HASH_KEY_ID must be'],
    [{ PII_HASH_SECRET: SECRET, PII_HASH_KEY_ID: 'k'.repeat(17) }, 'PII_HASH_KEY_ID must be'],
    [{ PII_HASH_SECRET: SECRET, PII_EXTRA_KEYS: 'email,e' }, 'PII_EXTRA_KEYS: "e"'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => readPiiSettings(env)).toThrow(message);
  });
});

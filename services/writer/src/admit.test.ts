import { createPiiPolicy, createRegistry, DEFAULT_EVENT_TIME_WINDOW, encodeBatches, loadBundledSchemas } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { admitMessage, type Admission } from './admit.js';
import { batchPushBody, pushBody, userAction, PUBLISH_TIME, type PushOptions } from './push-fixtures.js';
import { decodePush } from './push-message.js';

const registry = createRegistry(loadBundledSchemas());
const pii = createPiiPolicy({ secret: 'test-secret-0123456789', keyId: 'k1' });

async function admittedAll(body: Record<string, unknown>): Promise<Admission[]> {
  const decoded = decodePush(body);
  if (!decoded.ok) throw new Error(decoded.error);
  // A window wide enough for the fixtures' dates; the window itself is tested below.
  return admitMessage(registry, decoded.message, { pii, window: { maxLateMs: 365 * 86_400_000, maxFutureMs: 3_600_000 } });
}

/** The one admission of a single-event message. */
async function admitted(event: unknown, options?: PushOptions): Promise<Admission> {
  const [result, ...more] = await admittedAll(pushBody(event, options));
  if (!result || more.length) throw new Error('expected one admission');
  return result;
}

async function quarantined(event: unknown, options?: PushOptions) {
  const result = await admitted(event, options);
  if (result.kind !== 'quarantine') throw new Error('expected quarantine');
  return result;
}

describe('admit', () => {
  it('admits a valid event into its event-time partition (UTC)', async () => {
    const result = await admitted(userAction({ ts: '2024-03-10T23:30:00.5-02:00' }), { messageId: '77' });
    expect(result).toMatchObject({
      kind: 'row',
      partition: { logType: 'user_action', dt: '2024-03-11', hr: '01' },
      row: { event_id: 'pubsub-77', received_at: PUBLISH_TIME, user_id: 'u-1' },
    });
  });

  it('keeps event_id and received_at the producer set', async () => {
    const result = await admitted(userAction({ event_id: 'e-1', received_at: '2024-05-06T07:08:10Z' }));
    expect(result).toMatchObject({ kind: 'row', row: { event_id: 'e-1', received_at: '2024-05-06T07:08:10Z' } });
  });

  it('validates against the latest version when schema_version is absent', async () => {
    expect((await admitted(userAction(), { attributes: { log_type: 'user_action' } })).kind).toBe('row');
  });

  it('quarantines an invalid event with its reasons under its log type and publish date', async () => {
    const event = userAction({ ts: undefined, event: 'Bad Name' });
    const result = await quarantined(event, { messageId: '9' });
    expect(result.group).toEqual({ logType: 'user_action', dt: '2024-05-06' });
    expect(result.record).toMatchObject({ messageId: '9', publishTime: PUBLISH_TIME, attributes: { log_type: 'user_action', schema_version: '1' } });
    expect(result.record.data).toEqual(JSON.parse(JSON.stringify(event)));
    expect(result.record.reasons).toEqual(
      expect.arrayContaining([
        { path: '/ts', message: 'is required' },
        expect.objectContaining({ path: '/event' }),
      ]),
    );
  });

  it('files unknown or missing log types under _unknown', async () => {
    const unknown = await quarantined(userAction(), { attributes: { log_type: '../../etc', schema_version: '1' } });
    expect(unknown.group.logType).toBe('_unknown');
    expect(unknown.record.reasons[0]).toMatchObject({ path: '/log_type', message: expect.stringMatching(/unknown log type/) });
    const missing = await quarantined(userAction(), { attributes: undefined });
    expect(missing.group.logType).toBe('_unknown');
    expect(missing.record.reasons).toEqual([{ path: '/log_type', message: 'attribute log_type is required' }]);
  });

  it('quarantines unknown and malformed schema versions', async () => {
    expect((await quarantined(userAction(), { attributes: { log_type: 'user_action', schema_version: '99' } })).record.reasons[0]?.message).toMatch(/unknown version 99/);
    expect((await quarantined(userAction(), { attributes: { log_type: 'user_action', schema_version: 'v1' } })).record.reasons[0]?.path).toBe('/schema_version');
  });

  it('keeps the raw base64 when the payload is not JSON', async () => {
    const rawData = Buffer.from('<xml/>').toString('base64');
    const result = await quarantined(null, { rawData });
    expect(result.record.data).toBe(rawData);
    expect(result.group.logType).toBe('user_action');
  });

  it('quarantines JSON that is not an object', async () => {
    expect((await quarantined([1, 2])).record.reasons).toEqual([{ path: '', message: 'must be a JSON object' }]);
  });

  it('quarantines timestamps the lake cannot store exactly (offset without a colon)', async () => {
    const result = await quarantined(userAction({ ts: '2024-05-06T07:08:09+0100' }));
    expect(result.record.reasons).toEqual([expect.objectContaining({ path: '/ts' })]);
  });

  it('admits each event of a batch on its own: good rows, bad ones quarantined with their line', async () => {
    const events = [userAction({ event_id: 'a' }), userAction({ quantity: 'x' }), userAction({ schema_version: 1 })];
    const results = await admittedAll(await batchPushBody(events, { messageId: 'm' }));
    expect(results.map((r) => r.kind)).toEqual(['row', 'quarantine', 'row']);
    expect(results[1]).toMatchObject({ kind: 'quarantine', record: { index: 1, messageId: 'm', reasons: [{ path: '/quantity', message: 'must be integer' }] } });
    // The versions differ, so the message names none: each event's own, else the latest.
    expect(results.map((r) => (r.kind === 'row' ? r.row.schema_version : undefined))).toEqual([2, undefined, 1]);
  });

  it('quarantines a line that is not JSON and keeps its text', async () => {
    const data = Buffer.from(`${JSON.stringify(userAction())}\n{"event":\n`).toString('base64');
    const results = await admittedAll(pushBody(null, { rawData: data, attributes: { log_type: 'user_action', encoding: 'ndjson' } }));
    expect(results.map((r) => r.kind)).toEqual(['row', 'quarantine']);
    expect(results[1]).toMatchObject({ record: { index: 1, data: '{"event":', reasons: [{ path: '', message: expect.stringMatching(/^line is not JSON/) }] } });
  });

  it('quarantines an event whose ts is outside the window around the publish time', async () => {
    const decoded = decodePush(pushBody(userAction({ ts: '2024-04-01T00:00:00Z' })));
    if (!decoded.ok) throw new Error(decoded.error);
    const [result] = await admitMessage(registry, decoded.message, { pii, window: DEFAULT_EVENT_TIME_WINDOW });
    expect(result).toMatchObject({ kind: 'quarantine', record: { reasons: [{ path: '/ts', message: expect.stringMatching(/^is more than 7 days before/) }] } });
  });

  it('refuses an explicit null event_id instead of replacing it', async () => {
    expect((await quarantined(userAction({ event_id: null }))).record.reasons).toEqual([{ path: '/event_id', message: 'must be string' }]);
  });

  it('files the lines of a rejected message from ingest in quarantine, with ingest\'s reasons, index and id', async () => {
    const lines = [
      { reasons: [{ path: '/price', message: 'must be number' }], index: 3, event_id: 'e-3', data: { log_type: 'user_action', price: 'cheap' } },
      { reasons: [{ path: '', message: 'must be a JSON object' }], index: 5, data: 7 },
    ];
    const [message] = await encodeBatches('user_action', lines, { source: 'ingest', kind: 'rejected' });
    const results = await admittedAll(pushBody(null, { messageId: 'r-1', attributes: message!.attributes, rawData: message!.data.toString('base64') }));
    expect(results).toMatchObject([
      { kind: 'quarantine', group: { logType: 'user_action' }, record: { index: 3, event_id: 'e-3', reasons: lines[0]!.reasons, data: lines[0]!.data, messageId: 'r-1' } },
      { kind: 'quarantine', record: { index: 5, reasons: lines[1]!.reasons, data: 7 } },
    ]);
  });

  it('quarantines a message whose kind it does not know, line by line', async () => {
    const results = await admittedAll(pushBody(userAction(), { attributes: { log_type: 'user_action', kind: 'mystery' } }));
    expect(results).toMatchObject([{ kind: 'quarantine', record: { reasons: [{ path: '/kind', message: 'attribute kind must be events or rejected, got "mystery"' }] } }]);
  });
});

describe('admit: PII, exactly once per stored copy', () => {
  const order = (overrides: Record<string, unknown> = {}) => ({
    event: 'order_paid', ts: '2024-05-06T07:08:09Z', order_id: 'o-1', customer_email: 'ada@example.com',
    shipping_address: { street: 'Main St 1' }, context: { ip: '203.0.113.7', locale: 'de' }, ...overrides,
  });
  const orderAttributes = { log_type: 'order_event', schema_version: '1' };

  it('protects the row of a direct publisher, hashing even a value that looks hashed', async () => {
    const forged = `hmac:k1:${'0'.repeat(64)}`;
    const result = await admitted(order({ customer_email: forged }), { attributes: orderAttributes });
    expect(result).toMatchObject({ kind: 'row', row: { customer_email: pii.hash(forged), context: { ip: '[redacted]', locale: 'de' } } });
    expect(result.kind === 'row' && result.row).not.toHaveProperty('shipping_address');
  });

  it('hashes undeclared fields kept in extra whose key names PII', async () => {
    const result = await admitted(userAction({ contact_email: 'ada@example.com', coupon: 'X1' }));
    expect(result).toMatchObject({ kind: 'row', row: { contact_email: pii.hash('ada@example.com'), coupon: 'X1' } });
  });

  it('stores a message ingest marked pii_protected as it is: nothing is hashed twice', async () => {
    const hashed = pii.hash('ada@example.com');
    const marked = { ...orderAttributes, pii_protected: 'k0' };
    const row = await admitted(order({ customer_email: hashed, context: { ip: '[redacted]' }, shipping_address: undefined }), { attributes: marked });
    expect(row).toMatchObject({ kind: 'row', row: { customer_email: hashed } });
    // Its quarantined events were protected by ingest too, and say with which key.
    const invalid = await quarantined(order({ customer_email: hashed, order_id: 7, shipping_address: undefined }), { attributes: marked });
    expect(invalid.record).toMatchObject({ data: { customer_email: hashed }, pii_protected: 'k0' });
  });

  it('quarantines an invalid event with every declared rule of its version applied, and the key patterns', async () => {
    const result = await quarantined(order({ order_id: 7, customer_email: 12345, phone: '+49 151' }), { attributes: orderAttributes });
    expect(result.record.reasons).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/order_id' }), expect.objectContaining({ path: '/phone' })]));
    expect(result.record.data).toEqual({ event: 'order_paid', ts: '2024-05-06T07:08:09Z', order_id: 7, customer_email: '[redacted]', context: { ip: '[redacted]', locale: 'de' }, phone: pii.hash('+49 151') });
    expect(result.record.pii_protected).toBe('k1');
  });

  it('applies only the key patterns to an unknown log type, and protects the key/value pairs of text that is not JSON', async () => {
    const unknown = await quarantined({ user_email: 'ada@example.com', context: { ip: '203.0.113.7' } }, { attributes: { log_type: 'nope' } });
    expect(unknown.record.data).toEqual({ user_email: pii.hash('ada@example.com'), context: { ip: pii.hash('203.0.113.7') } });
    // A form body: its email pair is hashed, the rest kept as it came.
    const form = await quarantined(null, { rawData: Buffer.from('email=ada@example.com&page=3').toString('base64') });
    expect(Buffer.from(form.record.data as string, 'base64').toString()).toBe(`email=${encodeURIComponent(pii.hash('ada@example.com'))}&page=3`);
    expect(form.record.pii_protected).toBe('k1');
    // One comma short of JSON: the declared customer_email (hash) and an undeclared phone are found all the same.
    const almost = await quarantined(null, { rawData: Buffer.from('{"event":"order_paid","customer_email":"ada@example.com","phone":4915,}').toString('base64'), attributes: { log_type: 'order_event' } });
    // A payload that is not JSON is kept whole (base64), protected.
    expect(Buffer.from(almost.record.data as string, 'base64').toString()).toBe(`{"event":"order_paid","customer_email":${JSON.stringify(pii.hash('ada@example.com'))},"phone":"[redacted]",}`);
    // Binary that is not UTF-8 has nothing readable: kept as delivered.
    const binary = Buffer.from([0x1f, 0x8b, 0xff, 0xfe, 0x00]).toString('base64');
    expect((await quarantined(null, { rawData: binary })).record.data).toBe(binary);
  });

  it('files a message it cannot route line by line, each line protected', async () => {
    const events = [userAction({ contact_email: 'a@example.com' }), userAction({ contact_email: 'b@example.com' })];
    const [message] = await encodeBatches('user_action', events, { source: 'svc' });
    const { log_type: _, ...attributes } = message!.attributes;
    const results = await admittedAll(pushBody(null, { messageId: 'nr', attributes, rawData: message!.data.toString('base64') }));
    expect(results).toMatchObject([
      { kind: 'quarantine', group: { logType: '_unknown' }, record: { index: 0, event_id: 'pubsub-nr-0', reasons: [{ path: '/log_type' }], data: { contact_email: pii.hash('a@example.com') } } },
      { kind: 'quarantine', record: { index: 1, data: { contact_email: pii.hash('b@example.com') } } },
    ]);
  });

  it('protects the events of a rejected message a direct publisher sent, but not those ingest sent', async () => {
    const lines = [{ reasons: [{ path: '/ts', message: 'is required' }], index: 0, data: { event: 'order_paid', customer_email: 'ada@example.com' } }];
    const file = async (options: { piiProtected?: string }) => {
      const [message] = await encodeBatches('order_event', lines, { source: 'x', kind: 'rejected', ...options });
      return admittedAll(pushBody(null, { attributes: message!.attributes, rawData: message!.data.toString('base64') }));
    };
    expect(await file({})).toMatchObject([{ record: { data: { customer_email: pii.hash('ada@example.com') }, pii_protected: 'k1' } }]);
    expect(await file({ piiProtected: 'k1' })).toMatchObject([{ record: { data: { customer_email: 'ada@example.com' } } }]);
  });
});

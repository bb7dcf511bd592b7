import { createPiiHasher, createRegistry, DEFAULT_EVENT_TIME_WINDOW, encodeBatches, loadBundledSchemas } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { admitMessage, type Admission } from './admit.js';
import { batchPushBody, pushBody, userAction, PUBLISH_TIME, type PushOptions } from './push-fixtures.js';
import { decodePush } from './push-message.js';

const registry = createRegistry(loadBundledSchemas());

async function admittedAll(body: Record<string, unknown>): Promise<Admission[]> {
  const decoded = decodePush(body);
  if (!decoded.ok) throw new Error(decoded.error);
  // A window wide enough for the fixtures' dates; the window itself is tested below.
  return admitMessage(registry, decoded.message, { hash: createPiiHasher('test-secret-0123456789'), window: { maxLateMs: 365 * 86_400_000, maxFutureMs: 3_600_000 } });
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
    const [result] = await admitMessage(registry, decoded.message, { hash: createPiiHasher('test-secret-0123456789'), window: DEFAULT_EVENT_TIME_WINDOW });
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

  it('quarantines a message whose kind it does not know, whole', async () => {
    const results = await admittedAll(pushBody(userAction(), { attributes: { log_type: 'user_action', kind: 'mystery' } }));
    expect(results).toMatchObject([{ kind: 'quarantine', record: { reasons: [{ path: '/kind', message: 'attribute kind must be events or rejected, got "mystery"' }] } }]);
  });
});

import { createPiiHasher, createRegistry, loadBundledSchemas } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { admit, type Admission } from './admit.js';
import { pushBody, userAction, PUBLISH_TIME, type PushOptions } from './push-fixtures.js';
import { decodePush } from './push-message.js';

const registry = createRegistry(loadBundledSchemas());

function admitted(event: unknown, options?: PushOptions): Admission {
  const decoded = decodePush(pushBody(event, options));
  if (!decoded.ok) throw new Error(decoded.error);
  return admit(registry, decoded.message, createPiiHasher('test-secret-0123456789'));
}

function quarantined(event: unknown, options?: PushOptions) {
  const result = admitted(event, options);
  if (result.kind !== 'quarantine') throw new Error('expected quarantine');
  return result;
}

describe('admit', () => {
  it('admits a valid event into its event-time partition (UTC)', () => {
    const result = admitted(userAction({ ts: '2024-03-10T23:30:00.5-02:00' }), { messageId: '77' });
    expect(result).toMatchObject({
      kind: 'row',
      partition: { logType: 'user_action', dt: '2024-03-11', hr: '01' },
      row: { event_id: 'pubsub-77', received_at: PUBLISH_TIME, user_id: 'u-1' },
    });
  });

  it('keeps event_id and received_at the producer set', () => {
    const result = admitted(userAction({ event_id: 'e-1', received_at: '2024-05-06T07:08:10Z' }));
    expect(result).toMatchObject({ kind: 'row', row: { event_id: 'e-1', received_at: '2024-05-06T07:08:10Z' } });
  });

  it('validates against the latest version when schema_version is absent', () => {
    expect(admitted(userAction(), { attributes: { log_type: 'user_action' } }).kind).toBe('row');
  });

  it('quarantines an invalid event with its reasons under its log type and publish date', () => {
    const event = userAction({ ts: undefined, event: 'Bad Name' });
    const result = quarantined(event, { messageId: '9' });
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

  it('files unknown or missing log types under _unknown', () => {
    const unknown = quarantined(userAction(), { attributes: { log_type: '../../etc', schema_version: '1' } });
    expect(unknown.group.logType).toBe('_unknown');
    expect(unknown.record.reasons[0]).toMatchObject({ path: '/log_type', message: expect.stringMatching(/unknown log type/) });
    const missing = quarantined(userAction(), { attributes: undefined });
    expect(missing.group.logType).toBe('_unknown');
    expect(missing.record.reasons).toEqual([{ path: '/log_type', message: 'attribute log_type is required' }]);
  });

  it('quarantines unknown and malformed schema versions', () => {
    expect(quarantined(userAction(), { attributes: { log_type: 'user_action', schema_version: '99' } }).record.reasons[0]?.message).toMatch(/unknown version 99/);
    expect(quarantined(userAction(), { attributes: { log_type: 'user_action', schema_version: 'v1' } }).record.reasons[0]?.path).toBe('/schema_version');
  });

  it('keeps the raw base64 when the payload is not JSON', () => {
    const rawData = Buffer.from('<xml/>').toString('base64');
    const result = quarantined(null, { rawData });
    expect(result.record.data).toBe(rawData);
    expect(result.group.logType).toBe('user_action');
  });

  it('quarantines JSON that is not an object', () => {
    expect(quarantined([1, 2]).record.reasons).toEqual([{ path: '', message: 'must be a JSON object' }]);
  });

  it('quarantines timestamps the lake cannot store exactly (offset without a colon)', () => {
    const result = quarantined(userAction({ ts: '2024-05-06T07:08:09+0100' }));
    expect(result.record.reasons).toEqual([expect.objectContaining({ path: '/ts' })]);
  });
});

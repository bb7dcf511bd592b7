import { describe, expect, it } from 'vitest';
import { pushBody, userAction } from './push-fixtures.js';
import { decodePush, type DecodeResult, type PushMessage } from './push-message.js';

function decoded(result: DecodeResult): PushMessage {
  if (!result.ok) throw new Error(`expected a message, got: ${result.error}`);
  return result.message;
}

function errorOf(result: DecodeResult): string {
  if (result.ok) throw new Error('expected an error');
  return result.error;
}

describe('decodePush', () => {
  it('decodes a wrapped push body', () => {
    const event = userAction();
    const message = decoded(decodePush(pushBody(event, { messageId: '42' })));
    expect(message).toMatchObject({
      messageId: '42',
      publishTime: '2024-05-06T23:59:59.500Z',
      attributes: { log_type: 'user_action', schema_version: '1' },
      subscription: 'projects/strata-local/subscriptions/events-writer',
      deliveryAttempt: 1,
    });
    expect(JSON.parse(message.data.toString())).toEqual(event);
  });

  it('accepts the snake_case field names push also sends', () => {
    const body = { message: { data: Buffer.from('{}').toString('base64'), message_id: '7', publish_time: '2024-01-01T00:00:00.123456789Z' } };
    expect(decoded(decodePush(body))).toMatchObject({ messageId: '7', publishTime: '2024-01-01T00:00:00.123456789Z', attributes: {} });
  });

  it('rejects data that is not base64', () => {
    expect(errorOf(decodePush(pushBody(null, { rawData: 'not base64!' })))).toMatch(/message.data is not valid base64/);
    expect(errorOf(decodePush(pushBody(null, { rawData: 'abc' })))).toMatch(/base64/);
  });

  it('keeps the payload bytes and the raw base64 for quarantine, whatever they hold', () => {
    const rawData = Buffer.from([0xff, 0xfe, 0x7b]).toString('base64');
    const message = decoded(decodePush(pushBody(null, { rawData })));
    expect(message.rawData).toBe(rawData);
    expect([...message.data]).toEqual([0xff, 0xfe, 0x7b]);
  });

  it('treats missing attributes and missing data as empty', () => {
    const message = decoded(decodePush({ message: { messageId: '1', publishTime: '2024-01-01T00:00:00Z' } }));
    expect(message.attributes).toEqual({});
    expect(message.rawData).toBe('');
    expect(message.data.length).toBe(0);
  });

  it.each([
    ['a body that is not an object', 'nope', /body must be a JSON object/],
    ['no message', { subscription: 's' }, /message must be an object/],
    ['no messageId', { message: { data: '', publishTime: '2024-01-01T00:00:00Z' } }, /messageId/],
    ['a bad publishTime', { message: { data: '', messageId: '1', publishTime: 'yesterday' } }, /publishTime/],
    ['non-string attributes', { message: { data: '', messageId: '1', publishTime: '2024-01-01T00:00:00Z', attributes: { n: 1 } } }, /attributes/],
    ['data that is not a string', { message: { data: 5, messageId: '1', publishTime: '2024-01-01T00:00:00Z' } }, /message.data/],
  ])('rejects %s', (_name, body, error) => {
    expect(errorOf(decodePush(body))).toMatch(error);
  });
});

import { isBase64, isObject } from '@strata/runtime';
import { toMicros } from '@strata/schemas';

/**
 * Decodes the body Pub/Sub push delivers (the "wrapped" format):
 * `{"message":{"data":"<base64>","attributes":{…},"messageId":"…","publishTime":"…"},"subscription":"…"}`.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *
 * Pure: no I/O. A broken envelope is an error value (→ 400, Pub/Sub retries then dead-letters);
 * a sound envelope whose data cannot be read is still a message — the caller quarantines it. The
 * data itself (a batch message, see @strata/schemas batch-message.ts) is decoded by the caller.
 */
export interface PushMessage {
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  /** The payload exactly as delivered (base64), kept for quarantine when it cannot be read. */
  rawData: string;
  /** The decoded payload bytes. */
  data: Buffer;
  subscription: string | undefined;
  deliveryAttempt: number | undefined;
}

export type DecodeResult = { ok: true; message: PushMessage } | { ok: false; error: string };

// Push bodies carry both spellings (messageId and message_id); accept either.
function field(message: Record<string, unknown>, camel: string, snake: string): unknown {
  return message[camel] ?? message[snake];
}

export function decodePush(body: unknown): DecodeResult {
  if (!isObject(body)) return { ok: false, error: 'body must be a JSON object (is Content-Type application/json?)' };
  const message = body.message;
  if (!isObject(message)) return { ok: false, error: 'message must be an object' };

  const messageId = field(message, 'messageId', 'message_id');
  if (typeof messageId !== 'string' || messageId === '') return { ok: false, error: 'message.messageId must be a non-empty string' };

  const publishTime = field(message, 'publishTime', 'publish_time');
  if (typeof publishTime !== 'string') return { ok: false, error: 'message.publishTime must be a string' };
  try {
    toMicros(publishTime);
  } catch {
    return { ok: false, error: `message.publishTime is not an RFC 3339 timestamp: ${publishTime}` };
  }

  const attributes = message.attributes ?? {};
  if (!isObject(attributes) || !Object.values(attributes).every((v) => typeof v === 'string')) {
    return { ok: false, error: 'message.attributes must be an object of strings' };
  }

  // Pub/Sub omits data for a message published with attributes only.
  const rawData = message.data ?? '';
  if (typeof rawData !== 'string') return { ok: false, error: 'message.data must be a base64 string' };
  // Pub/Sub sends standard base64 with padding; Buffer.from would silently skip anything else.
  if (!isBase64(rawData)) return { ok: false, error: 'message.data is not valid base64' };

  const deliveryAttempt = body.deliveryAttempt;
  return {
    ok: true,
    message: {
      messageId,
      publishTime,
      attributes: attributes as Record<string, string>,
      rawData,
      data: Buffer.from(rawData, 'base64'),
      subscription: typeof body.subscription === 'string' ? body.subscription : undefined,
      deliveryAttempt: typeof deliveryAttempt === 'number' ? deliveryAttempt : undefined,
    },
  };
}

/**
 * The event_id the writer gives an event that has none: from the messageId and the event's line
 * (deterministic, so a redelivery of the same message dedups by event_id). A single-event JSON
 * message keeps the id it always had, `pubsub-<messageId>`.
 */
export function defaultEventId(message: Pick<PushMessage, 'messageId'>, index: number | undefined): string {
  return index === undefined ? `pubsub-${message.messageId}` : `pubsub-${message.messageId}-${index}`;
}

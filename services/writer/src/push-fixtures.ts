import { encodeBatches } from '@strata/schemas';

/** Builders for push bodies and events, shared by the writer's tests. */
export const PUBLISH_TIME = '2024-05-06T23:59:59.500Z';

export function userAction(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: 'page_view',
    ts: '2024-05-06T07:08:09.123456Z',
    user_id: 'u-1',
    page_url: 'https://shop.example/cart',
    quantity: 2,
    ...overrides,
  };
}

export interface PushOptions {
  messageId?: string;
  publishTime?: string;
  attributes?: Record<string, string> | undefined;
  /** Raw base64 instead of JSON-encoding `event`. */
  rawData?: string;
}

export function pushBody(event: unknown, options: PushOptions = {}): Record<string, unknown> {
  const attributes = 'attributes' in options ? options.attributes : { log_type: 'user_action', schema_version: '1' };
  return {
    message: {
      data: options.rawData ?? Buffer.from(JSON.stringify(event)).toString('base64'),
      ...(attributes ? { attributes } : {}),
      messageId: options.messageId ?? '1001',
      publishTime: options.publishTime ?? PUBLISH_TIME,
    },
    subscription: 'projects/strata-local/subscriptions/events-writer',
    deliveryAttempt: 1,
  };
}

/** A push body carrying a batch message (NDJSON, gzip when it pays) built by the schemas package, as ingest publishes it. */
export async function batchPushBody(events: Record<string, unknown>[], options: Omit<PushOptions, 'attributes' | 'rawData'> = {}): Promise<Record<string, unknown>> {
  const [message, ...more] = await encodeBatches('user_action', events, { source: 'test' });
  if (!message || more.length) throw new Error('batchPushBody: the events do not fit one message');
  return pushBody(null, { ...options, attributes: message.attributes, rawData: message.data.toString('base64') });
}

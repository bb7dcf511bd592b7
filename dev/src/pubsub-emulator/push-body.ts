import type { StoredMessage } from './messages.js';

/**
 * The body of a wrapped push request, as Pub/Sub sends it: the message in JSON with both the camelCase
 * and the snake_case spellings of its id and publish time, the subscription name, and `deliveryAttempt`
 * only when the subscription has a dead-letter policy.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 */
export interface WrappedPushBody {
  message: {
    data: string;
    attributes: Record<string, string>;
    messageId: string;
    message_id: string;
    publishTime: string;
    publish_time: string;
  };
  subscription: string;
  deliveryAttempt?: number;
}

export function wrappedPushBody(subscription: string, message: StoredMessage, deliveryAttempt: number | undefined): WrappedPushBody {
  const publishTime = message.publishTime.toISOString();
  const body: WrappedPushBody = {
    message: {
      data: message.data.toString('base64'),
      attributes: { ...message.attributes },
      messageId: message.messageId,
      message_id: message.messageId,
      publishTime,
      publish_time: publishTime,
    },
    subscription,
  };
  if (deliveryAttempt !== undefined) body.deliveryAttempt = deliveryAttempt;
  return body;
}

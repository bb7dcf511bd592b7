import { timestampOf, type WirePubsubMessage, type WireReceivedMessage } from './wire.js';

/** A published message as every subscription of its topic holds it. */
export interface StoredMessage {
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  publishTime: Date;
  orderingKey: string;
}

export const messageSize = (message: StoredMessage): number =>
  message.data.length + Object.entries(message.attributes).reduce((n, [k, v]) => n + k.length + v.length, 0);

export function toWireMessage(message: StoredMessage): WirePubsubMessage {
  return {
    data: message.data,
    attributes: { ...message.attributes },
    messageId: message.messageId,
    publishTime: timestampOf(message.publishTime),
    orderingKey: message.orderingKey,
  };
}

/** Numeric ids like the real service's ("2070443601311540"), unique per emulator. */
export function createMessageIds(start = 1): () => string {
  let next = start;
  return () => String(next++);
}

/** A delivery as Pull and StreamingPull return it; `deliveryAttempt` only with a dead-letter policy, as the service reports it. */
export function toReceivedMessage(ackId: string, message: StoredMessage, deliveryAttempt: number | undefined): WireReceivedMessage {
  const received: WireReceivedMessage = { ackId, message: toWireMessage(message) };
  if (deliveryAttempt !== undefined) received.deliveryAttempt = deliveryAttempt;
  return received;
}

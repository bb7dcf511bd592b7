import { decodeBatch, type FieldError, type PiiPolicy } from '@strata/schemas';
import type { PushMessage } from './push-message.js';
import { fileLines, messageRecords, type Filed, type RecordsRegistry } from './quarantine.js';

/**
 * Pub/Sub forwards a message to the dead-letter topic once the writer has refused it
 * PUSH_DELIVERY.maxDeliveryAttempts times; that topic's push subscription brings it to
 * POST /dead-letter, which files it in the lake's dead-letter/ zone instead of leaving it on a
 * subscription for 7 days with its raw PII. Each line becomes a record shaped like quarantine's
 * (so replay and erasure read both zones alike), with the message's attributes: the original
 * ones, `pii_protected` included, plus Pub/Sub's CloudPubSubDeadLetter* ones. Nothing is
 * validated (the writer failing on the message is why it is here); PII is protected as for
 * quarantine, by the rules of the log type the message names.
 * https://cloud.google.com/pubsub/docs/handling-failures#dead_letter_topic
 */
export const DEAD_LETTER_ATTRIBUTES = {
  /** How many times Pub/Sub tried to deliver the message before giving up. */
  deliveryCount: 'CloudPubSubDeadLetterSourceDeliveryCount',
  subscription: 'CloudPubSubDeadLetterSourceSubscription',
} as const;

function deadLetterReason(message: PushMessage): FieldError {
  const attempts = message.attributes[DEAD_LETTER_ATTRIBUTES.deliveryCount];
  const from = message.attributes[DEAD_LETTER_ATTRIBUTES.subscription];
  return { path: '', message: `dead-lettered${from ? ` from ${from}` : ''} after ${attempts ?? 'repeated'} delivery attempts: the writer refused it every time` };
}

export async function admitDeadLetter(registry: RecordsRegistry, message: PushMessage, pii: PiiPolicy): Promise<Filed[]> {
  return fileLines(messageRecords(registry, message, pii), 'dead-letter', await decodeBatch(message.attributes, message.data), [deadLetterReason(message)]);
}

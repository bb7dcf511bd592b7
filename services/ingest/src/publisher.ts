import type { Topic } from '@google-cloud/pubsub';

export interface OutgoingMessage {
  data: Buffer;
  attributes: Record<string, string>;
}

/** Per message: the id Pub/Sub gave it once durable, or why it is not. */
export type PublishOutcome = { ok: true; messageId: string } | { ok: false; error: unknown };

/** Publishes messages; each outcome settles only once Pub/Sub acknowledged (durable) or refused that message. */
export interface EventPublisher {
  publish(messages: OutgoingMessage[]): Promise<PublishOutcome[]>;
}

export interface PublisherLimits {
  /**
   * A request gets its answer within this long even when Pub/Sub is slow or down: a message not
   * acknowledged by then counts as failed (503). The client may still deliver it later, which is
   * why the 503 lists every event_id: a retry with them is deduplicated.
   */
  timeoutMs: number;
  /**
   * Bytes handed to the client and not yet settled. The client keeps retrying a message for
   * minutes, holding its bytes; past this, new requests are refused at once (503) instead of
   * growing memory while Pub/Sub is down.
   */
  maxOutstandingBytes: number;
}

export class PublishTimeoutError extends Error {
  constructor(ms: number) {
    super(`Pub/Sub did not acknowledge within ${ms} ms`);
    this.name = 'PublishTimeoutError';
  }
}

export class PublisherBusyError extends Error {
  constructor(bytes: number) {
    super(`${bytes} bytes are still waiting for Pub/Sub; refusing more until they settle`);
    this.name = 'PublisherBusyError';
  }
}

export function createPubsubPublisher(topic: Pick<Topic, 'publishMessage'>, limits: PublisherLimits): EventPublisher {
  let outstanding = 0;
  const publishOne = (message: OutgoingMessage): Promise<PublishOutcome> => {
    const size = message.data.length;
    outstanding += size;
    // The client packs messages into few Publish RPCs; a failed RPC fails only the messages it carried.
    const published = topic.publishMessage(message).finally(() => (outstanding -= size));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<PublishOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: new PublishTimeoutError(limits.timeoutMs) }), limits.timeoutMs);
    });
    return Promise.race([
      published.then(
        (messageId): PublishOutcome => ({ ok: true, messageId }),
        (error: unknown): PublishOutcome => ({ ok: false, error }),
      ),
      timedOut,
    ]).finally(() => clearTimeout(timer));
  };
  return {
    publish: async (messages) => {
      if (outstanding > 0 && outstanding >= limits.maxOutstandingBytes) {
        const error = new PublisherBusyError(outstanding);
        return messages.map(() => ({ ok: false, error }));
      }
      return Promise.all(messages.map(publishOne));
    },
  };
}

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

export function createPubsubPublisher(topic: Topic): EventPublisher {
  return {
    // The client packs these into few Publish RPCs; a failed RPC fails only the messages it carried,
    // so outcomes are kept per message rather than failing the request as a whole.
    publish: async (messages) =>
      (await Promise.allSettled(messages.map((m) => topic.publishMessage(m)))).map((r) =>
        r.status === 'fulfilled' ? { ok: true, messageId: r.value } : { ok: false, error: r.reason as unknown },
      ),
  };
}

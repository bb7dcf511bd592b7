import type { Topic } from '@google-cloud/pubsub';

export interface OutgoingMessage {
  data: Buffer;
  attributes: Record<string, string>;
}

/** Publishes messages and resolves only once Pub/Sub has acknowledged every one (durable). */
export interface EventPublisher {
  publish(messages: OutgoingMessage[]): Promise<string[]>;
}

export function createPubsubPublisher(topic: Topic): EventPublisher {
  return {
    // The client batches these into few Publish RPCs; each promise settles when its batch is acked.
    publish: (messages) => Promise.all(messages.map((m) => topic.publishMessage(m))),
  };
}

/** In-memory publisher for unit tests; `fail` makes the next publishes reject as Pub/Sub would. */
export class FakePublisher implements EventPublisher {
  readonly published: OutgoingMessage[] = [];
  fail: Error | undefined;
  private next = 0;

  async publish(messages: OutgoingMessage[]): Promise<string[]> {
    if (this.fail) throw this.fail;
    this.published.push(...messages);
    return messages.map(() => String(++this.next));
  }
}

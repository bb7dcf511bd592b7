import type { Topic } from '@google-cloud/pubsub';
import type { ReplayPublisher } from './replay.js';

/**
 * Replay's publisher: the events topic through the official client, which batches the messages
 * into publish requests. A message's promise settles once Pub/Sub acknowledged it (or refused it
 * after the client's retries): only then does replay mark its records.
 */
export function createPubsubReplayPublisher(topic: Topic): ReplayPublisher {
  return {
    publish: (messages) =>
      Promise.all(
        messages.map((message) =>
          topic.publishMessage({ data: message.data, attributes: message.attributes }).then(
            () => ({ ok: true as const }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
        ),
      ),
  };
}

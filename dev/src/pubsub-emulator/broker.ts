import { createMessageIds } from './messages.js';
import { ok, type Outcome } from './outcome.js';
import type { PushDeps } from './push.js';
import { createSubscriptionRegistry, type SubscriptionRegistry } from './subscriptions.js';
import { createTopicRegistry, type TopicRegistry } from './topics.js';

/** All in-memory state of one emulator: topics fan messages out to the subscriptions attached to them. */
export interface Broker {
  topics: TopicRegistry;
  subscriptions: SubscriptionRegistry;
  /** Deleting a topic leaves its subscriptions in place, detached (topic `_deleted-topic_`). */
  deleteTopic(name: string): Outcome<void>;
  close(): void;
}

export function createBroker(deps: PushDeps): Broker {
  const nextMessageId = createMessageIds();
  const topics: TopicRegistry = createTopicRegistry({
    nextMessageId,
    deliver: (subscription, message) => subscriptions.enqueue(subscription, message),
  });
  const subscriptions = createSubscriptionRegistry({ ...deps, topics });
  return {
    topics,
    subscriptions,
    deleteTopic(name) {
      const deleted = topics.delete(name);
      if (!deleted.ok) return deleted;
      for (const subscription of deleted.value) subscriptions.detachFromTopic(subscription);
      return ok(undefined);
    },
    close: () => subscriptions.close(),
  };
}

import type { Journal, JournalRecordSink, LiveState } from './journal.js';
import { createMessageIds, type StoredMessage } from './messages.js';
import { ok, type Outcome } from './outcome.js';
import type { PushDeps } from './push.js';
import { createSubscriptionRegistry, type SubscriptionRegistry } from './subscriptions.js';
import { createTopicRegistry, type TopicRegistry } from './topics.js';

/**
 * All state of one emulator: topics fan messages out to the subscriptions attached to them. In
 * memory, and durable when given a journal: it is replayed into the broker at start, then records
 * every change.
 */
export interface Broker {
  topics: TopicRegistry;
  subscriptions: SubscriptionRegistry;
  /** Deleting a topic leaves its subscriptions in place, detached (topic `_deleted-topic_`). */
  deleteTopic(name: string): Outcome<void>;
  /** What the broker holds, as a journal compacts it. */
  snapshot(): LiveState;
  close(): void;
}

export interface Persistence {
  journal: Journal;
  /** What the journal held when it was opened. */
  restored: LiveState;
  lastMessageId: number;
}

// How often a durable broker checks whether its journal is worth compacting.
const COMPACTION_CHECK_MS = 10_000;

const noJournal: JournalRecordSink = {
  topicCreated: () => undefined,
  topicDeleted: () => undefined,
  subscriptionSaved: () => undefined,
  subscriptionDeleted: () => undefined,
  published: () => undefined,
  settled: () => undefined,
};

export function createBroker(deps: PushDeps & { pushPaused?: boolean }, persistence?: Persistence): Broker {
  const nextMessageId = createMessageIds((persistence?.lastMessageId ?? 0) + 1);
  // Silent while the restored state is put back: it is already in the journal.
  let journal: JournalRecordSink = noJournal;
  const recorder: JournalRecordSink = {
    topicCreated: (topic) => journal.topicCreated(topic),
    topicDeleted: (name) => journal.topicDeleted(name),
    subscriptionSaved: (sub) => journal.subscriptionSaved(sub),
    subscriptionDeleted: (name) => journal.subscriptionDeleted(name),
    published: (messages, subs) => journal.published(messages, subs),
    settled: (sub, id) => journal.settled(sub, id),
  };
  const topics: TopicRegistry = createTopicRegistry({
    nextMessageId,
    journal: recorder,
    deliver: (subscription, message) => subscriptions.enqueue(subscription, message),
  });
  const subscriptions = createSubscriptionRegistry({ ...deps, topics, journal: recorder });

  function snapshot(): LiveState {
    const holders = new Map<string, { message: StoredMessage; subscriptions: string[] }>();
    for (const wire of subscriptions.all()) {
      const state = subscriptions.state(wire.name);
      if (!state.ok) continue;
      for (const message of state.value.held()) {
        let held = holders.get(message.messageId);
        if (!held) holders.set(message.messageId, (held = { message, subscriptions: [] }));
        held.subscriptions.push(wire.name);
      }
    }
    // Message ids grow with publish order: replay hands them back to each subscription in that order.
    const messages = [...holders.values()].sort((a, b) => Number(a.message.messageId) - Number(b.message.messageId));
    return { topics: topics.all(), subscriptions: subscriptions.all(), messages };
  }

  let compactionTimer: NodeJS.Timeout | undefined;
  if (persistence) {
    const { restored } = persistence;
    for (const topic of restored.topics) topics.create(topic);
    for (const sub of restored.subscriptions) {
      // A subscription whose topic was deleted cannot be recreated through the API; it is dropped
      // with its backlog, as the cloud drops it once detached (the local stack never deletes topics).
      if (topics.exists(sub.topic)) subscriptions.create(sub);
    }
    for (const { message, subscriptions: holders } of restored.messages) {
      for (const name of holders) subscriptions.enqueue(name, message);
    }
    journal = persistence.journal;
    compactionTimer = setInterval(() => {
      try {
        if (persistence.journal.wantsCompaction()) persistence.journal.compact(snapshot());
      } catch (err) {
        // The old log stays in place (the new one is renamed over it only once complete): retried next check.
        console.error(`Pub/Sub journal: compaction failed: ${(err as Error).message}`);
      }
    }, COMPACTION_CHECK_MS);
    compactionTimer.unref();
  }

  return {
    topics,
    subscriptions,
    deleteTopic(name) {
      const deleted = topics.delete(name);
      if (!deleted.ok) return deleted;
      for (const subscription of deleted.value) subscriptions.detachFromTopic(subscription);
      return ok(undefined);
    },
    snapshot,
    close: () => {
      clearInterval(compactionTimer);
      // Closed before the subscriptions are: closing them empties their backlogs, which is not a settlement.
      persistence?.journal.close();
      journal = noJournal;
      subscriptions.close();
    },
  };
}

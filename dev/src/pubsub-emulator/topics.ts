import { status } from '@grpc/grpc-js';
import type { JournalRecordSink } from './journal.js';
import type { StoredMessage } from './messages.js';
import { parseName } from './names.js';
import { fail, ok, topicNotFound, type Outcome } from './outcome.js';
import { pageOfProject, type Page } from './paging.js';
import type { WirePubsubMessage, WireTopic } from './wire.js';

/**
 * Topics and the subscriptions attached to them. A published message is handed to every subscription
 * attached at publish time; subscriptions created later never see it, as in Pub/Sub.
 */
// https://cloud.google.com/pubsub/quotas#resource_limits: at most 1000 messages per Publish.
const MAX_MESSAGES_PER_PUBLISH = 1000;

export interface TopicRegistry {
  create(topic: WireTopic): Outcome<WireTopic>;
  get(name: string): Outcome<WireTopic>;
  all(): WireTopic[];
  exists(name: string): boolean;
  list(project: string, pageSize?: number, pageToken?: string): Outcome<Page<WireTopic>>;
  /** Deletes the topic; returns the names of the subscriptions that were attached to it. */
  delete(name: string): Outcome<string[]>;
  attach(topic: string, subscription: string): void;
  detach(topic: string, subscription: string): void;
  subscriptionsOf(topic: string): Outcome<string[]>;
  publish(topic: string, messages: readonly WirePubsubMessage[]): Outcome<string[]>;
}

export interface TopicDeps {
  nextMessageId(): string;
  /** Hands one message to one attached subscription. */
  deliver(subscription: string, message: StoredMessage): void;
  /** Records what changes, for a durable emulator; published messages before they are delivered. */
  journal: JournalRecordSink;
  now?: () => Date;
}

interface TopicRecord {
  wire: WireTopic;
  subscriptions: Set<string>;
}

const isEmpty = (message: WirePubsubMessage) =>
  (message.data?.length ?? 0) === 0 && Object.keys(message.attributes ?? {}).length === 0;

export function createTopicRegistry(deps: TopicDeps): TopicRegistry {
  const topics = new Map<string, TopicRecord>();
  const now = deps.now ?? (() => new Date());

  const find = (name: string): Outcome<TopicRecord> => {
    const record = topics.get(name);
    return record ? ok(record) : topicNotFound();
  };

  return {
    create(topic) {
      const name = parseName(topic.name, 'topics');
      if (!name.ok) return name;
      if (topics.has(topic.name)) return fail(status.ALREADY_EXISTS, 'Topic already exists');
      const wire: WireTopic = { ...topic, labels: topic.labels ?? {} };
      topics.set(topic.name, { wire, subscriptions: new Set() });
      deps.journal.topicCreated(wire);
      return ok(wire);
    },
    get(name) {
      const record = find(name);
      return record.ok ? ok(record.value.wire) : record;
    },
    all: () => [...topics.values()].map((record) => record.wire),
    exists: (name) => topics.has(name),
    list: (project, pageSize, pageToken) => pageOfProject(topics, project, 'topics', pageSize, pageToken),
    delete(name) {
      const record = find(name);
      if (!record.ok) return record;
      topics.delete(name);
      deps.journal.topicDeleted(name);
      return ok([...record.value.subscriptions]);
    },
    attach(topic, subscription) {
      topics.get(topic)?.subscriptions.add(subscription);
    },
    detach(topic, subscription) {
      topics.get(topic)?.subscriptions.delete(subscription);
    },
    subscriptionsOf(topic) {
      const record = find(topic);
      return record.ok ? ok([...record.value.subscriptions].sort()) : record;
    },
    publish(topic, messages) {
      const record = find(topic);
      if (!record.ok) return record;
      if (messages.length === 0) return fail(status.INVALID_ARGUMENT, 'No messages provided');
      if (messages.length > MAX_MESSAGES_PER_PUBLISH) {
        return fail(status.INVALID_ARGUMENT, `At most ${MAX_MESSAGES_PER_PUBLISH} messages may be published at once`);
      }
      if (messages.some(isEmpty)) return fail(status.INVALID_ARGUMENT, 'Some messages are empty');
      const publishTime = now();
      const stored = messages.map(
        (input): StoredMessage => ({
          messageId: deps.nextMessageId(),
          data: Buffer.from(input.data ?? new Uint8Array()),
          attributes: { ...input.attributes },
          publishTime,
          orderingKey: input.orderingKey ?? '',
        }),
      );
      // Written before the publisher is answered (this runs before the handler returns): an id
      // the publisher receives is a message that survives a restart.
      const subscriptions = [...record.value.subscriptions];
      deps.journal.published(stored, subscriptions);
      for (const message of stored) for (const subscription of subscriptions) deps.deliver(subscription, message);
      return ok(stored.map((message) => message.messageId));
    },
  };
}

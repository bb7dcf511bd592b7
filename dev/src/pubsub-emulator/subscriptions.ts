import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { JournalRecordSink } from './journal.js';
import type { StoredMessage } from './messages.js';
import { DELETED_TOPIC, idOf, parseName, projectOf } from './names.js';
import { fail, ok, subscriptionNotFound, type Outcome } from './outcome.js';
import { pageOfProject, type Page } from './paging.js';
import { createPushConsumer, type PushConsumer, type PushDeps } from './push.js';
import { parseSubscription, validPushEndpoint } from './subscription-config.js';
import { createSubscriptionState, type SubscriptionState } from './subscription.js';
import type { TopicRegistry } from './topics.js';
import type { WirePushConfig, WireSubscription } from './wire.js';

/**
 * The subscriptions of the emulator: their resources as clients see them, their backlog and leases,
 * and the push dispatcher of those with a push endpoint.
 */
export interface SubscriptionRegistry {
  create(subscription: WireSubscription): Outcome<WireSubscription>;
  get(name: string): Outcome<WireSubscription>;
  list(project: string, pageSize?: number, pageToken?: string): Outcome<Page<WireSubscription>>;
  delete(name: string): Outcome<void>;
  modifyPushConfig(name: string, pushConfig: WirePushConfig | undefined): Outcome<void>;
  /** UpdateSubscription: the fields named in `paths` (snake_case, as in an update mask) take their values from `changes`. */
  update(changes: WireSubscription, paths: readonly string[]): Outcome<WireSubscription>;
  all(): WireSubscription[];
  /** Starts push delivery when the registry was created with pushes paused. */
  resumePushes(): void;
  /** The backlog and leases of one subscription, for Pull, StreamingPull, Acknowledge, ModifyAckDeadline. */
  state(name: string): Outcome<SubscriptionState>;
  /** A message published to the subscription's topic. */
  enqueue(name: string, message: StoredMessage): void;
  /** The topic was deleted: the subscription stays, detached, and receives nothing more. */
  detachFromTopic(name: string): void;
  close(): void;
}

export type SubscriptionDeps = PushDeps & {
  topics: TopicRegistry;
  journal: JournalRecordSink;
  /**
   * No push until resumePushes(): a restored backlog would otherwise be pushed before its receiver
   * is up, and every failed push uses up one of the message's delivery attempts.
   */
  pushPaused?: boolean;
};

// The fields UpdateSubscription may change here, by their update-mask path.
const UPDATABLE: Record<string, keyof WireSubscription> = {
  ack_deadline_seconds: 'ackDeadlineSeconds',
  push_config: 'pushConfig',
  dead_letter_policy: 'deadLetterPolicy',
  retry_policy: 'retryPolicy',
  labels: 'labels',
};

interface SubscriptionRecord {
  wire: WireSubscription;
  state: SubscriptionState;
  push: PushConsumer | undefined;
}

// Attributes the service adds to a dead-lettered message. https://cloud.google.com/pubsub/docs/handling-failures
function deadLetterAttributes(subscription: string, message: StoredMessage, attempts: number): Record<string, string> {
  return {
    CloudPubSubDeadLetterSourceDeliveryCount: String(attempts),
    CloudPubSubDeadLetterSourceSubscription: idOf(subscription),
    CloudPubSubDeadLetterSourceSubscriptionProject: projectOf(subscription),
    CloudPubSubDeadLetterSourceTopicPublishTime: message.publishTime.toISOString(),
  };
}

export function createSubscriptionRegistry(deps: SubscriptionDeps): SubscriptionRegistry {
  const records = new Map<string, SubscriptionRecord>();
  let ackIds = 0;
  // Ack ids carry this start's tag: after a restart, an ack a client still holds for the previous
  // run must not settle whichever restored message got the same number.
  const boot = randomBytes(4).toString('hex');
  let pushPaused = deps.pushPaused ?? false;

  const find = (name: string): Outcome<SubscriptionRecord> => {
    const record = records.get(name);
    return record ? ok(record) : subscriptionNotFound();
  };

  function applyPush(record: SubscriptionRecord): void {
    const endpoint = pushPaused ? undefined : record.wire.pushConfig?.pushEndpoint;
    if (record.push && !endpoint) {
      record.state.removeConsumer(record.push);
      record.push.close();
      record.push = undefined;
    } else if (!record.push && endpoint) {
      record.push = createPushConsumer(record.state, () => record.wire.pushConfig ?? {}, deps);
      record.state.addConsumer(record.push);
    }
  }

  function deadLetter(subscription: string, message: StoredMessage, attempts: number, topic: string): boolean {
    try {
      const published = deps.topics.publish(topic, [
        {
          data: message.data,
          attributes: { ...message.attributes, ...deadLetterAttributes(subscription, message, attempts) },
          orderingKey: message.orderingKey,
        },
      ]);
      return published.ok;
    } catch {
      // The journal could not record it: the message stays on its subscription and is retried.
      return false;
    }
  }

  return {
    create(input) {
      const name = parseName(input.name, 'subscriptions');
      if (!name.ok) return name;
      if (records.has(input.name)) return fail(status.ALREADY_EXISTS, 'Subscription already exists');
      const parsed = parseSubscription(input, deps.topics.exists);
      if (!parsed.ok) return parsed;
      const { wire, settings } = parsed.value;
      const state = createSubscriptionState(settings, {
        nextAckId: () => `${wire.name}:${boot}-${++ackIds}`,
        deadLetter: (message, attempts) => {
          const policy = state.settings().deadLetter;
          return policy !== undefined && deadLetter(wire.name, message, attempts, policy.topic);
        },
        settled: (message) => deps.journal.settled(wire.name, message.messageId),
      });
      const record: SubscriptionRecord = { wire, state, push: undefined };
      records.set(wire.name, record);
      deps.topics.attach(wire.topic, wire.name);
      applyPush(record);
      deps.journal.subscriptionSaved(wire);
      return ok(wire);
    },
    get(name) {
      const record = find(name);
      return record.ok ? ok(record.value.wire) : record;
    },
    list: (project, pageSize, pageToken) => pageOfProject(records, project, 'subscriptions', pageSize, pageToken),
    delete(name) {
      const record = find(name);
      if (!record.ok) return record;
      records.delete(name);
      deps.journal.subscriptionDeleted(name);
      deps.topics.detach(record.value.wire.topic, name);
      record.value.state.close();
      record.value.push?.close();
      return ok(undefined);
    },
    modifyPushConfig(name, pushConfig) {
      const record = find(name);
      if (!record.ok) return record;
      const endpoint = validPushEndpoint(pushConfig?.pushEndpoint);
      if (!endpoint.ok) return endpoint;
      record.value.wire = { ...record.value.wire, pushConfig: pushConfig ?? {} };
      applyPush(record.value);
      deps.journal.subscriptionSaved(record.value.wire);
      return ok(undefined);
    },
    update(changes, paths) {
      const record = find(changes.name);
      if (!record.ok) return record;
      if (paths.length === 0) return fail(status.INVALID_ARGUMENT, 'update_mask must name at least one field');
      const merged: WireSubscription = { ...record.value.wire };
      for (const path of paths) {
        const field = UPDATABLE[path];
        if (!field) return fail(status.INVALID_ARGUMENT, `Updating ${path} is not supported by this emulator (it updates ${Object.keys(UPDATABLE).join(', ')})`);
        merged[field] = changes[field];
      }
      const parsed = parseSubscription(merged, deps.topics.exists);
      if (!parsed.ok) return parsed;
      record.value.wire = parsed.value.wire;
      record.value.state.update(parsed.value.settings);
      applyPush(record.value);
      deps.journal.subscriptionSaved(parsed.value.wire);
      return ok(parsed.value.wire);
    },
    all: () => [...records.values()].map((record) => record.wire),
    resumePushes() {
      pushPaused = false;
      for (const record of records.values()) applyPush(record);
    },
    state(name) {
      const record = find(name);
      return record.ok ? ok(record.value.state) : record;
    },
    enqueue(name, message) {
      records.get(name)?.state.enqueue(message);
    },
    detachFromTopic(name) {
      const record = records.get(name);
      if (record) record.wire = { ...record.wire, topic: DELETED_TOPIC };
    },
    close() {
      for (const record of records.values()) {
        record.state.close();
        record.push?.close();
      }
      records.clear();
    },
  };
}

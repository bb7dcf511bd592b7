import { status, type handleUnaryCall, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Broker } from './broker.js';
import { toReceivedMessage } from './messages.js';
import { fail, ok, type Outcome } from './outcome.js';
import { page, type Page } from './paging.js';
import { handleStreamingPull } from './streaming-pull.js';
import type { SubscriptionState } from './subscription.js';
import type { WirePubsubMessage, WirePushConfig, WireSubscription, WireTopic } from './wire.js';

/**
 * google.pubsub.v1 Publisher and Subscriber over the broker. Methods not listed here (snapshots, seek,
 * schemas, UpdateTopic) answer UNIMPLEMENTED, which grpc-js does for missing handlers.
 */
export interface ServiceOptions {
  /** How long a Pull without returnImmediately waits for messages before answering empty. */
  pullWaitMs: number;
}

interface ListRequest {
  project?: string;
  topic?: string;
  pageSize?: number;
  pageToken?: string;
}

interface AckRequest {
  subscription: string;
  ackIds?: string[];
  ackDeadlineSeconds?: number;
}

type Empty = Record<string, never>;
const empty: Empty = {};
const MAX_ACK_DEADLINE_SECONDS = 600;

const asEmpty = (outcome: Outcome<unknown>): Outcome<Empty> => (outcome.ok ? ok(empty) : outcome);

/** List responses name their repeated field after the resource and end with nextPageToken. */
function asList<T>(field: string, listed: Outcome<Page<T>>): Outcome<Record<string, T[] | string>> {
  return listed.ok ? ok({ [field]: listed.value.items, nextPageToken: listed.value.nextPageToken }) : listed;
}

function unary<Req, Res>(handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Outcome<Res> | Promise<Outcome<Res>>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (outcome) => (outcome.ok ? callback(null, outcome.value) : callback({ code: outcome.code, details: outcome.message })),
        (err: unknown) => callback({ code: status.INTERNAL, details: (err as Error).message ?? String(err) }),
      );
  };
}

/** Ack ids name their subscription; one from another subscription is a client bug the service rejects. */
function checkAckIds(subscription: string, ackIds: readonly string[]): Outcome<void> {
  const foreign = ackIds.find((ackId) => !ackId.startsWith(`${subscription}:`));
  return foreign === undefined ? ok(undefined) : fail(status.INVALID_ARGUMENT, `Invalid ack ID: ${foreign}`);
}

export function publisherService(broker: Broker): UntypedServiceImplementation {
  const { topics } = broker;
  return {
    CreateTopic: unary((topic: WireTopic) => topics.create(topic)),
    GetTopic: unary((request: { topic: string }) => topics.get(request.topic)),
    ListTopics: unary((request: ListRequest) => asList('topics', topics.list(request.project ?? '', request.pageSize, request.pageToken))),
    ListTopicSubscriptions: unary((request: ListRequest) => {
      const names = topics.subscriptionsOf(request.topic ?? '');
      return asList('subscriptions', names.ok ? page(names.value, request.pageSize, request.pageToken) : names);
    }),
    DeleteTopic: unary((request: { topic: string }) => asEmpty(broker.deleteTopic(request.topic))),
    Publish: unary((request: { topic: string; messages?: WirePubsubMessage[] }) => {
      const published = topics.publish(request.topic, request.messages ?? []);
      return published.ok ? ok({ messageIds: published.value }) : published;
    }),
  };
}

export function subscriberService(broker: Broker, options: ServiceOptions): UntypedServiceImplementation {
  const { subscriptions } = broker;
  const withState = <T>(name: string, ackIds: readonly string[], act: (state: SubscriptionState) => T) => {
    const found = subscriptions.state(name);
    if (!found.ok) return found;
    const checked = checkAckIds(name, ackIds);
    return checked.ok ? ok(act(found.value)) : checked;
  };
  return {
    CreateSubscription: unary((subscription: WireSubscription) => subscriptions.create(subscription)),
    GetSubscription: unary((request: { subscription: string }) => subscriptions.get(request.subscription)),
    ListSubscriptions: unary((request: ListRequest) =>
      asList('subscriptions', subscriptions.list(request.project ?? '', request.pageSize, request.pageToken)),
    ),
    DeleteSubscription: unary((request: { subscription: string }) => asEmpty(subscriptions.delete(request.subscription))),
    UpdateSubscription: unary((request: { subscription?: WireSubscription; updateMask?: { paths?: string[] } }) =>
      request.subscription ? subscriptions.update(request.subscription, request.updateMask?.paths ?? []) : fail(status.INVALID_ARGUMENT, 'subscription is required'),
    ),
    ModifyPushConfig: unary((request: { subscription: string; pushConfig?: WirePushConfig }) =>
      asEmpty(subscriptions.modifyPushConfig(request.subscription, request.pushConfig)),
    ),
    Pull: unary(async (request: { subscription: string; maxMessages?: number; returnImmediately?: boolean }, call) => {
      const found = subscriptions.state(request.subscription);
      if (!found.ok) return found;
      if (!request.maxMessages || request.maxMessages < 0) return fail(status.INVALID_ARGUMENT, 'max_messages must be positive');
      const cancelled = new AbortController();
      call.once('cancelled', () => cancelled.abort());
      const state = found.value;
      const deliveries = await state.pull(request.maxMessages, request.returnImmediately ? 0 : options.pullWaitMs, cancelled.signal);
      const reportAttempts = state.settings().deadLetter !== undefined;
      return ok({
        receivedMessages: deliveries.map((d) => toReceivedMessage(d.ackId, d.message, reportAttempts ? d.deliveryAttempt : undefined)),
      });
    }),
    Acknowledge: unary((request: AckRequest) => {
      const ackIds = request.ackIds ?? [];
      return asEmpty(withState(request.subscription, ackIds, (state) => state.ack(ackIds)));
    }),
    ModifyAckDeadline: unary((request: AckRequest) => {
      const seconds = request.ackDeadlineSeconds ?? 0;
      if (seconds < 0 || seconds > MAX_ACK_DEADLINE_SECONDS) return fail(status.INVALID_ARGUMENT, 'ack_deadline_seconds out of bounds');
      const ackIds = request.ackIds ?? [];
      return asEmpty(withState(request.subscription, ackIds, (state) => state.modifyDeadline(ackIds, seconds)));
    }),
    StreamingPull: (call: Parameters<typeof handleStreamingPull>[0]) => handleStreamingPull(call, subscriptions),
  };
}

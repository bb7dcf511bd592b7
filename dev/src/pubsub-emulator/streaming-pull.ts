import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { toReceivedMessage } from './messages.js';
import type { Failure } from './outcome.js';
import { validAckDeadline } from './subscription-config.js';
import type { SubscriptionRegistry } from './subscriptions.js';
import type { Consumer, SubscriptionState } from './subscription.js';
import type { WireReceivedMessage, WireStreamingPullRequest } from './wire.js';

/**
 * StreamingPull: the first request names the subscription, the stream's ack deadline and its flow
 * control (max outstanding messages/bytes, per stream as in the service); later requests may carry
 * acks, deadline modifications (0 = nack) and a new stream ack deadline. The stream stays a consumer
 * of the subscription until the client half-closes or cancels it. The Node client acks with unary
 * Acknowledge/ModifyAckDeadline and sends empty keep-alive requests; both are fine here.
 * https://cloud.google.com/pubsub/docs/reference/rpc/google.pubsub.v1#streamingpullrequest
 */
interface StreamingPullResponse {
  receivedMessages: WireReceivedMessage[];
  subscriptionProperties: { exactlyOnceDeliveryEnabled: boolean; messageOrderingEnabled: boolean };
}

type Call = ServerDuplexStream<WireStreamingPullRequest, StreamingPullResponse>;

export function handleStreamingPull(call: Call, subscriptions: SubscriptionRegistry): void {
  let state: SubscriptionState | undefined;
  let consumer: Consumer | undefined;
  let leaseMs = 0;
  let ended = false;

  const end = (failure?: Failure) => {
    if (ended) return;
    ended = true;
    if (state && consumer) state.removeConsumer(consumer);
    if (call.cancelled) return;
    if (failure) call.emit('error', { code: failure.code, details: failure.message });
    else call.end();
  };

  const open = (request: WireStreamingPullRequest): Failure | undefined => {
    const found = subscriptions.state(request.subscription ?? '');
    if (!found.ok) return found;
    const seconds = request.streamAckDeadlineSeconds ?? 0;
    if (!validAckDeadline(seconds)) {
      return { ok: false, code: status.INVALID_ARGUMENT, message: `Invalid stream_ack_deadline_seconds: ${seconds}` };
    }
    leaseMs = seconds * 1000;
    const subscription = found.value;
    const maxMessages = Number(request.maxOutstandingMessages ?? 0);
    const maxBytes = Number(request.maxOutstandingBytes ?? 0);
    state = subscription;
    consumer = {
      mode: 'pull',
      maxOutstandingMessages: () => maxMessages,
      maxOutstandingBytes: () => maxBytes,
      leaseMs: () => leaseMs,
      deliver(deliveries) {
        const reportAttempts = subscription.settings().deadLetter !== undefined;
        call.write({
          receivedMessages: deliveries.map((d) => toReceivedMessage(d.ackId, d.message, reportAttempts ? d.deliveryAttempt : undefined)),
          subscriptionProperties: { exactlyOnceDeliveryEnabled: false, messageOrderingEnabled: false },
        });
      },
      close: () => end({ ok: false, code: status.NOT_FOUND, message: 'Subscription does not exist' }),
    };
    subscription.addConsumer(consumer);
    return undefined;
  };

  const apply = (request: WireStreamingPullRequest): Failure | undefined => {
    if (!state) return open(request);
    const modifyIds = request.modifyDeadlineAckIds ?? [];
    const modifySeconds = request.modifyDeadlineSeconds ?? [];
    if (modifyIds.length !== modifySeconds.length) {
      return { ok: false, code: status.INVALID_ARGUMENT, message: 'ack IDs and deadlines must have the same size' };
    }
    if (request.ackIds?.length) state.ack(request.ackIds);
    modifyIds.forEach((ackId, i) => state!.modifyDeadline([ackId], modifySeconds[i] ?? 0));
    if (request.streamAckDeadlineSeconds && validAckDeadline(request.streamAckDeadlineSeconds)) {
      leaseMs = request.streamAckDeadlineSeconds * 1000;
    }
    return undefined;
  };

  call.on('data', (request: WireStreamingPullRequest) => {
    if (ended) return;
    const failure = apply(request);
    if (failure) end(failure);
  });
  call.on('end', () => end());
  call.on('cancelled', () => end());
  call.on('error', () => end());
}

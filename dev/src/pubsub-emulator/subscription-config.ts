import { status } from '@grpc/grpc-js';
import { RETRY_POLICY_DEFAULTS } from './backoff.js';
import { parseName } from './names.js';
import { fail, ok, type Outcome } from './outcome.js';
import type { SubscriptionSettings } from './subscription.js';
import { durationToMs, type WireDuration, type WireSubscription } from './wire.js';

/**
 * Validates a Subscription resource and fills in the defaults the service reports back.
 * Limits: https://cloud.google.com/pubsub/quotas#resource_limits
 * - ackDeadlineSeconds: the cloud takes 10–600 (0 = 10). Like Google's official emulator we accept
 *   1–600, so tests can watch a lease expire in a second or two.
 * - deadLetterPolicy.maxDeliveryAttempts: 5–100 (0 = 5), as in the cloud and the official emulator.
 * - retryPolicy backoffs: 0–600 s; unset ones default to 10 s and 600 s.
 */
export const DEFAULT_ACK_DEADLINE_SECONDS = 10;
const MIN_ACK_DEADLINE_SECONDS = 1;
const MAX_ACK_DEADLINE_SECONDS = 600;
const DEFAULT_MAX_DELIVERY_ATTEMPTS = 5;
const MIN_MAX_DELIVERY_ATTEMPTS = 5;
const MAX_MAX_DELIVERY_ATTEMPTS = 100;
const MAX_BACKOFF_MS = 600_000;
// Seven days, what the service reports for a subscription created without a retention.
const DEFAULT_RETENTION: WireDuration = { seconds: '604800', nanos: 0 };

export interface ParsedSubscription {
  wire: WireSubscription;
  settings: SubscriptionSettings;
  pushEndpoint: string | undefined;
}

const msToDuration = (ms: number): WireDuration => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });

export function validAckDeadline(seconds: number): boolean {
  return seconds >= MIN_ACK_DEADLINE_SECONDS && seconds <= MAX_ACK_DEADLINE_SECONDS;
}

export function validPushEndpoint(endpoint: string | undefined): Outcome<string | undefined> {
  if (!endpoint) return ok(undefined);
  try {
    const url = new URL(endpoint);
    if (url.protocol === 'http:' || url.protocol === 'https:') return ok(endpoint);
  } catch {
    // falls through to the failure below
  }
  return fail(status.INVALID_ARGUMENT, `Invalid push endpoint given (endpoint=${endpoint}).`);
}

/** `topicExists` answers for both the subscription's topic and its dead-letter topic. */
export function parseSubscription(input: WireSubscription, topicExists: (name: string) => boolean): Outcome<ParsedSubscription> {
  const name = parseName(input.name, 'subscriptions');
  if (!name.ok) return name;
  const topic = parseName(input.topic, 'topics');
  if (!topic.ok) return topic;
  if (!topicExists(input.topic)) return fail(status.NOT_FOUND, 'Topic not found');

  const ackDeadlineSeconds = input.ackDeadlineSeconds || DEFAULT_ACK_DEADLINE_SECONDS;
  if (!validAckDeadline(ackDeadlineSeconds)) return fail(status.INVALID_ARGUMENT, 'ack_deadline_secs out of bounds');

  const push = validPushEndpoint(input.pushConfig?.pushEndpoint);
  if (!push.ok) return push;

  const wire: WireSubscription = {
    ...input,
    ackDeadlineSeconds,
    pushConfig: input.pushConfig ?? {},
    messageRetentionDuration: input.messageRetentionDuration ?? DEFAULT_RETENTION,
  };
  const settings: SubscriptionSettings = { name: input.name, ackDeadlineMs: ackDeadlineSeconds * 1000 };

  const deadLetterTopic = input.deadLetterPolicy?.deadLetterTopic;
  if (deadLetterTopic) {
    const attempts = input.deadLetterPolicy?.maxDeliveryAttempts || DEFAULT_MAX_DELIVERY_ATTEMPTS;
    if (attempts < MIN_MAX_DELIVERY_ATTEMPTS || attempts > MAX_MAX_DELIVERY_ATTEMPTS) {
      return fail(
        status.INVALID_ARGUMENT,
        `The value for max_delivery_attempts is out of range. You passed ${attempts} in the request, but it must be between ${MIN_MAX_DELIVERY_ATTEMPTS} and ${MAX_MAX_DELIVERY_ATTEMPTS}.`,
      );
    }
    if (!parseName(deadLetterTopic, 'topics').ok || !topicExists(deadLetterTopic)) {
      return fail(status.NOT_FOUND, 'Dead letter topic not found');
    }
    settings.deadLetter = { topic: deadLetterTopic, maxDeliveryAttempts: attempts };
    wire.deadLetterPolicy = { deadLetterTopic, maxDeliveryAttempts: attempts };
  } else {
    delete wire.deadLetterPolicy;
  }

  if (input.retryPolicy) {
    const minMs = durationToMs(input.retryPolicy.minimumBackoff) ?? RETRY_POLICY_DEFAULTS.minMs;
    const maxMs = durationToMs(input.retryPolicy.maximumBackoff) ?? RETRY_POLICY_DEFAULTS.maxMs;
    if (minMs < 0 || maxMs > MAX_BACKOFF_MS || maxMs < minMs) {
      return fail(status.INVALID_ARGUMENT, 'Invalid retry policy: backoffs must satisfy 0s <= minimum_backoff <= maximum_backoff <= 600s');
    }
    settings.retry = { minMs, maxMs };
    wire.retryPolicy = { minimumBackoff: msToDuration(minMs), maximumBackoff: msToDuration(maxMs) };
  }

  return ok({ wire, settings, pushEndpoint: push.value });
}

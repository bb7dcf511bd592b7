/**
 * The shapes of google.pubsub.v1 messages as @grpc/proto-loader hands them to us (camelCase fields,
 * int64 as strings, bytes as Buffer; see proto.ts for the loader options). Only the fields the
 * emulator reads or writes are named; the rest pass through untouched.
 */
export interface WireDuration {
  seconds?: string | number;
  nanos?: number;
}

export interface WireTimestamp {
  seconds: string;
  nanos: number;
}

export interface WirePubsubMessage {
  data?: Uint8Array;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: WireTimestamp;
  orderingKey?: string;
}

export interface WireTopic {
  name: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export interface WireOidcToken {
  serviceAccountEmail?: string;
  audience?: string;
}

export interface WirePushConfig {
  pushEndpoint?: string;
  attributes?: Record<string, string>;
  oidcToken?: WireOidcToken;
  [field: string]: unknown;
}

export interface WireDeadLetterPolicy {
  deadLetterTopic?: string;
  maxDeliveryAttempts?: number;
}

export interface WireRetryPolicy {
  minimumBackoff?: WireDuration;
  maximumBackoff?: WireDuration;
}

export interface WireSubscription {
  name: string;
  topic: string;
  pushConfig?: WirePushConfig;
  ackDeadlineSeconds?: number;
  deadLetterPolicy?: WireDeadLetterPolicy;
  retryPolicy?: WireRetryPolicy;
  [field: string]: unknown;
}

export interface WireReceivedMessage {
  ackId: string;
  message: WirePubsubMessage;
  deliveryAttempt?: number;
}

export interface WireStreamingPullRequest {
  subscription?: string;
  ackIds?: string[];
  modifyDeadlineSeconds?: number[];
  modifyDeadlineAckIds?: string[];
  streamAckDeadlineSeconds?: number;
  clientId?: string;
  maxOutstandingMessages?: string | number;
  maxOutstandingBytes?: string | number;
}

export function durationToMs(duration: WireDuration | undefined): number | undefined {
  if (!duration) return undefined;
  return Number(duration.seconds ?? 0) * 1000 + Math.round((duration.nanos ?? 0) / 1e6);
}

export function timestampOf(date: Date): WireTimestamp {
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

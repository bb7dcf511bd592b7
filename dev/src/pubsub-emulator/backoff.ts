/**
 * How long a nacked (or expired) message waits before it is offered again.
 * - With a retry policy: exponential from minimumBackoff to maximumBackoff (the cloud defaults are 10 s
 *   and 600 s when the policy leaves them out). https://cloud.google.com/pubsub/docs/handling-failures
 * - Push without a retry policy: Pub/Sub's push backoff, exponential from 100 ms to 60 s.
 *   https://cloud.google.com/pubsub/docs/push#push_backoff
 * - Pull without a retry policy: immediately.
 */
export interface Backoff {
  minMs: number;
  maxMs: number;
}

export const RETRY_POLICY_DEFAULTS: Backoff = { minMs: 10_000, maxMs: 600_000 };
export const PUSH_BACKOFF: Backoff = { minMs: 100, maxMs: 60_000 };

/** `failedAttempts` counts the deliveries of this message that did not end in an ack (1 after the first). */
export function backoffDelayMs(backoff: Backoff, failedAttempts: number): number {
  const exponent = Math.max(0, failedAttempts - 1);
  return Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(exponent, 30));
}

export function redeliveryDelayMs(retryPolicy: Backoff | undefined, mode: 'pull' | 'push', failedAttempts: number): number {
  if (retryPolicy) return backoffDelayMs(retryPolicy, failedAttempts);
  return mode === 'push' ? backoffDelayMs(PUSH_BACKOFF, failedAttempts) : 0;
}

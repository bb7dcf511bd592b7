/**
 * The push subscription's delivery settings and the writer's flush age, declared once: the local
 * stack creates its emulated subscription from these (and `infra/` is to create the cloud one from
 * them), and the writer checks its own settings against them at start-up.
 *
 * Pub/Sub push waits up to the ack deadline for the writer's answer; the writer holds a push until
 * the rows it carries are in GCS, which takes up to the flush age plus the time to encode and upload
 * the file. A deadline shorter than that makes Pub/Sub redeliver messages that are still buffered,
 * so the same events are written twice (dedup removes them, but the work is wasted).
 * https://cloud.google.com/pubsub/docs/push#receive_push
 */
export const PUSH_DELIVERY = {
  /** The writer's default FLUSH_MAX_AGE_MS. */
  flushMaxAgeMs: 5_000,
  /**
   * Concurrent requests per writer instance: Cloud Run's default, and the writer's default
   * PUSH_CONCURRENCY. Once that many pushes wait, no more can come, so the writer flushes at once.
   * https://cloud.google.com/run/docs/about-concurrency
   */
  writerConcurrency: 80,
  /** What a flush may take once it starts: encode, then a GCS upload with the client's retries. */
  flushBudgetMs: 20_000,
  /** Redelivery backoff after a 429 or 5xx. */
  minimumBackoffSeconds: 1,
  maximumBackoffSeconds: 60,
  /**
   * Then the message goes to the dead-letter topic (5–100 in Pub/Sub). Every non-2xx answer counts
   * as an attempt, 429 and the 503 of a stopping writer included, so this is Pub/Sub's maximum:
   * minutes of backpressure must not dead-letter good messages (at a 60 s backoff, 100 attempts
   * are well over an hour).
   */
  maxDeliveryAttempts: 100,
} as const;

/** Pub/Sub's bounds on a subscription's ack deadline. */
export const ACK_DEADLINE_BOUNDS = { minSeconds: 10, maxSeconds: 600 } as const;

/** The ack deadline a push subscription needs for a writer that flushes at `flushMaxAgeMs`. */
export function ackDeadlineSecondsFor(flushMaxAgeMs: number): number {
  const needed = Math.ceil((flushMaxAgeMs + PUSH_DELIVERY.flushBudgetMs) / 1000);
  return Math.min(ACK_DEADLINE_BOUNDS.maxSeconds, Math.max(ACK_DEADLINE_BOUNDS.minSeconds, needed));
}

/** Why a flush age and an ack deadline cannot work together, or undefined when they can. */
export function checkAckDeadline(flushMaxAgeMs: number, ackDeadlineSeconds: number): string | undefined {
  const needed = flushMaxAgeMs + PUSH_DELIVERY.flushBudgetMs;
  if (ackDeadlineSeconds * 1000 >= needed) return undefined;
  const room = ackDeadlineSeconds * 1000 - PUSH_DELIVERY.flushBudgetMs;
  return (
    `an ack deadline of ${ackDeadlineSeconds} s is too short for a flush age of ${flushMaxAgeMs} ms: a push is held up to the flush age ` +
    `plus ${PUSH_DELIVERY.flushBudgetMs} ms to write its file, so the subscription needs at least ${ackDeadlineSecondsFor(flushMaxAgeMs)} s` +
    (room > 0 ? ` (or lower FLUSH_MAX_AGE_MS to at most ${room} ms)` : '')
  );
}

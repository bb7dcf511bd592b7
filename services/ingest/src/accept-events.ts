import type { Response } from 'express';
import { sendError, signal, type Logger } from '@strata/runtime';
import type { FieldError } from '@strata/schemas';
import type { BatchInput, BatchOutcome } from './prepare-batch.js';
import { publishMessages } from './publish-events.js';
import type { EventPublisher } from './publisher.js';
import { sendRateLimited, type RateLimiter } from './rate-limit.js';

/** Seconds a producer should wait before retrying after Pub/Sub refused a publish. */
export const RETRY_AFTER_SECONDS = '5';

/** Parse, prepare and encode a request (prepare-batch.ts): on this thread, or on a worker (prepare-pool.ts). */
export type Preparer = (input: BatchInput) => Promise<BatchOutcome>;

export interface AcceptDeps {
  publisher: EventPublisher;
  limiter: RateLimiter;
  prepare: Preparer;
}

export interface AcceptRequest extends BatchInput {
  res: Response;
  log: Logger;
}

/** Every event is durable in Pub/Sub: what the route answers its producer with. */
export interface Accepted {
  accepted: number;
  /** Index-aligned with the request; null for an event that was not accepted. */
  eventIds: Array<string | null>;
  rejected: Array<{ index: number; errors: FieldError[] }>;
}

/**
 * The one pipeline every ingest route runs: prepare (parse, the key's log types, validate, PII,
 * ids, encode) → rate → publish (events and, to quarantine, the rejected ones). Each route reads
 * its own body format and answers success its own way (/v1/events 202 with the ids, the Segment
 * routes 200 `{"success":true}`); every refusal is answered here, in the shared error shape, so
 * the routes agree on them. Returns undefined when it has answered.
 */
export function createEventAcceptor(deps: AcceptDeps): (request: AcceptRequest) => Promise<Accepted | undefined> {
  const { publisher, limiter, prepare } = deps;
  return async ({ res, log, ...input }) => {
    const { key, atomic } = input;
    const outcome = await prepare(input);
    if (outcome.kind === 'refused') {
      if (outcome.rejectedErrors !== undefined) signal(log, 'ingest.request_rejected', { errors: outcome.rejectedErrors, status: outcome.status });
      if (outcome.retryAfterSeconds) res.set('retry-after', outcome.retryAfterSeconds);
      sendError(res, outcome.status, outcome.code, outcome.reason, outcome.details);
      return undefined;
    }
    const { accepted, total, eventIds, rejected, messages } = outcome;
    // Every event counts against the key's rate, the rejected ones too: they are published to quarantine.
    const rate = await limiter.consumeEvents(key, total);
    if (!rate.ok) {
      sendRateLimited(res, key, rate.retryAfterSeconds);
      return undefined;
    }
    // Atomic: all or nothing, for producers that would rather fix and resend the whole batch.
    if (rejected.length > 0 && atomic) {
      const errors = rejected.flatMap((r) => r.errors.map((e) => ({ index: r.index, ...e })));
      signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: false });
      sendError(res, 400, 'invalid_events', `${rejected.length} of ${total} events are invalid; nothing was published (atomic)`, { errors });
      return undefined;
    }
    if (outcome.tooLarge) {
      signal(log, 'ingest.request_rejected', { errors: outcome.tooLarge.length, status: 413 });
      sendError(res, 413, 'event_too_large', outcome.tooLarge[0]!.message, { errors: outcome.tooLarge });
      return undefined;
    }
    const report = await publishMessages(messages, publisher);
    if (report.kind === 'partial') {
      // Not everything is durable, so the request is not accepted. What was published is in
      // Pub/Sub already: the answer lists every event_id, so a retry that sends the events again
      // with these ids is removed by dedup instead of becoming a second row.
      const published = total - report.unpublished.length;
      signal(log, 'ingest.publish_failed', { published, messages: report.messages, failedMessages: report.failedMessages }, { err: report.error });
      res.set('retry-after', RETRY_AFTER_SECONDS);
      sendError(
        res,
        503,
        'unavailable',
        published === 0
          ? 'could not publish to Pub/Sub; nothing was accepted, retry later'
          : `could not publish ${report.unpublished.length} of ${total} events to Pub/Sub; retry the request with the event_ids given, so the ${published} already published are deduplicated`,
        { published, event_ids: eventIds, unpublished: report.unpublished },
      );
      return undefined;
    }
    // Declared signals (runtime/src/signals.ts): the local counters and the log-based metrics count them.
    signal(log, 'ingest.events_accepted', { accepted, published: accepted, messages: report.messages });
    if (rejected.length > 0) signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: true });
    return { accepted, eventIds, rejected };
  };
}

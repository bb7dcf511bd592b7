import type { Response } from 'express';
import { sendError, signal, type Logger } from '@strata/runtime';
import type { PiiPolicy, Registry } from '@strata/schemas';
import type { IngestConfig } from './config.js';
import { allowsLogType, forbiddenLogTypeReason, type Key } from './keys.js';
import { prepareEvents, type RejectedEvent } from './prepare.js';
import { publishEvents } from './publish-events.js';
import type { EventPublisher } from './publisher.js';
import { sendRateLimited, type RateLimiter } from './rate-limit.js';

/** Seconds a producer should wait before retrying after Pub/Sub refused a publish. */
export const RETRY_AFTER_SECONDS = '5';

export interface AcceptDeps {
  config: Pick<IngestConfig, 'maxEventsPerRequest' | 'eventTimeWindow'>;
  publisher: EventPublisher;
  pii: PiiPolicy;
  /** The PII key id ingest protects with: the mark on every message it publishes. */
  piiKeyId: string;
  limiter: RateLimiter;
  newId: () => string;
  now: () => Date;
}

export interface AcceptRequest {
  res: Response;
  key: Key;
  /** The events as a producer sends them to /v1/events, each naming its log_type. */
  events: unknown;
  registry: Registry;
  log: Logger;
  /** All or nothing: any invalid event refuses the request (400 invalid_events) instead of quarantining it. */
  atomic: boolean;
}

/** Every event is durable in Pub/Sub: what the route answers its producer with. */
export interface Accepted {
  accepted: number;
  /** Index-aligned with the request; null for an event that was not accepted. */
  eventIds: Array<string | null>;
  rejected: RejectedEvent[];
}

/**
 * The one pipeline every ingest route runs: key's log types → prepare (validate, PII, ids) → rate
 * → publish (events and, to quarantine, the rejected ones). Each route reads its own body format
 * into events and answers success its own way (/v1/events 202 with the ids, the Segment routes
 * 200 `{"success":true}`); every refusal is answered here, in the shared error shape, so the
 * routes agree on them. Returns undefined when it has answered.
 */
export function createEventAcceptor(deps: AcceptDeps): (request: AcceptRequest) => Promise<Accepted | undefined> {
  const { config, publisher, pii, piiKeyId, limiter, newId, now } = deps;
  return async ({ res, key, events: body, registry, log, atomic }) => {
    const forbidden = forbiddenIndex(body, (logType) => allowsLogType(key, logType));
    if (forbidden) {
      sendError(res, 403, 'forbidden_log_type', `event ${forbidden.index}: ${forbiddenLogTypeReason(key, forbidden.logType)}`, { index: forbidden.index });
      return undefined;
    }
    const prepared = prepareEvents(body, {
      registry,
      pii,
      newId,
      now,
      maxEvents: config.maxEventsPerRequest,
      window: config.eventTimeWindow,
      defaultSource: key.name,
    });
    if (!prepared.ok) {
      signal(log, 'ingest.request_rejected', { errors: prepared.errors.length, status: 400 });
      sendError(res, 400, 'invalid_request', prepared.errors[0]!.message, { errors: prepared.errors });
      return undefined;
    }
    const { events, rejected } = prepared;
    // Every event counts against the key's rate, the rejected ones too: they are published to quarantine.
    const rate = await limiter.consumeEvents(key, events.length + rejected.length);
    if (!rate.ok) {
      sendRateLimited(res, key, rate.retryAfterSeconds);
      return undefined;
    }
    // Atomic: all or nothing, for producers that would rather fix and resend the whole batch.
    if (rejected.length > 0 && atomic) {
      const errors = rejected.flatMap((r) => r.errors.map((e) => ({ index: r.index, ...e })));
      signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: false });
      sendError(res, 400, 'invalid_events', `${rejected.length} of ${events.length + rejected.length} events are invalid; nothing was published (atomic)`, { errors });
      return undefined;
    }
    const total = events.length + rejected.length;
    const eventIds: Array<string | null> = Array.from({ length: total }, () => null);
    for (const e of events) eventIds[e.index] = e.eventId;
    const report = await publishEvents(events, rejected, publisher, piiKeyId);
    if (report.kind === 'too_large') {
      signal(log, 'ingest.request_rejected', { errors: report.errors.length, status: 413 });
      sendError(res, 413, 'event_too_large', report.errors[0]!.message, { errors: report.errors });
      return undefined;
    }
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
    signal(log, 'ingest.events_accepted', { accepted: events.length, published: events.length, messages: report.messages });
    if (rejected.length > 0) signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: true });
    return { accepted: events.length, eventIds, rejected };
  };
}

/** The first event naming a log type the key may not write: the whole request is refused (403). */
function forbiddenIndex(body: unknown, allowed: (logType: string) => boolean): { index: number; logType: string } | undefined {
  if (!Array.isArray(body)) return undefined;
  for (let index = 0; index < body.length; index++) {
    const logType = (body[index] as { log_type?: unknown } | null)?.log_type;
    if (typeof logType === 'string' && !allowed(logType)) return { index, logType };
  }
  return undefined;
}

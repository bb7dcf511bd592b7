import express, { type Express } from 'express';
import { healthz, jsonErrors, notFound, refuseWhileStopping, sendError, signal, traceFields, type Logger } from '@strata/runtime';
import { DEFAULT_PII_EXTRA_KEYS, type PiiHasher, type Registry } from '@strata/schemas';
import { authenticate, authenticatedKey, redactedUrl } from './authenticate.js';
import { createBodyReader } from './body.js';
import type { IngestConfig } from './config.js';
import { createCors } from './cors.js';
import { allowsLogType, createKeyRegistry, forbiddenLogTypeReason } from './keys.js';
import { serveOpenApi } from './openapi.js';
import { createRateLimiter, sendRateLimited } from './rate-limit.js';
import { prepareEvents } from './prepare.js';
import { publishEvents } from './publish-events.js';
import type { EventPublisher } from './publisher.js';

export interface IngestDeps {
  config: Pick<IngestConfig, 'keys' | 'maxEventsPerRequest' | 'maxBodyBytes' | 'maxDecodedBytes' | 'projectId' | 'eventTimeWindow'>;
  /** Asked per request, so versions published while the service runs are served within the source's TTL. */
  registry: { current(): Promise<Registry> };
  publisher: EventPublisher;
  /** Hashes x-pii "hash" fields (and undeclared PII by key name) before they leave the service. */
  hash: PiiHasher;
  /** Key name patterns marking PII in undeclared fields (PII_EXTRA_KEYS); DEFAULT_PII_EXTRA_KEYS when unset. */
  piiExtraKeys?: readonly string[];
  logger: Logger;
  newId: () => string;
  now?: () => Date;
  /** True once the service is shutting down: new requests get 503 so producers retry elsewhere or later. */
  stopping?: () => boolean;
}

/** Seconds a producer should wait before retrying after Pub/Sub refused a publish. */
const RETRY_AFTER_SECONDS = '5';

export function createApp(deps: IngestDeps): Express {
  const { config, registry, publisher, hash, logger, newId, now = () => new Date(), stopping = () => false } = deps;
  const pii = { hash, extraKeys: deps.piiExtraKeys ?? DEFAULT_PII_EXTRA_KEYS };
  const app = express();
  app.disable('x-powered-by');

  // JSON arrays, batch objects with `common`, NDJSON and sendBeacon's text/plain; gzip and deflate.
  const body = createBodyReader({ maxBodyBytes: config.maxBodyBytes, maxDecodedBytes: config.maxDecodedBytes });
  const keys = createKeyRegistry(config.keys);
  const cors = createCors(keys.origins);
  const limiter = createRateLimiter();

  const refuseStopping = refuseWhileStopping(stopping, 'ingest is shutting down; retry in a few seconds', Number(RETRY_AFTER_SECONDS));
  app.options('/v1/events', cors.preflight);
  // CORS headers first, so an allowed page can read its 401, 403 and 429 answers too.
  app.post('/v1/events', refuseStopping, cors.headers, authenticate(keys), limiter.admit, body, async (req, res) => {
    const key = authenticatedKey(res);
    // Never the key itself: it may be in the query string (sendBeacon).
    const log = logger.child({ ...traceFields(req.get('x-cloud-trace-context'), config.projectId), key: key.name, url: redactedUrl(req) });
    const forbidden = forbiddenIndex(req.body, (logType) => allowsLogType(key, logType));
    if (forbidden) {
      sendError(res, 403, 'forbidden_log_type', `event ${forbidden.index}: ${forbiddenLogTypeReason(key, forbidden.logType)}`, { index: forbidden.index });
      return;
    }
    const prepared = prepareEvents(req.body, {
      registry: await registry.current(),
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
      return;
    }
    const { events, rejected } = prepared;
    // Every event counts against the key's rate, the rejected ones too: they are published to quarantine.
    const rate = await limiter.consumeEvents(key, events.length + rejected.length);
    if (!rate.ok) {
      sendRateLimited(res, key, rate.retryAfterSeconds);
      return;
    }
    // Atomic: all or nothing, for producers that would rather fix and resend the whole batch.
    if (rejected.length > 0 && (req.query.atomic === 'true' || req.get('strata-atomic') === 'true')) {
      const errors = rejected.flatMap((r) => r.errors.map((e) => ({ index: r.index, ...e })));
      signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: false });
      sendError(res, 400, 'invalid_events', `${rejected.length} of ${events.length + rejected.length} events are invalid; nothing was published (atomic)`, { errors });
      return;
    }
    const total = events.length + rejected.length;
    // Index-aligned with the request; null for an event that was not accepted.
    const eventIds: Array<string | null> = Array.from({ length: total }, () => null);
    for (const e of events) eventIds[e.index] = e.eventId;
    const report = await publishEvents(events, rejected, publisher, hash.keyId);
    if (report.kind === 'too_large') {
      signal(log, 'ingest.request_rejected', { errors: report.errors.length, status: 413 });
      sendError(res, 413, 'event_too_large', report.errors[0]!.message, { errors: report.errors });
      return;
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
      return;
    }
    // Declared signals (runtime/src/signals.ts): the local counters and the log-based metrics count them.
    signal(log, 'ingest.events_accepted', { accepted: events.length, published: events.length, messages: report.messages });
    if (rejected.length > 0) signal(log, 'ingest.events_rejected', { rejected: rejected.length, quarantined: true });
    res.status(202).json({ accepted: events.length, event_ids: eventIds, rejected: rejected.map((r) => ({ index: r.index, errors: r.errors })) });
  });

  app.get('/openapi.json', serveOpenApi(registry));
  app.get('/healthz', healthz(stopping));
  app.use(notFound('the endpoints are POST /v1/events, GET /openapi.json and GET /healthz'));
  app.use(jsonErrors(logger));
  return app;
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

import express, { type Express } from 'express';
import { healthz, jsonErrors, notFound, refuseWhileStopping, sendError, traceFields, type Logger } from '@strata/runtime';
import type { PiiHasher, Registry } from '@strata/schemas';
import { requireApiKey } from './api-key.js';
import type { IngestConfig } from './config.js';
import { prepareEvents } from './prepare.js';
import { publishEvents } from './publish-events.js';
import type { EventPublisher } from './publisher.js';

export interface IngestDeps {
  config: Pick<IngestConfig, 'apiKeys' | 'maxEventsPerRequest' | 'maxBodyBytes' | 'projectId'>;
  /** Asked per request, so versions published while the service runs are served within the source's TTL. */
  registry: { current(): Promise<Registry> };
  publisher: EventPublisher;
  /** Hashes x-pii "hash" fields before they leave the service. */
  hash: PiiHasher;
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
  const app = express();
  app.disable('x-powered-by');

  // sendBeacon posts strings as text/plain; both carry the same JSON array.
  const json = express.json({ limit: config.maxBodyBytes, type: ['application/json', 'text/plain'], strict: false });

  const refuseStopping = refuseWhileStopping(stopping, 'ingest is shutting down; retry in a few seconds', Number(RETRY_AFTER_SECONDS));
  app.post('/v1/events', refuseStopping, requireApiKey(config.apiKeys), json, async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const prepared = prepareEvents(req.body, { registry: await registry.current(), hash, newId, now, maxEvents: config.maxEventsPerRequest });
    if (!prepared.ok) {
      log.info({ rejected: prepared.errors.length }, 'events rejected');
      sendError(res, 400, 'invalid_events', describeErrors(prepared.errors.length), { errors: prepared.errors });
      return;
    }
    const { events } = prepared;
    const eventIds = events.map((e) => e.eventId);
    const report = await publishEvents(events, publisher);
    if (report.kind === 'too_large') {
      log.info({ rejected: report.errors.length }, 'events rejected');
      sendError(res, 400, 'invalid_events', describeErrors(report.errors.length), { errors: report.errors });
      return;
    }
    if (report.kind === 'partial') {
      // Not every event is durable, so the request is not accepted. The published ones are in
      // Pub/Sub already: the answer lists every event_id, so a retry that sends them again with
      // these ids is removed by dedup instead of becoming a second row.
      const published = events.length - report.unpublished.length;
      log.error({ err: report.error, messages: report.messages, failedMessages: report.failedMessages, published }, 'publish failed');
      res.set('retry-after', RETRY_AFTER_SECONDS);
      sendError(
        res,
        503,
        'unavailable',
        published === 0
          ? 'could not publish to Pub/Sub; nothing was accepted, retry later'
          : `could not publish ${report.unpublished.length} of ${events.length} events to Pub/Sub; retry the request with the event_ids given, so the ${published} already published are deduplicated`,
        { published, event_ids: eventIds, unpublished: report.unpublished },
      );
      return;
    }
    // The local stack counts these lines; keep the message and fields stable.
    log.info({ accepted: events.length, published: events.length, messages: report.messages }, 'events accepted');
    res.status(202).json({ accepted: events.length, event_ids: eventIds });
  });

  app.get('/healthz', healthz(() => ({ ok: !stopping() })));
  app.use(notFound('POST /v1/events is the only endpoint'));
  app.use(jsonErrors(logger));
  return app;
}

function describeErrors(count: number): string {
  return `${count} problem${count === 1 ? '' : 's'} in the events; nothing was published (see errors: index, path, message)`;
}

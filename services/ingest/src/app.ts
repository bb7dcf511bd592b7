import express, { type Express, type Request } from 'express';
import { healthz, jsonErrors, notFound, refuseWhileStopping, sendError, traceFields, type Logger } from '@strata/runtime';
import { DEFAULT_PII_EXTRA_KEYS, type PiiHasher, type Registry } from '@strata/schemas';
import { createEventAcceptor, RETRY_AFTER_SECONDS, type Preparer } from './accept-events.js';
import { authenticate, authenticatedKey, redactedUrl } from './authenticate.js';
import { createBodyReader, type RawBody } from './body.js';
import type { IngestConfig } from './config.js';
import { createCors } from './cors.js';
import { allowsLogType, createKeyRegistry, type Key } from './keys.js';
import { serveOpenApi } from './openapi.js';
import { inlinePreparer } from './prepare-batch.js';
import { createRateLimiter } from './rate-limit.js';
import { SEGMENT_PATHS, SEGMENT_ROUTES, segmentEvents } from './segment.js';
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
  /**
   * Where /v1/events bodies are parsed, prepared and encoded: given the preparer for the request's
   * thread (built from the deps above), a worker pool's (prepare-pool.ts) on an instance with CPUs
   * to spare, which falls back to it. On the request's thread when unset.
   */
  offload?: (inline: Preparer) => Preparer;
}

export function createApp(deps: IngestDeps): Express {
  const { config, registry, publisher, hash, logger, newId, now = () => new Date(), stopping = () => false } = deps;
  const pii = { hash, extraKeys: deps.piiExtraKeys ?? DEFAULT_PII_EXTRA_KEYS };
  const app = express();
  app.disable('x-powered-by');
  // Every answer is to a POST: an ETag (a SHA-1 of each body, which express computes by default) serves no cache.
  app.set('etag', false);

  // JSON arrays, batch objects with `common`, NDJSON and sendBeacon's text/plain; gzip and deflate.
  // Read and bounded here; parsed with the rest of prepare, which may be on a worker thread.
  const body = createBodyReader({ maxBodyBytes: config.maxBodyBytes, maxDecodedBytes: config.maxDecodedBytes }, 'bytes');
  const keys = createKeyRegistry(config.keys);
  const cors = createCors(keys.origins);
  const limiter = createRateLimiter();
  const inline = inlinePreparer({ registry, pii, piiKeyId: hash.keyId, newId, now, maxEvents: config.maxEventsPerRequest, window: config.eventTimeWindow });
  const accept = createEventAcceptor({ publisher, limiter, prepare: deps.offload ? deps.offload(inline) : inline });
  // Segment calls are mapped to events on this thread (segment.ts), so they are prepared here too.
  const acceptMapped = createEventAcceptor({ publisher, limiter, prepare: inline });
  // Segment bodies are JSON objects ({batch: […]} or one call), not event arrays.
  const segmentBody = createBodyReader({ maxBodyBytes: config.maxBodyBytes, maxDecodedBytes: config.maxDecodedBytes }, 'json');
  // Never the key itself: it may be in the query string (sendBeacon).
  const requestLogger = (req: Request, key: Key) =>
    logger.child({ ...traceFields(req.get('x-cloud-trace-context'), config.projectId), key: key.name, url: redactedUrl(req) });

  const refuseStopping = refuseWhileStopping(stopping, 'ingest is shutting down; retry in a few seconds', Number(RETRY_AFTER_SECONDS));
  app.options('/v1/events', cors.preflight);
  // CORS headers first, so an allowed page can read its 401, 403 and 429 answers too.
  app.post('/v1/events', refuseStopping, cors.headers, authenticate(keys), limiter.admit, body, async (req, res) => {
    const key = authenticatedKey(res);
    const accepted = await accept({
      res,
      key,
      body: req.body as RawBody,
      log: requestLogger(req, key),
      atomic: req.query.atomic === 'true' || req.get('strata-atomic') === 'true',
    });
    if (!accepted) return;
    res.status(202).json({ accepted: accepted.accepted, event_ids: accepted.eventIds, rejected: accepted.rejected.map((r) => ({ index: r.index, errors: r.errors })) });
  });

  // Segment's HTTP Tracking API (segment.ts): unmodified Segment SDKs send here with `host` set to
  // ingest. The body is read before authenticate, which may find the write key in it.
  for (const [path, route] of SEGMENT_PATHS) {
    app.options(path, cors.preflight);
    app.post(path, refuseStopping, cors.headers, segmentBody, authenticate(keys, { writeKeyInBody: true }), limiter.admit, async (req, res) => {
      const key = authenticatedKey(res);
      const current = await registry.current();
      const mapped = segmentEvents(route, req.body, { registry: current, receivedAt: now(), mayWrite: (logType) => allowsLogType(key, logType) });
      if (!mapped.ok) {
        sendError(res, 400, mapped.code, mapped.reason);
        return;
      }
      const accepted = await acceptMapped({ res, key, body: { events: mapped.events }, log: requestLogger(req, key), atomic: false });
      // What Segment answers for every call it takes, invalid ones included (Strata quarantines
      // those); its SDKs read only the status.
      if (accepted) res.status(200).json({ success: true });
    });
  }

  app.get('/openapi.json', serveOpenApi(registry));
  app.get('/healthz', healthz(stopping));
  app.use(notFound(`the endpoints are POST /v1/events, the Segment API (POST /v1/${SEGMENT_ROUTES.join(', /v1/')}), GET /openapi.json and GET /healthz`));
  app.use(jsonErrors(logger));
  return app;
}

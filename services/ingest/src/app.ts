import express, { type ErrorRequestHandler, type Express } from 'express';
import { traceFields, type Logger } from '@strata/runtime';
import type { PiiHasher, Registry } from '@strata/schemas';
import { requireApiKey } from './api-key.js';
import type { IngestConfig } from './config.js';
import { prepareEvents } from './prepare.js';
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
}

export function createApp(deps: IngestDeps): Express {
  const { config, registry, publisher, hash, logger, newId, now = () => new Date() } = deps;
  const app = express();
  app.disable('x-powered-by');

  // sendBeacon posts strings as text/plain; both carry the same JSON array.
  const json = express.json({ limit: config.maxBodyBytes, type: ['application/json', 'text/plain'], strict: false });

  app.post('/v1/events', requireApiKey(config.apiKeys), json, async (req, res) => {
    const log = logger.child(traceFields(req.get('x-cloud-trace-context'), config.projectId));
    const prepared = prepareEvents(req.body, { registry: await registry.current(), hash, newId, now, maxEvents: config.maxEventsPerRequest });
    if (!prepared.ok) {
      log.info({ rejected: prepared.errors.length }, 'events rejected');
      res.status(400).json({ error: 'invalid_events', errors: prepared.errors });
      return;
    }
    try {
      await publisher.publish(prepared.messages);
    } catch (err) {
      // Not durable, so not accepted: the producer must retry.
      log.error({ err, events: prepared.messages.length }, 'publish failed');
      res.status(503).set('retry-after', '5').json({ error: 'unavailable', reason: 'could not publish to Pub/Sub; retry later' });
      return;
    }
    const n = prepared.messages.length;
    log.info({ accepted: n, published: n }, 'events accepted');
    res.status(202).json({ accepted: n, event_ids: prepared.eventIds });
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', reason: 'POST /v1/events is the only endpoint' });
  });

  // body-parser errors carry a status (400 bad JSON, 413 too large, 415 bad charset): answer them in JSON.
  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err }, 'unhandled error');
    const reason =
      err?.type === 'entity.parse.failed'
        ? `body is not valid JSON: ${err.message}`
        : err?.type === 'entity.too.large'
          ? `body is larger than ${config.maxBodyBytes} bytes`
          : status === 500
            ? 'internal error'
            : String(err?.message ?? 'bad request');
    res.status(status).json({ error: status === 500 ? 'internal' : 'bad_request', reason });
  };
  app.use(errors);
  return app;
}

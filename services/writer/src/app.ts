import express, { type ErrorRequestHandler, type Express, type Request } from 'express';
import { requireOidc, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import type { PiiHasher } from '@strata/schemas';
import { admit, type AdmitRegistry } from './admit.js';
import type { LakeWriter } from './lake-writer.js';
import { decodePush } from './push-message.js';

export interface AppDeps {
  verifier: OidcVerifier;
  /** Asked per push, so versions published while the writer runs are admitted within the source's TTL. */
  registry: { current(): Promise<AdmitRegistry> };
  writer: Pick<LakeWriter, 'write'>;
  /** Hashes x-pii "hash" fields of events that did not come through ingest. */
  hash: PiiHasher;
  logger: Logger;
  /** For trace fields on request logs; optional locally. */
  projectId?: string;
}

// A Pub/Sub message is at most 10 MB; base64 adds a third, the envelope a little more.
// https://cloud.google.com/pubsub/quotas#resource_limits
const MAX_PUSH_BODY = '16mb';

/**
 * The Pub/Sub push endpoint. Status codes are Pub/Sub's contract:
 * 2xx acks; anything else is redelivered with backoff, then dead-lettered.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *   204 — the row (or its quarantine record) is durable in GCS
 *   400 — broken envelope: retrying cannot help, so let it reach the dead-letter topic
 *   401 — no valid OIDC token from the push subscription's service account
 *   429 — too many rows buffered: push backs off
 *   503 — the flush holding the row failed: redeliver
 */
export function createApp({ verifier, registry, writer, logger, projectId, hash }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const trace = (req: Request) => traceFields(req.get('x-cloud-trace-context'), projectId);

  // Authenticate before parsing: an unauthenticated caller never gets 16 MB parsed.
  app.post('/push', requireOidc(verifier), express.json({ limit: MAX_PUSH_BODY }), async (req, res) => {
    const decoded = decodePush(req.body);
    if (!decoded.ok) {
      logger.warn({ ...trace(req), reason: decoded.error }, 'malformed push message');
      res.status(400).json({ error: 'malformed push message', reason: decoded.error });
      return;
    }
    const { message } = decoded;
    const ids = { messageId: message.messageId, deliveryAttempt: message.deliveryAttempt };
    const added = writer.write(admit(await registry.current(), message, hash));
    if (!added.ok) {
      logger.warn({ ...trace(req), ...ids }, 'buffer full, asking push to back off');
      res.status(429).json({ error: 'writer is busy, retry later' });
      return;
    }
    const outcome = await added.flushed;
    if (!outcome.ok) {
      logger.warn({ ...trace(req), ...ids }, 'flush failed, message will be redelivered');
      res.status(503).json({ error: 'could not write to the lake, retry later' });
      return;
    }
    res.status(204).end();
  });

  const onError: ErrorRequestHandler = (err: { status?: number; type?: string; message?: string }, req, res, _next) => {
    // body-parser's errors carry a 4xx status: bad JSON, too large, wrong charset.
    if (err.status && err.status >= 400 && err.status < 500) {
      logger.warn({ ...trace(req), reason: err.message }, 'malformed push body');
      res.status(err.status).json({ error: 'malformed push body', reason: err.message });
      return;
    }
    // A bug, not bad input: log it with its stack; Pub/Sub redelivers on 500.
    logger.error({ ...trace(req), err }, 'push handler failed');
    res.status(500).json({ error: 'internal error' });
  };
  app.use(onError);
  return app;
}

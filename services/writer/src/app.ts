import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { healthz, jsonErrors, notFound, refuseWhileStopping, requireOidc, sendError, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import { DEFAULT_EVENT_TIME_WINDOW, type EventTimeWindow, type PiiHasher } from '@strata/schemas';
import { admitMessage, type Admission, type AdmitRegistry } from './admit.js';
import type { LakeWriter } from './lake-writer.js';
import { decodePush } from './push-message.js';

export interface AppDeps {
  verifier: OidcVerifier;
  /** Asked per push, so versions published while the writer runs are admitted within the source's TTL. */
  registry: { current(): Promise<AdmitRegistry> };
  writer: Pick<LakeWriter, 'write' | 'stats' | 'full'>;
  /** Hashes x-pii "hash" fields of events that did not come through ingest. */
  hash: PiiHasher;
  /** How far an event's `ts` may lie from its message's publish time. */
  window?: EventTimeWindow;
  logger: Logger;
  /** True once the writer is shutting down: new pushes are refused so Pub/Sub keeps them. */
  stopping?: () => boolean;
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
 *   204 — every event of the message (or its quarantine record) is durable in GCS
 *   400 — broken envelope: retrying cannot help, so let it reach the dead-letter topic
 *   401 — no valid OIDC token from the push subscription's service account
 *   429 — too many bytes buffered: push backs off
 *   503 — a flush holding one of its events failed, or the writer is stopping: redeliver
 */
export function createApp({ verifier, registry, writer, logger, projectId, hash, window = DEFAULT_EVENT_TIME_WINDOW, stopping = () => false }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const trace = (req: Request) => traceFields(req.get('x-cloud-trace-context'), projectId);

  // Refusals that need no body come before parsing it: an unauthenticated caller, a stopping writer
  // or a full buffer never costs a 16 MB parse, a base64 decode and a gunzip.
  // Pushes still arriving on keep-alive connections after SIGTERM would each be written as a tiny
  // file during the drain; refused, Pub/Sub redelivers them later.
  const refuseStopping = refuseWhileStopping(stopping, 'the writer is shutting down; Pub/Sub will redeliver this message');
  const refuseFull: RequestHandler = (_req, res, next) => {
    if (writer.full()) {
      busy(res);
      return;
    }
    next();
  };
  const busy = (res: Response) =>
    sendError(res, 429, 'busy', 'the writer holds as much as it may; Pub/Sub will redeliver this message');

  // Decodes and admits one push; nothing of the body outlives this call but the admitted rows.
  async function admitPush(body: unknown): Promise<{ ok: true; admissions: Admission[]; ids: Record<string, unknown> } | { ok: false; error: string }> {
    const decoded = decodePush(body);
    if (!decoded.ok) return decoded;
    const { message } = decoded;
    const admissions = await admitMessage(await registry.current(), message, { hash, window });
    return { ok: true, admissions, ids: { messageId: message.messageId, deliveryAttempt: message.deliveryAttempt } };
  }

  app.post('/push', requireOidc(verifier), refuseStopping, refuseFull, express.json({ limit: MAX_PUSH_BODY }), async (req, res) => {
    const admitted = await admitPush(req.body);
    // The parsed body (up to 16 MB of base64) is not needed while the push waits for its flush.
    req.body = undefined;
    if (!admitted.ok) {
      logger.warn({ ...trace(req), reason: admitted.error }, 'malformed push message');
      sendError(res, 400, 'malformed_push', admitted.error);
      return;
    }
    const { ids } = admitted;
    const added = writer.write(admitted.admissions);
    if (!added.ok) {
      logger.warn({ ...trace(req), ...ids, buffered: writer.stats() }, 'buffer full, asking push to back off');
      busy(res);
      return;
    }
    const outcome = await added.flushed;
    if (!outcome.ok) {
      logger.warn({ ...trace(req), ...ids }, 'flush failed, message will be redelivered');
      sendError(res, 503, 'lake_unavailable', 'could not write to the lake; Pub/Sub will redeliver this message');
      return;
    }
    res.status(204).end();
  });

  // Cloud Run's probes, and what an operator (or the local stack's tests) can see of the buffers.
  app.get('/healthz', healthz(() => ({ ok: !stopping(), buffered: writer.stats() })));
  app.use(notFound('POST /push is the only endpoint'));
  app.use(jsonErrors(logger, 'push'));
  return app;
}

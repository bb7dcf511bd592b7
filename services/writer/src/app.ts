import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { healthz, jsonErrors, notFound, refuseWhileStopping, requireOidc, sendError, traceFields, type Logger, type OidcVerifier } from '@strata/runtime';
import { DEFAULT_EVENT_TIME_WINDOW, DEFAULT_PII_EXTRA_KEYS, type EventTimeWindow, type PiiHasher } from '@strata/schemas';
import { admitMessage, type Admission, type AdmitRegistry } from './admit.js';
import { admitDeadLetter } from './dead-letter.js';
import type { LakeWriter } from './lake-writer.js';
import { decodePush, type PushMessage } from './push-message.js';

export interface AppDeps {
  verifier: OidcVerifier;
  /** Asked per push, so versions published while the writer runs are admitted within the source's TTL. */
  registry: { current(): Promise<AdmitRegistry> };
  writer: Pick<LakeWriter, 'write' | 'stats' | 'full'>;
  /** Hashes x-pii "hash" fields (and undeclared PII by key name) of messages ingest did not protect. */
  hash: PiiHasher;
  /** Key name patterns marking PII in undeclared fields (PII_EXTRA_KEYS); DEFAULT_PII_EXTRA_KEYS when unset. */
  piiExtraKeys?: readonly string[];
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
 * The Pub/Sub push endpoints: POST /push for the events topic, POST /dead-letter for its
 * dead-letter topic (dead-letter.ts), with the same token and answers. Status codes are Pub/Sub's contract:
 * 2xx acks; anything else is redelivered with backoff, then dead-lettered.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *   204 — every event of the message (or its quarantine or dead-letter record) is durable in GCS
 *   400 — broken envelope: retrying cannot help, so let it reach the dead-letter topic
 *   401 — no valid OIDC token from the push subscription's service account
 *   429 — too many bytes buffered: push backs off
 *   503 — a flush holding one of its events failed, or the writer is stopping: redeliver
 * GET /stats (same token): what the buffers hold. GET /healthz: `{"ok":true}`, unauthenticated.
 */
export function createApp({ verifier, registry, writer, logger, projectId, hash, piiExtraKeys = DEFAULT_PII_EXTRA_KEYS, window = DEFAULT_EVENT_TIME_WINDOW, stopping = () => false }: AppDeps): Express {
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

  const pii = { hash, extraKeys: piiExtraKeys };
  type Admit = (registry: AdmitRegistry, message: PushMessage) => Promise<Admission[]>;

  // Decodes and admits one push; nothing of the body outlives this call but the admitted rows.
  async function admitPush(body: unknown, admit: Admit): Promise<{ ok: true; admissions: Admission[]; ids: Record<string, unknown> } | { ok: false; error: string }> {
    const decoded = decodePush(body);
    if (!decoded.ok) return decoded;
    const { message } = decoded;
    const admissions = await admit(await registry.current(), message);
    return { ok: true, admissions, ids: { messageId: message.messageId, deliveryAttempt: message.deliveryAttempt } };
  }

  // Answers a push once everything it brought is durable in the lake, whichever zone it went to.
  const receive = (admit: Admit): RequestHandler => async (req, res) => {
    const admitted = await admitPush(req.body, admit);
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
  };

  // The push subscriptions' token (both sign as the push account): the one caller that may push, and see what the buffers hold.
  const authenticated = requireOidc(verifier);
  const json = express.json({ limit: MAX_PUSH_BODY });
  app.post('/push', authenticated, refuseStopping, refuseFull, json, receive((r, message) => admitMessage(r, message, { pii, window })));
  app.post('/dead-letter', authenticated, refuseStopping, refuseFull, json, receive((r, message) => admitDeadLetter(r, message, pii)));

  // What the buffers hold, for an operator or the local stack's tests. Behind the push token, as
  // /healthz must answer unauthenticated probes and so says nothing but ok.
  app.get('/stats', authenticated, (_req, res) => {
    res.json({ buffered: writer.stats() });
  });
  app.get('/healthz', healthz(stopping));
  app.use(notFound('the endpoints are POST /push, POST /dead-letter, GET /stats and GET /healthz'));
  app.use(jsonErrors(logger, 'push'));
  return app;
}

import { createUlidFactory } from '@strata/runtime';
import { createPiiPolicy, type EventTimeWindow, type FieldError, type PiiSettings, type Registry } from '@strata/schemas';
import { parseEventBody, type RawBody } from './body.js';
import { allowsLogType, forbiddenLogTypeReason, type Key } from './keys.js';
import { prepareEvents, type PrepareDeps } from './prepare.js';
import { encodeMessages, type EncodedMessage } from './publish-events.js';

/**
 * The CPU-bound part of taking a request, from its body to the Pub/Sub messages that carry it:
 * parse → the key's log types → prepare (validate, PII, ids, time window) → encode (NDJSON,
 * gzip). No I/O and nothing shared between requests, so it runs the same on the request's thread
 * or on a worker thread (prepare-pool.ts): input and outcome are plain data that structured clone
 * carries. What needs state shared by every request (the key's rate, the publisher) stays with
 * the route (accept-events.ts).
 */
export type BatchContext = Omit<PrepareDeps, 'defaultSource'> & {
  /** The PII key id ingest protects with: the mark on every message it publishes. */
  piiKeyId: string;
};

export interface BatchInput {
  /** A body as read (parsed here), or events a route has already mapped (the Segment routes). */
  body: RawBody | { events: unknown };
  key: Key;
  /** All or nothing: with any invalid event nothing is encoded, and the route refuses the request. */
  atomic: boolean;
}

/** An answer the route gives as it is, in the shared error shape. */
export interface BatchRefusal {
  kind: 'refused';
  status: number;
  code: string;
  reason: string;
  details?: Record<string, unknown>;
  /** Set when the refusal counts as `ingest.request_rejected` (a body that parsed but cannot be taken). */
  rejectedErrors?: number;
  /** The Retry-After header to answer with (a refusal for load, not for the request itself). */
  retryAfterSeconds?: string;
}

export interface BatchReady {
  kind: 'ready';
  /** Events valid to publish, and every event in the request (accepted + rejected). */
  accepted: number;
  total: number;
  /** Index-aligned with the request; null for an event that was not accepted. */
  eventIds: Array<string | null>;
  /** The invalid events, by request index, with their reasons; their data travels in `messages` (to quarantine). */
  rejected: Array<{ index: number; errors: FieldError[] }>;
  /** What to publish; empty for an atomic request with rejected events, or when one is too large. */
  messages: EncodedMessage[];
  /** An event no Pub/Sub message can carry: the route answers 413 (after the rate check, as for any request). */
  tooLarge?: Array<FieldError & { index: number }>;
}

export type BatchOutcome = BatchRefusal | BatchReady;

const refused = (status: number, code: string, reason: string, details?: Record<string, unknown>, rejectedErrors?: number): BatchRefusal => ({
  kind: 'refused',
  status,
  code,
  reason,
  ...(details ? { details } : {}),
  ...(rejectedErrors !== undefined ? { rejectedErrors } : {}),
});

export async function prepareBatch(input: BatchInput, ctx: BatchContext): Promise<BatchOutcome> {
  let body: unknown;
  if ('bytes' in input.body) {
    const parsed = parseEventBody(input.body.bytes, input.body.format);
    if (!parsed.ok) return refused(parsed.status, parsed.code, parsed.reason, parsed.details);
    body = parsed.value;
  } else body = input.body.events;

  const { key } = input;
  const forbidden = forbiddenIndex(body, (logType) => allowsLogType(key, logType));
  if (forbidden) return refused(403, 'forbidden_log_type', `event ${forbidden.index}: ${forbiddenLogTypeReason(key, forbidden.logType)}`, { index: forbidden.index });

  const prepared = prepareEvents(body, {
    registry: ctx.registry,
    pii: ctx.pii,
    newId: ctx.newId,
    now: ctx.now,
    maxEvents: ctx.maxEvents,
    window: ctx.window,
    defaultSource: key.name,
  });
  if (!prepared.ok) return refused(400, 'invalid_request', prepared.errors[0]!.message, { errors: prepared.errors }, prepared.errors.length);

  const { events, rejected } = prepared;
  const total = events.length + rejected.length;
  const eventIds: Array<string | null> = Array.from({ length: total }, () => null);
  for (const e of events) eventIds[e.index] = e.eventId;
  const ready = (messages: EncodedMessage[]): BatchReady => ({
    kind: 'ready',
    accepted: events.length,
    total,
    eventIds,
    rejected: rejected.map((r) => ({ index: r.index, errors: r.errors })),
    messages,
  });
  // Atomic with invalid events: nothing will be published, so nothing is encoded.
  if (input.atomic && rejected.length > 0) return ready([]);
  const encoded = await encodeMessages(events, rejected, ctx.piiKeyId);
  if (!encoded.ok) return { ...ready([]), tooLarge: encoded.errors };
  return ready(encoded.messages);
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

/** prepareBatch on the request's thread, with the registry current for each request (Segment's routes, tests, one-CPU instances). */
export function inlinePreparer(deps: Omit<BatchContext, 'registry'> & { registry: { current(): Promise<Registry> } }): (input: BatchInput) => Promise<BatchOutcome> {
  return async (input) => prepareBatch(input, { ...deps, registry: await deps.registry.current() });
}

/** What a preparer is built from when it is built away from the app's deps: plain data, as a worker thread receives it. */
export interface PreparerSettings {
  pii: PiiSettings;
  maxEvents: number;
  window: EventTimeWindow;
}

/** An inline preparer with its own PII hasher, ULIDs and the real clock (prepare-worker.ts builds one per worker). */
export function preparerFor(settings: PreparerSettings, registry: { current(): Promise<Registry> }): (input: BatchInput) => Promise<BatchOutcome> {
  const pii = createPiiPolicy(settings.pii);
  return inlinePreparer({ registry, pii, piiKeyId: pii.hash.keyId, newId: createUlidFactory(), now: () => new Date(), maxEvents: settings.maxEvents, window: settings.window });
}

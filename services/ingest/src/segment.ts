import { createHash } from 'node:crypto';
import { isObject, setOwn } from '@strata/runtime';
import { RESERVED_FIELDS, type Registry } from '@strata/schemas';

/**
 * Segment's HTTP Tracking API, mapped onto Strata events. Pure: the registry, the key's log types
 * and the receive time are passed in. The result is events as a producer POSTs them to
 * /v1/events (each with its `log_type`), so they go through the same prepare → publish pipeline:
 * validated, PII-protected, invalid ones kept in quarantine.
 *
 * The spec followed: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
 * and what @segment/analytics-node 3.x sends: POST <host>/v1/batch, `Authorization: Basic
 * base64("<writeKey>:")`, JSON `{ batch: [<call>…], writeKey, sentAt }`, each call with `type`,
 * `messageId`, `timestamp`, `context.library`, `integrations` and `_metadata`.
 *
 * | Segment | Strata |
 * | --- | --- |
 * | `messageId` | `event_id`, as it is when it fits event_id (≤ 64 of `A-Za-z0-9_.:-`), else `seg-` + 40 hex of its SHA-256 (the same on every retry); none: ingest assigns a ULID |
 * | `timestamp` | `ts`; without it `originalTimestamp` corrected for the client's clock (receipt − (sentAt − originalTimestamp)), else the receipt time |
 * | `userId`, `anonymousId` | `user_id`, `anonymous_id` (numbers as text; null and "" are absent) |
 * | `context.userAgent`, `.ip`, `.locale`, `.page.{url,referrer,title}` | `context.user_agent`, `.ip`, `.locale`, `.page` |
 * | `properties`, `traits` | fields beside the envelope: a typed column where the log type declares one, else in `extra` |
 * | anything else (`context.library`, `integrations`, `_metadata`, a property named like an envelope field) | `extra.segment` |
 */

/** The Segment calls, each with its own route (`POST /v1/<call>`) and as `type` in a batch. */
export const SEGMENT_CALLS = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type SegmentCall = (typeof SEGMENT_CALLS)[number];

/**
 * Segment's HTTP Tracking API routes (`POST /v1/<route>`), beside ingest's own /v1/events, and the
 * one-letter paths analytics.js posts to (`/v1/t` for track, …, `/v1/b` for its batches).
 */
export const SEGMENT_ROUTES: ReadonlyArray<SegmentCall | 'batch'> = [...SEGMENT_CALLS, 'batch'];
export const SEGMENT_PATHS: ReadonlyArray<[path: string, route: SegmentCall | 'batch']> = SEGMENT_ROUTES.flatMap((route) => [
  [`/v1/${route}`, route],
  [`/v1/${route[0]}`, route],
] as Array<[string, SegmentCall | 'batch']>);

/** Where each call lands when it does not name a log type (track only may, see trackLogType). */
export const SEGMENT_LOG_TYPES: Readonly<Record<SegmentCall, string>> = {
  track: 'segment_track',
  page: 'segment_page',
  screen: 'segment_page',
  identify: 'segment_identify',
  group: 'segment_identify',
  alias: 'segment_identify',
};

/** The field (an unknown one, so in `extra`) holding what a call carried beyond the mapped fields. */
export const SEGMENT_FIELD = 'segment';

/**
 * Envelope fields (schemas/envelope.json; segment.test.ts checks the list): a property or trait of
 * one of these names never sets the envelope field (`properties.source = "Google"` would fail
 * `source`'s pattern, `properties.ts` would move the event in time). It is kept in `extra.segment`.
 */
export const ENVELOPE_FIELDS: readonly string[] = ['event_id', 'event', 'ts', 'received_at', 'user_id', 'anonymous_id', 'session_id', 'source', 'schema_version', 'context'];

const EVENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface SegmentDeps {
  registry: Registry;
  /** When the request arrived: the base of the clock correction and the default `ts`. */
  receivedAt: Date;
  /** Whether the request's key may write a log type: an event name maps only to a log type the key may write. */
  mayWrite: (logType: string) => boolean;
}

export type SegmentMapResult =
  | { ok: true; events: unknown[] }
  /** The body is not a Segment call or batch: a 400, as Segment answers malformed JSON. */
  | { ok: false; code: string; reason: string };

interface BatchCommon {
  sentAt: unknown;
  context: unknown;
  integrations: unknown;
}

/**
 * The body of `POST /v1/<call>` (one call; the route names its type) or `POST /v1/batch`
 * (`{ batch: [...], sentAt?, context?, integrations? }`; each item names its `type`, and the
 * batch's `context` and `integrations` apply to every item, the item's own winning) → events.
 *
 * An item that is not a call (no or an unknown `type`, not an object) is passed on as it came,
 * without a log type, so prepare rejects it into quarantine (`_unknown`) with its reason; its
 * neighbours are accepted. Segment drops such items with a 200 too, but Strata keeps them.
 */
export function segmentEvents(route: SegmentCall | 'batch', body: unknown, deps: SegmentDeps): SegmentMapResult {
  if (!isObject(body)) return { ok: false, code: 'invalid_body', reason: `the body of a Segment ${route} call must be a JSON object` };
  if (route !== 'batch') return { ok: true, events: [mapCall(route, body, { sentAt: undefined, context: undefined, integrations: undefined }, deps)] };
  const { batch } = body;
  if (!Array.isArray(batch)) return { ok: false, code: 'invalid_batch', reason: 'a Segment batch is {"batch": [<call>, …]}; "batch" must be an array' };
  const common: BatchCommon = { sentAt: body.sentAt, context: body.context, integrations: body.integrations };
  return {
    ok: true,
    events: batch.map((item: unknown) => {
      if (!isObject(item) || !isSegmentCall(item.type)) return isObject(item) ? withoutWriteKey(item) : item;
      return mapCall(item.type, item, common, deps);
    }),
  };
}

function isSegmentCall(value: unknown): value is SegmentCall {
  return typeof value === 'string' && (SEGMENT_CALLS as readonly string[]).includes(value);
}

/** A write key is a credential: it is never stored, not even in quarantine. */
function withoutWriteKey(item: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(item)) if (key !== 'writeKey') setOwn(copy, key, item[key]);
  return copy;
}

/** Keys of a call read into mapped fields; every other key goes to `extra.segment`. */
const MAPPED_KEYS: Readonly<Record<SegmentCall, readonly string[]>> = {
  track: ['event', 'properties'],
  page: ['name', 'category', 'properties'],
  screen: ['name', 'category', 'properties'],
  identify: ['traits'],
  group: ['groupId', 'traits'],
  alias: ['previousId'],
};
const ALWAYS_MAPPED = ['type', 'messageId', 'timestamp', 'originalTimestamp', 'sentAt', 'userId', 'anonymousId', 'context', 'integrations', 'writeKey'];

function mapCall(call: SegmentCall, msg: Record<string, unknown>, common: BatchCommon, deps: SegmentDeps): Record<string, unknown> {
  const segment: Record<string, unknown> = {};
  const event: Record<string, unknown> = {};
  const fields = call === 'track' || call === 'page' || call === 'screen' ? msg.properties : call === 'identify' || call === 'group' ? msg.traits : undefined;
  const fieldsName = call === 'identify' || call === 'group' ? 'traits' : 'properties';
  const own = isObject(fields) ? fields : {};
  if (fields !== undefined && fields !== null && !isObject(fields)) segment[fieldsName] = fields;

  // Routing and the event name first: they decide the log type, whose declared fields the rest fills.
  let logType = SEGMENT_LOG_TYPES[call];
  if (call === 'track') {
    const name = msg.event;
    const snake = typeof name === 'string' ? snakeCase(name) : undefined;
    logType = trackLogType(own.log_type, snake, deps);
    if (snake !== undefined) event.event = snake;
    else if (name !== undefined) event.event = name; // not a string: fails validation, so kept in quarantine with the reason
    if (logType === SEGMENT_LOG_TYPES.track) {
      if (name !== undefined) event.event_name = name;
    } else if (name !== undefined && name !== snake) segment.event = name;
  } else {
    event.event = call;
  }
  event.log_type = logType;

  const id = eventId(msg.messageId);
  if (id.eventId !== undefined) event.event_id = id.eventId;
  if (id.kept) segment.messageId = msg.messageId;
  event.ts = eventTime(msg, common.sentAt, deps.receivedAt);
  setId(event, 'user_id', msg.userId);
  setId(event, 'anonymous_id', msg.anonymousId);

  const context = mapContext(mergeContext(common.context, msg.context));
  if (context.mapped) event.context = context.mapped;
  if (context.rest) segment.context = context.rest;
  const integrations = mergeContext(common.integrations, msg.integrations);
  // analytics-node sends `integrations: {}` with every call: an empty object says nothing.
  if (integrations !== undefined && !(isObject(integrations) && Object.keys(integrations).length === 0)) segment.integrations = integrations;

  if (call === 'page' || call === 'screen') {
    if (msg.name !== undefined && msg.name !== null) event.name = msg.name;
    if (msg.category !== undefined && msg.category !== null) event.category = msg.category;
  }
  if (call === 'group') setId(event, 'group_id', msg.groupId);
  if (call === 'alias') setId(event, 'previous_id', msg.previousId);

  const declared = declaredFields(deps.registry, logType);
  const collisions: Record<string, unknown> = {};
  for (const key of Object.keys(own)) {
    const value = own[key];
    // Routing, as on /v1/events; a log_type that is not a name routed nothing and is kept below.
    if (call === 'track' && key === 'log_type' && typeof value === 'string' && value !== '') continue;
    if (ENVELOPE_FIELDS.includes(key) || (RESERVED_FIELDS as readonly string[]).includes(key) || key === SEGMENT_FIELD || Object.hasOwn(event, key)) {
      setOwn(collisions, key, value);
    } else if (value === null && declared.has(key)) {
      // A declared column is nullable: null there is the same as absent, and would fail its type.
      continue;
    } else {
      setOwn(event, key, value);
    }
  }
  if (Object.keys(collisions).length > 0) segment[fieldsName] = collisions;

  const mapped = new Set([...ALWAYS_MAPPED, ...MAPPED_KEYS[call]]);
  for (const key of Object.keys(msg)) if (!mapped.has(key)) setOwn(segment, key, msg[key]);
  if (Object.keys(segment).length > 0) event[SEGMENT_FIELD] = segment;
  return event;
}

/**
 * A track call's log type:
 * 1. `properties.log_type` when given: the producer chose it (a log type the key may not write is
 *    refused with 403, an unknown one is quarantined, as on /v1/events);
 * 2. else the log type whose events include the snake_cased event name ("Add To Cart" →
 *    add_to_cart → user_action), when exactly one does, it keeps unknown fields (a Segment call
 *    always carries fields a strict log type would reject: context.library, other properties)
 *    and the key may write it;
 * 3. else segment_track.
 */
function trackLogType(explicit: unknown, snake: string | undefined, deps: SegmentDeps): string {
  if (typeof explicit === 'string' && explicit !== '') return explicit;
  if (snake === undefined) return SEGMENT_LOG_TYPES.track;
  const candidates = (eventIndex(deps.registry).get(snake) ?? []).filter(deps.mayWrite);
  return candidates.length === 1 ? candidates[0]! : SEGMENT_LOG_TYPES.track;
}

/** Per registry (it changes only when a schema is published): event name → log types listing it. */
const indexes = new WeakMap<Registry, Map<string, string[]>>();

function eventIndex(registry: Registry): Map<string, string[]> {
  let index = indexes.get(registry);
  if (index) return index;
  index = new Map();
  const segmentLogTypes = new Set(Object.values(SEGMENT_LOG_TYPES));
  for (const logType of registry.logTypes()) {
    if (segmentLogTypes.has(logType)) continue;
    const schema = registry.schema(logType);
    if (schema['x-unknown-properties'] !== 'keep') continue;
    const events = (schema.properties?.event as { enum?: unknown[] } | undefined)?.enum ?? [];
    for (const name of events) {
      if (typeof name !== 'string') continue;
      index.set(name, [...(index.get(name) ?? []), logType]);
    }
  }
  indexes.set(registry, index);
  return index;
}

function declaredFields(registry: Registry, logType: string): Set<string> {
  if (registry.latestVersion(logType) === undefined) return new Set();
  return new Set(Object.keys(registry.schema(logType).properties ?? {}));
}

/**
 * A Segment event name as a Strata `event` (`^[a-z][a-z0-9_]*$`, ≤ 64): camelCase split, accents
 * folded, every other run of characters one `_` ("Order Completed", "orderCompleted" and
 * "order-completed" are all order_completed). A name with no letter or digit left gets
 * `event_` + 8 hex of its hash, so distinct names stay distinct; the name as sent is in
 * `event_name` (segment_track) or `extra.segment.event`.
 */
export function snakeCase(name: string): string {
  const snake = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (snake === '') return `event_${sha256Hex(name).slice(0, 8)}`;
  const lettered = /^[a-z]/.test(snake) ? snake : `e_${snake}`;
  return lettered.slice(0, 64).replace(/_+$/, '');
}

/**
 * `messageId` → `event_id`. Segment's ids may be up to 100 characters of anything; one that
 * fits event_id is kept, so it can be found by the id the client logged. Another is hashed, the
 * same way on every retry, so a retried batch still dedups; `kept` says the original goes to
 * `extra.segment.messageId`. Without one ingest assigns a ULID, as for /v1/events: a hash of the
 * call's content would merge two identical calls (a heartbeat sent every minute without a
 * timestamp) into one.
 */
export function eventId(messageId: unknown): { eventId: string | undefined; kept: boolean } {
  if (typeof messageId === 'number' && Number.isFinite(messageId)) messageId = String(messageId);
  if (typeof messageId !== 'string' || messageId === '') return { eventId: undefined, kept: messageId !== undefined && messageId !== null };
  if (EVENT_ID.test(messageId)) return { eventId: messageId, kept: false };
  return { eventId: `seg-${sha256Hex(messageId).slice(0, 40)}`, kept: true };
}

/**
 * `ts`, as Segment computes it: `timestamp` as given (a backfill sets it); else the device's
 * `originalTimestamp` corrected for the device's clock, `receivedAt − (sentAt − originalTimestamp)`
 * (sentAt from the call or its batch); else `originalTimestamp` as given; else the receipt time.
 * A value that is not a timestamp is passed on, so validation keeps the event in quarantine with
 * the reason rather than moving it to the receipt time.
 */
export function eventTime(msg: Record<string, unknown>, batchSentAt: unknown, receivedAt: Date): unknown {
  if (msg.timestamp !== undefined && msg.timestamp !== null) return msg.timestamp;
  const original = msg.originalTimestamp;
  if (original === undefined || original === null) return receivedAt.toISOString();
  const sentAt = msg.sentAt ?? batchSentAt;
  const originalMs = typeof original === 'string' ? Date.parse(original) : NaN;
  const sentMs = typeof sentAt === 'string' ? Date.parse(sentAt) : NaN;
  if (Number.isNaN(originalMs) || Number.isNaN(sentMs)) return original;
  const corrected = receivedAt.getTime() - (sentMs - originalMs);
  // Both parse, yet the correction can leave Date's range (an originalTimestamp in year 275760):
  // passed on as given, for validation to refuse with the reason, never a RangeError (a 500 for
  // the whole batch, which the SDK would retry and then drop).
  const date = new Date(corrected);
  return Number.isFinite(date.getTime()) ? date.toISOString() : original;
}

/** An id field: text as is, a number as its text (Segment's SDKs accept both); null and "" mean none. */
function setId(event: Record<string, unknown>, field: string, value: unknown): void {
  if (value === undefined || value === null || value === '') return;
  event[field] = typeof value === 'number' ? String(value) : value;
}

/** The batch's context (or integrations) under the call's own, one level deep. */
function mergeContext(batch: unknown, own: unknown): unknown {
  if (!isObject(batch)) return own;
  if (!isObject(own)) return own === undefined ? batch : own;
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(batch)) setOwn(merged, key, batch[key]);
  for (const key of Object.keys(own)) setOwn(merged, key, own[key]);
  return merged;
}

const CONTEXT_FIELDS: ReadonlyArray<[segment: string, strata: string]> = [['userAgent', 'user_agent'], ['ip', 'ip'], ['locale', 'locale']];
const PAGE_FIELDS = ['url', 'referrer', 'title'];

/**
 * Segment's context → Strata's `context` struct for the parts it declares (text values only; a
 * value of another type stays in the rest rather than failing the event), the rest (library, app,
 * device, os, campaign, page.path, …) for `extra.segment.context`.
 */
function mapContext(context: unknown): { mapped?: Record<string, unknown>; rest?: unknown } {
  if (context === undefined || context === null) return {};
  if (!isObject(context)) return { rest: context };
  const mapped: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(context)) setOwn(rest, key, context[key]);
  for (const [from, to] of CONTEXT_FIELDS) {
    if (typeof rest[from] !== 'string') continue;
    mapped[to] = rest[from];
    delete rest[from];
  }
  const page = rest.page;
  if (isObject(page)) {
    const mappedPage: Record<string, unknown> = {};
    const restPage: Record<string, unknown> = {};
    for (const key of Object.keys(page)) {
      if (PAGE_FIELDS.includes(key) && typeof page[key] === 'string') mappedPage[key] = page[key];
      else setOwn(restPage, key, page[key]);
    }
    if (Object.keys(mappedPage).length > 0) mapped.page = mappedPage;
    if (Object.keys(restPage).length > 0) rest.page = restPage;
    else delete rest.page;
  }
  return {
    ...(Object.keys(mapped).length > 0 && { mapped }),
    ...(Object.keys(rest).length > 0 && { rest }),
  };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

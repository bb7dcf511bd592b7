import { isObject, isPositiveIntegerText } from '@strata/runtime';
import {
  checkEventTime,
  decodeBatch,
  partitionOf,
  protectPii,
  type BatchLine,
  type EventTimeWindow,
  type FieldError,
  type Partition,
  type PiiHasher,
  type Registry,
  type RejectedLine,
  toMillis,
} from '@strata/schemas';
import type { PushMessage } from './push-message.js';
import { quarantine, type Quarantined } from './quarantine.js';

/**
 * Decides where each event of one push message goes: a lake row in its event-time partition, or
 * quarantine with its reasons. One bad event never fails its neighbours; a message that cannot be
 * read at all is quarantined whole. The writer validates too because producers may publish straight
 * to Pub/Sub without going through ingest.
 */
export type Admission =
  | { kind: 'row'; partition: Partition; row: Record<string, unknown>; bytes: number }
  | ({ kind: 'quarantine'; bytes: number } & Quarantined);

export type AdmitRegistry = Pick<Registry, 'validate' | 'latestVersion' | 'columns' | 'piiRules'>;

/**
 * Fills what Pub/Sub already knows: `event_id` from the messageId and the event's line
 * (deterministic, so a redelivery of the same message dedups by event_id) and `received_at` from
 * publishTime. A single-event JSON message keeps the id it always had, `pubsub-<messageId>`.
 */
function withDefaults(event: Record<string, unknown>, message: PushMessage, index: number | undefined, schemaVersion: unknown): Record<string, unknown> {
  // Only absent fields are filled: an explicit null is the publisher's mistake, and validation says so.
  return {
    ...event,
    event_id: event.event_id === undefined ? defaultEventId(message, index) : event.event_id,
    received_at: event.received_at === undefined ? message.publishTime : event.received_at,
    schema_version: schemaVersion,
  };
}

function defaultEventId(message: PushMessage, index: number | undefined): string {
  return index === undefined ? `pubsub-${message.messageId}` : `pubsub-${message.messageId}-${index}`;
}

interface Route {
  logType: string;
  /** The message's schema_version attribute, which every event then shares. */
  version: number | undefined;
  /** The log type's latest version, and the publish time in ms: looked up once per message. */
  latest: number | undefined;
  publishedMs: number;
}

function routeOf(registry: AdmitRegistry, message: PushMessage): Route | FieldError {
  const logType = message.attributes.log_type;
  if (!logType) return { path: '/log_type', message: 'attribute log_type is required' };
  const rawVersion = message.attributes.schema_version;
  if (rawVersion !== undefined && !isPositiveIntegerText(rawVersion)) {
    return { path: '/schema_version', message: `attribute schema_version must be a positive integer, got "${rawVersion}"` };
  }
  return {
    logType,
    version: rawVersion === undefined ? undefined : Number(rawVersion),
    latest: registry.latestVersion(logType),
    publishedMs: toMillis(message.publishTime),
  };
}

/** What admission needs besides the registry: the PII hasher and the event-time window. */
export interface AdmitRules {
  hash: PiiHasher;
  /** How far `ts` may lie from the message's publish time (what ingest checks against its receive time). */
  window: EventTimeWindow;
}

function admitLine(registry: AdmitRegistry, message: PushMessage, route: Route, line: BatchLine, index: number | undefined, rules: AdmitRules, known: string | undefined): Admission {
  const event = line.ok ? line.value : undefined;
  // The id the event has, or would get, in the lake: a replay after a fix then dedups against a redelivery.
  const own = isObject(event) ? event.event_id : undefined;
  const eventId = typeof own === 'string' && own !== '' ? own : defaultEventId(message, index);
  const reject = (reasons: FieldError[], data: unknown): Admission => ({ kind: 'quarantine', bytes: line.bytes, ...quarantine(message, reasons, known, { index, eventId, data }) });
  if (!line.ok) return reject([{ path: '', message: `line is not JSON: ${line.reason}` }], line.text);
  if (!isObject(event)) return reject([{ path: '', message: 'must be a JSON object' }], event);

  // The attribute names the version for the whole message; else the event's own, else the latest.
  const version = route.version ?? event.schema_version ?? route.latest;
  const candidate = withDefaults(event, message, index, version);
  const result = registry.validate(route.logType, typeof version === 'number' ? version : undefined, candidate);
  // The schemas' date-time format is exactly what the lake can store as µs, so a valid event's
  // timestamps always convert; `ts` is a required envelope field, so the partition is known.
  if (!result.ok) return reject(result.errors, event);
  const late = checkEventTime(String(result.event.ts), route.publishedMs, rules.window);
  if (late) return reject([late], event);

  // Direct publishers bypass ingest, so PII is protected here too (idempotent for ingest's events).
  const row = protectPii(result.event, registry.piiRules(route.logType, result.version), rules.hash);
  return { kind: 'row', partition: partitionOf(route.logType, String(row.ts)), row, bytes: line.bytes };
}

/** A line of a "rejected" message from ingest: kept in quarantine with ingest's reasons, as sent. */
function admitRejected(message: PushMessage, line: BatchLine, ordinal: number, known: string | undefined): Admission {
  const value = line.ok ? line.value : undefined;
  const rejected = isObject(value) && Array.isArray(value.reasons) ? (value as unknown as RejectedLine) : undefined;
  if (!rejected) {
    // Not what ingest writes; keep it whole all the same, saying so.
    const data = line.ok ? line.value : line.text;
    return { kind: 'quarantine', bytes: line.bytes, ...quarantine(message, [{ path: '', message: 'a line of a rejected message must be {reasons, index, data}' }], known, { index: ordinal, data }) };
  }
  const eventId = typeof rejected.event_id === 'string' ? rejected.event_id : undefined;
  return {
    kind: 'quarantine',
    bytes: line.bytes,
    ...quarantine(message, rejected.reasons, known, { index: typeof rejected.index === 'number' ? rejected.index : ordinal, ...(eventId ? { eventId } : {}), data: rejected.data }),
  };
}

export async function admitMessage(registry: AdmitRegistry, message: PushMessage, rules: AdmitRules): Promise<Admission[]> {
  const logType = message.attributes.log_type;
  const known = logType !== undefined && registry.latestVersion(logType) !== undefined ? logType : undefined;
  const rejectWhole = (reason: FieldError): Admission[] => [
    { kind: 'quarantine', bytes: message.data.length, ...quarantine(message, [reason], known, { data: message.rawData }) },
  ];

  const decoded = await decodeBatch(message.attributes, message.data);
  if (!decoded.ok) return rejectWhole({ path: '', message: decoded.reason });
  if (message.attributes.kind === 'rejected') return decoded.lines.map((line, i) => admitRejected(message, line, i, known));
  if (message.attributes.kind !== undefined && message.attributes.kind !== 'events') {
    return rejectWhole({ path: '/kind', message: `attribute kind must be events or rejected, got "${message.attributes.kind}"` });
  }
  const route = routeOf(registry, message);
  if ('path' in route) return rejectWhole(route);
  const single = decoded.encoding === 'json';
  return decoded.lines.map((line, i) => admitLine(registry, message, route, line, single ? undefined : i, rules, known));
}

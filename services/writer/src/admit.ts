import { isObject, isPositiveIntegerText } from '@strata/runtime';
import {
  checkEventTime,
  decodeBatch,
  partitionOf,
  type BatchLine,
  type EventTimeWindow,
  type FieldError,
  type Partition,
  type PiiPolicy,
  type Registry,
  toMillis,
} from '@strata/schemas';
import { defaultEventId, type PushMessage } from './push-message.js';
import { fileLines, lineIndex, messageRecords, recordLine, type Filed, type MessageRecords } from './quarantine.js';

/**
 * Decides where each event of one push message goes: a lake row in its event-time partition, or
 * quarantine with its reasons. One bad event never fails its neighbours; a message whose data
 * cannot be decoded is quarantined whole. The writer validates too because producers may publish
 * straight to Pub/Sub without going through ingest. Dead letters are records too, in their own zone.
 */
export type Admission = { kind: 'row'; partition: Partition; row: Record<string, unknown>; bytes: number } | Filed;

export type AdmitRegistry = Pick<Registry, 'validate' | 'latestVersion' | 'columns' | 'pii'>;

/**
 * Fills what Pub/Sub already knows: `event_id` from the messageId and the event's line
 * (defaultEventId) and `received_at` from publishTime.
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

/** What admission needs besides the registry: PII protection and the event-time window. */
export interface AdmitRules {
  /** Applied to every message ingest did not mark as protected (message-pii.ts). */
  pii: PiiPolicy;
  /** How far `ts` may lie from the message's publish time (what ingest checks against its receive time). */
  window: EventTimeWindow;
}

function admitLine(registry: AdmitRegistry, m: MessageRecords, route: Route, line: BatchLine, index: number | undefined, rules: AdmitRules): Admission {
  const reject = (reasons: FieldError[], version?: number): Admission => ({ kind: 'quarantine', bytes: line.bytes, ...recordLine(m, line, index, reasons, version) });
  if (!line.ok) return reject([]);
  const event = line.value;
  if (!isObject(event)) return reject([{ path: '', message: 'must be a JSON object' }]);

  // The attribute names the version for the whole message; else the event's own, else the latest.
  const version = route.version ?? event.schema_version ?? route.latest;
  const candidate = withDefaults(event, m.message, index, version);
  const result = registry.validate(route.logType, typeof version === 'number' ? version : undefined, candidate);
  // The schemas' date-time format is exactly what the lake can store as µs, so a valid event's
  // timestamps always convert; `ts` is a required envelope field, so the partition is known.
  if (!result.ok) return reject(result.errors, typeof version === 'number' ? version : undefined);
  const late = checkEventTime(String(result.event.ts), route.publishedMs, rules.window);
  if (late) return reject([late], result.version);

  const row = m.pii.row(result.event, result.version);
  return { kind: 'row', partition: partitionOf(route.logType, String(row.ts)), row, bytes: line.bytes };
}

export async function admitMessage(registry: AdmitRegistry, message: PushMessage, rules: AdmitRules): Promise<Admission[]> {
  const m = messageRecords(registry, message, rules.pii);
  const decoded = await decodeBatch(message.attributes, message.data);
  // Ingest's rejected events: each kept in quarantine with ingest's reasons, as sent.
  if (!decoded.ok || message.attributes.kind === 'rejected') return fileLines(m, 'quarantine', decoded, []);
  if (message.attributes.kind !== undefined && message.attributes.kind !== 'events') {
    return fileLines(m, 'quarantine', decoded, [{ path: '/kind', message: `attribute kind must be events or rejected, got "${message.attributes.kind}"` }]);
  }
  const route = routeOf(registry, message);
  // A message that cannot be routed is filed line by line: each event is protected and kept on its own.
  if ('path' in route) return fileLines(m, 'quarantine', decoded, [route]);
  return decoded.lines.map((line, i) => admitLine(registry, m, route, line, lineIndex(decoded, i), rules));
}

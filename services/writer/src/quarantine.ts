import { isObject, storable } from '@strata/runtime';
import { BATCH_ATTRIBUTES, toMicros, UNKNOWN_LOG_TYPE, type BatchLine, type DecodedBatch, type FieldError, type PiiPolicy, type Registry, type RejectedLine } from '@strata/schemas';
import { messagePii, type MessagePii } from './message-pii.js';
import { defaultEventId, type PushMessage } from './push-message.js';

/**
 * The records the writer files as JSON lines instead of rows: quarantine (an invalid event, an
 * event of an unknown log type, a line or a whole message that cannot be read) and dead letters
 * (dead-letter.ts), one JSON line each under `<zone>/log_type=<t|_unknown>/dt=<publish date>/<id>.jsonl`,
 * so they can be fixed and replayed. Nothing is silently dropped. The zones are part of the
 * lake's layout (schemas/src/lake.ts). Every record's data is PII protected (message-pii.ts) when
 * it can be read as JSON; text that cannot (a line that is not JSON, a payload that cannot be
 * decoded) is kept as it came, since there is nothing to find fields in.
 */
export interface RecordFolder {
  /** A known log type, or `_unknown`: an unvetted attribute never becomes part of an object path. */
  logType: string;
  /** UTC date of the message's publishTime (the event's own ts may be missing or wrong). */
  dt: string;
}

export interface QuarantineRecord {
  reasons: FieldError[];
  attributes: Record<string, string>;
  messageId: string;
  publishTime: string;
  /** The event's position in a batch message; absent for a single-event message or the whole message. */
  index?: number;
  /** The id the event has, or gets (`pubsub-<messageId>-<index>`), so a replay dedups; absent for a whole message. */
  event_id?: string;
  /** The event as received (PII protected), the line's text when it is not JSON, or the raw base64 payload of a whole message. */
  data: unknown;
  /**
   * The PII key id `data` is protected with; absent when data is text kept as it came. Republish
   * it with attribute pii_protected set to this, or its hashes are hashed again.
   */
  pii_protected?: string;
}

export interface Quarantined {
  group: RecordFolder;
  record: QuarantineRecord;
}

/** A record with the zone it is filed in and the bytes it holds the buffer to. */
export type Filed = { kind: 'quarantine' | 'dead-letter'; bytes: number } & Quarantined;

/** What every record of one message shares. */
export interface MessageRecords {
  message: PushMessage;
  /** The message's log type when the registry knows it. */
  known: string | undefined;
  pii: MessagePii;
}

export type RecordsRegistry = Pick<Registry, 'latestVersion' | 'pii'>;

export function messageRecords(registry: RecordsRegistry, message: PushMessage, policy: PiiPolicy): MessageRecords {
  const logType = message.attributes[BATCH_ATTRIBUTES.logType];
  const known = logType !== undefined && registry.latestVersion(logType) !== undefined ? logType : undefined;
  return { message, known, pii: messagePii(registry, message, known, policy) };
}

// Via µs: publishTime may carry nanoseconds, which Date parsing does not promise to accept.
function utcDate(iso: string): string {
  return new Date(Number(toMicros(iso) / 1000n)).toISOString().slice(0, 10);
}

interface What {
  index?: number | undefined;
  eventId?: string | undefined;
  data: unknown;
  /** Set when data went through PII protection. */
  protectedWith?: string;
}

function record({ message, known }: MessageRecords, reasons: FieldError[], what: What): Quarantined {
  return {
    group: { logType: known ?? UNKNOWN_LOG_TYPE, dt: utcDate(message.publishTime) },
    record: {
      reasons,
      attributes: message.attributes,
      messageId: message.messageId,
      publishTime: message.publishTime,
      ...(what.index === undefined ? {} : { index: what.index }),
      ...(what.eventId === undefined ? {} : { event_id: what.eventId }),
      data: what.data,
      ...(what.protectedWith === undefined ? {} : { pii_protected: what.protectedWith }),
    },
  };
}

/** The whole message, when its data cannot be decoded: the raw payload as delivered, its readable key/value pairs protected. */
function recordWhole(m: MessageRecords, reasons: FieldError[]): Quarantined {
  return record(m, reasons, { data: m.pii.payload(m.message.rawData), protectedWith: m.pii.keyId });
}

/** A JSON value as a record keeps it: bounded for JSON to write back (storable), then protected. */
function kept(m: MessageRecords, value: unknown, version?: number): Pick<What, 'data' | 'protectedWith'> {
  return { data: m.pii.stored(storable(value), version), protectedWith: m.pii.keyId };
}

const isRejectedLine = (value: unknown): value is RejectedLine => isObject(value) && Array.isArray(value.reasons);

/**
 * One line of a message (the one event of a JSON message has index undefined), filed with
 * `reasons` and whatever the line itself says: the event with the id it has or would get, a
 * "rejected" line from ingest unwrapped to its event and ingest's reasons, or the text of a line
 * that is not JSON. `version` is the one the event was checked against, when known.
 */
export function recordLine(m: MessageRecords, line: BatchLine, index: number | undefined, reasons: FieldError[], version?: number): Quarantined {
  if (!line.ok) {
    const why = { path: '', message: `line is not JSON: ${line.reason}` };
    return record(m, [...reasons, why], { index, eventId: defaultEventId(m.message, index), data: m.pii.text(line.text), protectedWith: m.pii.keyId });
  }
  const value = line.value;
  if (m.message.attributes[BATCH_ATTRIBUTES.kind] === 'rejected') {
    if (!isRejectedLine(value)) {
      // Not what ingest writes; keep it whole all the same, saying so.
      return record(m, [...reasons, { path: '', message: 'a line of a rejected message must be {reasons, index, data}' }], { index, ...kept(m, value) });
    }
    const eventId = typeof value.event_id === 'string' ? value.event_id : undefined;
    return record(m, [...reasons, ...value.reasons], { index: typeof value.index === 'number' ? value.index : index, eventId, ...kept(m, value.data) });
  }
  // The id the event has, or would get, in the lake: a replay after a fix then dedups against a redelivery.
  const own = isObject(value) ? value.event_id : undefined;
  const eventId = typeof own === 'string' && own !== '' ? own : defaultEventId(m.message, index);
  return record(m, reasons, { index, eventId, ...kept(m, value, version) });
}

/** A line's index in the message: none for a single-event JSON message, which keeps the id it always had. */
export function lineIndex(decoded: DecodedBatch & { ok: true }, i: number): number | undefined {
  return decoded.encoding === 'json' ? undefined : i;
}

/** Every line of a message filed in `zone` with `reasons`; the whole message when its data cannot be decoded. */
export function fileLines(m: MessageRecords, zone: Filed['kind'], decoded: DecodedBatch, reasons: FieldError[]): Filed[] {
  if (!decoded.ok) return [{ kind: zone, bytes: m.message.data.length, ...recordWhole(m, [...reasons, { path: '', message: decoded.reason }]) }];
  return decoded.lines.map((line, i) => ({ kind: zone, bytes: line.bytes, ...recordLine(m, line, lineIndex(decoded, i), reasons) }));
}

export function recordsKey(group: RecordFolder): string {
  return `${group.logType}/${group.dt}`;
}

/** Where a zone's records of one log type and day go (`root`: QUARANTINE_ROOT or DEAD_LETTER_ROOT). */
export function recordsPrefix(root: string, group: RecordFolder): string {
  return `${root}/log_type=${group.logType}/dt=${group.dt}/`;
}

const encoder = new TextEncoder();

/** JSON Lines: one record per line, newline-terminated. */
export function encodeRecords(records: QuarantineRecord[]): Uint8Array {
  return encoder.encode(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

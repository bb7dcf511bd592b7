import { storable } from '@strata/runtime';
import { QUARANTINE_ROOT, toMicros, UNKNOWN_LOG_TYPE, type FieldError } from '@strata/schemas';
import type { PushMessage } from './push-message.js';

/**
 * Quarantine keeps everything the lake cannot take (an invalid event, an event of an unknown log
 * type, a line or a whole message that cannot be read) with its reasons, as one JSON line each under
 * `quarantine/log_type=<t|_unknown>/dt=<publish date>/<id>.jsonl`, so it can be fixed and replayed.
 * Nothing is silently dropped. The root is part of the lake's layout (schemas/src/lake.ts).
 */
export { QUARANTINE_ROOT };
export const QUARANTINE_CONTENT_TYPE = 'application/x-ndjson';

export interface QuarantineGroup {
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
  /** The event as received, the line's text when it is not JSON, or the raw base64 payload of a whole message. */
  data: unknown;
}

export interface Quarantined {
  group: QuarantineGroup;
  record: QuarantineRecord;
}

// Via µs: publishTime may carry nanoseconds, which Date parsing does not promise to accept.
function utcDate(iso: string): string {
  return new Date(Number(toMicros(iso) / 1000n)).toISOString().slice(0, 10);
}

export function quarantine(
  message: PushMessage,
  reasons: FieldError[],
  knownLogType: string | undefined,
  what: { index?: number | undefined; eventId?: string; data: unknown },
): Quarantined {
  return {
    group: { logType: knownLogType ?? UNKNOWN_LOG_TYPE, dt: utcDate(message.publishTime) },
    record: {
      reasons,
      attributes: message.attributes,
      messageId: message.messageId,
      publishTime: message.publishTime,
      ...(what.index === undefined ? {} : { index: what.index }),
      ...(what.eventId === undefined ? {} : { event_id: what.eventId }),
      data: storable(what.data),
    },
  };
}

export function quarantineKey(group: QuarantineGroup): string {
  return `${group.logType}/${group.dt}`;
}

export function quarantinePrefix(group: QuarantineGroup): string {
  return `${QUARANTINE_ROOT}/log_type=${group.logType}/dt=${group.dt}/`;
}

const encoder = new TextEncoder();

/** JSON Lines: one record per line, newline-terminated. */
export function encodeQuarantine(records: QuarantineRecord[]): Uint8Array {
  return encoder.encode(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

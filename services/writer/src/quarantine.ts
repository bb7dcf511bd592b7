import { toMicros, type FieldError } from '@strata/schemas';
import type { PushMessage } from './push-message.js';

/**
 * Quarantine keeps every well-formed message the lake cannot take (invalid event, unknown log
 * type, payload that is not JSON) with its reasons, as one JSON line each under
 * `quarantine/log_type=<t|_unknown>/dt=<publish date>/<id>.jsonl`, so it can be fixed and
 * replayed. Nothing is silently dropped.
 */
export const QUARANTINE_ROOT = 'quarantine';
export const UNKNOWN_LOG_TYPE = '_unknown';
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
  /** The decoded event as received, or the raw base64 payload when it is not JSON. */
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

export function quarantine(message: PushMessage, reasons: FieldError[], knownLogType: string | undefined): Quarantined {
  return {
    group: { logType: knownLogType ?? UNKNOWN_LOG_TYPE, dt: utcDate(message.publishTime) },
    record: {
      reasons,
      attributes: message.attributes,
      messageId: message.messageId,
      publishTime: message.publishTime,
      data: message.payload.json ? message.payload.value : message.rawData,
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

import { partitionOf, protectPii, type FieldError, type Partition, type PiiHasher, type Registry } from '@strata/schemas';
import type { PushMessage } from './push-message.js';
import { quarantine, type Quarantined } from './quarantine.js';

/**
 * Decides where one decoded push message goes: a lake row in its event-time partition, or
 * quarantine with the reasons. Pure; the writer validates too because producers may publish
 * straight to Pub/Sub without going through ingest.
 */
export type Admission =
  | { kind: 'row'; partition: Partition; row: Record<string, unknown>; bytes: number }
  | ({ kind: 'quarantine'; bytes: number } & Quarantined);

export type AdmitRegistry = Pick<Registry, 'validate' | 'latestVersion' | 'columns' | 'piiRules'>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Fills what Pub/Sub already knows: `event_id` from the messageId (deterministic, so a
 * redelivery of the same message dedups by event_id) and `received_at` from publishTime.
 */
export function withDefaults(event: Record<string, unknown>, message: PushMessage): Record<string, unknown> {
  return {
    ...event,
    event_id: event.event_id ?? `pubsub-${message.messageId}`,
    received_at: event.received_at ?? message.publishTime,
  };
}

export function admit(registry: AdmitRegistry, message: PushMessage, hash: PiiHasher): Admission {
  const logType = message.attributes.log_type;
  const known = logType !== undefined && registry.latestVersion(logType) !== undefined ? logType : undefined;
  const reject = (reasons: FieldError[]): Admission => ({ kind: 'quarantine', bytes: message.byteLength, ...quarantine(message, reasons, known) });

  if (!message.payload.json) return reject([{ path: '', message: message.payload.reason }]);
  const event = message.payload.value;
  if (!isObject(event)) return reject([{ path: '', message: 'must be a JSON object' }]);
  if (!logType) return reject([{ path: '/log_type', message: 'attribute log_type is required' }]);

  const rawVersion = message.attributes.schema_version;
  if (rawVersion !== undefined && !/^[1-9]\d*$/.test(rawVersion)) {
    return reject([{ path: '/schema_version', message: `attribute schema_version must be a positive integer, got "${rawVersion}"` }]);
  }
  const version = rawVersion === undefined ? undefined : Number(rawVersion);

  const schemaVersion = version ?? registry.latestVersion(logType);
  const result = registry.validate(logType, schemaVersion, { ...withDefaults(event, message), schema_version: schemaVersion });
  // The schemas' date-time format is exactly what the lake can store as µs, so a valid event's
  // timestamps always convert; `ts` is a required envelope field, so the partition is known.
  if (!result.ok) return reject(result.errors);

  // Direct publishers bypass ingest, so PII is protected here too (idempotent for ingest's events).
  const row = protectPii(result.event, registry.piiRules(logType, result.version), hash);
  return { kind: 'row', partition: partitionOf(logType, String(row.ts)), row, bytes: message.byteLength };
}

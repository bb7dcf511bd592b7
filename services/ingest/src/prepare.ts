import { isObject } from '@strata/runtime';
import { protectPii, type FieldError, type PiiHasher, type Registry } from '@strata/schemas';

/**
 * Turns a request body into validated, PII-protected events ready to publish, or per-event errors.
 * Pure: ids and clock are passed in.
 *
 * On the wire each event carries `log_type` (and optionally `schema_version`); those are routing
 * fields, so they move into message attributes and are not part of the stored event.
 */
export interface EventError extends FieldError {
  /** Index of the event in the request array. */
  index: number;
}

/** One event as it will be stored, with where it came from in the request. */
export interface PreparedEvent {
  index: number;
  logType: string;
  /** Always set before publishing, so a redelivered or re-published message dedups by id. */
  eventId: string;
  event: Record<string, unknown>;
}

export type PrepareResult = { ok: true; events: PreparedEvent[] } | { ok: false; errors: EventError[] };

export interface PrepareDeps {
  registry: Registry;
  hash: PiiHasher;
  newId: () => string;
  now: () => Date;
  maxEvents: number;
}

function routing(raw: Record<string, unknown>): { logType?: string; version?: number; error?: FieldError } {
  const { log_type: logType, schema_version: version } = raw;
  if (typeof logType !== 'string' || logType === '') return { error: { path: '/log_type', message: 'is required and must be a string' } };
  if (version === undefined) return { logType };
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return { error: { path: '/schema_version', message: 'must be a positive integer' } };
  }
  return { logType, version };
}

export function prepareEvents(body: unknown, deps: PrepareDeps): PrepareResult {
  if (!Array.isArray(body)) return { ok: false, errors: [{ index: -1, path: '', message: 'body must be a JSON array of events' }] };
  if (body.length === 0) return { ok: false, errors: [{ index: -1, path: '', message: 'body must contain at least one event' }] };
  if (body.length > deps.maxEvents) {
    return { ok: false, errors: [{ index: -1, path: '', message: `at most ${deps.maxEvents} events per request, got ${body.length}` }] };
  }
  const receivedAt = deps.now().toISOString();
  const errors: EventError[] = [];
  const prepared: PreparedEvent[] = [];
  body.forEach((raw, index) => {
    if (!isObject(raw)) {
      errors.push({ index, path: '', message: 'must be a JSON object' });
      return;
    }
    const route = routing(raw);
    if (route.error || !route.logType) {
      errors.push({ index, ...route.error! });
      return;
    }
    const { log_type: _logType, ...fields } = raw;
    // The version validated against is stored with the event: the latest unless the producer pinned one.
    const version = route.version ?? deps.registry.latestVersion(route.logType);
    const event = { ...fields, event_id: fields.event_id ?? deps.newId(), received_at: receivedAt, ...(version ? { schema_version: version } : {}) };
    const result = deps.registry.validate(route.logType, version, event);
    if (!result.ok) {
      errors.push(...result.errors.map((e) => ({ index, ...e })));
      return;
    }
    prepared.push({
      index,
      logType: result.logType,
      eventId: String(event.event_id),
      // PII is protected here, before the event reaches Pub/Sub: raw values are never published.
      event: protectPii(result.event, deps.registry.piiRules(result.logType, result.version), deps.hash),
    });
  });
  // All or nothing: a producer retrying a half-accepted batch would duplicate the accepted half.
  return errors.length ? { ok: false, errors } : { ok: true, events: prepared };
}

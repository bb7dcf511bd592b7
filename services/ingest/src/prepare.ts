import { isObject, setOwn, storable } from '@strata/runtime';
import { checkEventTime, protectPii, protectStored, type EventTimeWindow, type FieldError, type PiiPolicy, type Registry } from '@strata/schemas';

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

/** An event that cannot be stored as it is: kept in quarantine with its reasons, never dropped. */
export interface RejectedEvent {
  index: number;
  /** Its log type when Strata knows it; quarantined under `_unknown` otherwise. */
  logType: string | undefined;
  errors: FieldError[];
  /** The event as the producer sent it, PII protected (as every stored copy is) and bounded to what JSON can write back. */
  data: unknown;
  /** The id it had or was given, so a replay after a fix dedups against anything else. */
  eventId: string | undefined;
}

export type PrepareResult =
  /** Per event: accepted, or rejected with its reasons. */
  | { ok: true; events: PreparedEvent[]; rejected: RejectedEvent[] }
  /** The request as a whole is unusable (not an array, empty, too many events): nothing is kept. */
  | { ok: false; errors: EventError[] };

export interface PrepareDeps {
  registry: Registry;
  pii: PiiPolicy;
  newId: () => string;
  now: () => Date;
  maxEvents: number;
  /** How far `ts` may lie from the receive time. */
  window: EventTimeWindow;
  /** The event's `source` unless the producer set one: the name of the key it came with. */
  defaultSource?: string;
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
  const now = deps.now();
  const request: RequestContext = { deps, receivedAt: now.toISOString(), receivedAtMs: now.getTime() };
  const rejected: RejectedEvent[] = [];
  const prepared: PreparedEvent[] = [];
  // A plain loop calling a module-level function: no closure per event, on ingest's hottest path.
  for (let index = 0; index < body.length; index++) {
    const outcome = prepareOne(body[index], index, request);
    if ('errors' in outcome) rejected.push(outcome);
    else prepared.push(outcome);
  }
  return { ok: true, events: prepared, rejected };
}

interface RequestContext {
  deps: PrepareDeps;
  receivedAt: string;
  receivedAtMs: number;
}

/**
 * Rejected events are published too (to quarantine), so their PII is protected here like an
 * accepted event's, by the rules of the version they name (else the latest) and by key name.
 */
function rejectEvent(deps: PrepareDeps, raw: unknown, index: number, errors: FieldError[], logType?: string, eventId?: unknown): RejectedEvent {
  const named = isObject(raw) && typeof raw.schema_version === 'number' ? raw.schema_version : undefined;
  const plan = logType === undefined ? undefined : deps.registry.pii(logType, named);
  // Bounded first: the walk and the batch encoder both recurse.
  const data = protectStored(storable(raw), plan, deps.pii);
  return { index, logType, errors, data, eventId: typeof eventId === 'string' ? eventId : undefined };
}

function prepareOne(raw: unknown, index: number, { deps, receivedAt, receivedAtMs }: RequestContext): PreparedEvent | RejectedEvent {
  if (!isObject(raw)) return rejectEvent(deps, raw, index, [{ path: '', message: 'must be a JSON object' }]);
  const route = routing(raw);
  const latest = typeof raw.log_type === 'string' ? deps.registry.latestVersion(raw.log_type) : undefined;
  const known = latest !== undefined ? (raw.log_type as string) : undefined;
  if (route.error || !route.logType) return rejectEvent(deps, raw, index, [route.error!], known, raw.event_id);
  // The version validated against is stored with the event: the latest unless the producer pinned one.
  const version = route.version ?? latest;
  // One copy of the producer's object, built in a single pass (rest and spread copies were half of
  // prepare's CPU): without the routing field, with the fields Strata fills in.
  const event: Record<string, unknown> = {};
  for (const key in raw) if (key !== 'log_type') setOwn(event, key, raw[key]);
  // Only an absent event_id is assigned one: an explicit null is the producer's mistake, and says so.
  if (event.event_id === undefined) event.event_id = deps.newId();
  event.received_at = receivedAt;
  if (event.source === undefined && deps.defaultSource) event.source = deps.defaultSource;
  if (version) event.schema_version = version;
  const result = deps.registry.validate(route.logType, version, event);
  if (!result.ok) return rejectEvent(deps, raw, index, result.errors, known, event.event_id);
  const late = checkEventTime(String(result.event.ts), receivedAtMs, deps.window);
  if (late) return rejectEvent(deps, raw, index, [late], known, event.event_id);
  return {
    index,
    logType: result.logType,
    eventId: String(event.event_id),
    // PII is protected here, before the event reaches Pub/Sub: raw values are never published, and
    // the message is marked so the writer does not hash them again (publish-events.ts).
    event: protectPii(result.event, deps.registry.pii(result.logType, result.version)!, deps.pii),
  };
}

import { isObject, setOwn } from '@strata/runtime';
import {
  BATCH_ATTRIBUTES,
  DEAD_LETTER_ROOT,
  HASH_PREFIX,
  QUARANTINE_ROOT,
  REDACTED,
  REPLAYED_ROOT,
  UNKNOWN_LOG_TYPE,
  checkEventTime,
  toMicros,
  type EventTimeWindow,
  type FieldError,
  type PiiRule,
  type Registry,
} from '@strata/schemas';
import type { LakeObject } from './lake-store.js';

/**
 * The pure half of replay (replay.ts): which record files and records a replay looks at, how a
 * kept record becomes an event again, and the marker that says what was sent.
 *
 * A record is what the writer files in quarantine/ and dead-letter/ (services/writer/src/quarantine.ts,
 * QuarantineRecord): `data` is the event as received, PII protected with the key id in
 * `pii_protected`. Ingest's rejected events keep the producer's object (with `log_type`, without
 * `received_at`); the writer's keep the event as published to the topic.
 */
export const REPLAY_ZONES = { quarantine: QUARANTINE_ROOT, 'dead-letter': DEAD_LETTER_ROOT } as const;
export type ReplayZone = keyof typeof REPLAY_ZONES;

export function isReplayZone(value: unknown): value is ReplayZone {
  return typeof value === 'string' && Object.hasOwn(REPLAY_ZONES, value);
}

/** A record as read back: the writer's QuarantineRecord, every field checked before use. */
export interface StoredRecord {
  reasons?: FieldError[];
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: string;
  index?: number;
  event_id?: string;
  data?: unknown;
  pii_protected?: string;
}

/** One record file of a zone: `<zone>/log_type=<t>/dt=<publish date>/<name>.jsonl`. */
export interface RecordFile {
  name: string;
  generation: string;
  /** Bytes, as listed: what a replay round reads. */
  size: number;
  /** The folder's log type (`_unknown` for events of a log type the writer did not know). */
  logType: string;
  dt: string;
}

const RECORD_FILE = /^([^/]+)\/log_type=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/[^/]+\.jsonl$/;

export interface Selection {
  /** Only events of this log type: its folder, and `_unknown` records that name it (a log type published after they came). */
  logType?: string;
  /** Only records published at or after this time (files of earlier days are not read). */
  since?: Date;
}

/** The record files of a zone listing a replay reads, in name order. */
export function selectRecordFiles(zone: ReplayZone, objects: ReadonlyArray<Pick<LakeObject, 'name' | 'generation' | 'size'>>, selection: Selection = {}): RecordFile[] {
  const sinceDay = selection.since?.toISOString().slice(0, 10);
  const files: RecordFile[] = [];
  for (const object of objects) {
    const match = RECORD_FILE.exec(object.name);
    if (!match || match[1] !== REPLAY_ZONES[zone]) continue;
    const [, , logType, dt] = match as unknown as [string, string, string, string];
    if (selection.logType !== undefined && logType !== selection.logType && logType !== UNKNOWN_LOG_TYPE) continue;
    // A file's day is its records' publish date (quarantine.ts), so no record in an earlier day is recent enough.
    if (sinceDay !== undefined && dt < sinceDay) continue;
    files.push({ name: object.name, generation: object.generation, size: object.size, logType, dt });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One line of a record file: the record, or why it cannot be read. */
export type RecordLine = { line: number; ok: true; record: StoredRecord } | { line: number; ok: false; reason: string };

export function parseRecordFile(text: string): RecordLine[] {
  const lines: RecordLine[] = [];
  text.split('\n').forEach((raw, line) => {
    if (raw.trim() === '') return;
    try {
      const value: unknown = JSON.parse(raw);
      lines.push(isObject(value) ? { line, ok: true, record: value as StoredRecord } : { line, ok: false, reason: 'the line is not a JSON object' });
    } catch (err) {
      lines.push({ line, ok: false, reason: `the line is not JSON: ${(err as Error).message}` });
    }
  });
  return lines;
}

/**
 * What identifies a record within its file across rewrites: an erasure takes other records out of
 * the file, so line numbers move, but a record's message and position in it do not.
 */
export function recordKey(record: StoredRecord, line: number): string {
  if (typeof record.messageId !== 'string') return `line:${line}`;
  return `${record.messageId}#${typeof record.index === 'number' ? record.index : ''}`;
}

export function isRecordSelected(record: StoredRecord, selection: Selection): boolean {
  if (!selection.since) return true;
  if (typeof record.publishTime !== 'string') return true;
  try {
    return Number(toMicros(record.publishTime) / 1000n) >= selection.since.getTime();
  } catch {
    return true;
  }
}

/** The log type a record's event is of: the producer's own `log_type` (ingest keeps it), else the message's, else the folder's. */
export function recordLogType(record: StoredRecord, folder: string): string | undefined {
  const candidates = [isObject(record.data) ? record.data.log_type : undefined, record.attributes?.[BATCH_ATTRIBUTES.logType], folder];
  for (const candidate of candidates) if (typeof candidate === 'string' && candidate !== '' && candidate !== UNKNOWN_LOG_TYPE) return candidate;
  return undefined;
}

/** A record's event, made valid against the current registry: what replay republishes. */
export interface ReplayEvent {
  logType: string;
  version: number;
  eventId: string;
  event: Record<string, unknown>;
  /** The PII key id the event is protected with; undefined: the writer protects it (a record from before the mark was kept). */
  piiProtected: string | undefined;
}

export type Revalidation = { ok: true; replay: ReplayEvent } | { ok: false; logType: string | undefined; reasons: FieldError[] };

export interface RevalidateContext {
  registry: Pick<Registry, 'latestVersion' | 'validate' | 'pii'>;
  /** The writer checks `ts` against the replay's publish time: now. */
  nowMs: number;
  window: EventTimeWindow;
}

const fail = (logType: string | undefined, message: string, path = ''): Revalidation => ({ ok: false, logType, reasons: [{ path, message }] });

/**
 * A record → the event ingest would publish for it now, or why it still fails. The event keeps its
 * `event_id` (the record's, when the data has none), so the lake dedups a replay against anything
 * else with the id; `received_at` stays when it was received (the record's publish time when the
 * data lacks it); it is validated against the log type's latest version, whichever it named
 * (after a fix the version that failed it is not the one to pass), and its `ts` against the event
 * time window around now, as the writer checks it.
 */
export function revalidate(record: StoredRecord, folder: string, ctx: RevalidateContext): Revalidation {
  const logType = recordLogType(record, folder);
  const data = record.data;
  if (!isObject(data)) return fail(logType, 'the record holds no JSON event (a line or message that could not be read): nothing to replay');
  if (logType === undefined) return fail(undefined, 'names no log type', '/log_type');
  const version = ctx.registry.latestVersion(logType);
  if (version === undefined) return fail(logType, `log type ${JSON.stringify(logType)} is not in the registry`, '/log_type');

  const event: Record<string, unknown> = {};
  for (const key in data) if (key !== 'log_type') setOwn(event, key, data[key]);
  if (event.event_id === undefined && typeof record.event_id === 'string') event.event_id = record.event_id;
  if (typeof event.event_id !== 'string' || event.event_id === '') return fail(logType, 'has no event_id, so a replay could not be deduplicated', '/event_id');
  if (event.received_at === undefined && typeof record.publishTime === 'string') event.received_at = publishTimeIso(record.publishTime);
  event.schema_version = version;

  const result = ctx.registry.validate(logType, version, event);
  if (!result.ok) return { ok: false, logType, reasons: result.errors };
  const late = checkEventTime(String(result.event.ts), ctx.nowMs, ctx.window);
  if (late) return { ok: false, logType, reasons: [late] };

  const piiProtected = typeof record.pii_protected === 'string' && record.pii_protected !== '' ? record.pii_protected : undefined;
  let out = result.event;
  if (piiProtected !== undefined) {
    const plan = ctx.registry.pii(logType, version);
    const checked = keepProtected(out, plan?.rules ?? [], version);
    if (!checked.ok) return { ok: false, logType, reasons: checked.reasons };
    out = checked.event;
  }
  return { ok: true, replay: { logType, version, eventId: event.event_id, event: out, piiProtected } };
}

function publishTimeIso(publishTime: string): string {
  try {
    // Via µs: publishTime may carry nanoseconds, which Date parsing does not promise to accept.
    return new Date(Number(toMicros(publishTime) / 1000n)).toISOString();
  } catch {
    return publishTime;
  }
}

const HASHED = new RegExp(`^${HASH_PREFIX}[A-Za-z0-9_-]{1,16}:[0-9a-f]{64}$`);

/**
 * A record's data was protected when it was kept, by the rules of the version it named then. The
 * version it passes now may declare more (a field the fix adds with `x-pii`), and a marked message
 * is stored as it is: so the current rules are checked here. Drop and redact are applied (doing
 * them again changes nothing); a field to hash that is not a hash already cannot be hashed here
 * (the curator holds no PII secret, and hashing what is hashed would break joins), so the event
 * stays in the zone with that reason rather than reach the lake unprotected.
 */
export function keepProtected(
  event: Record<string, unknown>,
  rules: readonly PiiRule[],
  version: number,
): { ok: true; event: Record<string, unknown> } | { ok: false; reasons: FieldError[] } {
  let out = event;
  const reasons: FieldError[] = [];
  for (const rule of rules) {
    const parents: Record<string, unknown>[] = [];
    let node: unknown = out;
    for (const key of rule.path.slice(0, -1)) {
      if (!isObject(node) || !Object.hasOwn(node, key)) break;
      parents.push(node);
      node = node[key];
    }
    const leaf = rule.path.at(-1)!;
    if (parents.length !== rule.path.length - 1 || !isObject(node) || !Object.hasOwn(node, leaf)) continue;
    const value = node[leaf];
    if (rule.action === 'hash') {
      if (typeof value === 'string' && !HASHED.test(value)) {
        reasons.push({ path: `/${rule.path.join('/')}`, message: `is declared x-pii "hash" by v${version} but was kept unhashed; replay cannot hash it, so it is not replayed` });
      }
      continue;
    }
    if (rule.action === 'redact' && value === REDACTED) continue;
    // Copy the objects on the way down, then put the changed leaf in.
    const copy = { ...node };
    if (rule.action === 'drop') delete copy[leaf];
    else copy[leaf] = REDACTED;
    let child: Record<string, unknown> = copy;
    for (let depth = parents.length - 1; depth >= 0; depth--) child = { ...parents[depth]!, [rule.path[depth]!]: child };
    out = child;
  }
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, event: out };
}

/** What a replay sent of one record file: written once Pub/Sub acknowledged every message carrying them. */
export interface ReplayMarker {
  /** The record file, and the generation it had when last read. */
  file: string;
  generation: string;
  replayed: Array<{ key: string; event_id: string; at: string }>;
}

export function markerName(file: string): string {
  return `${REPLAYED_ROOT}/${file}.json`;
}

export function parseMarker(text: string, file: string): ReplayMarker {
  const value: unknown = JSON.parse(text);
  if (!isObject(value) || !Array.isArray(value.replayed)) throw new Error(`the replay marker of ${file} is not {file, generation, replayed: [...]}`);
  const replayed = value.replayed.filter(
    (r): r is ReplayMarker['replayed'][number] => isObject(r) && typeof r.key === 'string' && typeof r.event_id === 'string' && typeof r.at === 'string',
  );
  return { file, generation: typeof value.generation === 'string' ? value.generation : '', replayed };
}

/** The marker with the newly replayed records added (a key already in it keeps its first time). */
export function mergeMarker(marker: ReplayMarker | undefined, file: string, generation: string, added: ReplayMarker['replayed']): ReplayMarker {
  const replayed = [...(marker?.replayed ?? [])];
  const known = new Set(replayed.map((r) => r.key));
  for (const entry of added) {
    if (known.has(entry.key)) continue;
    known.add(entry.key);
    replayed.push(entry);
  }
  return { file, generation, replayed };
}

/** What a replay is asked for: the script's flags and POST /replay's body, read alike. */
export interface ReplayRequest {
  from: ReplayZone;
  logType?: string;
  since?: Date;
  dryRun: boolean;
}

const LOG_TYPE_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const REQUEST_KEYS = new Set(['from', 'logType', 'since', 'dryRun']);

/**
 * `{from, logType?, since?, dryRun?}` → a replay request, or the reason it is not one. `since` is a
 * UTC day (`2026-03-01`) or an ISO time with its zone (`2026-03-01T12:00:00Z`). Unknown keys are
 * refused, so a misspelt filter does not replay a whole zone.
 */
export function readReplayRequest(value: Record<string, unknown>): { ok: true; request: ReplayRequest } | { ok: false; reason: string } {
  const unknown = Object.keys(value).filter((key) => !REQUEST_KEYS.has(key));
  if (unknown.length > 0) return { ok: false, reason: `unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (from, logType, since and dryRun are read)` };
  const { from, logType, since, dryRun } = value;
  if (!isReplayZone(from)) return { ok: false, reason: `from must be "quarantine" or "dead-letter", got ${from === undefined ? 'nothing' : JSON.stringify(from)}` };
  if (logType !== undefined && (typeof logType !== 'string' || !LOG_TYPE_NAME.test(logType))) return { ok: false, reason: `logType must be a log type name, got ${JSON.stringify(logType)}` };
  if (dryRun !== undefined && typeof dryRun !== 'boolean') return { ok: false, reason: `dryRun must be true or false, got ${JSON.stringify(dryRun)}` };
  let sinceDate: Date | undefined;
  if (since !== undefined) {
    const text = typeof since === 'string' ? since : '';
    sinceDate = DAY.test(text) ? new Date(`${text}T00:00:00Z`) : ISO_TIME.test(text) ? new Date(text) : undefined;
    if (!sinceDate || Number.isNaN(sinceDate.getTime())) return { ok: false, reason: `since must be a day (2026-03-01) or an ISO time with its zone (2026-03-01T12:00:00Z), got ${JSON.stringify(since)}` };
  }
  return {
    ok: true,
    request: { from, dryRun: dryRun ?? false, ...(logType === undefined ? {} : { logType: logType as string }), ...(sinceDate ? { since: sinceDate } : {}) },
  };
}

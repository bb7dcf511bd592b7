import { gunzip, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { isPositiveIntegerText } from '@strata/runtime';
import type { FieldError } from './registry.js';

/**
 * The batch message: how events travel on the Pub/Sub topic, from ingest, from the Node
 * publisher, or from any service in any language (schemas/README.md, "The batch message").
 *
 *   data        NDJSON: one event (a JSON object) per line, "\n"-separated, UTF-8; gzip-compressed
 *               when attribute `encoding` says so
 *   attributes  log_type        every event in the message is of this log type (required)
 *               schema_version  the version every event was written for, when they all share one
 *               event_count     how many events the data holds (checked by the writer)
 *               encoding        "ndjson" | "ndjson+gzip"; absent or "json": data is one JSON event,
 *                               the single-event message direct publishers have always sent
 *               source          who published it ("ingest", "publisher-node", a service name)
 *               kind            absent or "events"; "rejected": each line is a RejectedLine, an event
 *                               ingest refused, to be kept in quarantine with its reasons
 *               pii_protected   set by ingest alone, to the PII key id it protected the data with: the
 *                               writer does not protect it again (pii.ts)
 *
 * Many events per message is the design (BRIEF principle 8): push delivers one message per HTTP
 * request and the writer holds each request until its rows are durable, so a writer's throughput
 * is events-per-message × concurrent pushes ÷ flush age.
 */
export const BATCH_ATTRIBUTES = {
  logType: 'log_type',
  schemaVersion: 'schema_version',
  eventCount: 'event_count',
  encoding: 'encoding',
  source: 'source',
  kind: 'kind',
  piiProtected: 'pii_protected',
} as const;

/**
 * A line of a "rejected" message: an event ingest refused (invalid, outside the time window), sent
 * on so the writer keeps it in quarantine with its reasons, beside what the writer refuses itself.
 * Nothing a producer sent is dropped, and a fixed event can be replayed.
 */
export interface RejectedLine {
  reasons: FieldError[];
  /** Its position in the producer's request. */
  index: number;
  /** The event as the producer sent it. */
  data: unknown;
  /** The id it had or was given, so a replay dedups. */
  event_id?: string;
}

/** The log type a rejected message names when the producer's was missing or unknown. */
export const UNKNOWN_LOG_TYPE = '_unknown';

export const BATCH_ENCODINGS = ['json', 'ndjson', 'ndjson+gzip'] as const;
export type BatchEncoding = (typeof BATCH_ENCODINGS)[number];

const MiB = 1024 * 1024;

/**
 * Pub/Sub allows 10 MB per message and per publish request, attributes included
 * (https://cloud.google.com/pubsub/quotas#resource_limits). Producers aim far lower so that many
 * messages still share one publish request and a push body stays small for the writer.
 */
export const BATCH_LIMITS = {
  /** Producers start a new message once a message's NDJSON (before gzip) would pass this. */
  targetBytes: 1 * MiB,
  /** The most data (as published, after gzip) one message may carry: headroom under 10 MB for attributes and the request. */
  maxDataBytes: 8 * MiB,
  /** The most NDJSON a message may expand to: bounds the writer's memory against gzip bombs. */
  maxDecodedBytes: 32 * MiB,
  /** The most events one message may carry. */
  maxEvents: 10_000,
  /** Below this much NDJSON, gzip saves too little to be worth the CPU on both ends. */
  gzipMinBytes: 1024,
  /** Attribute values are at most 1024 bytes in Pub/Sub. */
  maxSourceLength: 1024,
} as const;

export interface BatchOptions {
  /** Written to the `source` attribute. */
  source: string;
  /** Override the limits (tests, or a producer with tighter memory). */
  targetBytes?: number;
  maxEvents?: number;
  /** false: never compress (a producer that wants readable messages). */
  gzip?: boolean;
  /**
   * Compress on this thread instead of libuv's pool. Right where the caller is itself a worker
   * thread with nothing else to do (ingest's prepare pool): waiting on the pool only adds a hop,
   * and keeps each request's objects alive across it, so more of them survive into the old
   * generation (npm run bench -w @strata/ingest: about a fifth less CPU per event).
   */
  gzipOnThread?: boolean;
  /** "rejected" for a message of RejectedLines. */
  kind?: 'events' | 'rejected';
  /** The key id the events were PII-protected with: ingest's alone, see pii.ts. */
  piiProtected?: string;
}

/** A message ready for `topic.publishMessage({ data, attributes })`. */
export interface BatchMessage {
  data: Buffer;
  attributes: Record<string, string>;
  /** Indexes, into the events given, of the events this message carries, in line order. */
  indexes: number[];
}

export class BatchEncodeError extends Error {
  constructor(
    message: string,
    /** Index of the event that cannot be sent. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'BatchEncodeError';
  }
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

// Level 5 keeps most of gzip's saving on NDJSON for about half the CPU of the default 6 on short batches.
const GZIP_LEVEL = 5;

/** How a message that carries `lines` should be built: gzip only when it pays (≥ 10 % smaller). */
async function buildMessage(
  logType: string,
  lines: string[],
  indexes: number[],
  versions: Set<unknown>,
  options: BatchOptions,
): Promise<BatchMessage> {
  const text = Buffer.from(`${lines.join('\n')}\n`);
  let data = text;
  let encoding: BatchEncoding = 'ndjson';
  if (options.gzip !== false && text.length >= BATCH_LIMITS.gzipMinBytes) {
    const packed = options.gzipOnThread ? gzipSync(text, { level: GZIP_LEVEL }) : await gzipAsync(text, { level: GZIP_LEVEL });
    if (packed.length < text.length * 0.9) {
      data = packed;
      encoding = 'ndjson+gzip';
    }
  }
  const attributes: Record<string, string> = {
    [BATCH_ATTRIBUTES.logType]: logType,
    [BATCH_ATTRIBUTES.eventCount]: String(lines.length),
    [BATCH_ATTRIBUTES.encoding]: encoding,
    [BATCH_ATTRIBUTES.source]: options.source.slice(0, BATCH_LIMITS.maxSourceLength),
    ...(options.kind === 'rejected' ? { [BATCH_ATTRIBUTES.kind]: 'rejected' } : {}),
    ...(options.piiProtected ? { [BATCH_ATTRIBUTES.piiProtected]: options.piiProtected } : {}),
  };
  const [version] = versions;
  if (versions.size === 1 && typeof version === 'number' && Number.isInteger(version) && version > 0) {
    attributes[BATCH_ATTRIBUTES.schemaVersion] = String(version);
  }
  if (data.length > BATCH_LIMITS.maxDataBytes) {
    throw new BatchEncodeError(`event is ${data.length} bytes encoded, more than the ${BATCH_LIMITS.maxDataBytes} a Pub/Sub message may carry`, indexes[0]!);
  }
  return { data, attributes, indexes };
}

/**
 * Events of one log type → as few batch messages as the limits allow, in order. An event is
 * serialised exactly as given (it should already carry its `event_id`, so a redelivered or
 * re-published message dedups by id). Throws BatchEncodeError for an event no message can carry.
 */
export async function encodeBatches(logType: string, events: readonly Record<string, unknown>[], options: BatchOptions): Promise<BatchMessage[]> {
  const targetBytes = options.targetBytes ?? BATCH_LIMITS.targetBytes;
  const maxEvents = Math.min(options.maxEvents ?? BATCH_LIMITS.maxEvents, BATCH_LIMITS.maxEvents);
  const pending: Promise<BatchMessage>[] = [];
  let lines: string[] = [];
  let indexes: number[] = [];
  let versions = new Set<unknown>();
  let bytes = 0;
  const cut = () => {
    if (lines.length) pending.push(buildMessage(logType, lines, indexes, versions, options));
    lines = [];
    indexes = [];
    versions = new Set();
    bytes = 0;
  };
  events.forEach((event, index) => {
    const line = JSON.stringify(event);
    // UTF-16 length undercounts multi-byte text; the byte length is what Pub/Sub counts.
    const size = Buffer.byteLength(line) + 1;
    if (lines.length > 0 && (bytes + size > targetBytes || lines.length >= maxEvents)) cut();
    lines.push(line);
    indexes.push(index);
    versions.add(event.schema_version);
    bytes += size;
  });
  cut();
  return Promise.all(pending);
}

/** One line of a decoded batch: a parsed value, or the parser's message for a line that is not JSON. */
export type BatchLine = { ok: true; value: unknown; bytes: number } | { ok: false; reason: string; text: string; bytes: number };

export type DecodedBatch =
  | { ok: true; encoding: BatchEncoding; lines: BatchLine[] }
  /** The message as a whole cannot be read: nothing in it can be told apart from anything else. */
  | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseLine(text: string): BatchLine {
  const bytes = text.length;
  try {
    return { ok: true, value: JSON.parse(text) as unknown, bytes };
  } catch (err) {
    return { ok: false, reason: (err as Error).message, text, bytes };
  }
}

/** The encoding a message declares; undefined when the attribute names none Strata knows. */
function batchEncodingOf(attributes: Record<string, string>): BatchEncoding | undefined {
  const declared = attributes[BATCH_ATTRIBUTES.encoding] ?? 'json';
  return (BATCH_ENCODINGS as readonly string[]).includes(declared) ? (declared as BatchEncoding) : undefined;
}

/**
 * The writer's side: a message's data and attributes → its events, one result per line, so one
 * bad line never fails its neighbours. Whole-message failures (unknown encoding, broken gzip,
 * not UTF-8, over the limits, an event_count that disagrees with the data) are values too.
 */
export async function decodeBatch(attributes: Record<string, string>, data: Buffer): Promise<DecodedBatch> {
  const encoding = batchEncodingOf(attributes);
  if (!encoding) {
    return { ok: false, reason: `attribute encoding must be one of ${BATCH_ENCODINGS.join(', ')}, got "${attributes[BATCH_ATTRIBUTES.encoding]}"` };
  }
  const rawCount = attributes[BATCH_ATTRIBUTES.eventCount];
  if (rawCount !== undefined && !isPositiveIntegerText(rawCount)) {
    return { ok: false, reason: `attribute event_count must be a positive integer, got "${rawCount}"` };
  }

  let bytes = data;
  if (encoding === 'ndjson+gzip') {
    try {
      // maxOutputLength stops inflating at the limit, so a gzip bomb costs little memory or time.
      bytes = await gunzipAsync(data, { maxOutputLength: BATCH_LIMITS.maxDecodedBytes });
    } catch (err) {
      const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      return { ok: false, reason: tooLarge ? `data inflates to more than ${BATCH_LIMITS.maxDecodedBytes} bytes` : `data is not valid gzip: ${(err as Error).message}` };
    }
  } else if (bytes.length > BATCH_LIMITS.maxDecodedBytes) {
    return { ok: false, reason: `data is larger than ${BATCH_LIMITS.maxDecodedBytes} bytes` };
  }

  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: 'data is not UTF-8' };
  }

  if (encoding === 'json') {
    const line = parseLine(text);
    if (!line.ok) return { ok: false, reason: `data is not JSON (a batch of many events needs attribute encoding=ndjson): ${line.reason}` };
    if (rawCount !== undefined && rawCount !== '1') return { ok: false, reason: `attribute event_count is ${rawCount}, but encoding json carries one event` };
    return { ok: true, encoding, lines: [line] };
  }

  const lines: BatchLine[] = [];
  for (const raw of text.split('\n')) {
    // Blank lines (the final newline, CRLF producers) carry no event and are not counted.
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    if (lines.length === BATCH_LIMITS.maxEvents) return { ok: false, reason: `data holds more than ${BATCH_LIMITS.maxEvents} events` };
    lines.push(parseLine(line));
  }
  if (lines.length === 0) return { ok: false, reason: 'data holds no events' };
  if (rawCount !== undefined && Number(rawCount) !== lines.length) {
    return { ok: false, reason: `attribute event_count is ${rawCount}, but data holds ${lines.length} events` };
  }
  return { ok: true, encoding, lines };
}

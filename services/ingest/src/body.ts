import { createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { isObject, sendError, setOwn } from '@strata/runtime';

/**
 * Reads POST /v1/events bodies in every format producers send, and sets `req.body` to the events
 * as raw values (`unknown[]`); validating each event is prepare's job. Anything it cannot read is
 * answered here with a 4xx in the shared error shape, so the route never sees a half-read body.
 *
 * Formats (by Content-Type):
 * - `application/json`, `application/*+json`: a JSON array of events; a batch object
 *   `{ "common": {…}, "events": [ … ] }`; or one event object (see `eventsFromJson`).
 * - `application/x-ndjson` (and the `ndjson`, `jsonl`, `x-jsonlines` spellings in use): one event
 *   per line, blank lines skipped.
 * - `text/plain` (what `navigator.sendBeacon` sends for a string) and a missing Content-Type
 *   (what fetch and sendBeacon send for an untyped Blob, ArrayBuffer or a CompressionStream's
 *   output): JSON or NDJSON, sniffed (see `sniff`).
 *
 * Encodings: `gzip`, `deflate` (zlib or raw, sniffed: CompressionStream('deflate') is zlib,
 * 'deflate-raw' and some old clients send raw), `identity`. The raw body is capped at
 * `maxBodyBytes` and the decoded body at `maxDecodedBytes`, both counted while streaming, so a
 * gzip bomb costs at most `maxDecodedBytes` of memory and is refused as soon as it passes the cap.
 */
export interface BodyLimits {
  /** Bytes on the wire (after any Content-Encoding, i.e. what the client sends). */
  maxBodyBytes: number;
  /** Bytes after decompression; equals the wire size for identity bodies. */
  maxDecodedBytes: number;
}

/** The names NDJSON goes by. */
const NDJSON_MEDIA_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines'] as const;
const NDJSON_TYPES: ReadonlySet<string> = new Set(NDJSON_MEDIA_TYPES);

/** The media types accepted, as listed in a 415 answer. */
export const ACCEPTED_MEDIA_TYPES = ['application/json', 'application/*+json', ...NDJSON_MEDIA_TYPES, 'text/plain'] as const;

export const ACCEPTED_ENCODINGS = ['gzip', 'deflate', 'identity'] as const;

/** How the body's events are written: decided from Content-Type; `sniff` reads JSON or NDJSON. */
export type BodyFormat = 'json' | 'ndjson' | 'sniff';
type Format = BodyFormat;
type Coding = 'gzip' | 'deflate' | 'identity';

/** A refusal, mapped to an answer by the middleware (or, for a body parsed later, by the route). */
export interface Refusal {
  ok: false;
  status: number;
  code: string;
  reason: string;
  details?: Record<string, unknown>;
  /** Stop reading the connection: the rest of the body is not worth receiving. */
  close?: boolean;
}
export type Result<T> = { ok: true; value: T } | Refusal;

const refuse = (status: number, code: string, reason: string, details?: Record<string, unknown>): Refusal => ({ ok: false, status, code, reason, details });

/**
 * `events` (the default): `req.body` is the events, as described above. `json`: `req.body` is the
 * body's one JSON value, whatever its shape (the Segment routes read their own call objects,
 * see segment.ts); the same limits, encodings and UTF-8 rules apply. `bytes`: `req.body` is a
 * RawBody, read, decoded and bounded but not yet parsed: the route parses it with
 * parseEventBody, possibly on a worker thread (prepare-pool.ts), which is where the CPU goes.
 */
export type BodyShape = 'events' | 'json' | 'bytes';

/** A body as read, decompressed and size-checked, with the format its Content-Type named. */
export interface RawBody {
  bytes: Uint8Array;
  format: BodyFormat;
}

export function createBodyReader(limits: BodyLimits, shape: BodyShape = 'events'): RequestHandler {
  return (req, res, next) => {
    const answer = (refusal: Refusal): void => {
      if (refusal.close) res.set('connection', 'close');
      sendError(res, refusal.status, refusal.code, refusal.reason, refusal.details);
    };
    const headers = readHeaders(req, limits);
    if (!headers.ok) {
      answer(headers);
      return;
    }
    readBody(req, headers.value.coding, limits).then(
      (bytes) => {
        if (!bytes.ok) return answer(bytes);
        if (shape === 'bytes') {
          req.body = { bytes: bytes.value, format: headers.value.format } satisfies RawBody;
          return next();
        }
        const events = shape === 'json' ? parseValue(bytes.value) : parseEventBody(bytes.value, headers.value.format);
        if (!events.ok) return answer(events);
        req.body = events.value;
        next();
      },
      // readBody settles every expected failure as a value; a rejection is a bug.
      next,
    );
  };
}

/** Everything decided before reading a byte of the body: format, coding, declared length. */
function readHeaders(req: IncomingMessage, limits: BodyLimits): Result<{ format: Format; coding: Coding }> {
  const format = formatOf(req.headers['content-type']);
  if (!format.ok) return format;
  const coding = codingOf(req.headers['content-encoding']);
  if (!coding.ok) return coding;
  // Node has already rejected a malformed Content-Length (400), so a present one is digits.
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBodyBytes) {
    return { ...tooLarge(limits.maxBodyBytes, 'body'), close: true };
  }
  return { ok: true, value: { format: format.value, coding: coding.value } };
}

function formatOf(header: string | undefined): Result<Format> {
  // No Content-Type: fetch() and sendBeacon() send none for an untyped Blob or ArrayBuffer,
  // which is how a browser posts a CompressionStream's output. Sniffing reads both JSON and
  // NDJSON, so such a body is read as text/plain would be rather than refused.
  if (header === undefined || header.trim() === '') return { ok: true, value: 'sniff' };
  const [rawType = '', ...params] = header.split(';');
  const type = rawType.trim().toLowerCase();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    // JSON is UTF-8 on the wire (RFC 8259 §8.1); anything else would need transcoding we do not do.
    if (charset !== 'utf-8' && charset !== 'utf8') {
      return refuse(415, 'unsupported_charset', `charset ${charset} is not supported; send UTF-8 (charset=utf-8 or no charset)`, { accepted: ['utf-8'] });
    }
  }
  if (type === 'application/json' || /^application\/[^/]+\+json$/.test(type)) return { ok: true, value: 'json' };
  if (NDJSON_TYPES.has(type)) return { ok: true, value: 'ndjson' };
  if (type === 'text/plain') return { ok: true, value: 'sniff' };
  return refuse(415, 'unsupported_media_type', `content type ${type} is not supported; send one of ${ACCEPTED_MEDIA_TYPES.join(', ')}`, {
    accepted: [...ACCEPTED_MEDIA_TYPES],
  });
}

function codingOf(header: string | undefined): Result<Coding> {
  const codings = (header ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return { ok: true, value: 'identity' };
  const unsupported = (what: string) =>
    refuse(415, 'unsupported_encoding', `content encoding ${what} is not supported; send one of ${ACCEPTED_ENCODINGS.join(', ')}`, {
      accepted: [...ACCEPTED_ENCODINGS],
    });
  // Stacked codings (gzip, gzip) multiply a bomb's ratio and no producer sends them.
  if (codings.length > 1) return unsupported(codings.join(', '));
  const [coding] = codings;
  if (coding === 'gzip' || coding === 'x-gzip') return { ok: true, value: 'gzip' };
  if (coding === 'deflate') return { ok: true, value: 'deflate' };
  return unsupported(String(coding));
}

function tooLarge(limit: number, what: 'body' | 'decompressed body'): Refusal {
  return refuse(413, 'payload_too_large', `${what} is larger than the limit of ${limit} bytes; send fewer events per request`, { limit });
}

/**
 * Reads and decodes the body, counting bytes on both sides of the decoder as they stream. Each
 * limit is enforced the moment it is passed: the decoder is destroyed, so a bomb is inflated only
 * up to `maxDecodedBytes` and never held whole. Settles with a value, never rejects.
 */
function readBody(req: IncomingMessage, coding: Coding, limits: BodyLimits): Promise<Result<Buffer>> {
  const preRead = alreadyRead(req);
  if (preRead) {
    // The same limits as the stream path: an identity body is held to the smaller of the two.
    if (coding === 'identity') {
      const max = Math.min(limits.maxBodyBytes, limits.maxDecodedBytes);
      return Promise.resolve(preRead.length > max ? tooLarge(max, 'body') : { ok: true, value: preRead });
    }
    return Promise.resolve(preRead.length > limits.maxDecodedBytes ? tooLarge(limits.maxDecodedBytes, 'decompressed body') : { ok: true, value: preRead });
  }
  return new Promise((resolve) => {
    const decodedChunks: Buffer[] = [];
    let rawBytes = 0;
    let decodedBytes = 0;
    let decoder: Transform | undefined;
    // deflate is zlib-wrapped or raw; which one is known from the first two bytes.
    let head: Buffer | undefined;
    let settled = false;

    const settle = (result: Result<Buffer>): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('aborted', onAborted);
      req.off('close', onClose);
      if (decoder) {
        decoder.off('data', onDecoded);
        decoder.destroy();
      }
      // A refusal leaves the rest of the body unread: discard it so the answer can be written
      // (a 413 for the raw size also closes the connection, so a huge upload is not drained).
      if (!result.ok) req.resume();
      resolve(result);
    };

    const onDecoded = (chunk: Buffer): void => {
      decodedBytes += chunk.length;
      if (decodedBytes > limits.maxDecodedBytes) return settle(tooLarge(limits.maxDecodedBytes, 'decompressed body'));
      decodedChunks.push(chunk);
    };
    const finish = (): void => settle({ ok: true, value: Buffer.concat(decodedChunks, decodedBytes) });

    const startDecoder = (first: Buffer): Transform => {
      const d = coding === 'gzip' ? createGunzip() : isZlibHeader(first) ? createInflate() : createInflateRaw();
      d.on('data', onDecoded);
      d.on('end', finish);
      d.on('error', (err: Error) => settle(refuse(400, 'invalid_encoding', `body is not valid ${coding} data: ${err.message}`)));
      // Backpressure: stop reading the socket while the decoder is behind.
      d.on('drain', () => req.resume());
      return d;
    };
    const feed = (chunk: Buffer): void => {
      if (!decoder) {
        head = head ? Buffer.concat([head, chunk]) : chunk;
        if (head.length < 2) return;
        chunk = head;
        head = undefined;
        decoder = startDecoder(chunk);
      }
      if (!decoder.write(chunk)) req.pause();
    };

    // Without a coding the wire bytes are the decoded bytes: one limit, the smaller, named as the body's.
    const maxRawBytes = coding === 'identity' ? Math.min(limits.maxBodyBytes, limits.maxDecodedBytes) : limits.maxBodyBytes;
    function onData(chunk: Buffer): void {
      rawBytes += chunk.length;
      if (rawBytes > maxRawBytes) return settle({ ...tooLarge(maxRawBytes, 'body'), close: true });
      if (coding === 'identity') {
        decodedBytes += chunk.length;
        decodedChunks.push(chunk);
        return;
      }
      feed(chunk);
    }
    function onEnd(): void {
      if (coding === 'identity') return finish();
      if (!decoder) {
        if (!head) return finish(); // an empty body; empty_body is decided by the parser
        decoder = startDecoder(head);
        decoder.write(head);
      }
      decoder.end();
    }
    function onAborted(): void {
      settle(refuse(400, 'request_aborted', 'the client closed the request before the body arrived'));
    }
    // 'close' before 'end' means the connection went away mid-body (or the server's request
    // timeout destroyed it); after a completed body it is harmless and settle ignores it.
    function onClose(): void {
      if (!req.complete) onAborted();
    }

    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('aborted', onAborted);
    req.on('close', onClose);
  });
}

/**
 * The body a server in front of the app has read already, or undefined. Deployed as a Cloud Run
 * function, the Functions Framework runs body-parser on every request before the app sees it: the
 * stream is drained (reading it would wait forever) and the bytes, already decompressed by
 * body-parser per Content-Encoding, are kept on `req.rawBody`. The caller applies the same size
 * limits to them, so what the app accepts is the same; but the memory is spent by then.
 *
 * Known limit of that deployment, not fixable from inside the app: body-parser inflates up to
 * 1 GiB before authentication, so there a gzip bomb costs memory before it is refused; invalid
 * JSON sent as application/json, raw deflate and x-gzip are answered by the framework (HTML 400
 * or 415) before the app runs. `npm start` and a Cloud Run service running main.ts stream the body
 * and refuse a bomb after maxDecodedBytes.
 */
function alreadyRead(req: IncomingMessage): Buffer | undefined {
  const raw = (req as IncomingMessage & { rawBody?: unknown }).rawBody;
  return Buffer.isBuffer(raw) && req.readableEnded ? raw : undefined;
}

/** RFC 1950 §2.2: CM = 8 (deflate) in the low nibble of CMF, and CMF·256 + FLG divisible by 31. */
function isZlibHeader(bytes: Buffer): boolean {
  const cmf = bytes[0] ?? 0;
  const flg = bytes[1] ?? 0;
  return (cmf & 0x0f) === 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 === 0;
}

// fatal: invalid UTF-8 is refused rather than stored as U+FFFD. A leading BOM is dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Uint8Array): Result<string> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    return refuse(400, 'invalid_utf8', `body is not valid UTF-8 at byte offset ${offset} (counted after any Content-Encoding is decoded)`, { offset });
  }
  if (text.trim() === '') return refuse(400, 'empty_body', 'body is empty; send a JSON array of events, a batch object or NDJSON');
  return { ok: true, value: text };
}

/** The body as one JSON value, for routes that read their own shape. */
function parseValue(bytes: Buffer): Result<unknown> {
  const text = decodeText(bytes);
  if (!text.ok) return text;
  const parsed = tryParse(text.value);
  return parsed.ok ? parsed : refuse(400, 'invalid_json', `body is not valid JSON: ${parsed.message}`);
}

/** A read body → its events (JSON array, batch object, one event, or NDJSON), or the 400 that says why not. */
export function parseEventBody(bytes: Uint8Array, format: BodyFormat): Result<unknown[]> {
  const decoded = decodeText(bytes);
  if (!decoded.ok) return decoded;
  const text = decoded.value;
  if (format === 'json') return parseJson(text);
  if (format === 'ndjson') return parseNdjson(text);
  return sniff(text);
}

/**
 * text/plain and untyped bodies: a body whose first non-space character is `[` is JSON (an array
 * is never a single event, so reading it as NDJSON could only give worse errors). One starting
 * with `{` is JSON if it parses whole (one event or a batch object), else NDJSON (several
 * objects, one per line). Anything else is NDJSON, whose errors name the line.
 */
function sniff(text: string): Result<unknown[]> {
  const first = text.trimStart()[0];
  if (first === '[') return parseJson(text);
  if (first === '{') {
    const whole = tryParse(text);
    if (whole.ok) return eventsFromJson(whole.value);
  }
  return parseNdjson(text);
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

function parseJson(text: string): Result<unknown[]> {
  const parsed = tryParse(text);
  if (!parsed.ok) return refuse(400, 'invalid_json', `body is not valid JSON: ${parsed.message}`);
  return eventsFromJson(parsed.value);
}

function parseNdjson(text: string): Result<unknown[]> {
  const events: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const parsed = tryParse(line);
    if (!parsed.ok) return refuse(400, 'invalid_ndjson', `line ${i + 1} is not valid JSON: ${parsed.message}`, { line: i + 1 });
    events.push(parsed.value);
  }
  return { ok: true, value: events };
}

const BATCH_KEYS = new Set(['common', 'events']);

/**
 * The top-level JSON value → events.
 * - An array: its elements are the events.
 * - An object with an own `events` key: a batch object; `common` is merged into every event.
 *   Any other key is refused, so a typo (`comon`) is not silently dropped.
 * - Any other object: one event. A service posting a single event sends exactly that, and an
 *   NDJSON body of one line means the same; `events` is the one top-level field name a lone
 *   event cannot have (wrap it in an array to send one).
 * - A scalar or null: not events at all.
 */
function eventsFromJson(value: unknown): Result<unknown[]> {
  if (Array.isArray(value)) return { ok: true, value };
  if (!isObject(value)) {
    return refuse(400, 'invalid_body', 'body must be a JSON array of events, a batch object {"common": {…}, "events": […]} or one event object');
  }
  if (!Object.hasOwn(value, 'events')) return { ok: true, value: [value] };
  const unknown = Object.keys(value).filter((k) => !BATCH_KEYS.has(k));
  if (unknown.length > 0) {
    return refuse(400, 'invalid_batch', `a batch object has only "common" and "events"; unexpected ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  const { events, common } = value;
  if (!Array.isArray(events)) return refuse(400, 'invalid_batch', 'a batch object\'s "events" must be an array of events');
  if (common === undefined) return { ok: true, value: events };
  if (!isObject(common)) return refuse(400, 'invalid_batch', 'a batch object\'s "common" must be an object of fields shared by every event');
  // A non-object event is left as it came, so prepare rejects it at its own index.
  return { ok: true, value: events.map((event) => (isObject(event) ? mergeCommon(common, event) : event)) };
}

/**
 * `common` under `event`: the event's own fields win (an explicit null included), and `context`
 * merges one level deep so hoisted `context.user_agent` joins an event's own `context.page`.
 *
 * Keys are copied with setOwn, never by plain assignment, spread into an existing object or
 * Object.assign: JSON.parse makes `"__proto__"` an ordinary own key, and assigning it would set
 * the merged event's prototype instead. Copied this way it stays the inert own field it was.
 */
export function mergeCommon(common: Record<string, unknown>, event: Record<string, unknown>): Record<string, unknown> {
  const merged = shallowMerge(common, event);
  const commonContext = ownValue(common, 'context');
  const eventContext = Object.hasOwn(event, 'context') ? event.context : {};
  // Each event gets its own context object, so changing one event's context cannot reach the
  // others (values below context stay shared: they are JSON, and later steps copy on write).
  if (isObject(commonContext) && isObject(eventContext)) setOwn(merged, 'context', shallowMerge(commonContext, eventContext));
  return merged;
}

function shallowMerge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(under)) setOwn(merged, key, under[key]);
  for (const key of Object.keys(over)) setOwn(merged, key, over[key]);
  return merged;
}

function ownValue(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Offset of the first byte that starts an ill-formed UTF-8 sequence (Unicode 15, table 3-7), for
 * the error message only; the fast path is TextDecoder.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

import { Agent, createServer, request, type AgentOptions, type Server } from 'node:http';
import { connect } from 'node:net';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { createLogger, listen } from '@strata/runtime';
import { createPiiHasher, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import { makeEvent } from '@strata/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { testKeys } from './keys.fake.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * Hostile input against the real app over real HTTP (issue 8, part 10): ≥ 10,000 generated bad
 * requests. Every answer must be < 500, in the shared JSON error shape, with a reason for every
 * refusal and every rejected event, and must agree with what reached the publisher. Afterwards
 * the process still serves a valid request and Object.prototype is untouched.
 *
 * Requests go over one keep-alive connection with node:http (supertest opens a server per call,
 * which at this count costs more than the app itself). Runs are sequential on purpose: the
 * publisher's messages are attributed to the one request in flight.
 *
 * Reproduce a failure with FUZZ_SEED=<seed printed at the start> (fast-check also prints the
 * seed and path of the shrunk counterexample).
 */

const KEY = 'fuzz-key';
// Small limits keep huge strings and bombs cheap; the code paths are the same as at 1 MiB.
const MAX_BODY_BYTES = 64 * 1024;
const MAX_DECODED_BYTES = 256 * 1024;
const MAX_EVENTS = 500;
const NOW = new Date('2026-11-21T12:00:00.000Z');
// The whole file must stay well inside vitest's 60 s on two shared cores; each property is timed alone.
const PROPERTY_TIMEOUT_MS = 20_000;
// A request that takes longer than this on loopback is hanging.
const REQUEST_TIMEOUT_MS = 5_000;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ Math.floor(Math.random() * 0x7fffffff);

const silent = createLogger({ service: 'ingest', level: 'silent' });
const registry = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: silent });
const publisher = new FakePublisher();
let nextId = 0;
const app = createApp({
  config: {
    keys: testKeys(KEY),
    maxEventsPerRequest: MAX_EVENTS,
    maxBodyBytes: MAX_BODY_BYTES,
    maxDecodedBytes: MAX_DECODED_BYTES,
    projectId: 'p',
    eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW,
  },
  registry,
  publisher,
  hash: createPiiHasher('test-secret-0123456789'),
  logger: silent,
  newId: () => `id-${++nextId}`,
  now: () => NOW,
});

// ---------------------------------------------------------------------------------------------
// Cases and what each must get

type Expectation =
  /** Anything within the contract: a generated edit may happen to leave the body valid. */
  | { kind: 'any' }
  /** Nothing may be accepted: a 4xx, or 202 with every event rejected. */
  | { kind: 'reject' }
  /** This exact status (e.g. 413 for a bomb). */
  | { kind: 'status'; status: number }
  /** 202 with exactly these request indexes rejected and the rest accepted. */
  | { kind: 'events'; total: number; rejected: number[]; path?: string };

interface Case {
  headers: Record<string, string>;
  body: Uint8Array;
  expect: Expectation;
  /** A key the published event must still carry as an own field, if the event is accepted. */
  keeps?: string;
}

const GENERATORS = [
  'malformed JSON',
  'deep nesting',
  'huge strings',
  '__proto__ / constructor / prototype keys',
  'bad UTF-8',
  'lone surrogates',
  'out-of-range numbers',
  'bad timestamps',
  'gzip bombs and broken gzip',
  'content types, encodings, charsets',
  'wrong type per field',
  'unknown log types and versions',
  'NDJSON with bad lines',
  'client aborts mid-body',
] as const;
type Generator = (typeof GENERATORS)[number];
const counts = new Map<Generator, number>(GENERATORS.map((g) => [g, 0]));

const enc = new TextEncoder();
const bytes = (text: string): Uint8Array => enc.encode(text);
const json = { 'x-api-key': KEY, 'content-type': 'application/json' };
const ndjson = { 'x-api-key': KEY, 'content-type': 'application/x-ndjson' };
const textPlain = { 'x-api-key': KEY, 'content-type': 'text/plain' };

/** A valid user_action, deterministic so a seed reproduces the same bytes. */
const validEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => makeEvent({ user_id: 'user-fuzz', ...overrides });

/**
 * A marker JSON.stringify leaves alone, so raw text (1e309, "\ud800", 10,000 brackets, a
 * "__proto__" key) can be spliced into a body without a JS object ever holding it.
 */
const MARK = '\u0001@';
const MARK_JSON = JSON.stringify(MARK);
const splice = (text: string, raw: string): string => text.replace(MARK_JSON, raw);

/** A deep copy of `obj` with `value` set at `path` (creating objects on the way). */
function withPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj);
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path.at(-1)!] = value;
  return copy;
}

/** Where a raw value is put in an otherwise valid event, and whether it is a typed field. */
const PLACES = {
  unknownTop: ['x_extra'],
  unknownNested: ['x_extra', 'a', 'b'],
  context: ['context', 'locale'],
  page: ['context', 'page', 'title'],
  known: ['page_url'],
} as const satisfies Record<string, readonly string[]>;
type Place = keyof typeof PLACES;

/** Wraps one event's text as the body formats producers send: array, single object, NDJSON, batch, text/plain. */
const framing = fc.constantFrom('array', 'object', 'ndjson', 'batch', 'plain');
function frame(eventText: string, how: string, withValidNeighbour = false): { headers: Record<string, string>; text: string } {
  const neighbour = JSON.stringify(validEvent());
  if (how === 'ndjson') return { headers: ndjson, text: withValidNeighbour ? `${eventText}\n${neighbour}\n` : `${eventText}\n` };
  if (how === 'object' && !withValidNeighbour) return { headers: json, text: eventText };
  const list = withValidNeighbour ? `[${eventText},${neighbour}]` : `[${eventText}]`;
  if (how === 'batch') return { headers: json, text: `{"common":{"session_id":"s-common"},"events":${list}}` };
  if (how === 'plain') return { headers: textPlain, text: list };
  return { headers: json, text: list };
}

const gzipMaybe = (c: Case, gzip: boolean): Case =>
  gzip ? { ...c, headers: { ...c.headers, 'content-encoding': 'gzip' }, body: gzipSync(c.body) } : c;

// ---------------------------------------------------------------------------------------------
// Generators: each yields a complete request

/** Truncations and random edits of a valid body. An edit may leave valid JSON; a truncation of an array never does. */
const malformedJson: fc.Arbitrary<Case> = fc
  .record({
    events: fc.integer({ min: 1, max: 3 }),
    how: fc.constantFrom('array', 'batch', 'plain', 'ndjson'),
    mutation: fc.oneof(
      fc.record({ op: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
      fc.record({
        op: fc.constant('edit' as const),
        edits: fc.array(
          fc.record({
            kind: fc.constantFrom('delete', 'insert', 'replace'),
            at: fc.double({ min: 0, max: 0.999, noNaN: true }),
            char: fc.oneof(fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', "'", '\n', ' ', 'NaN', 'undefined', '//', '/*', '0x1F', '\u0000'), fc.string({ maxLength: 3 })),
          }),
          { minLength: 1, maxLength: 5 },
        ),
      }),
    ),
  })
  .map(({ events, how, mutation }): Case => {
    const list = Array.from({ length: events }, () => validEvent());
    let text =
      how === 'ndjson' ? list.map((e) => JSON.stringify(e)).join('\n') : how === 'batch' ? JSON.stringify({ common: { session_id: 's' }, events: list }) : JSON.stringify(list);
    const headers = how === 'ndjson' ? ndjson : how === 'plain' ? textPlain : json;
    if (mutation.op === 'truncate') {
      text = text.slice(0, Math.floor(mutation.at * text.length));
      // Cut NDJSON may end on a line boundary and still be valid; a cut JSON document never is.
      return { headers, body: bytes(text), expect: how === 'ndjson' ? { kind: 'any' } : { kind: 'reject' } };
    }
    for (const e of mutation.edits) {
      const i = Math.floor(e.at * text.length);
      if (e.kind === 'delete') text = text.slice(0, i) + text.slice(i + 1);
      else if (e.kind === 'insert') text = text.slice(0, i) + e.char + text.slice(i);
      else text = text.slice(0, i) + e.char + text.slice(i + 1);
    }
    return { headers, body: bytes(text), expect: { kind: 'any' } };
  });

/** Nested text built as a string: JSON.stringify itself recurses and would overflow at these depths. */
function nested(depth: number, pattern: number, leaf: string): string {
  let open = '';
  let close = '';
  let bits = pattern >>> 0;
  for (let i = 0; i < depth; i++) {
    // xorshift: a mix of arrays and objects along the path, reproducible from the pattern.
    bits ^= bits << 13;
    bits ^= bits >>> 17;
    bits ^= bits << 5;
    bits >>>= 0;
    if (bits & 1) {
      open += '[';
      close = ']' + close;
    } else {
      open += '{"n":';
      close = '}' + close;
    }
  }
  return open + leaf + close;
}

const deepNesting: fc.Arbitrary<Case> = fc
  .record({
    // Past about 4,200 levels JSON.stringify overflows the stack; rejected events that deep are kept
    // in quarantine as a stand-in (runtime's storable), which this range crosses.
    depth: fc.oneof(fc.integer({ min: 50, max: 500 }), fc.integer({ min: 500, max: 10_000 })),
    pattern: fc.integer({ min: 1 }),
    kind: fc.constantFrom('arrays', 'objects', 'mixed'),
    where: fc.constantFrom('body', 'event', 'unknown field', 'context', 'common', 'ndjson line'),
  })
  .map(({ depth, pattern, kind, where }): Case => {
    const deep =
      kind === 'arrays' ? '['.repeat(depth) + '1' + ']'.repeat(depth) : kind === 'objects' ? '{"n":'.repeat(depth) + '1' + '}'.repeat(depth) : nested(depth, pattern, '1');
    const event = JSON.stringify(validEvent({ x_deep: MARK }));
    switch (where) {
      case 'body':
        return { headers: json, body: bytes(deep), expect: { kind: 'reject' } };
      case 'event':
        return { headers: json, body: bytes(`[${deep}]`), expect: { kind: 'reject' } };
      case 'unknown field':
        return { headers: json, body: bytes(`[${splice(event, deep)}]`), expect: { kind: 'reject' } };
      case 'context':
        return { headers: json, body: bytes(`[${splice(JSON.stringify(validEvent({ context: MARK })), deep)}]`), expect: { kind: 'reject' } };
      case 'common':
        return { headers: json, body: bytes(`{"common":{"x_deep":${deep}},"events":[${JSON.stringify(validEvent())}]}`), expect: { kind: 'reject' } };
      default:
        return { headers: ndjson, body: bytes(`${JSON.stringify(validEvent())}\n${splice(event, deep)}\n`), expect: { kind: 'events', total: 2, rejected: [1] } };
    }
  });

/** Strings up to past the body limit, in typed fields (all capped far below), unknown fields and keys. */
const hugeStrings: fc.Arbitrary<Case> = fc
  .record({
    length: fc.oneof(fc.integer({ min: 2_049, max: 20_000 }), fc.integer({ min: 20_000, max: 70_000 })),
    // 1-, 2-, 3- and 4-byte UTF-8 (the last is two UTF-16 units): byte and character limits differ.
    char: fc.constantFrom('a', 'é', '€', '😀', '\\n', '\\u0041'),
    where: fc.constantFrom('page_url', 'product_id', 'search_query', 'user_id', 'event', 'ts', 'event_id', 'log_type', 'context.user_agent', 'unknown value', 'key', 'context key'),
    gzip: fc.boolean(),
  })
  .map(({ length, char, where, gzip }): Case => {
    // `length` characters (code points, as JSON Schema's maxLength counts them); escapes are one each once parsed.
    const s = char.repeat(length);
    const raw = `"${s}"`;
    let text: string;
    if (where === 'key') text = JSON.stringify(validEvent()).replace(/}$/, `,${raw}:1}`);
    else if (where === 'context key') text = splice(JSON.stringify(validEvent({ context: MARK })), `{${raw}:"x"}`);
    else if (where === 'unknown value') text = splice(JSON.stringify(validEvent({ x_big: MARK })), raw);
    else text = splice(JSON.stringify(withPath(validEvent(), where.split('.'), MARK)), raw);
    const body = bytes(`[${text}]`);
    // Every typed field is capped at ≤ 2048 characters and keys at 256, so those are refused; an
    // unknown value may hold 64 Ki UTF-16 units (and may then pass or exceed the body limit).
    const expect: Expectation = where === 'unknown value' ? { kind: 'any' } : { kind: 'reject' };
    return gzipMaybe({ headers: json, body, expect }, gzip);
  });

/**
 * `__proto__`, `constructor`, `prototype` as keys at every level, with values that would pollute
 * or shadow if a merge assigned them. JSON.parse makes them ordinary own keys; any later
 * assignment (merge, spread into an existing object) would turn them into a prototype.
 */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
const protoKeys: fc.Arbitrary<Case> = fc
  .record({
    key: fc.constantFrom(...PROTO_KEYS),
    value: fc.constantFrom('{"polluted":"yes"}', '{"toString":1,"hasOwnProperty":"x"}', '{"prototype":{"polluted":"yes"}}', '"yes"', 'null', '[1,2]', '1'),
    where: fc.constantFrom('event', 'context', 'page', 'unknown nested', 'common', 'common context', 'batch', 'single object', 'ndjson', 'array element'),
    gzip: fc.boolean(),
  })
  .map(({ key, value, where, gzip }): Case => {
    const member = `"${key}":${value}`;
    const event = JSON.stringify(validEvent());
    const addTo = (objectText: string) => objectText.replace(/^{/, `{${member},`);
    let text: string;
    let headers = json;
    let keeps: string | undefined;
    switch (where) {
      case 'event':
        text = `[${addTo(event)}]`;
        keeps = key;
        break;
      case 'context':
        text = `[${splice(JSON.stringify(validEvent({ context: MARK })), addTo(JSON.stringify(validEvent().context)))}]`;
        break;
      case 'page':
        text = `[${splice(JSON.stringify(validEvent({ context: { locale: 'de-DE', page: MARK } })), `{${member},"url":"https://a.example/"}`)}]`;
        break;
      case 'unknown nested':
        text = `[${splice(JSON.stringify(validEvent({ x_meta: MARK })), `{"a":{${member}}}`)}]`;
        break;
      case 'common':
        text = `{"common":{${member},"session_id":"s"},"events":[${event}]}`;
        keeps = key;
        break;
      case 'common context':
        text = `{"common":{"context":{${member}}},"events":[${event}]}`;
        break;
      case 'batch':
        text = `{${member},"events":[${event}]}`;
        break;
      case 'single object':
        text = addTo(event);
        keeps = key;
        break;
      case 'ndjson':
        text = `${addTo(event)}\n${event}\n`;
        headers = ndjson;
        keeps = key;
        break;
      default:
        text = `[${event},{${member}}]`;
    }
    return gzipMaybe({ headers, body: bytes(text), expect: { kind: 'any' }, keeps }, gzip);
  });

/** Ill-formed UTF-8 (Unicode table 3-7): stray continuations, overlongs, CESU surrogates, > U+10FFFF, truncated sequences. */
const BAD_UTF8 = [[0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf0, 0x80, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff], [0xfe], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]];
const badUtf8: fc.Arbitrary<Case> = fc
  .record({
    seqs: fc.array(fc.record({ seq: fc.constantFrom(...BAD_UTF8), at: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 3 }),
    how: framing,
    gzip: fc.boolean(),
  })
  .map(({ seqs, how, gzip }): Case => {
    const { headers, text } = frame(JSON.stringify(validEvent({ search_query: 'blue mug', x_note: 'über' })), how);
    let body = Buffer.from(text);
    for (const { seq, at } of seqs) {
      const i = Math.floor(at * body.length);
      body = Buffer.concat([body.subarray(0, i), Buffer.from(seq), body.subarray(i)]);
    }
    return gzipMaybe({ headers, body, expect: { kind: 'reject' } }, gzip);
  });

/** Lone surrogate escapes: valid JSON, not text. In values, keys, nested, and as a reversed pair. */
const loneSurrogates: fc.Arbitrary<Case> = fc
  .record({
    escape: fc.oneof(
      fc.constantFrom('\\ud800', '\\udfff', '\\ud83d', '\\ude00\\ud83d', '\\uDBFF', 'ok\\ud800ok', '\\ud800\\ud800'),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((u) => `x\\u${u.toString(16)}`),
    ),
    where: fc.constantFrom<Place | 'key' | 'context key' | 'log_type' | 'event_id' | 'array item'>(...(Object.keys(PLACES) as Place[]), 'key', 'context key', 'log_type', 'event_id', 'array item'),
    how: framing,
  })
  .map(({ escape, where, how }): Case => {
    const raw = `"${escape}"`;
    let event: string;
    if (where === 'key') event = JSON.stringify(validEvent()).replace(/}$/, `,${raw}:1}`);
    else if (where === 'context key') event = splice(JSON.stringify(validEvent({ context: MARK })), `{${raw}:"x"}`);
    else if (where === 'log_type' || where === 'event_id') event = splice(JSON.stringify(validEvent({ [where]: MARK })), raw);
    else if (where === 'array item') event = splice(JSON.stringify(validEvent({ x_tags: ['a', MARK] })), raw);
    else event = splice(JSON.stringify(withPath(validEvent(), PLACES[where], MARK)), raw);
    const { headers, text } = frame(event, how, true);
    // The good neighbour is accepted, the event with the surrogate is kept in quarantine with why.
    return { headers, body: bytes(text), expect: { kind: 'events', total: 2, rejected: [0] } };
  });

/** Numbers JSON allows and doubles cannot hold: 1e309, -1e400, 400-digit integers; and past a field's range. */
const RANGED: Record<string, (n: number) => boolean> = {
  price: (n) => n >= 0 && n <= 100_000_000,
  quantity: (n) => Number.isInteger(n) && n >= 0 && n <= 100_000,
  position: (n) => Number.isInteger(n) && n >= 0 && n <= 10_000,
  // Routing: a positive integer naming a version that exists (user_action has 1 and 2).
  schema_version: (n) => n === 1 || n === 2,
};
const outOfRange: fc.Arbitrary<Case> = fc
  .record({
    number: fc.oneof(
      fc.constantFrom('1e309', '-1e309', '-1e400', '1E+400', '1e-400', '-0', '1.7976931348623159e308', '9007199254740993', '-9007199254740993', '123456789012345678901234567890', '1e308', '0.1e-999', '100000000.0000001'),
      fc.stringMatching(/^-?[1-9][0-9]{16,400}$/),
      fc.stringMatching(/^-?[0-9]\.[0-9]{1,20}[eE][+-]?[0-9]{3,5}$/),
    ),
    field: fc.constantFrom('price', 'quantity', 'position', 'schema_version', 'x_amount', 'x_nested', 'context.locale'),
  })
  .map(({ number, field }): Case => {
    const value = Number(number);
    const path = field === 'x_nested' ? ['x_nested', 'list'] : field.split('.');
    const event = splice(JSON.stringify(withPath(validEvent(), path, MARK)), field === 'x_nested' ? `[0,${number}]` : number);
    const check = RANGED[field];
    const bad = !Number.isFinite(value) || field === 'context.locale' || (check !== undefined && !check(value));
    return { headers: json, body: bytes(`[${event}]`), expect: bad ? { kind: 'events', total: 1, rejected: [0] } : { kind: 'any' } };
  });

/** Timestamps that are not RFC 3339, not a real date, or outside the window (7 days late, 1 hour ahead). */
const BAD_TS = [
  '0000-01-01T00:00:00Z', '0000-12-31T23:59:59.999999Z', '2026-02-30T10:00:00Z', '2025-02-29T10:00:00Z', '2026-04-31T10:00:00Z',
  '2026-11-21T10:15:30', '2026-11-21T10:15:30.123', '2026-11-21T10:15:30+0100', '2026-11-21T10:15:30+01', '2026-11-21T10:15:30+24:00',
  '2026-11-21T10:15:30+05:60', '2026-11-21T24:00:00Z', '2026-11-21T23:59:60Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z',
  '2026-11-00T00:00:00Z', '2026-11-21T10:15:30.Z', '2026-11-21T10:15:30.1234567890Z', '2026-11-21', '2026-W47-6', '+002026-11-21T10:00:00Z',
  '１９７０-01-01T00:00:00Z', '2026-11-21T10:15:30Z\n', ' 2026-11-21T10:15:30Z', '2026-11-21T10:15:30ZZ', '', 'NaN', 'now', '1763719200',
  '2026/11/21T10:15:30Z', '21.11.2026 10:15', 'Sat, 21 Nov 2026 10:15:30 GMT', '9999-12-31T23:59:59Z', '0001-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z', '2100-01-01T00:00:00Z', '2026-11-14T11:59:59Z', '2026-11-21T13:00:01Z', '2026-11-21T12:00:00-23:59',
] as const;
const badTimestamps: fc.Arbitrary<Case> = fc
  .record({
    ts: fc.oneof(
      fc.constantFrom(...BAD_TS),
      // Well-formed but outside the window: more than 7 days before NOW or more than 1 hour after.
      fc
        .oneof(
          fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date(NOW.getTime() - DEFAULT_EVENT_TIME_WINDOW.maxLateMs - 1_000), noInvalidDate: true }),
          fc.date({ min: new Date(NOW.getTime() + DEFAULT_EVENT_TIME_WINDOW.maxFutureMs + 1_000), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        )
        .map((d) => d.toISOString()),
    ),
    how: framing,
    inCommon: fc.boolean(),
  })
  .map(({ ts, how, inCommon }): Case => {
    if (inCommon) {
      // Hoisted: the batch's common ts applies to an event that has none of its own.
      const { ts: _ts, ...bare } = validEvent();
      const text = JSON.stringify({ common: { ts }, events: [bare, validEvent()] });
      return { headers: json, body: bytes(text), expect: { kind: 'events', total: 2, rejected: [0], path: '/ts' } };
    }
    const { headers, text } = frame(JSON.stringify(validEvent({ ts })), how, true);
    return { headers, body: bytes(text), expect: { kind: 'events', total: 2, rejected: [0], path: '/ts' } };
  });

/**
 * Bombs (made once: compressing tens of MiB per run would dominate the test) and broken streams.
 * A multi-member gzip of the largest bomb is the "few hundred KB" one: over the wire limit too.
 */
const bombs: Array<{ name: string; coding: string; body: Buffer }> = [];
function makeBombs(): void {
  const contents = {
    spaces: (n: number) => Buffer.alloc(n, 0x20),
    brackets: (n: number) => Buffer.alloc(n, 0x5b),
    events: (n: number) => {
      const one = Buffer.from(`${JSON.stringify(validEvent())},`);
      const body = Buffer.alloc(n, one);
      body[0] = 0x5b;
      return body;
    },
  };
  for (const [name, make] of Object.entries(contents)) {
    // Repeated events compress less than a run of one byte: 32 MiB of them would pass the wire limit.
    for (const size of name === 'events' ? [MAX_DECODED_BYTES + 1, 4 * 1024 * 1024] : [MAX_DECODED_BYTES + 1, 4 * 1024 * 1024, 32 * 1024 * 1024]) {
      const plain = make(size);
      bombs.push({ name: `${name} ${size} gzip`, coding: 'gzip', body: gzipSync(plain, { level: 9 }) });
      if (size <= 4 * 1024 * 1024) {
        bombs.push({ name: `${name} ${size} deflate`, coding: 'deflate', body: deflateSync(plain, { level: 9 }) });
        bombs.push({ name: `${name} ${size} deflate-raw`, coding: 'deflate', body: deflateRawSync(plain, { level: 9 }) });
      }
    }
  }
  const biggest = bombs.find((b) => b.name === 'spaces 33554432 gzip')!;
  bombs.push({ name: 'spaces multi-member gzip', coding: 'gzip', body: Buffer.concat(Array.from({ length: 10 }, () => biggest.body)) });
  for (const b of bombs) if (b.body.length > MAX_BODY_BYTES && b.name !== 'spaces multi-member gzip') throw new Error(`bomb ${b.name} is larger on the wire than intended`);
}

const gzipBombs: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ bomb: fc.nat(), spelling: fc.constantFrom('gzip', 'x-gzip', 'GZIP', ' gzip ', 'identity, gzip'), type: fc.constantFrom(json, ndjson, textPlain) }).map(({ bomb, spelling, type }): Case => {
    const b = bombs[bomb % bombs.length]!;
    const coding = b.coding === 'gzip' ? spelling : 'deflate';
    return { headers: { ...type, 'content-encoding': coding }, body: b.body, expect: { kind: 'status', status: 413 } };
  }),
  fc
    .record({
      break: fc.constantFrom('truncate', 'flip', 'garbage after', 'bad magic', 'plain body', 'gzip as deflate', 'deflate as gzip', 'empty', 'one byte'),
      at: fc.double({ min: 0, max: 0.999, noNaN: true }),
      byte: fc.integer({ min: 0, max: 255 }),
    })
    .map(({ break: how, at, byte }): Case => {
      const plain = Buffer.from(JSON.stringify([validEvent()]));
      const gz = gzipSync(plain);
      const headers = { ...json, 'content-encoding': 'gzip' };
      const i = Math.floor(at * gz.length);
      switch (how) {
        case 'truncate':
          return { headers, body: gz.subarray(0, Math.max(1, i)), expect: { kind: 'reject' } };
        case 'flip': {
          const body = Buffer.from(gz);
          body[i] = body[i]! ^ (byte || 1);
          // A flip in the header's mtime/xfl/os bytes is harmless; elsewhere CRC or inflate catches it.
          return { headers, body, expect: { kind: 'any' } };
        }
        case 'garbage after':
          return { headers, body: Buffer.concat([gz, Buffer.from([byte, 0x00, 0xff, 0x13])]), expect: { kind: 'any' } };
        case 'bad magic': {
          const body = Buffer.from(gz);
          body[0] = 0x1e;
          return { headers, body, expect: { kind: 'reject' } };
        }
        case 'plain body':
          return { headers, body: plain, expect: { kind: 'reject' } };
        case 'gzip as deflate':
          return { headers: { ...json, 'content-encoding': 'deflate' }, body: gz, expect: { kind: 'reject' } };
        case 'deflate as gzip':
          return { headers, body: deflateSync(plain), expect: { kind: 'reject' } };
        case 'empty':
          return { headers, body: new Uint8Array(0), expect: { kind: 'reject' } };
        default:
          return { headers, body: Buffer.from([0x1f]), expect: { kind: 'reject' } };
      }
    }),
);

/** Content types, charsets and encodings: unsupported ones get 415; supported ones with the wrong bytes a 400. */
const contentTypes: fc.Arbitrary<Case> = fc
  .record({
    type: fc.oneof(
      fc.constantFrom(
        'application/xml', 'text/html', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/octet-stream',
        'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json;charset="UTF-16LE"', 'text/plain; charset=iso-8859-1',
        'json', '*/*', 'application/', ';;;', 'application/json+xml', 'text/json', 'application/jsonx', 'application/x-ndjson; charset=ascii',
      ),
      fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9.+-]{1,20}$/).filter((t) => !/^application\/([a-z0-9.-]+\+)?json$|^text\/plain$|^application\/(x-)?ndjson$|^application\/jsonl$|^application\/x-jsonlines$/.test(t)),
    ),
    encoding: fc.constantFrom(undefined, 'br', 'compress', 'zstd', 'gzip, gzip', 'deflate, gzip', 'x-compress', 'chunked', '*'),
    body: fc.constantFrom('events', 'utf16', 'form', 'xml'),
  })
  .map(({ type, encoding, body }): Case => {
    const events = JSON.stringify([validEvent()]);
    const text = body === 'form' ? 'log_type=user_action&event=page_view' : body === 'xml' ? '<events><e/></events>' : events;
    const payload = body === 'utf16' ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) : Buffer.from(text);
    const headers: Record<string, string> = { 'x-api-key': KEY, 'content-type': type, ...(encoding ? { 'content-encoding': encoding } : {}) };
    return { headers, body: payload, expect: { kind: 'reject' } };
  });

/** A valid user_action; each case replaces one typed field with a value of another JSON type. */
const TYPED_FIELDS: Record<string, 'string' | 'integer' | 'number' | 'object'> = {
  log_type: 'string', event: 'string', ts: 'string', event_id: 'string', user_id: 'string', anonymous_id: 'string', session_id: 'string',
  source: 'string', schema_version: 'integer', context: 'object', 'context.user_agent': 'string', 'context.ip': 'string',
  'context.locale': 'string', 'context.page': 'object', 'context.page.url': 'string', 'context.page.title': 'string',
  'context.page.referrer': 'string', page_url: 'string', referrer: 'string', product_id: 'string', cart_id: 'string', price: 'number',
  currency: 'string', quantity: 'integer', search_query: 'string', list_id: 'string', position: 'integer',
};
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
const sameType = (declared: string, actual: string) => declared === actual || (declared === 'number' && actual === 'integer');
const wrongTypes: fc.Arbitrary<Case> = fc
  .record({
    field: fc.constantFrom(...Object.keys(TYPED_FIELDS)),
    // Through JSON text, so the type judged is the one the server parses (NaN becomes null, -0 becomes 0).
    value: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown),
    how: framing,
  })
  .filter(({ field, value }) => !sameType(TYPED_FIELDS[field]!, jsonType(value)))
  .map(({ field, value, how }): Case => {
    const base = validEvent({ event_id: 'evt-1', list_id: 'l-1', position: 3, quantity: 1, cart_id: 'c-1', referrer: 'https://a.example/', search_query: 'mug' });
    const event = withPath(base, field.split('.'), value);
    const { headers, text } = frame(JSON.stringify(event), how, true);
    // The reason names the field that is wrong (or, for a routing field, that field itself).
    return { headers, body: bytes(text), expect: { kind: 'events', total: 2, rejected: [0], path: `/${field.replaceAll('.', '/')}` } };
  });

/** Log types Strata does not know (prototype names included, in case a lookup is a plain object), and versions it does not have. */
const unknownLogTypes: fc.Arbitrary<Case> = fc
  .record({
    logType: fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'USER_ACTION', 'user_action ', ' user_action', 'user-action', 'user_action\u0000', '_unknown', '..', '../user_action', 'user_action/v1', '*', '%75ser_action', 'x'.repeat(5_000)),
      fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
    ),
    version: fc.oneof(fc.constant(undefined), fc.constantFrom(3, 999_999, 1_000_001, 2 ** 53)),
    how: framing,
  })
  .filter(({ logType }) => !['user_action', 'order_event', 'seller_action', 'impression', 'segment_track', 'segment_page', 'segment_identify'].includes(logType))
  .map(({ logType, version, how }): Case => {
    const { headers, text } = frame(JSON.stringify(validEvent({ log_type: logType, ...(version ? { schema_version: version } : {}) })), how, true);
    return { headers, body: bytes(text), expect: { kind: 'events', total: 2, rejected: [0], path: '/log_type' } };
  });

/** NDJSON mixing valid events with broken lines; the oracle reads the lines as the server should. */
const NDJSON_LINES = [
  '', '   ', '\r', '{', '}', '{"log_type":"user_action",', 'null', '1', '"text"', '[]', '[{"a":1}]', 'true', '{}', '{"log_type":1}',
  '\uFEFF{"log_type":"user_action"}', '{"a":1}{"b":2}', '{"a":1},', '// comment', '{"a":"\u2028"}', '{"a":\u0000}', 'NaN', '{"a":01}',
];
const ndjsonBadLines: fc.Arbitrary<Case> = fc
  .array(fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.constantFrom(...NDJSON_LINES) }), { minLength: 1, maxLength: 12 })
  .map((lines): Case => {
    const text = lines.map((l) => l ?? JSON.stringify(validEvent())).join('\n');
    // Oracle: an unparseable line refuses the request (naming the line); other lines are events,
    // accepted when valid, rejected (kept) otherwise; blank lines are skipped.
    const events: unknown[] = [];
    let unparseable = false;
    // Like the server's TextDecoder, drop one BOM at the very start of the body (not on later lines).
    for (const line of text.replace(/^\uFEFF/, '').split('\n')) {
      if (line.trim() === '') continue;
      try {
        events.push(JSON.parse(line));
      } catch {
        unparseable = true;
      }
    }
    let expect: Expectation;
    if (unparseable) expect = { kind: 'status', status: 400 };
    else if (events.length === 0) expect = { kind: 'status', status: 400 };
    else {
      const valid = new Set(lines.flatMap((l, i) => (l === undefined ? [i] : [])));
      let index = 0;
      const rejected: number[] = [];
      lines.forEach((l, i) => {
        if (l !== undefined && l.trim() === '') return;
        if (!valid.has(i)) rejected.push(index);
        index++;
      });
      expect = { kind: 'events', total: events.length, rejected };
    }
    return { headers: ndjson, body: bytes(text), expect };
  });

// ---------------------------------------------------------------------------------------------
// Sending and checking

let server: Server;
let port: number;
// One keep-alive connection, as a busy producer (or a load balancer) would hold it.
// noDelay: a request is one write, and Nagle's wait for an ACK would add milliseconds to each.
const agent = new Agent({ keepAlive: true, maxSockets: 1, noDelay: true } as AgentOptions);
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

interface Answer {
  status: number;
  contentType: string | undefined;
  text: string;
}

function send(c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: '127.0.0.1', port, method: 'POST', path: '/v1/events', headers: { ...c.headers, 'content-length': String(c.body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang)`)));
    req.on('error', reject);
    req.end(c.body);
  });
}

/** Enough of a case to reproduce it by hand, without printing a 64 KiB body. */
function describeCase(c: Case): string {
  const body = Buffer.from(c.body);
  const head = body.subarray(0, 300).toString('latin1');
  return `headers ${JSON.stringify(c.headers)}, ${body.length} bytes: ${JSON.stringify(head)}${body.length > 300 ? '…' : ''}`;
}

const isReason = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';

interface PublishedSince {
  events: Record<string, unknown>[];
  eventTexts: string[];
  rejected: Array<Record<string, unknown>>;
}

async function publishedSince(mark: number): Promise<PublishedSince> {
  const out: PublishedSince = { events: [], eventTexts: [], rejected: [] };
  for (const message of publisher.published.slice(mark)) {
    const decoded = await decodeBatch(message.attributes, message.data);
    if (!decoded.ok) throw new Error(`ingest published a message the writer cannot read: ${decoded.reason}`);
    for (const line of decoded.lines) {
      if (!line.ok) throw new Error(`ingest published a line that is not JSON: ${line.reason}`);
      if (message.attributes.kind === 'rejected') out.rejected.push(line.value as Record<string, unknown>);
      else out.events.push(line.value as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * Plain assertions: at 10,000 requests vitest's expect (about 25 per request) cost as much as the
 * app itself. The message carries the case, so a failure reads like an expect failure would.
 */
function must(ok: boolean, what: () => string, claim: string): asserts ok {
  if (!ok) throw new Error(`${claim}\n  ${what()}`);
}

function checkReasons(errors: unknown, what: () => string): void {
  must(Array.isArray(errors) && errors.length > 0, what, 'every reject has a non-empty errors list');
  for (const e of errors as Array<Record<string, unknown>>) {
    must(typeof e.path === 'string', what, 'every error has a path');
    must(isReason(e.message), what, 'every error has a message');
  }
}

function check(c: Case, answer: Answer, published: PublishedSince): void {
  const what = () => `${describeCase(c)}\n  → ${answer.status} ${answer.text.slice(0, 500)}`;
  must(answer.status < 500, what, 'no 5xx');
  must([202, 400, 413, 415].includes(answer.status), what, 'status is 202, 400, 413 or 415');
  must(/^application\/json/.test(answer.contentType ?? ''), what, 'the answer is JSON');
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  let accepted = 0;
  let rejected: Array<{ index: number; errors: Array<{ path: string; message: string }> }> = [];

  if (answer.status >= 400) {
    // The shared error shape, with a sentence for a person.
    must(isReason(body.error) && isReason(body.reason), what, 'a 4xx says { error, reason }');
    if (body.errors !== undefined) checkReasons(body.errors, what);
    // Refused as a whole: nothing of it reached Pub/Sub.
    must(published.events.length + published.rejected.length === 0, what, 'a refused request publishes nothing');
  } else {
    accepted = body.accepted as number;
    rejected = body.rejected as typeof rejected;
    const ids = body.event_ids as Array<string | null>;
    must(Number.isInteger(accepted) && accepted >= 0 && Array.isArray(rejected) && Array.isArray(ids), what, '202 says { accepted, event_ids, rejected }');
    must(ids.length === accepted + rejected.length, what, 'one event_id slot per event');
    // A reason for every reject.
    for (const r of rejected) {
      must(Number.isInteger(r.index) && ids[r.index] === null, what, 'a rejected event has an index and no id');
      checkReasons(r.errors, what);
    }
    // Nothing accepted that is not published, nothing published that the answer did not count.
    must(published.events.length === accepted, what, `accepted ${accepted} = published ${published.events.length}`);
    const publishedIds = published.events.map((e) => String(e.event_id)).sort();
    const answeredIds = ids.filter((id): id is string => id !== null).sort();
    must(JSON.stringify(publishedIds) === JSON.stringify(answeredIds), what, 'the published event_ids are the ones answered');
    must(published.rejected.length === rejected.length, what, `rejected ${rejected.length} = quarantined ${published.rejected.length}`);
    // Quarantine keeps each rejected event with its reasons.
    for (const line of published.rejected) must(Array.isArray(line.reasons) && line.reasons.length > 0, what, 'a quarantined event carries its reasons');
    if (c.keeps && ids[0] !== null) {
      // The odd key is on the first event. It must be kept as the ordinary field it was sent as:
      // an assignment somewhere would have made it a prototype, and JSON.stringify would drop it.
      const first = published.events.find((e) => e.event_id === ids[0]);
      must(first !== undefined && Object.hasOwn(first, c.keeps), () => `${what()}\n  published ${JSON.stringify(first)}`, `the accepted event keeps its "${c.keeps}" field`);
    }
  }

  const expected = c.expect;
  if (expected.kind === 'reject') must(accepted === 0, what, 'nothing of this request may be accepted');
  if (expected.kind === 'status') must(answer.status === expected.status, what, `status ${expected.status}`);
  if (expected.kind === 'events') {
    must(answer.status === 202, what, 'status 202');
    must(JSON.stringify(rejected.map((r) => r.index)) === JSON.stringify(expected.rejected), what, `rejected indexes ${JSON.stringify(expected.rejected)}`);
    must(accepted === expected.total - expected.rejected.length, what, `${expected.total - expected.rejected.length} accepted`);
    const path = expected.path;
    if (path !== undefined) {
      for (const r of rejected) must(r.errors.some((e) => e.path === path || e.path.startsWith(`${path}/`)), what, `a reason names ${path}`);
    }
  }
  // No request may reach Object.prototype.
  must(JSON.stringify(Object.getOwnPropertyNames(Object.prototype).sort()) === JSON.stringify(prototypeBefore), what, 'Object.prototype is unchanged');
  must(({} as Record<string, unknown>).polluted === undefined, what, 'Object.prototype is not polluted');
}

async function run(generator: Generator, arbitrary: fc.Arbitrary<Case>, numRuns: number): Promise<void> {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      n++;
      const mark = publisher.published.length;
      const answer = await send(c);
      check(c, answer, await publishedSince(mark));
    }),
    { numRuns, seed: SEED },
  );
  // Counted after a pass only: shrinking re-runs do not inflate the figure.
  counts.set(generator, counts.get(generator)! + Math.min(n, numRuns));
}

/** Headers and part of a body, then the client goes away: the server must carry on. */
const abortedRequest = fc.record({
  declared: fc.integer({ min: 10, max: MAX_BODY_BYTES }),
  sent: fc.double({ min: 0, max: 0.99, noNaN: true }),
  gzip: fc.boolean(),
});
function sendAborted({ declared, sent, gzip }: { declared: number; sent: number; gzip: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const body = Buffer.from(JSON.stringify(Array.from({ length: 50 }, () => validEvent())));
      const part = (gzip ? gzipSync(body) : body).subarray(0, Math.floor(sent * declared));
      socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: ingest\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\n${gzip ? 'Content-Encoding: gzip\r\n' : ''}Content-Length: ${declared}\r\n\r\n`,
      );
      socket.write(part, () => socket.destroy());
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('hostile input (fuzz)', () => {
  beforeAll(async () => {
    console.info(`hostile-input fuzz seed ${SEED} (reproduce with FUZZ_SEED=${SEED})`);
    makeBombs();
    server = createServer(app);
    port = await listen(server, 0, '127.0.0.1');
  });

  afterAll(async () => {
    agent.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.info(`hostile-input fuzz: ${total} generated bad inputs (seed ${SEED})\n${[...counts].map(([g, n]) => `  ${String(n).padStart(5)}  ${g}`).join('\n')}`);
  });

    it('malformed JSON: truncations and random edits of valid bodies', () => run('malformed JSON', malformedJson, 1_300), PROPERTY_TIMEOUT_MS);
  it('deep nesting, 50 to 10,000 levels', () => run('deep nesting', deepNesting, 600), PROPERTY_TIMEOUT_MS);
  it('huge strings in typed fields, unknown fields and keys', () => run('huge strings', hugeStrings, 500), PROPERTY_TIMEOUT_MS);
  it('__proto__, constructor and prototype keys at every level', () => run('__proto__ / constructor / prototype keys', protoKeys, 900), PROPERTY_TIMEOUT_MS);
  it('bad UTF-8 spliced into bodies', () => run('bad UTF-8', badUtf8, 800), PROPERTY_TIMEOUT_MS);
  it('lone surrogate escapes in values and keys', () => run('lone surrogates', loneSurrogates, 800), PROPERTY_TIMEOUT_MS);
  it('out-of-range numbers', () => run('out-of-range numbers', outOfRange, 800), PROPERTY_TIMEOUT_MS);
  it('bad timestamps', () => run('bad timestamps', badTimestamps, 900), PROPERTY_TIMEOUT_MS);
  it('gzip bombs and broken gzip', () => run('gzip bombs and broken gzip', gzipBombs, 500), PROPERTY_TIMEOUT_MS);
  it('wrong content types, encodings and charsets', () => run('content types, encodings, charsets', contentTypes, 600), PROPERTY_TIMEOUT_MS);
  it('a wrong JSON type in each typed field', () => run('wrong type per field', wrongTypes, 1_200), PROPERTY_TIMEOUT_MS);
  it('unknown log types and versions', () => run('unknown log types and versions', unknownLogTypes, 600), PROPERTY_TIMEOUT_MS);
  it('NDJSON with bad lines', () => run('NDJSON with bad lines', ndjsonBadLines, 800), PROPERTY_TIMEOUT_MS);

  it(
    'survives clients that go away mid-body',
    async () => {
      const numRuns = 200;
      await fc.assert(fc.asyncProperty(abortedRequest, sendAborted), { numRuns, seed: SEED });
      counts.set('client aborts mid-body', numRuns);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('still accepts a valid request afterwards, and Object.prototype is untouched', async () => {
    const mark = publisher.published.length;
    const c: Case = { headers: json, body: bytes(JSON.stringify([validEvent(), validEvent()])), expect: { kind: 'events', total: 2, rejected: [] } };
    const answer = await send(c);
    expect(answer.status).toBe(202);
    check(c, answer, await publishedSince(mark));
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  });
});

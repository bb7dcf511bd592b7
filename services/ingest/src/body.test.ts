import { createServer, request, type OutgoingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '@strata/runtime';
import { ACCEPTED_MEDIA_TYPES, createBodyReader, firstInvalidUtf8, mergeCommon, type BodyLimits } from './body.js';

const LIMITS: BodyLimits = { maxBodyBytes: 64 * 1024, maxDecodedBytes: 256 * 1024 };
// Production-sized limits for the bomb: 1 MiB on the wire, 10 MiB decoded.
const BOMB_LIMITS: BodyLimits = { maxBodyBytes: 1_048_576, maxDecodedBytes: 10 * 1_048_576 };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> & { events?: unknown[] };
}

const servers: Server[] = [];
let port = 0;
let bombPort = 0;

/** The reader in front of a handler that echoes what it set as req.body. */
async function start(limits: BodyLimits): Promise<number> {
  const app = express();
  app.post('/', createBodyReader(limits), (req, res) => {
    const events: unknown = req.body;
    res.status(200).json({ isArray: Array.isArray(events), events });
  });
  const server = createServer(app);
  servers.push(server);
  return listen(server, 0, '127.0.0.1');
}

beforeAll(async () => {
  port = await start(LIMITS);
  bombPort = await start(BOMB_LIMITS);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve)))));
});

/**
 * A raw POST: headers exactly as given (no Content-Type unless set; Content-Length from the body
 * unless `chunked`), so every case a real client can produce can be sent.
 */
function post(body: string | Buffer, headers: OutgoingHttpHeaders = {}, opts: { chunked?: boolean; to?: number } = {}): Promise<Reply> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: opts.to ?? port, method: 'POST', path: '/', headers: opts.chunked ? headers : { 'content-length': bytes.length, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    // The server may answer (413) and close before the whole body is written.
    req.on('error', reject);
    req.end(bytes);
  });
}

const json = (body: string | Buffer, headers: OutgoingHttpHeaders = {}) => post(body, { 'content-type': 'application/json', ...headers });

describe('JSON bodies', () => {
  it('reads a JSON array as the events, elements as they came', async () => {
    const res = await json('[{"log_type":"a"},{"log_type":"b"},7]');
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([{ log_type: 'a' }, { log_type: 'b' }, 7]);
  });

  it('accepts +json types and charset=utf-8 in any case', async () => {
    for (const type of ['application/vnd.strata+json', 'Application/JSON; charset=UTF-8', 'application/json; charset="utf-8"', 'application/json;charset=utf8']) {
      const res = await post('[{"a":1}]', { 'content-type': type });
      expect([type, res.status]).toEqual([type, 200]);
    }
  });

  it('reads a single object that is not a batch as one event', async () => {
    const res = await json('{"log_type":"a","common":1}');
    expect(res.body.events).toEqual([{ log_type: 'a', common: 1 }]);
  });

  it('reads an empty array as no events (prepare decides whether that is an error)', async () => {
    expect((await json('[]')).body.events).toEqual([]);
  });

  it('refuses a scalar or null body', async () => {
    for (const body of ['42', '"x"', 'null', 'true']) {
      const res = await json(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    }
  });

  it('answers malformed JSON 400 invalid_json with the parser message', async () => {
    const res = await json('[{"a":1},');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_json' });
    expect(res.body.reason).toMatch(/^body is not valid JSON: .*JSON/);
  });

  it('does not read NDJSON sent as application/json', async () => {
    const res = await json('{"a":1}\n{"a":2}');
    expect(res.body.error).toBe('invalid_json');
  });
});

describe('batch objects', () => {
  it('merges common into every event; the event wins; context merges one level deep', async () => {
    const res = await json(
      JSON.stringify({
        common: { log_type: 'page_view', session: 's1', context: { user_agent: 'UA', page: { url: '/common' } }, source: 'web' },
        events: [
          { ts: 1, context: { page: { url: '/a' } } },
          { ts: 2, source: null, log_type: 'click' },
          { ts: 3, context: 'not an object' },
          'not an event',
        ],
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body.events).toEqual([
      { log_type: 'page_view', session: 's1', source: 'web', ts: 1, context: { user_agent: 'UA', page: { url: '/a' } } },
      { log_type: 'click', session: 's1', source: null, ts: 2, context: { user_agent: 'UA', page: { url: '/common' } } },
      { log_type: 'page_view', session: 's1', source: 'web', ts: 3, context: 'not an object' },
      'not an event',
    ]);
  });

  it('does not share the context object between events', () => {
    const common = { context: { user_agent: 'UA' } };
    const a = mergeCommon(common, { n: 1 });
    (a.context as Record<string, unknown>).user_agent = 'changed';
    expect(common.context.user_agent).toBe('UA');
    const b = mergeCommon({ context: { x: 1 } }, { context: { y: 2 } });
    expect(b.context).toEqual({ x: 1, y: 2 });
  });

  it('reads a batch without common', async () => {
    expect((await json('{"events":[{"a":1}]}')).body.events).toEqual([{ a: 1 }]);
  });

  it('refuses a batch whose events is not an array, whose common is not an object, or with other keys', async () => {
    for (const body of ['{"events":{"a":1}}', '{"events":[],"common":[1]}', '{"events":[],"comon":{}}']) {
      const res = await json(body);
      expect([body, res.status, res.body.error]).toEqual([body, 400, 'invalid_batch']);
    }
    expect((await json('{"events":[],"comon":{}}')).body.reason).toContain('"comon"');
  });
});

describe('__proto__ keys', () => {
  it('keeps __proto__ as an inert own field through the common merge and never sets a prototype', async () => {
    const body = '{"common":{"__proto__":{"polluted":true},"context":{"__proto__":{"polluted":true}}},"events":[{"a":1},{"__proto__":{"own":1},"context":{"b":1}}]}';
    const res = await json(body);
    expect(res.status).toBe(200);
    // Serialized back as plain keys, so they were own data properties all along.
    expect(res.body.events).toEqual(JSON.parse('[{"__proto__":{"polluted":true},"context":{"__proto__":{"polluted":true}},"a":1},{"__proto__":{"own":1},"context":{"__proto__":{"polluted":true},"b":1}}]'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('mergeCommon copies __proto__ as data, leaving Object.prototype the prototype', () => {
    const common = JSON.parse('{"__proto__":{"polluted":true},"context":{"__proto__":{"x":1}}}') as Record<string, unknown>;
    const event = JSON.parse('{"context":{"page":"/"}}') as Record<string, unknown>;
    const merged = mergeCommon(common, event);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
    expect((merged as { polluted?: unknown }).polluted).toBeUndefined();
    const context = merged.context as Record<string, unknown>;
    expect(Object.getPrototypeOf(context)).toBe(Object.prototype);
    expect(Object.hasOwn(context, '__proto__')).toBe(true);
    expect(context.page).toBe('/');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('NDJSON bodies', () => {
  it('reads one event per line, skipping blank lines, with CRLF and a trailing newline', async () => {
    for (const type of ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines; charset=utf-8']) {
      const res = await post('{"a":1}\r\n\r\n  \n{"a":2}\n[3]\n', { 'content-type': type });
      expect([type, res.body.events]).toEqual([type, [{ a: 1 }, { a: 2 }, [3]]]);
    }
  });

  it('names the line that is not JSON', async () => {
    const res = await post('{"a":1}\n\n{"a":2\n{"a":3}\n', { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_ndjson', line: 3 });
    expect(res.body.reason).toMatch(/^line 3 is not valid JSON: /);
  });

  it('reads a batch object line as one event: NDJSON has no batch form', async () => {
    const res = await post('{"events":[{"a":1}]}\n', { 'content-type': 'application/x-ndjson' });
    expect(res.body.events).toEqual([{ events: [{ a: 1 }] }]);
  });

  it('answers a body of blank lines empty_body', async () => {
    const res = await post('\n \r\n\n', { 'content-type': 'application/x-ndjson' });
    expect(res.body.error).toBe('empty_body');
  });
});

describe('text/plain and untyped bodies (sendBeacon, fetch with a Blob): sniffed', () => {
  const beacon = (body: string | Buffer, headers: OutgoingHttpHeaders = {}) => post(body, { 'content-type': 'text/plain;charset=UTF-8', ...headers });

  it('reads a JSON array, a batch object and a single object as JSON', async () => {
    expect((await beacon(' \n[{"a":1},{"a":2}]')).body.events).toEqual([{ a: 1 }, { a: 2 }]);
    expect((await beacon('{"common":{"s":1},"events":[{"a":1}]}')).body.events).toEqual([{ s: 1, a: 1 }]);
    expect((await beacon('{\n  "a": 1\n}')).body.events).toEqual([{ a: 1 }]);
  });

  it('reads several objects, one per line, as NDJSON', async () => {
    expect((await beacon('{"a":1}\n{"a":2}')).body.events).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('reports a broken array as invalid JSON (an array is never read as NDJSON)', async () => {
    const res = await beacon('[\n{"a":1},\n{"a":2\n]');
    expect(res.body.error).toBe('invalid_json');
  });

  it('reports a broken line of NDJSON by its number', async () => {
    const res = await beacon('{"a":1}\n{"a":');
    expect(res.body).toMatchObject({ error: 'invalid_ndjson', line: 2 });
    expect((await beacon('hello')).body).toMatchObject({ error: 'invalid_ndjson', line: 1 });
  });

  it('sniffs a body sent without Content-Type the same way', async () => {
    expect((await post('[{"a":1}]')).body.events).toEqual([{ a: 1 }]);
    expect((await post('{"a":1}\n{"a":2}\n')).body.events).toEqual([{ a: 1 }, { a: 2 }]);
    expect((await post(gzipSync('{"a":1}\n'), { 'content-encoding': 'gzip' })).body.events).toEqual([{ a: 1 }]);
  });
});

describe('content types and charsets', () => {
  it('answers an unknown type 415 naming it and listing the accepted ones', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html', 'application/xml']) {
      const res = await post('[{"a":1}]', { 'content-type': type });
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_media_type');
      expect(res.body.reason).toContain(type.split(';')[0]);
      expect(res.body.accepted).toEqual([...ACCEPTED_MEDIA_TYPES]);
    }
  });

  it('answers a charset other than UTF-8 415', async () => {
    for (const type of ['application/json; charset=latin1', 'text/plain; charset=utf-16', 'application/x-ndjson; charset=iso-8859-1']) {
      const res = await post('[{"a":1}]', { 'content-type': type });
      expect([type, res.status, res.body.error]).toEqual([type, 415, 'unsupported_charset']);
    }
  });
});

describe('UTF-8', () => {
  it('answers invalid UTF-8 400 invalid_utf8 naming the byte offset', async () => {
    const body = Buffer.concat([Buffer.from('[{"name":"ab'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]')]);
    const res = await json(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_utf8', offset: 12 });
    expect(res.body.reason).toContain('byte offset 12');
  });

  it('counts the offset in the decoded body of a gzip request', async () => {
    const res = await json(gzipSync(Buffer.concat([Buffer.from('["é'), Buffer.from([0xff]), Buffer.from('"]')])), { 'content-encoding': 'gzip' });
    expect(res.body).toMatchObject({ error: 'invalid_utf8', offset: 4 });
  });

  it('reads multi-byte characters and drops a leading BOM', async () => {
    expect((await json(Buffer.from('\ufeff[{"name":"zoë 🎉"}]'))).body.events).toEqual([{ name: 'zoë 🎉' }]);
  });

  it('finds the first ill-formed sequence: overlong, surrogate, above U+10FFFF, truncated, stray continuation', () => {
    const at = (...bytes: number[]) => firstInvalidUtf8(Uint8Array.from(bytes));
    expect(at(0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x8e, 0x89)).toBe(-1);
    expect(at(0x61, 0xc0, 0xaf)).toBe(1); // overlong '/'
    expect(at(0x61, 0xe0, 0x80, 0xaf)).toBe(1); // overlong 3-byte
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // U+D800
    expect(at(0x61, 0x62, 0xf4, 0x90, 0x80, 0x80)).toBe(2); // U+110000
    expect(at(0x61, 0xe2, 0x82)).toBe(1); // truncated at the end
    expect(at(0x61, 0x80)).toBe(1); // continuation byte alone
    expect(at(0xf5, 0x80, 0x80, 0x80)).toBe(0);
  });
});

describe('empty bodies', () => {
  it('answers an empty or blank body 400 empty_body, compressed or not', async () => {
    for (const [body, headers] of [
      ['', {}],
      ['  \n ', {}],
      [gzipSync(''), { 'content-encoding': 'gzip' }],
      [Buffer.alloc(0), { 'content-encoding': 'gzip' }],
    ] as const) {
      const res = await json(body, headers);
      expect([res.status, res.body.error]).toEqual([400, 'empty_body']);
    }
  });
});

describe('content encodings', () => {
  const events = '[{"log_type":"a","n":1},{"log_type":"a","n":2}]';
  const expected = [
    { log_type: 'a', n: 1 },
    { log_type: 'a', n: 2 },
  ];

  it('decodes gzip, x-gzip, deflate in zlib and raw form, and identity', async () => {
    const cases: Array<[string, Buffer]> = [
      ['gzip', gzipSync(events)],
      ['GZIP', gzipSync(events)],
      ['x-gzip', gzipSync(events)],
      // CompressionStream('deflate') is the zlib format (RFC 1950)…
      ['deflate', deflateSync(events)],
      // …and some clients send raw deflate (RFC 1951) under the same name.
      ['deflate', deflateRawSync(events)],
      ['identity', Buffer.from(events)],
      ['gzip, identity', gzipSync(events)],
    ];
    for (const [coding, body] of cases) {
      const res = await json(body, { 'content-encoding': coding });
      expect([coding, res.status, res.body.events]).toEqual([coding, 200, expected]);
    }
  });

  it('decodes a gzip body sent chunked in one-byte pieces (the deflate sniff waits for two bytes)', async () => {
    const body = deflateRawSync(events);
    const res = await new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'content-type': 'application/json', 'content-encoding': 'deflate' } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      req.flushHeaders();
      let i = 0;
      const next = () => {
        if (i >= body.length) return req.end();
        req.write(body.subarray(i, ++i));
        setImmediate(next);
      };
      next();
    });
    expect(res.body.events).toEqual(expected);
  });

  it('answers an unsupported or stacked encoding 415 unsupported_encoding', async () => {
    for (const coding of ['br', 'compress', 'zstd', 'gzip, gzip']) {
      const res = await json(gzipSync(events), { 'content-encoding': coding });
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_encoding');
      expect(res.body.accepted).toEqual(['gzip', 'deflate', 'identity']);
    }
  });

  it('answers corrupt or truncated compressed data 400 invalid_encoding', async () => {
    const gz = gzipSync(events);
    for (const [coding, body] of [
      ['gzip', Buffer.from(events)],
      ['gzip', gz.subarray(0, gz.length - 10)],
      ['deflate', Buffer.from([0x78])],
      ['deflate', Buffer.from('not deflate at all')],
    ] as const) {
      const res = await json(body, { 'content-encoding': coding });
      expect([coding, res.status, res.body.error]).toEqual([coding, 400, 'invalid_encoding']);
    }
  });
});

describe('size limits', () => {
  // '[' + n × '"x",' + '"' + r × 'y' + '"]' is 4n + r + 4 bytes.
  const sized = (bytes: number) => `[${'"x",'.repeat(Math.floor((bytes - 4) / 4))}"${'y'.repeat((bytes - 4) % 4)}"]`;

  it('accepts a body of exactly maxBodyBytes and refuses one byte more with 413', async () => {
    const exact = sized(LIMITS.maxBodyBytes);
    expect(exact.length).toBe(LIMITS.maxBodyBytes);
    expect((await json(exact)).status).toBe(200);
    const res = await json(`${exact} `);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'payload_too_large', limit: LIMITS.maxBodyBytes });
  });

  it('counts a chunked body while it streams', async () => {
    const res = await post(Buffer.alloc(LIMITS.maxBodyBytes + 1, 0x20), { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, { chunked: true });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
  });

  it('answers a Content-Length above the limit 413 before reading any body', async () => {
    // Only the headers are sent: the answer cannot have waited for the body.
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString()));
    socket.write(`POST / HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: ${LIMITS.maxBodyBytes + 1}\r\n\r\n`);
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received).toContain('"error":"payload_too_large"');
  });

  it('accepts a decoded body of exactly maxDecodedBytes and refuses one byte more', async () => {
    const exact = sized(LIMITS.maxDecodedBytes);
    expect((await json(gzipSync(exact), { 'content-encoding': 'gzip' })).status).toBe(200);
    const res = await json(gzipSync(`${exact} `), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'payload_too_large', limit: LIMITS.maxDecodedBytes });
    expect(res.body.reason).toContain('decompressed body');
  });

  it('holds an uncompressed body to maxDecodedBytes too, when that is the smaller limit', async () => {
    const small = await start({ maxBodyBytes: 64 * 1024, maxDecodedBytes: 2048 });
    const res = await post(sized(2049), { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, { chunked: true, to: small });
    expect(res.body).toMatchObject({ error: 'payload_too_large', limit: 2048 });
    expect(res.body.reason).toMatch(/^body is larger/);
    expect((await post(sized(2048), { 'content-type': 'application/json' }, { to: small })).status).toBe(200);
  });

  it('answers a gzip bomb (≈130 KB inflating to 128 MiB) 413 quickly without holding it in memory', async () => {
    // Deflate tops out near 1032:1, so the bomb is concatenated gzip members of 1 MiB of zeros
    // each (gunzip reads multi-member streams), built without allocating what it inflates to.
    const member = gzipSync(Buffer.alloc(1_048_576), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 128 }, () => member));
    expect(bomb.length).toBeLessThan(BOMB_LIMITS.maxBodyBytes);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const res = await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, { to: bombPort });
    const ms = performance.now() - started;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'payload_too_large', limit: BOMB_LIMITS.maxDecodedBytes });
    expect(ms).toBeLessThan(500);
    // At most maxDecodedBytes (10 MiB) is ever inflated; 128 MiB would show here.
    expect(rssGrowth).toBeLessThan(48 * 1_048_576);
  });
});

describe('answers', () => {
  it('use the shared error shape', async () => {
    const res = await post('[]', { 'content-type': 'text/csv' });
    expect(Object.keys(res.body)).toEqual(expect.arrayContaining(['error', 'reason']));
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });
});

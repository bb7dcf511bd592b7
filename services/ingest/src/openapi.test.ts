import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createLogger } from '@strata/runtime';
import { createPiiHasher, createRegistry, DEFAULT_EVENT_TIME_WINDOW, isTimestamp, loadBundledSchemas, type Registry } from '@strata/schemas';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, type IngestDeps } from './app.js';
import { keyDigest, type KeyConfig } from './keys.js';
import { buildOpenApi, serveOpenApi, stripAnnotations } from './openapi.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * The document against the real handler: what it says a valid event is, the handler accepts, what
 * it says is invalid, the handler rejects, and every answer the handler gives is one it documents.
 * No OpenAPI validator package is installed, so validity is checked in two parts: the document's
 * structure (every $ref, security scheme and response in place), and every schema in it compiled
 * by ajv's JSON Schema 2020-12 in strict mode, the dialect OpenAPI 3.1 uses.
 */

type Json = Record<string, unknown>;

const silent = createLogger({ service: 'ingest', level: 'silent' });
const bundled = createRegistry(loadBundledSchemas());
const NOW = new Date('2026-11-21T12:00:00.000Z');
const keys: KeyConfig[] = [
  { name: 'orders-service', sha256: keyDigest('server-key'), rate: { points: 1_000_000, durationSeconds: 1 } },
  { name: 'tiny', sha256: keyDigest('tiny-key'), rate: { points: 1, durationSeconds: 60 } },
  { name: 'web-shop', sha256: keyDigest('browser-key'), logTypes: ['user_action'], origins: ['https://shop.example'], rate: { points: 1000, durationSeconds: 1 } },
];

// The examples users copy from schemas/README.md, one per log type (as schemas/src/readme.test.ts reads them).
const readme = readFileSync(new URL('../../../schemas/README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as Json);
const example = (logType: string): Json => structuredClone(examples.find((e) => e.log_type === logType)!);

function makeApp(publisher: FakePublisher, overrides: Partial<IngestDeps> = {}) {
  let n = 0;
  return createApp({
    config: { keys, maxEventsPerRequest: 500, maxBodyBytes: 100_000, maxDecodedBytes: 1_000_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
    registry: { current: async () => bundled },
    publisher,
    hash: createPiiHasher('test-secret-0123456789'),
    logger: silent,
    newId: () => `id-${++n}`,
    now: () => NOW,
    ...overrides,
  });
}

/** Every answer the tests saw, checked against the document at the end. */
interface Seen {
  path: string;
  method: 'post' | 'options' | 'get';
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
const seen: Seen[] = [];
async function record(path: string, method: Seen['method'], req: request.Test): Promise<request.Response> {
  const res = await req;
  seen.push({ path, method, status: res.status, headers: res.headers as Record<string, string>, body: res.body });
  return res;
}

/** A JSON pointer in the document (`#/components/...`). */
function at(doc: Json, pointer: string): unknown {
  return pointer
    .replace(/^#\//, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);
}
/** Follows an OpenAPI Reference Object (responses, headers) to what it names. */
function deref(doc: Json, node: unknown): Json {
  const r = (node as Json).$ref;
  return (typeof r === 'string' ? at(doc, r) : node) as Json;
}
function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refsIn(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

/**
 * ajv over the document's schemas: components.schemas become one schema's $defs, and the
 * document's `#/components/schemas/X` references point there. Formats as the registry checks them.
 */
function schemaValidator(doc: Json) {
  const ajv = new Ajv2020({ strict: true, allErrors: true, discriminator: true, allowUnionTypes: true });
  ajv.addFormat('date-time', { type: 'string', validate: isTimestamp });
  const rebase = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"openapi#/$defs/')) as T;
  ajv.addSchema({ $id: 'openapi', $defs: rebase((doc.components as Json).schemas) });
  return {
    compile: (schema: unknown) => ajv.compile(rebase(schema as Json)),
    component: (name: string) => ajv.getSchema(`openapi#/$defs/${name}`)!,
  };
}

let doc: Json;
let validator: ReturnType<typeof schemaValidator>;
let app: ReturnType<typeof createApp>;
let publisher: FakePublisher;

beforeAll(async () => {
  publisher = new FakePublisher();
  app = makeApp(publisher);
  const res = await record('/openapi.json', 'get', request(app).get('/openapi.json'));
  expect(res.status).toBe(200);
  doc = res.body as Json;
  validator = schemaValidator(doc);
});

const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) => Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })));
const requestSchema = () => at(doc, '#/paths/~1v1~1events/post/requestBody/content/application~1json/schema');
const post = (body: unknown) => record('/v1/events', 'post', request(app).post('/v1/events').set('x-api-key', 'server-key').send(body as object));

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1.0 document whose references, security schemes and responses are all in place', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Strata ingest', version: expect.any(String) });
    for (const r of refsIn(doc)) expect(at(doc, r), r).toBeTypeOf('object');
    const schemes = Object.keys((doc.components as Json).securitySchemes as Json);
    const ids = new Set<string>();
    for (const { path, method, op } of operations()) {
      expect(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'], path).toContain(method);
      ids.add(op.operationId as string);
      for (const requirement of op.security as Json[]) for (const name of Object.keys(requirement)) expect(schemes).toContain(name);
      for (const p of (op.parameters as Json[] | undefined) ?? []) {
        expect(['query', 'header', 'path', 'cookie']).toContain(p.in);
        expect(p.schema, `${path} ${String(p.name)}`).toBeTypeOf('object');
      }
      for (const [status, response] of Object.entries(op.responses as Json)) {
        expect(status).toMatch(/^(?:[1-5]\d\d|default)$/);
        expect(deref(doc, response).description, `${method} ${path} ${status}`).toBeTypeOf('string');
      }
    }
    expect(ids.size).toBe(operations().length);
  });

  it('has every schema compile as strict JSON Schema 2020-12, one component per log type', () => {
    const components = (doc.components as Json).schemas as Json;
    expect(Object.keys(components)).toEqual(expect.arrayContaining(bundled.logTypes()));
    for (const name of Object.keys(components)) expect(validator.component(name), name).toBeTypeOf('function');
    // Inline schemas too: request bodies, parameters, response bodies and headers.
    const inline: unknown[] = [];
    const collect = (node: unknown, key?: string): void => {
      if (Array.isArray(node)) node.forEach((n) => collect(n));
      else if (node && typeof node === 'object') {
        if (key === 'schema') inline.push(node);
        else for (const [k, v] of Object.entries(node)) collect(v, k);
      }
    };
    collect(doc.paths);
    collect((doc.components as Json).responses);
    collect((doc.components as Json).headers);
    expect(inline.length).toBeGreaterThan(20);
    for (const schema of inline) expect(() => validator.compile(schema)).not.toThrow();
  });

  it('keeps no Strata x- annotation in its schemas', () => {
    expect(JSON.stringify((doc.components as Json).schemas)).not.toMatch(/"x-/);
    // A field whose name starts with x- is a field, not an annotation, and stays.
    expect(stripAnnotations({ properties: { 'x-ray': { type: 'string', 'x-pii': 'drop' } } })).toEqual({
      properties: { 'x-ray': { type: 'string', description: 'PII: accepted, never stored.' } },
    });
  });

  it('is built once per registry version', async () => {
    let built = 0;
    const counting = (registry: Registry): Registry => ({ ...registry, logTypes: () => (built++, registry.logTypes()) });
    let current = counting(bundled);
    const handler = serveOpenApi({ current: async () => current });
    const res = { json: () => undefined } as never;
    await handler({} as never, res, () => undefined);
    await handler({} as never, res, () => undefined);
    expect(built).toBe(1);
    current = counting(bundled); // a new version published: a new registry object
    await handler({} as never, res, () => undefined);
    expect(built).toBe(2);
    expect(buildOpenApi(bundled)).toEqual(doc);
  });
});

describe('the document against the real handler', () => {
  it.each(examples.map((e) => [String(e.log_type)]))('the README example of %s is valid by the document and accepted by the handler', async (logType) => {
    const event = example(logType);
    const isEvent = validator.component('Event');
    expect(isEvent(event), JSON.stringify(isEvent.errors)).toBe(true);
    const isBody = validator.compile(requestSchema());
    expect(isBody([event]), JSON.stringify(isBody.errors)).toBe(true);
    expect(isBody({ common: { source: 'web' }, events: [event] })).toBe(true);
    const res = await post([event]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, rejected: [] });
  });

  const invalid: Array<[string, Json]> = [
    ['a field of the wrong type', { ...example('user_action'), quantity: 'two' }],
    ['an unknown field in a log type that rejects them', { ...example('order_event'), coupon_code: 'WINTER' }],
    ['a missing required field', (({ seller_id: _s, ...e }) => e)(example('seller_action'))],
    ['a null event_id', { ...example('impression'), event_id: null }],
    ['an unknown log type', { ...example('impression'), log_type: 'nope' }],
    ['a log_type of the wrong type', { ...example('impression'), log_type: 7 }],
  ];
  it.each(invalid)('%s is invalid by the document and rejected by the handler with errors', async (_what, event) => {
    expect(validator.component('Event')(event)).toBe(false);
    expect(validator.compile(requestSchema())([event])).toBe(false);
    const res = await post([example('user_action'), event]);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toHaveLength(1);
    expect(res.body.rejected[0].index).toBe(1);
    expect(res.body.rejected[0].errors.length).toBeGreaterThan(0);
    for (const error of res.body.rejected[0].errors) expect(error).toMatchObject({ path: expect.any(String), message: expect.any(String) });
  });

  it('documents the same fields as optional that ingest fills in', async () => {
    const { source: _s, ...event } = example('order_event');
    expect(validator.component('order_event')(event)).toBe(true);
    const res = await post([{ ...event, event_id: 'mine-1', schema_version: 1 }]);
    expect(res.body).toMatchObject({ accepted: 1, event_ids: ['mine-1'] });
  });

  it('answers the errors it documents', async () => {
    const base = () => request(app).post('/v1/events');
    await record('/v1/events', 'post', base().set('x-api-key', 'server-key').set('content-type', 'application/json').send('[{"log_type":'));
    await record('/v1/events', 'post', base().query({ atomic: 'true' }).set('x-api-key', 'server-key').send([{ ...example('order_event'), coupon_code: 'X' }]));
    await record('/v1/events', 'post', base().send([example('user_action')]));
    await record('/v1/events', 'post', base().set('x-api-key', 'browser-key').send([example('order_event')]));
    await record('/v1/events', 'post', base().set('x-api-key', 'server-key').set('origin', 'https://shop.example').send([example('user_action')]));
    await record(
      '/v1/events',
      'post',
      base().set('x-api-key', 'server-key').set('content-type', 'application/x-ndjson').set('content-encoding', 'gzip').send(gzipSync(Buffer.alloc(2_000_000, 0x20))),
    );
    await record('/v1/events', 'post', base().set('x-api-key', 'server-key').set('content-type', 'application/xml').send('<e/>'));
    // The first request spends the tiny key's window (a batch larger than it costs it whole); the second is refused.
    for (let i = 0; i < 2; i++) await record('/v1/events', 'post', base().set('x-api-key', 'tiny-key').send([example('user_action'), example('user_action')]));
    await record('/v1/events', 'post', base().set('x-api-key', 'server-key').set('content-type', 'application/x-ndjson').send(`${JSON.stringify(example('impression'))}\n`));
    await record('/v1/events', 'post', base().set('x-api-key', 'browser-key').set('content-type', 'text/plain').set('origin', 'https://shop.example').send(JSON.stringify([example('user_action')])));
    await record('/v1/events', 'options', request(app).options('/v1/events').set('origin', 'https://shop.example').set('access-control-request-method', 'POST'));
    await record('/v1/events', 'options', request(app).options('/v1/events').set('origin', 'https://evil.example').set('access-control-request-method', 'POST'));
    await record('/healthz', 'get', request(app).get('/healthz'));

    const down = new FakePublisher();
    down.fail = new Error('UNAVAILABLE');
    await record('/v1/events', 'post', request(makeApp(down)).post('/v1/events').set('x-api-key', 'server-key').send([example('user_action')]));
    const stopping = makeApp(new FakePublisher(), { stopping: () => true });
    await record('/v1/events', 'post', request(stopping).post('/v1/events').set('x-api-key', 'server-key').send([example('user_action')]));
    await record('/healthz', 'get', request(stopping).get('/healthz'));

    const statuses = new Set(seen.map((s) => `${s.method} ${s.path} ${s.status}`));
    for (const status of [202, 400, 401, 403, 413, 415, 429, 503]) expect(statuses).toContain(`post /v1/events ${status}`);
    expect(statuses).toContain('options /v1/events 204');
    expect(statuses).toContain('options /v1/events 403');
  });

  it('answers the Segment routes as it documents', async () => {
    const basic = `Basic ${Buffer.from('server-key:').toString('base64')}`;
    const track = { type: 'track', messageId: 'm-1', event: 'Signed Up', userId: 42, timestamp: '2026-11-21T11:59:58.000Z', properties: { plan: 'pro' } };
    expect(validator.component('SegmentBatch')({ batch: [track], sentAt: '2026-11-21T11:59:59.000Z' })).toBe(true);
    const ok = await record('/v1/batch', 'post', request(app).post('/v1/batch').set('authorization', basic).send({ batch: [track, { type: 'nope' }] }));
    expect(ok.status).toBe(200);
    // analytics.js: the one-letter path, the key in the body, text/plain.
    const short = request(app).post('/v1/t').set('content-type', 'text/plain').send(JSON.stringify({ ...track, writeKey: 'server-key' }));
    expect((await record('/v1/t', 'post', short)).status).toBe(200);
    expect((await record('/v1/batch', 'post', request(app).post('/v1/batch').set('authorization', basic).send({ batch: 'x' }))).body.error).toBe('invalid_batch');
    expect((await record('/v1/identify', 'post', request(app).post('/v1/identify').send({ userId: 'u-1' }))).status).toBe(401);
    expect((await record('/v1/page', 'post', request(app).post('/v1/page').set('authorization', basic).set('content-type', 'application/xml').send('<p/>'))).status).toBe(415);
    const allowed = request(app).options('/v1/batch').set('origin', 'https://shop.example').set('access-control-request-method', 'POST');
    expect((await record('/v1/batch', 'options', allowed)).status).toBe(204);
  });

  it('documents every route the app serves, and no other', () => {
    // The real router's routes (express 5 keeps them on app.router).
    const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
    const served = stack.flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((m) => `${m} ${layer.route!.path}`) : []));
    expect(served.length).toBeGreaterThan(20);
    expect(operations().map(({ method, path }) => `${method} ${path}`).sort()).toEqual([...new Set(served)].sort());
  });

  it('documents every status the handler answered, with bodies and headers that match', () => {
    expect(seen.length).toBeGreaterThan(20);
    const compiled = new Map<unknown, ReturnType<typeof validator.compile>>();
    for (const s of seen) {
      const where = `${s.method} ${s.path} ${s.status} ${JSON.stringify(s.body)}`;
      const responses = at(doc, `#/paths/${s.path.replace(/\//g, '~1')}/${s.method}/responses`) as Json;
      expect(Object.keys(responses), where).toContain(String(s.status));
      const response = deref(doc, responses[String(s.status)]);
      const schema = (response.content as Json | undefined)?.['application/json'] as Json | undefined;
      if (schema === undefined) {
        expect(s.body, where).toEqual({});
      } else {
        expect(s.headers['content-type'], where).toMatch(/^application\/json/);
        const validate = compiled.get(schema) ?? validator.compile(schema.schema);
        compiled.set(schema, validate);
        expect(validate(s.body), `${where}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
      for (const [name, header] of Object.entries((response.headers as Json | undefined) ?? {})) {
        if (deref(doc, header).required !== true) continue;
        const value = s.headers[name.toLowerCase()];
        expect(value, `${where}: ${name}`).toBeDefined();
        expect(validator.compile(deref(doc, header).schema)(Number(value)), `${where}: ${name}`).toBe(true);
      }
    }
  });
});

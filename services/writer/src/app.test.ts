import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLogger, createOidcVerifier } from '@strata/runtime';
import { createPiiHasher, encodeBatches, loadBundledSchemas, loadEnvelope, toMicros } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hostileTokens } from '@strata/dev/oidc-forgery';
import { createOidcIssuer, serveCerts, type ServedCerts } from '@strata/dev/oidc-issuer';
import { createApp, type AppDeps } from './app.js';
import type { FlushLimits } from './flush-policy.js';
import { createMemoryLakeStore } from './lake-store.fake.js';
import { createLakeWriter } from './lake-writer.js';
import { batchPushBody, pushBody, userAction } from './push-fixtures.js';

const AUDIENCE = 'https://writer.strata.test/push';
const PUSH_SA = 'pubsub-push@strata-test.iam.gserviceaccount.com';
const source = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: createLogger({ service: 'writer', level: 'silent' }) });
const registry = await source.current();

// At load, so each hostile token is a test of its own; the certs are served in beforeAll.
const issuer = await createOidcIssuer();
const hostile = await hostileTokens(issuer, { audience: AUDIENCE, email: PUSH_SA });
let certs: ServedCerts;
let certsUrl: string;
let token: string;

beforeAll(async () => {
  certs = await serveCerts(issuer);
  certsUrl = certs.certsUrl;
  token = await issuer.sign({ audience: AUDIENCE, email: PUSH_SA });
});

afterAll(async () => {
  await certs.close();
});

const PII_SECRET = 'test-secret-0123456789';

function setup(limits: Partial<FlushLimits> = {}, options: Pick<Partial<AppDeps>, 'stopping' | 'piiExtraKeys'> = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: 'writer' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const store = createMemoryLakeStore();
  const writer = createLakeWriter({
    store,
    registry,
    logger,
    limits: { maxRows: 1, maxBytes: 1 << 20, maxAgeMs: 60_000, quietMs: 0, maxBufferedBytes: 1 << 20, maxOpenBatches: 100, ...limits },
  });
  const verifier = createOidcVerifier({ audience: AUDIENCE, serviceAccountEmail: PUSH_SA, certsUrl });
  const app = createApp({ verifier, registry: source, writer, hash: createPiiHasher(PII_SECRET), logger, projectId: 'strata-test', ...options });
  const push = (body: unknown, bearer = token) =>
    request(app).post('/push').set('authorization', `Bearer ${bearer}`).set('x-cloud-trace-context', 'abc123/7;o=1').send(body as object);
  const names = (prefix: string) => [...store.objects.keys()].filter((name) => name.startsWith(prefix));
  return { logs, store, writer, app, push, names };
}

/** Sets `Authorization` unless it is undefined (the request without one). */
const withAuthorization = (test: request.Test, authorization: string | undefined) => (authorization === undefined ? test : test.set('authorization', authorization));

/** Starts a request and reports whether it has been answered yet. */
function inFlight(test: request.Test) {
  const state = { settled: false };
  const response = test.then((res) => {
    state.settled = true;
    return res;
  });
  return { state, response };
}

async function readParquet(bytes: Uint8Array, sql: (file: string) => string) {
  const dir = await mkdtemp(join(tmpdir(), 'writer-parquet-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const file = join(dir, 'batch.parquet');
    await writeFile(file, bytes);
    return (await connection.runAndReadAll(sql(file))).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('POST /push authentication', () => {
  it('answers 401 without a token', async () => {
    const { app, store } = setup();
    const res = await request(app).post('/push').send(pushBody(userAction()));
    expect(res.status).toBe(401);
    expect(res.body.reason).toMatch(/Bearer/);
    expect(store.objects.size).toBe(0);
  });

  it('answers 401 for a token from another issuer', async () => {
    const { push } = setup();
    const stranger = await createOidcIssuer();
    const res = await push(pushBody(userAction()), await stranger.sign({ audience: AUDIENCE, email: PUSH_SA }));
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated', reason: 'invalid token: it is signed with a key (kid) the issuer does not publish' });
  });
});

describe.each([
  ['POST /push', (app: Express, authorization?: string) => withAuthorization(request(app).post('/push').send(pushBody(userAction())), authorization)],
  ['GET /stats', (app: Express, authorization?: string) => withAuthorization(request(app).get('/stats'), authorization)],
  ['POST /dead-letter', (app: Express, authorization?: string) => withAuthorization(request(app).post('/dead-letter').send(pushBody(userAction())), authorization)],
])('%s refuses what the push subscription did not sign', (_endpoint, send) => {
  it.each(hostile)('401 for $name', async ({ authorization, reason }) => {
    const { app, store, writer } = setup();
    const res = await send(app, authorization);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthenticated', reason: expect.stringMatching(reason) });
    // The reason says what failed; it does not echo the token (or its payload) back.
    expect(res.text).not.toMatch(/eyJ/);
    expect(store.objects.size).toBe(0);
    expect(writer.stats().items).toBe(0);
  });
});

describe('GET /stats and GET /healthz', () => {
  it('GET /stats shows the buffers to the push token', async () => {
    const { app, push, writer } = setup({ maxRows: 10 });
    const pending = inFlight(push(pushBody(userAction())));
    await vi.waitFor(() => expect(writer.stats().items).toBe(1));
    const res = await request(app).get('/stats').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ buffered: writer.stats() });
    expect(res.body.buffered).toMatchObject({ items: 1, openBatches: 1 });
    await writer.flushAll();
    expect((await pending.response).status).toBe(204);
  });

  it('GET /healthz needs no token and says only whether the writer is serving', async () => {
    let stopping = false;
    const { app, push, writer } = setup({ maxRows: 10 }, { stopping: () => stopping });
    // Something buffered, which /healthz must not tell.
    const pending = inFlight(push(pushBody(userAction())));
    await vi.waitFor(() => expect(writer.stats().items).toBe(1));
    const probe = async () => request(app).get('/healthz').then((res) => [res.status, res.text]);
    expect(await probe()).toEqual([200, '{"ok":true}']);
    stopping = true;
    expect(await probe()).toEqual([503, '{"ok":false}']);
    await writer.flushAll();
    expect((await pending.response).status).toBe(204);
  });
});

describe('POST /push', () => {
  it('answers 204 only once the batch holding the row is in the store', async () => {
    const { push, writer, names, store, logs } = setup({ maxRows: 2 });
    const first = inFlight(push(pushBody(userAction(), { messageId: 'm1' })));
    await vi.waitFor(() => expect(writer.stats().items).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(first.state.settled).toBe(false);
    expect(store.objects.size).toBe(0);

    const second = await push(pushBody(userAction({ user_id: 'u-2' }), { messageId: 'm2' }));
    expect(second.status).toBe(204);
    expect((await first.response).status).toBe(204);

    const [object] = names('events/log_type=user_action/dt=2024-05-06/hr=07/');
    expect(object).toMatch(/\/[0-9A-Z]{26}\.parquet$/);
    expect(store.objects.get(object!)?.contentType).toBe('application/vnd.apache.parquet');
    const flushed = logs.find((line) => line.message === 'partition flushed');
    expect(flushed).toMatchObject({ severity: 'INFO', log_type: 'user_action', dt: '2024-05-06', hr: '07', rows: 2, object });
    expect(flushed?.bytes).toBe(store.objects.get(object!)?.bytes.length);
  });

  it('writes Parquet that DuckDB reads back with exact types and µs values and no partition columns', async () => {
    const { push, store } = setup();
    const ts = '2024-05-06T07:08:09.123456Z';
    expect((await push(pushBody(userAction({ ts, session_id: 's-1', coupon: 'X1' }), { messageId: 'm9' }))).status).toBe(204);
    const [stored] = [...store.objects.values()];

    const columns = await readParquet(stored!.bytes, (file) => `DESCRIBE SELECT * FROM read_parquet('${file}')`);
    // The union of user_action's versions, as the schemas package generates it; no log_type/dt/hr.
    expect(columns.map((c) => [c.column_name, c.column_type])).toEqual([
      ['event_id', 'VARCHAR'],
      ['event', 'VARCHAR'],
      ['ts', 'TIMESTAMP WITH TIME ZONE'],
      ['received_at', 'TIMESTAMP WITH TIME ZONE'],
      ['user_id', 'VARCHAR'],
      ['anonymous_id', 'VARCHAR'],
      ['session_id', 'VARCHAR'],
      ['source', 'VARCHAR'],
      ['schema_version', 'BIGINT'],
      ['context', 'STRUCT(user_agent VARCHAR, ip VARCHAR, locale VARCHAR, page STRUCT(url VARCHAR, referrer VARCHAR, title VARCHAR))'],
      ['page_url', 'VARCHAR'],
      ['referrer', 'VARCHAR'],
      ['product_id', 'VARCHAR'],
      ['cart_id', 'VARCHAR'],
      ['price', 'DOUBLE'],
      ['currency', 'VARCHAR'],
      ['quantity', 'BIGINT'],
      ['search_query', 'VARCHAR'],
      ['list_id', 'VARCHAR'],
      ['position', 'BIGINT'],
      ['extra', 'VARCHAR'],
    ]);

    const codecs = await readParquet(stored!.bytes, (file) => `SELECT DISTINCT compression FROM parquet_metadata('${file}')`);
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);

    const [row] = await readParquet(
      stored!.bytes,
      (file) => `SELECT event_id, epoch_us(ts) AS ts_us, epoch_us(received_at) AS received_us, user_id, session_id, schema_version, quantity, extra FROM read_parquet('${file}')`,
    );
    expect(row).toEqual({
      event_id: 'pubsub-m9',
      ts_us: toMicros(ts),
      received_us: toMicros('2024-05-06T23:59:59.500Z'),
      user_id: 'u-1',
      session_id: 's-1',
      schema_version: 1n,
      quantity: 2n,
      // user_action keeps fields it does not know, in the extra column.
      extra: JSON.stringify({ coupon: 'X1' }),
    });
  });

  it('protects PII of events published straight to Pub/Sub: hash, redact, drop', async () => {
    const { push, store } = setup();
    const order = {
      event: 'order_paid', ts: '2024-05-06T07:08:09Z', order_id: 'o-1', customer_email: 'ada@example.com',
      shipping_address: { street: 'Main St 1' }, context: { ip: '203.0.113.7', locale: 'de' },
    };
    const res = await push(pushBody(order, { attributes: { log_type: 'order_event', schema_version: '1' } }));
    expect(res.status).toBe(204);
    const [stored] = [...store.objects.values()];
    const [row] = await readParquet(stored!.bytes, (file) => `SELECT customer_email, context.ip AS ip, context.locale AS locale FROM read_parquet('${file}')`);
    expect(row).toEqual({ customer_email: createPiiHasher(PII_SECRET)('ada@example.com'), ip: '[redacted]', locale: 'de' });
    const columns = await readParquet(stored!.bytes, (file) => `DESCRIBE SELECT * FROM read_parquet('${file}')`);
    expect(columns.map((c) => c.column_name)).not.toContain('shipping_address');
  });

  it('answers 503 when the flush fails, and keeps nothing', async () => {
    const { push, store, writer, logs } = setup();
    store.failPuts = true;
    const res = await push(pushBody(userAction()));
    expect(res.status).toBe(503);
    expect(store.objects.size).toBe(0);
    expect(writer.stats().items).toBe(0);
    expect(logs.find((line) => line.message === 'partition flush failed')).toMatchObject({ severity: 'ERROR', log_type: 'user_action' });
  });

  it('answers 429 at once while MAX_BUFFERED_BYTES are held, uploads included', async () => {
    const { push, writer, store } = setup({ maxRows: 10, maxBufferedBytes: 150 });
    // A slow store: the first message's file is still uploading when the second arrives.
    store.delayMs = 1500;
    const first = inFlight(push(pushBody(userAction(), { messageId: 'a' })));
    await vi.waitFor(() => expect(writer.stats()).toMatchObject({ items: 1, flushing: 1 }));
    const refused = await push(pushBody(userAction(), { messageId: 'b' }));
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'busy' });
    expect(first.state.settled).toBe(false);

    await writer.flushAll();
    expect((await first.response).status).toBe(204);
    expect(store.objects.size).toBe(1);
  });

  it.each([
    ['invalid JSON', '{"message":', /JSON|Unexpected/],
    ['a body without message', { subscription: 's' }, /message must be an object/],
    ['data that is not base64', pushBody(null, { rawData: '%%%' }), /base64/],
    ['a message without messageId', { message: { data: '', publishTime: '2024-01-01T00:00:00Z' } }, /messageId/],
  ])('answers 400 with a JSON reason for %s', async (_name, body, reason) => {
    const { push, store } = setup();
    const res = await push(body).type('json');
    expect(res.status).toBe(400);
    expect(res.body.reason).toMatch(reason);
    expect(store.objects.size).toBe(0);
  });

  it('answers 400 for a body that is not JSON at all', async () => {
    const { app } = setup();
    const res = await request(app).post('/push').set('authorization', `Bearer ${token}`).type('text').send('hello');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'malformed_push', reason: expect.stringMatching(/body must be a JSON object/) });
  });

  it('logs request problems with trace fields', async () => {
    const { push, logs } = setup();
    await push({ nope: true });
    expect(logs.find((line) => line.message === 'malformed push message')).toMatchObject({
      'logging.googleapis.com/trace': 'projects/strata-test/traces/abc123',
      'logging.googleapis.com/spanId': '7',
    });
  });

  it('quarantines an invalid event with its reasons, then acks it', async () => {
    const { push, store, names, logs } = setup();
    const event = userAction({ ts: '2024-05-06T07:08:09Z', quantity: 'two', colour: 'red' });
    const res = await push(pushBody(event, { messageId: 'bad-1' }));
    expect(res.status).toBe(204);

    const [object] = names('quarantine/log_type=user_action/dt=2024-05-06/');
    expect(object).toMatch(/\.jsonl$/);
    expect(names('events/')).toEqual([]);
    const stored = store.objects.get(object!)!;
    expect(stored.contentType).toBe('application/x-ndjson');
    const lines = new TextDecoder().decode(stored.bytes).trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      reasons: expect.arrayContaining([
        { path: '/quantity', message: 'must be integer' },
      ]),
      attributes: { log_type: 'user_action', schema_version: '1' },
      messageId: 'bad-1',
      publishTime: '2024-05-06T23:59:59.500Z',
      event_id: 'pubsub-bad-1',
      data: { event: 'page_view', ts: '2024-05-06T07:08:09Z', user_id: 'u-1', page_url: 'https://shop.example/cart', quantity: 'two', colour: 'red' },
      // The key id its data is protected with: a replay republishes it marked so.
      pii_protected: createPiiHasher(PII_SECRET).keyId,
    });
    expect(logs.find((line) => line.message === 'quarantined')).toMatchObject({ log_type: 'user_action', count: 1, object });
  });

  it('quarantines a payload that is not JSON under _unknown when the log type is unknown', async () => {
    const { push, names, store } = setup();
    const rawData = Buffer.from('plain text').toString('base64');
    const res = await push(pushBody(null, { rawData, attributes: { log_type: 'nope' } }));
    expect(res.status).toBe(204);
    const [object] = names('quarantine/log_type=_unknown/dt=2024-05-06/');
    const record = JSON.parse(new TextDecoder().decode(store.objects.get(object!)!.bytes)) as { data: unknown };
    expect(record.data).toBe(rawData);
  });

  it('refuses pushes with 503 and closes the connection once the writer is stopping', async () => {
    const { push, store } = setup({}, { stopping: () => true });
    const res = await push(pushBody(userAction()));
    expect(res.status).toBe(503);
    expect(res.headers.connection).toBe('close');
    expect(res.body).toMatchObject({ error: 'stopping' });
    expect(store.objects.size).toBe(0);
  });

  it('answers unknown routes with the shared JSON 404', async () => {
    const { app } = setup();
    const res = await request(app).get('/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', reason: 'GET /nope does not exist; the endpoints are POST /push, POST /dead-letter, GET /stats and GET /healthz' });
  });
});

describe('POST /push with a batch message', () => {
  const hours = ['2024-05-06T07', '2024-05-06T08', '2024-05-07T00'];
  /** 500 events over three event-time partitions; events 100 and 401 are invalid. */
  const batch = () =>
    Array.from({ length: 500 }, (_, i) =>
      userAction({
        event_id: `e-${i}`,
        ts: `${hours[i % 3]}:${String(i % 60).padStart(2, '0')}:00Z`,
        user_id: `u-${i % 17}`,
        ...(i === 100 ? { quantity: 'lots' } : i === 401 ? { ts: 'soon' } : {}),
      }),
    );

  it('writes a 500-event message spanning 3 partitions, quarantines its 2 invalid events, and acks it once', async () => {
    const { push, store, names, writer } = setup({ maxRows: 10_000 });
    const pending = inFlight(push(await batchPushBody(batch(), { messageId: 'm-500' })));
    // Three partitions and one quarantine folder, all open: the push is held until every part is durable.
    await vi.waitFor(() => expect(writer.stats()).toMatchObject({ items: 500, openBatches: 4 }));
    expect(pending.state.settled).toBe(false);
    await writer.flushAll();
    expect((await pending.response).status).toBe(204);

    const files = names('events/');
    expect(files.map((f) => f.slice(0, f.lastIndexOf('/') + 1)).sort()).toEqual([
      'events/log_type=user_action/dt=2024-05-06/hr=07/',
      'events/log_type=user_action/dt=2024-05-06/hr=08/',
      'events/log_type=user_action/dt=2024-05-07/hr=00/',
    ]);
    const ids = new Set<string>();
    for (const file of files) {
      for (const row of await readParquet(store.objects.get(file)!.bytes, (f) => `SELECT event_id FROM read_parquet('${f}')`)) ids.add(String(row.event_id));
    }
    expect(ids.size).toBe(498);
    expect(ids.has('e-100') || ids.has('e-401')).toBe(false);

    const [quarantined] = names('quarantine/log_type=user_action/');
    const records = new TextDecoder().decode(store.objects.get(quarantined!)!.bytes).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => [r.index, r.messageId, r.event_id, r.data.event_id, r.reasons])).toEqual([
      [100, 'm-500', 'e-100', 'e-100', [{ path: '/quantity', message: 'must be integer' }]],
      [401, 'm-500', 'e-401', 'e-401', [{ path: '/ts', message: 'must match format "date-time"' }]],
    ]);
  });

  it('answers 503 when one partition of a message fails; the redelivery lands every event, exactly once after dedup', async () => {
    const { push, store, names, writer } = setup({ maxRows: 10_000 });
    store.failWhen = (name) => name.includes('/hr=08/');
    const body = await batchPushBody(batch(), { messageId: 'm-retry' });
    const first = inFlight(push(body));
    await vi.waitFor(() => expect(writer.stats().openBatches).toBe(4));
    await writer.flushAll();
    expect((await first.response).status).toBe(503);
    expect(names('events/')).toHaveLength(2); // hr=07 and the next day were written, hr=08 was not

    // Pub/Sub redelivers the same message (the buffer is draining since flushAll, so it is written at once).
    store.failWhen = undefined;
    expect((await push(body)).status).toBe(204);
    const rows: string[] = [];
    for (const file of names('events/')) {
      for (const row of await readParquet(store.objects.get(file)!.bytes, (f) => `SELECT event_id FROM read_parquet('${f}')`)) rows.push(String(row.event_id));
    }
    // At-least-once: the two partitions written the first time (hr=07: 167 valid rows, the next day:
    // 165) hold their rows twice, under the same ids; hr=08 (166 valid) was written once.
    expect(rows.length).toBe(2 * 167 + 2 * 165 + 166);
    expect(new Set(rows).size).toBe(498);
  });

  it('gives events without an event_id a deterministic one from the message id and line', async () => {
    const { push, store, writer } = setup({ maxRows: 10_000 });
    const events = [userAction(), userAction({ user_id: 'u-2' })];
    const pending = inFlight(push(await batchPushBody(events, { messageId: 'm-ids' })));
    await vi.waitFor(() => expect(writer.stats().items).toBe(2));
    await writer.flushAll();
    expect((await pending.response).status).toBe(204);
    const [file] = [...store.objects.values()];
    const rows = await readParquet(file!.bytes, (f) => `SELECT event_id FROM read_parquet('${f}') ORDER BY event_id`);
    expect(rows.map((r) => r.event_id)).toEqual(['pubsub-m-ids-0', 'pubsub-m-ids-1']);
  });

  it('quarantines a whole message it cannot read, with the raw payload', async () => {
    const { push, names, store } = setup();
    const rawData = Buffer.from('not gzip at all').toString('base64');
    const res = await push(pushBody(null, { rawData, attributes: { log_type: 'user_action', encoding: 'ndjson+gzip', event_count: '3' } }));
    expect(res.status).toBe(204);
    const [object] = names('quarantine/log_type=user_action/');
    const record = JSON.parse(new TextDecoder().decode(store.objects.get(object!)!.bytes));
    expect(record).toMatchObject({ data: rawData, reasons: [{ path: '', message: expect.stringMatching(/^data is not valid gzip/) }] });
    expect(record).not.toHaveProperty('index');
  });
});

describe('POST /dead-letter', () => {
  const hash = createPiiHasher(PII_SECRET);
  /** What Pub/Sub adds to a message it forwards to the dead-letter topic. */
  const deadLetterAttributes = {
    CloudPubSubDeadLetterSourceDeliveryCount: '100',
    CloudPubSubDeadLetterSourceSubscription: 'strata-events-writer-push',
    CloudPubSubDeadLetterSourceSubscriptionProject: 'strata-test',
    CloudPubSubDeadLetterSourceTopicPublishTime: '2024-05-06T23:59:58.000Z',
  };
  /** The records in every object under a prefix (setup writes one per record), in line order. */
  const records = ({ store, names }: ReturnType<typeof setup>, prefix: string) =>
    names(prefix)
      .flatMap((object) => new TextDecoder().decode(store.objects.get(object)!.bytes).trimEnd().split('\n'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .sort((a, b) => Number(a.index) - Number(b.index));

  it('files each line under dead-letter/ with its attributes, PII protected, and acks only once it is stored', async () => {
    const stack = setup({}, { piiExtraKeys: ['email', 'coupon'] });
    const { app, store, names, logs } = stack;
    const orders = [
      { event: 'order_paid', ts: '2024-05-06T07:08:09Z', order_id: 'o-1', customer_email: 'ada@example.com', shipping_address: { street: 'Main St 1' }, context: { ip: '203.0.113.7' } },
      { event: 'order_paid', order_id: 'o-2', coupon: 'SAVE10' },
    ];
    const [message] = await encodeBatches('order_event', orders, { source: 'orders-service', gzip: false });
    const attributes = { ...message!.attributes, ...deadLetterAttributes };
    const body = pushBody(null, { messageId: 'dl-1', attributes, rawData: message!.data.toString('base64') });
    const deadLetter = () => request(app).post('/dead-letter').set('authorization', `Bearer ${token}`).send(body);

    store.failPuts = true;
    expect((await deadLetter()).status).toBe(503);
    expect(store.objects.size).toBe(0);
    store.failPuts = false;
    expect((await deadLetter()).status).toBe(204);

    expect(names('quarantine/')).toEqual([]);
    const [object] = names('dead-letter/log_type=order_event/dt=2024-05-06/');
    expect(object).toMatch(/\.jsonl$/);
    expect(store.objects.get(object!)!.contentType).toBe('application/x-ndjson');
    const folder = 'dead-letter/log_type=order_event/dt=2024-05-06/';
    const reason = { path: '', message: 'dead-lettered from strata-events-writer-push after 100 delivery attempts: the writer refused it every time' };
    expect(records(stack, folder)).toEqual([
      {
        reasons: [reason], attributes, messageId: 'dl-1', publishTime: '2024-05-06T23:59:59.500Z', index: 0, event_id: 'pubsub-dl-1-0', pii_protected: hash.keyId,
        data: { event: 'order_paid', ts: '2024-05-06T07:08:09Z', order_id: 'o-1', customer_email: hash('ada@example.com'), context: { ip: '[redacted]' } },
      },
      // Not valid (no ts, an unknown field), and not validated: dead letters are kept as they are, protected.
      { reasons: [reason], attributes, messageId: 'dl-1', publishTime: '2024-05-06T23:59:59.500Z', index: 1, event_id: 'pubsub-dl-1-1', pii_protected: hash.keyId, data: { event: 'order_paid', order_id: 'o-2', coupon: hash('SAVE10') } },
    ]);
    expect(logs.find((line) => line.message === 'dead letters filed')).toMatchObject({ log_type: 'order_event', count: 1, object: expect.stringMatching(/^dead-letter\//) });
    expect(logs.some((line) => line.message === 'quarantined')).toBe(false);
  });

  it('keeps what ingest protected as it is, and a payload it cannot decode as delivered', async () => {
    const stack = setup();
    const { app } = stack;
    const hashed = hash('ada@example.com');
    const marked = pushBody({ event: 'order_paid', customer_email: hashed }, { messageId: 'dl-2', attributes: { log_type: 'order_event', pii_protected: 'k0', ...deadLetterAttributes } });
    const rawData = Buffer.from('not gzip').toString('base64');
    const broken = pushBody(null, { messageId: 'dl-3', rawData, attributes: { log_type: 'nope', encoding: 'ndjson+gzip', ...deadLetterAttributes } });
    for (const body of [marked, broken]) expect((await request(app).post('/dead-letter').set('authorization', `Bearer ${token}`).send(body)).status).toBe(204);

    expect(records(stack, 'dead-letter/log_type=order_event/')).toMatchObject([{ messageId: 'dl-2', event_id: 'pubsub-dl-2', data: { customer_email: hashed }, pii_protected: 'k0' }]);
    const [whole] = records(stack, 'dead-letter/log_type=_unknown/');
    // Nothing in it names PII: kept as delivered (and marked, since it went through protection).
    expect(whole).toMatchObject({ messageId: 'dl-3', data: rawData, reasons: [expect.anything(), { path: '', message: expect.stringMatching(/^data is not valid gzip/) }] });
  });

  it('answers 400 for a broken envelope, as /push does', async () => {
    const { app } = setup();
    const res = await request(app).post('/dead-letter').set('authorization', `Bearer ${token}`).send({ subscription: 's' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'malformed_push', reason: 'message must be an object' });
  });
});

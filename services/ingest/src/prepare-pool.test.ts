import { createLogger } from '@strata/runtime';
import { createPiiPolicy, createRegistry, decodeBatch, DEFAULT_EVENT_TIME_WINDOW, DEFAULT_PII_EXTRA_KEYS, loadBundledSchemas } from '@strata/schemas';
import { makeEvent } from '@strata/test';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type IngestDeps } from './app.js';
import type { RawBody } from './body.js';
import type { Key } from './keys.js';
import { testKeys } from './keys.fake.js';
import { preparerFor, type BatchInput, type BatchOutcome } from './prepare-batch.js';
import type { Preparer } from './accept-events.js';
import { BUSY_RETRY_AFTER_SECONDS, createPreparePool, defaultWorkerThreads, type PreparePool, type PrepareWorkerSettings } from './prepare-pool.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * The worker pool runs the same prepareBatch as the request's thread, in real worker threads
 * (prepare-worker.ts loaded through tsx): for every kind of body the outcome must be the one the
 * inline preparer gives, down to the published lines.
 */
const settings: PrepareWorkerSettings = {
  pii: { secret: 'test-secret-0123456789', keyId: 'k1', extraKeys: DEFAULT_PII_EXTRA_KEYS },
  maxEvents: 10,
  window: DEFAULT_EVENT_TIME_WINDOW,
  schemaRegistryDatabaseUrl: undefined,
  schemaRegistryTtlMs: 30_000,
  logLevel: 'silent',
};
const registry = createRegistry(loadBundledSchemas());
const pii = createPiiPolicy(settings.pii);
const inline = preparerFor(settings, { current: async () => registry });
const anyKey: Key = { name: 'backend', rate: { points: 1000, durationSeconds: 1 } };
const actionsOnly: Key = { ...anyKey, name: 'web', logTypes: ['user_action'] };

const silent = createLogger({ service: 'ingest', level: 'silent' });
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
let pool: PreparePool;
let inWorkers: Preparer;
beforeAll(async () => {
  pool = createPreparePool(2, settings, { logger: silent, maxQueuedBytes: MAX_QUEUED_BYTES });
  inWorkers = pool.preparer(inline);
  await pool.ready;
});
afterAll(() => pool.close());

const raw = (text: string, format: RawBody['format'] = 'json'): RawBody => ({ bytes: Buffer.from(text), format });

/** The real app (key "k") with /v1/events prepared by `offload`; this thread's newId must not be used. */
const appWith = (offload: IngestDeps['offload'], publisher: FakePublisher) =>
  createApp({
    config: { keys: testKeys('k'), maxEventsPerRequest: 10, maxBodyBytes: 100_000, maxDecodedBytes: 100_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
    registry: { current: async () => registry },
    publisher,
    hash: pii.hash,
    logger: silent,
    newId: () => 'never-called-on-this-thread',
    offload,
  });
const now = () => new Date().toISOString();

/** An outcome with its messages decoded and the receive time (each side's own clock) left out. */
async function comparable(outcome: BatchOutcome): Promise<unknown> {
  if (outcome.kind === 'refused') return outcome;
  const messages = await Promise.all(
    outcome.messages.map(async (m) => {
      const decoded = await decodeBatch(m.attributes, Buffer.from(m.data));
      if (!decoded.ok) throw new Error(decoded.reason);
      const lines = decoded.lines.map((line) => {
        if (!line.ok) return line;
        const { received_at: receivedAt, ...rest } = line.value as Record<string, unknown>;
        expect(typeof receivedAt === 'string' || m.attributes.kind === 'rejected').toBe(true);
        return rest;
      });
      return { attributes: m.attributes, carried: m.carried, lines };
    }),
  );
  return { ...outcome, messages };
}

describe('createPreparePool', () => {
  const inputs: Array<[string, BatchInput]> = [
    [
      'accepted and quarantined events (NDJSON, own event_ids, PII to hash)',
      {
        key: anyKey,
        atomic: false,
        body: raw(
          [
            JSON.stringify(makeEvent({ event_id: 'e-1', ts: now(), user_id: 'u-1' })),
            JSON.stringify(makeEvent({ event_id: 'e-2', ts: now(), price: 'twelve' })),
            JSON.stringify({ log_type: 'order_event', event_id: 'e-3', ts: now(), event: 'created', order_id: 'o-1', customer_email: 'ada@example.com' }),
          ].join('\n'),
          'ndjson',
        ),
      },
    ],
    [
      'a body over 4 KiB, whose bytes move to the worker rather than being copied',
      { key: anyKey, atomic: false, body: { bytes: Buffer.from(JSON.stringify(Array.from({ length: 10 }, (_, i) => makeEvent({ event_id: `big-${i}`, ts: now(), page_url: `https://shop.example/${'p'.repeat(600)}` })))), format: 'json' } },
    ],
    ['a body that is not JSON', { key: anyKey, atomic: false, body: raw('[{"log_type": ') }],
    ['a log type the key may not write', { key: actionsOnly, atomic: false, body: raw(JSON.stringify([makeEvent({ ts: now() }), { log_type: 'order_event' }])) }],
    ['too many events', { key: anyKey, atomic: false, body: raw(JSON.stringify(Array.from({ length: 11 }, () => makeEvent({ ts: now() })))) }],
    ['atomic with an invalid event', { key: anyKey, atomic: true, body: raw(JSON.stringify([makeEvent({ event_id: 'a-1', ts: now() }), makeEvent({ event_id: 'a-2', ts: 'yesterday' })])) }],
  ];

  it.each(inputs)('gives what the request thread gives: %s', async (_name, input) => {
    // The request thread's copy first: a transferred body is detached from this thread.
    const inThread = await inline(structuredClone(input));
    const inWorker = await inWorkers(input);
    expect(await comparable(inWorker)).toEqual(await comparable(inThread));
  });

  it('serves /v1/events from its workers, end to end', async () => {
    const publisher = new FakePublisher();
    const app = appWith(pool.preparer, publisher);
    const res = await request(app)
      .post('/v1/events')
      .set('x-api-key', 'k')
      .send([makeEvent({ ts: now() }), makeEvent({ ts: now(), event: 42 })]);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
    // Ids come from the worker's ULID factory, not this thread's newId.
    expect(res.body.event_ids[0]).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(publisher.published.map((m) => m.attributes.kind ?? 'events').sort()).toEqual(['events', 'rejected']);
  });

  it('fails its start-up check when a worker cannot start, without crashing, and then prepares on the request thread', async () => {
    const errors: unknown[] = [];
    const logger = createLogger({ service: 'ingest', level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line)) });
    // No PII settings: the worker throws as it loads.
    const broken = createPreparePool(1, { ...settings, pii: undefined as never }, { logger, maxQueuedBytes: MAX_QUEUED_BYTES });
    try {
      await expect(broken.ready).rejects.toThrow(/prepare workers .* could not start/);
      const input: BatchInput = { key: anyKey, atomic: false, body: raw(JSON.stringify([makeEvent({ event_id: 'f-1', ts: now() })])) };
      const outcome = await broken.preparer(inline)(input);
      expect(outcome).toMatchObject({ kind: 'ready', accepted: 1, eventIds: ['f-1'] });
    } finally {
      await broken.close();
    }
  });

  it('refuses bodies with 503 busy while the bytes waiting for a worker reach the limit, and takes them again once prepared', async () => {
    // Over 4 KiB, so each body's buffer is transferred to the worker: its size must be counted before.
    const body = () => raw(JSON.stringify(Array.from({ length: 3 }, (_, i) => makeEvent({ ts: now(), page_url: `https://shop.example/${i}/${'p'.repeat(2000)}` }))));
    const size = body().bytes.byteLength;
    expect(size).toBeGreaterThan(4096);
    // Room for two bodies: the third and fourth, sent while the first two wait, are refused.
    const small = createPreparePool(1, settings, { logger: silent, maxQueuedBytes: 2 * size });
    try {
      await small.ready;
      const prepare = small.preparer(inline);
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => prepare({ key: anyKey, atomic: false, body: body() })));
      expect(outcomes.map((o) => o.kind)).toEqual(['ready', 'ready', 'refused', 'refused']);
      expect(outcomes[2]).toMatchObject({ status: 503, code: 'busy', retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
      expect((outcomes[2] as { reason: string }).reason).toMatch(/INGEST_MAX_QUEUED_BYTES/);
      // Nothing waits now: a body larger than the whole limit is still taken, alone.
      const large = raw(JSON.stringify(Array.from({ length: 7 }, () => makeEvent({ ts: now(), page_url: `https://shop.example/${'p'.repeat(2000)}` }))));
      expect(large.bytes.byteLength).toBeGreaterThan(2 * size);
      expect(await prepare({ key: anyKey, atomic: false, body: large })).toMatchObject({ kind: 'ready', accepted: 7 });
    } finally {
      await small.close();
    }
  });

  it('counts a body out again when its task fails', async () => {
    const size = raw(JSON.stringify([makeEvent({ ts: now() })])).bytes.byteLength;
    const failing = createPreparePool(1, settings, { logger: silent, maxQueuedBytes: 2 * size });
    try {
      await failing.ready;
      const prepare = failing.preparer(inline);
      // A key holding a function cannot be cloned to the worker, so the task fails. Were a failed
      // body still counted, the third would be refused as busy instead.
      const unclonable = { ...anyKey, toJSON: () => 'x' } as Key;
      for (let i = 0; i < 3; i++) await expect(prepare({ key: unclonable, atomic: false, body: raw(JSON.stringify([makeEvent({ ts: now() })])) })).rejects.toThrow(/clone/i);
      expect(await prepare({ key: anyKey, atomic: false, body: raw(JSON.stringify([makeEvent({ ts: now() })])) })).toMatchObject({ kind: 'ready', accepted: 1 });
    } finally {
      await failing.close();
    }
  });

  it('answers a busy refusal with 503 and Retry-After through /v1/events', async () => {
    const busy: Preparer = async () => ({ kind: 'refused', status: 503, code: 'busy', reason: 'still preparing', retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    const publisher = new FakePublisher();
    const app = appWith(() => busy, publisher);
    const res = await request(app).post('/v1/events').set('x-api-key', 'k').send([makeEvent({ ts: now() })]);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe(BUSY_RETRY_AFTER_SECONDS);
    expect(res.body).toMatchObject({ error: 'busy', reason: 'still preparing' });
    expect(publisher.published).toHaveLength(0);
  });

  it('has no workers on one CPU, one per CPU otherwise, at most 4', () => {
    expect([1, 2, 4, 16].map((cpus) => defaultWorkerThreads(cpus))).toEqual([0, 2, 4, 4]);
  });
});

import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { closeServer, createLogger, createOidcVerifier, listen } from '@strata/runtime';
import { createPiiHasher, encodeBatches, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import { startGcsEmulator, type GcsEmulator } from '@strata/dev/gcs-emulator';
import { startPubsubEmulator, type PubsubEmulator } from '@strata/dev/pubsub-emulator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from './app.js';
import { createGcsLakeStore, type LakeStore } from './lake-store.js';
import type { FlushLimits } from './flush-policy.js';
import { createLakeWriter } from './lake-writer.js';
import { userAction } from './push-fixtures.js';

/**
 * The writer against real servers: Pub/Sub push from the local emulator (OIDC-signed), objects in the
 * GCS emulator through the real client, read back by DuckDB. One partition's upload fails on the
 * first delivery; the message must come back and every event land, exactly once after dedup.
 */
const PROJECT = 'strata-it';
const PUSH_SA = 'push@strata-it.iam.gserviceaccount.com';
const MiB = 1024 * 1024;

let pubsubEmulator: PubsubEmulator;
let gcs: GcsEmulator;
let root: string;
let pubsub: PubSub;
const servers: Server[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'writer-it-'));
  pubsubEmulator = await startPubsubEmulator();
  gcs = await startGcsEmulator({ root });
  pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: pubsubEmulator.address });
});

afterAll(async () => {
  await pubsub?.close();
  await pubsubEmulator?.stop();
  for (const server of servers) await closeServer(server)();
  await gcs?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/**
 * A writer app on a loopback port over its own bucket in the GCS emulator, a topic, and a push
 * subscription to it. `wrap` may put a fault in front of the real GCS store.
 */
async function writerUnderPush(name: string, limits: Partial<FlushLimits>, wrap: (store: LakeStore) => LakeStore = (s) => s) {
  const storage = new Storage({ projectId: PROJECT, apiEndpoint: gcs.url });
  await storage.createBucket(name);
  const logger = createLogger({ service: 'writer', level: 'silent' });
  const source = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger });
  const writer = createLakeWriter({
    store: wrap(createGcsLakeStore(storage.bucket(name))),
    registry: await source.current(),
    logger,
    limits: { maxRows: 50_000, maxBytes: 32 * MiB, maxAgeMs: 5_000, quietMs: 100, maxBufferedBytes: 64 * MiB, maxOpenBatches: 64, ...limits },
  });
  const verifier = createOidcVerifier({ audience: name, serviceAccountEmail: PUSH_SA, certsUrl: pubsubEmulator.certsUrl });
  const app = createApp({ verifier, registry: source, writer, hash: createPiiHasher('test-secret-0123456789'), logger });
  const pushes: number[] = [];
  const server = createServer((req, res) => {
    res.on('finish', () => pushes.push(res.statusCode));
    app(req, res);
  });
  servers.push(server);
  const port = await listen(server, 0, '127.0.0.1');
  const [topic] = await pubsub.createTopic(name);
  await topic.createSubscription(name, {
    ackDeadlineSeconds: 30,
    pushConfig: { pushEndpoint: `http://127.0.0.1:${port}/push`, oidcToken: { serviceAccountEmail: PUSH_SA, audience: name } },
    retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
  });
  const publish = async (events: Record<string, unknown>[]) => {
    for (const message of await encodeBatches('user_action', events, { source: 'writer-it' })) {
      await topic.publishMessage({ data: message.data, attributes: message.attributes });
    }
  };
  const backlog = () => pubsubEmulator.backlog(`projects/${PROJECT}/subscriptions/${name}`);
  return { pushes, publish, backlog, bucketDir: join(root, name), writer };
}

async function lake(bucketDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const glob = join(bucketDir, 'events', '**', '*.parquet');
    await connection.run(`create view user_action as select * from read_parquet('${glob}', hive_partitioning = true)`);
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('writer under Pub/Sub push', () => {
  it('answers 503 when a partition fails, gets the message again, and the lake holds each valid event exactly once after dedup', async () => {
    // The second hour's partition fails until told otherwise.
    const failing = `/hr=${new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000).toISOString().slice(11, 13)}/`;
    let failHour: string | undefined = failing;
    // The GCS emulator has no fault switch yet: fail one partition's uploads here until told to stop.
    const { pushes, publish, backlog, bucketDir } = await writerUnderPush('faulty', {}, (store) => ({
      put: (name, bytes, contentType) => (failHour && name.includes(failHour) ? Promise.reject(new Error(`injected failure for ${name}`)) : store.put(name, bytes, contentType)),
    }));
    // Three recent event-time hours (inside the writer's window around the publish time).
    const hours = [3, 2, 1].map((back) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - back * 3_600_000).toISOString().slice(0, 13));
    const events = Array.from({ length: 500 }, (_, i) =>
      userAction({ event_id: `e-${i}`, ts: `${hours[i % 3]}:${String(i % 60).padStart(2, '0')}:00Z`, ...(i === 7 || i === 250 ? { quantity: 'x' } : {}) }),
    );
    await publish(events);

    await vi.waitFor(() => expect(pushes).toContain(503), { timeout: 20_000, interval: 100 });
    failHour = undefined;
    await vi.waitFor(() => expect(pushes).toContain(204), { timeout: 20_000, interval: 100 });
    // Acked once: after the 204 Pub/Sub delivers it no more.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(pushes.filter((s) => s === 204)).toHaveLength(1);
    expect(backlog()).toEqual({ ready: 0, delayed: 0, outstanding: 0 });

    const [counts] = await lake(bucketDir, 'select count(*) as rows, count(distinct event_id) as events from user_action');
    // Two partitions were written on both deliveries: their rows are there twice, under the same ids.
    expect(Number(counts!.rows)).toBeGreaterThan(498);
    expect(Number(counts!.events)).toBe(498);
    const perHour = await lake(bucketDir, 'select hr, count(distinct event_id) as n from user_action group by hr');
    // Events 7 and 250 (both in the second hour) are invalid.
    const byHour = new Map(perHour.map((r) => [Number(r.hr), Number(r.n)]));
    expect(hours.map((h) => byHour.get(Number(h.slice(11, 13))))).toEqual([167, 165, 166]);
    const missing = await lake(bucketDir, `select count(*) as n from user_action where event_id in ('e-7', 'e-250')`);
    expect(Number(missing[0]!.n)).toBe(0);
    // …and kept in quarantine with their reasons (written on both deliveries, like the rows).
    const quarantined = await lake(
      bucketDir,
      `select distinct "index", data.event_id as id, reasons[1].path as path from read_json('${join(bucketDir, 'quarantine', '**', '*.jsonl')}') order by "index"`,
    );
    expect(quarantined).toEqual([{ index: 7n, id: 'e-7', path: '/quantity' }, { index: 250n, id: 'e-250', path: '/quantity' }]);
  });

  it('answers 429 when its byte budget is held by slow uploads, and every event still lands once the store keeps up', async () => {
    // Uploads take 400 ms and the budget holds about three messages: the push burst must meet 429s.
    const { pushes, publish, backlog, bucketDir } = await writerUnderPush('slow', { maxBufferedBytes: 200_000, quietMs: 50 }, (store) => ({
      put: async (name, bytes, contentType) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        await store.put(name, bytes, contentType);
      },
    }));
    const hour = new Date(Date.now() - 3_600_000).toISOString().slice(0, 13);
    const events = Array.from({ length: 3000 }, (_, i) => userAction({ event_id: `s-${i}`, ts: `${hour}:${String(i % 60).padStart(2, '0')}:00Z` }));
    for (let i = 0; i < events.length; i += 100) await publish(events.slice(i, i + 100));

    await vi.waitFor(() => expect(backlog()).toEqual({ ready: 0, delayed: 0, outstanding: 0 }), { timeout: 60_000, interval: 200 });
    expect(pushes.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(pushes.filter((s) => s === 204)).toHaveLength(30);
    const [counts] = await lake(bucketDir, 'select count(*) as rows, count(distinct event_id) as events from user_action');
    // A refused message was never buffered, so nothing was written twice.
    expect([Number(counts!.rows), Number(counts!.events)]).toEqual([3000, 3000]);
  });
});

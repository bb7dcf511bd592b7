import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createOidcVerifier } from '@strata/runtime';
import { createRegistry, loadBundledSchemas, ROLLUPS } from '@strata/schemas';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '@strata/dev/oidc-issuer';
import { resetTestDatabase, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { createApp } from './app.js';
import { createCurator } from './curate.js';
import { createEraser } from './erase.js';
import { testCuratorDeps } from './curator-fixtures.js';
import { objectNameFor, readRollup, userAction, userActionParquet } from './lake-fixtures.js';
import { createMemoryLake, type MemoryLake } from './lake-store.js';
import { migrate } from './migrate.js';
import { createReplayer } from './replay.js';
import { FakeReplayPublisher } from './replay-publisher.fake.js';
import { createPool } from '@strata/runtime/postgres';

const audience = 'https://curator.local/run';
const schedulerEmail = 'scheduler@strata-dev.iam.gserviceaccount.com';

describe('POST /run', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let issuer: OidcIssuer;
  let certs: ServedCerts | undefined;
  let workDir: string;
  let app: ReturnType<typeof createApp>;
  let lake: MemoryLake;
  const hourly = ROLLUPS.find((r) => r.name === 'hourly_event_counts')!;

  beforeAll(async () => {
    db = await testDatabase();
    await resetTestDatabase(db.url);
    await migrate(db.url);
    const logger = createLogger({ service: 'curator', level: 'silent' });
    pool = createPool(db.url, { max: db.poolMax }, logger);
    workDir = await mkdtemp(join(tmpdir(), 'strata-curator-app-'));
    // Google-shaped RS256 ID tokens, verified against PEM certs served like googleapis.com/oauth2/v1/certs.
    issuer = await createOidcIssuer();
    certs = await serveCerts(issuer);

    lake = createMemoryLake();
    const rows = [userAction('e1', 'page_view', '2025-03-01T10:01:00Z', 'u1'), userAction('e1', 'page_view', '2025-03-01T10:01:00Z', 'u1')];
    lake.put(objectNameFor(rows, 'a'), userActionParquet(rows));
    const deps = testCuratorDeps({ lake, pool, workDir, logger }, { now: () => Date.parse('2025-03-02T12:00:00Z') });
    app = createApp({
      config: { projectId: 'strata-test' },
      curator: createCurator(deps),
      eraser: createEraser(deps),
      replayer: createReplayer({
        lake,
        registry: async () => createRegistry(loadBundledSchemas()),
        publisher: new FakeReplayPublisher(),
        workDir,
        eventWindow: deps.settings.eventWindow,
        downloadConcurrency: 2,
        logger,
      }),
      verifier: createOidcVerifier({ audience, serviceAccountEmail: schedulerEmail, certsUrl: certs.certsUrl }),
      logger,
    });
  });
  afterAll(async () => {
    await pool?.end();
    await certs?.close();
    await db?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('refuses a request without a valid scheduler token', async () => {
    const none = await request(app).post('/run');
    expect(none.status).toBe(401);
    expect(none.body.reason).toMatch(/missing Authorization/);

    const otherAccount = await issuer.sign({ audience, email: 'someone@strata-dev.iam.gserviceaccount.com' });
    const wrong = await request(app).post('/run').set('authorization', `Bearer ${otherAccount}`);
    expect(wrong.status).toBe(401);
    expect(await readRollup(pool, hourly)).toEqual([]);
  });

  it('runs a pass and answers its summary', async () => {
    const token = await issuer.sign({ audience, email: schedulerEmail });
    const res = await request(app).post('/run').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ scope: 'window', partitionsListed: 1, daysChanged: 1, daysCurated: 1, daysFailed: 0, duplicatesRemoved: 1, durationMs: expect.any(Number) });
    expect(await readRollup(pool, hourly)).toEqual([expect.objectContaining({ event: 'page_view', events: 1, users: 1 })]);
  });

  it('refuses an unknown scope, naming the ones it has', async () => {
    const token = await issuer.sign({ audience, email: schedulerEmail });
    const res = await request(app).post('/run?scope=everything').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'bad_scope', reason: 'scope must be "window" (the default) or "all", got "everything"' });
  });

  it('answers 500 with the summary when a day failed, so Scheduler retries and alerts fire', async () => {
    const token = await issuer.sign({ audience, email: schedulerEmail });
    lake.put('events/log_type=user_action/dt=2025-03-02/hr=01/bad.parquet', new TextEncoder().encode('not parquet'));
    const res = await request(app).post('/run?scope=all').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ error: 'days_failed', reason: '1 of 1 days could not be curated; they are retried next run', summary: { scope: 'all', daysFailed: 1, failures: [{ day: 'user_action/2025-03-02' }] } });
  });
});

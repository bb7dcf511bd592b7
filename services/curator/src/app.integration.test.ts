import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createOidcVerifier } from '@strata/runtime';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '@strata/dev/oidc-issuer';
import { resetTestDatabase, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { createApp } from './app.js';
import { createCurator } from './curate.js';
import { objectNameFor, readCounts, userAction, userActionParquet } from './lake-fixtures.js';
import { createMemoryLake } from './lake-reader.js';
import { migrate } from './migrate.js';
import { createPool } from '@strata/runtime/postgres';
import { openDuckDbRollup } from './rollup.js';
import { CURATOR_LOCK_KEY, createPgSummaryStore } from './summary-store.js';

const audience = 'https://curator.local/run';
const schedulerEmail = 'scheduler@strata-dev.iam.gserviceaccount.com';

describe('POST /run', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let issuer: OidcIssuer;
  let certs: ServedCerts | undefined;
  let workDir: string;
  let app: ReturnType<typeof createApp>;

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

    const lake = createMemoryLake();
    const rows = [userAction('e1', 'page_view', '2025-03-01T10:01:00Z', 'u1'), userAction('e1', 'page_view', '2025-03-01T10:01:00Z', 'u1')];
    lake.put(objectNameFor(rows, 'a'), userActionParquet(rows));
    app = createApp({
      config: { projectId: 'strata-test' },
      curator: createCurator({ lake, store: createPgSummaryStore(pool), openRollup: openDuckDbRollup, workDir, logger }),
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
    expect(await readCounts(pool)).toEqual([]);
  });

  it('runs a pass and answers its summary', async () => {
    const token = await issuer.sign({ audience, email: schedulerEmail });
    const res = await request(app).post('/run').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ partitionsScanned: 1, partitionsChanged: 1, partitionsFailed: 0, rollupRows: 1, durationMs: expect.any(Number) });
    expect(await readCounts(pool)).toEqual([expect.objectContaining({ event: 'page_view', events: 1, users: 1 })]);
  });

  it('answers 409 while another run holds the lock, and runs again once it is released', async () => {
    const token = await issuer.sign({ audience, email: schedulerEmail });
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1)', [CURATOR_LOCK_KEY]);
      const res = await request(app).post('/run').set('authorization', `Bearer ${token}`);
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: 'run_in_progress', reason: 'another run holds the lock' });
    } finally {
      await other.end(); // dropping the session releases its lock
    }
    const again = await request(app).post('/run').set('authorization', `Bearer ${token}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ partitionsChanged: 0 });
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createOidcVerifier, createUlidFactory } from '@strata/runtime';
import { curatedObjectName, DEFAULT_EVENT_TIME_WINDOW, loadEnvelope, ROLLUPS, type RollupDeclaration } from '@strata/schemas';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '@strata/dev/oidc-issuer';
import { PGLITE_POOL_MAX, THROWAWAY_DATABASE, resetTestDatabase, startPgliteServer, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { createPool } from '@strata/runtime/postgres';
import { createApp } from './app.js';
import { readLake } from './compaction-fixtures.js';
import { DEFAULT_COMPACTION_POLICY } from './compaction-policy.js';
import { createCurator, type CuratorDeps } from './curate.js';
import { createEraser, MAX_USER_ID_LENGTH, type ErasureReport } from './erase.js';
import { eventRow, eventsParquet, lakeObjectName, readCurated, readRollup } from './lake-fixtures.js';
import { createMemoryLake, type MemoryLake } from './lake-store.js';
import { migrate } from './migrate.js';
import { openDuckDbEngine } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

/*
 * An erasure over the in-memory lake (real Parquet, real DuckDB) and a real PostgreSQL or PGlite:
 * several users over several days, hours and log types, with quarantine records, erased for one.
 */

const backends = [
  { name: 'PostgreSQL from testDatabase()', start: () => testDatabase() },
  { name: 'PGlite via startPgliteServer()', start: async () => ({ ...(await startPgliteServer({ database: THROWAWAY_DATABASE })), poolMax: PGLITE_POOL_MAX }) },
];

// "Now" is 2025-03-03: D1 and D2 are in the lateness window, D0 and DX long outside it.
const NOW = Date.parse('2025-03-03T12:00:00Z');
const [D0, DX, D1, D2] = ['2025-01-10', '2025-01-11', '2025-03-01', '2025-03-02'];
const ERASED = 'u1';
const ua = (id: string, event: string, ts: string, user?: string) => eventRow(id, event, ts, user === undefined ? { anonymous_id: 'anon-1' } : { user_id: user });
const order = (id: string, ts: string, user: string, amount: number) => eventRow(id, 'order_created', ts, { user_id: user, order_id: `o-${id}`, amount, currency: 'EUR' });

/** Files by name: every user_action and order_event file of the lake before the erasure. */
const FILES: Record<string, { logType: string; rows: Record<string, unknown>[] }> = {
  // u10 must not match u1; e2 was delivered twice (a and b).
  a: { logType: 'user_action', rows: [ua('e1', 'page_view', `${D1}T10:01:00Z`, 'u1'), ua('e2', 'page_view', `${D1}T10:02:00Z`, 'u2'), ua('e3', 'add_to_cart', `${D1}T10:03:00Z`, 'u1'), ua('e4', 'search', `${D1}T10:04:00Z`, 'u10')] },
  b: { logType: 'user_action', rows: [ua('e2', 'page_view', `${D1}T10:02:00Z`, 'u2'), ua('e5', 'search', `${D1}T10:05:00Z`, 'u3')] },
  // Only u1's rows: the file goes, and hour 11 is left with no files.
  c: { logType: 'user_action', rows: [ua('e6', 'page_view', `${D1}T11:00:00Z`, 'u1'), ua('e7', 'search', `${D1}T11:10:00Z`, 'u1')] },
  // A row without a user_id is nobody's, and stays.
  d: { logType: 'user_action', rows: [ua('e8', 'page_view', `${D2}T00:10:00Z`, 'u2'), ua('e9', 'page_view', `${D2}T00:20:00Z`, 'u1'), ua('e10', 'page_view', `${D2}T00:30:00Z`)] },
  // D0, outside the lateness window: hour 05 is only u1's, hour 06 is shared.
  e: { logType: 'user_action', rows: [ua('e11', 'page_view', `${D0}T05:00:00Z`, 'u1')] },
  f: { logType: 'user_action', rows: [ua('e12', 'page_view', `${D0}T06:00:00Z`, 'u3'), ua('e13', 'search', `${D0}T06:30:00Z`, 'u1')] },
  // DX: only u1, the whole day goes.
  g: { logType: 'user_action', rows: [ua('e14', 'page_view', `${DX}T00:00:00Z`, 'u1')] },
  o: { logType: 'order_event', rows: [order('o1', `${D1}T09:00:00Z`, 'u1', 10), order('o2', `${D1}T09:30:00Z`, 'u2', 5)] },
};
const nameOf = (file: string) => lakeObjectName(FILES[file]!.logType, FILES[file]!.rows, file);

const record = (data: unknown, extra: Record<string, unknown> = {}) => ({ reasons: [{ path: '/event', message: 'bad' }], attributes: { log_type: 'user_action' }, messageId: 'm1', publishTime: `${D1}T10:00:00Z`, data, ...extra });
const jsonLines = (records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');
const Q = {
  // u1's event, u2's event, and u1's line that was not JSON: one record stays.
  mixed: { name: `quarantine/log_type=user_action/dt=${D1}/q-mixed.jsonl`, text: jsonLines([record({ event: 'x', user_id: 'u1' }, { index: 0 }), record({ event: 'x', user_id: 'u2' }, { index: 1 }), record('{"event":"x","user_id":"u1",', { index: 2 })]) },
  // A whole message of an unknown log type, kept as its base64 gzip NDJSON: it holds u1, it goes.
  whole: {
    name: `quarantine/log_type=_unknown/dt=${D1}/q-whole.jsonl`,
    text: jsonLines([record(gzipSync(`${JSON.stringify({ event: 'x', user_id: 'u1' })}\n${JSON.stringify({ event: 'y', user_id: 'u2' })}\n`).toString('base64'), { attributes: { log_type: 'nope', encoding: 'ndjson+gzip' } })]),
  },
  // A dead letter: the message as Pub/Sub gave up on it, its payload base64 (not JSON, so only as text).
  dead: { name: `dead-letter/dt=${D1}/d-1.jsonl`, text: jsonLines([{ attributes: { log_type: 'user_action' }, messageId: 'm9', data: Buffer.from(`{"event":"x", "user_id": "u1"}`).toString('base64') }]) },
  // Nobody to erase here (u10, and u1 only as another field's value): not rewritten.
  other: { name: `quarantine/log_type=order_event/dt=${D1}/q-other.jsonl`, text: jsonLines([record({ event: 'x', user_id: 'u10', referrer: 'u1' })]) },
};

const logger = createLogger({ service: 'curator', level: 'silent' });

/** The curator's dependencies over this lake and pool; compaction off (these scenarios are about rows and figures). */
const depsOf = (lake: MemoryLake, pool: pg.Pool, workDir: string, overrides: Partial<CuratorDeps> = {}): CuratorDeps => ({
  lake,
  store: createPgSummaryStore(pool),
  openEngine: () => openDuckDbEngine(ROLLUPS),
  rollups: ROLLUPS,
  settings: { eventWindow: DEFAULT_EVENT_TIME_WINDOW, marginDays: 2, runBudgetMs: 60_000, rollupRetentionDays: 0, compaction: { ...DEFAULT_COMPACTION_POLICY, closeAfterMs: 365 * 86_400_000 }, downloadConcurrency: 2 },
  workDir,
  logger,
  newId: createUlidFactory(),
  now: () => NOW,
  ...overrides,
});

function seededLake(): MemoryLake {
  const lake = createMemoryLake();
  for (const [file, { logType, rows }] of Object.entries(FILES)) lake.put(nameOf(file), eventsParquet(logType, rows));
  for (const q of Object.values(Q)) lake.put(q.name, new TextEncoder().encode(q.text));
  return lake;
}

const rollup = (name: string): RollupDeclaration => ROLLUPS.find((r) => r.name === name)!;
const strip = (rows: Record<string, unknown>[]) => rows.map(({ updated_at: _, ...row }) => row);
const userActions = (rows: Record<string, unknown>[]) => strip(rows).filter((r) => r.log_type === 'user_action');

describe.each(backends)('erasure against $name', (backend) => {
  let server: Awaited<ReturnType<(typeof backends)[number]['start']>>;
  let workDir: string;
  let pool: pg.Pool;
  let lake: MemoryLake;
  let duck: { instance: DuckDBInstance; connection: DuckDBConnection };
  const deps = (overrides: Partial<CuratorDeps> = {}) => depsOf(lake, pool, workDir, overrides);
  const erase = (user = ERASED, overrides: Partial<CuratorDeps> = {}) => createEraser({ ...deps(overrides), lockWaitMs: 0 }).erase(user);
  const allRollups = () => Promise.all(ROLLUPS.map((r) => readRollup(pool, r)));
  /** Every events/ row now: event_id → user_id (null for none), and how many copies. */
  const lakeRows = async () => {
    const { rows } = await readLake(lake, 'events/', duck.connection, workDir);
    return rows.map((r) => `${r.event_id}:${r.user_id}`).sort();
  };

  beforeAll(async () => {
    server = await backend.start();
    workDir = await mkdtemp(join(tmpdir(), 'strata-erase-test-'));
    const instance = await DuckDBInstance.create(':memory:');
    duck = { instance, connection: await instance.connect() };
  });
  afterAll(async () => {
    duck?.connection.closeSync();
    duck?.instance.closeSync();
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await resetTestDatabase(server.url);
    await migrate(server.url);
    pool = createPool(server.url, { max: server.poolMax }, logger);
    lake = seededLake();
    // Every day curated, the old ones included, so the rollups count u1 before the erasure.
    expect(await createCurator(deps()).run('all')).toMatchObject({ daysCurated: 5, daysFailed: 0 });
  });
  afterEach(async () => {
    await pool.end();
  });

  it("rewrites every file holding the user's rows without them, keeps everyone else's, and re-curates the days", async () => {
    const before = new Map((await lake.list('')).map((o) => [o.name, o.generation]));
    const rowsBefore = await lakeRows();
    expect(userActions(await readRollup(pool, rollup('daily_active_users')))).toEqual([
      { log_type: 'user_action', dt: D0, users: 2, events: 3 },
      { log_type: 'user_action', dt: DX, users: 1, events: 1 },
      { log_type: 'user_action', dt: D1, users: 4, events: 7 },
      { log_type: 'user_action', dt: D2, users: 2, events: 3 },
    ]);

    const report = await erase();

    const changed = (name: string, removed: number, kept: number, zone = 'events') => ({ object: name, zone, removed, kept, oldGeneration: before.get(name)!, newGeneration: kept > 0 ? expect.stringMatching(/^\d+$/) : null });
    expect(report).toEqual<ErasureReport>({
      userId: ERASED,
      objects: [
        changed(Q.dead.name, 1, 0, 'dead-letter'),
        changed(nameOf('o'), 1, 1),
        changed(nameOf('e'), 1, 0),
        changed(nameOf('f'), 1, 1),
        changed(nameOf('g'), 1, 0),
        changed(nameOf('a'), 2, 2),
        changed(nameOf('c'), 2, 0),
        changed(nameOf('d'), 1, 2),
        changed(Q.whole.name, 1, 0, 'quarantine'),
        changed(Q.mixed.name, 2, 1, 'quarantine'),
      ],
      daysRecurated: [`order_event/${D1}`, `user_action/${D0}`, `user_action/${DX}`, `user_action/${D1}`, `user_action/${D2}`],
      failures: [],
      totals: { objectsScanned: 12, objectsRewritten: 5, objectsRemoved: 5, rowsRemoved: 9, recordsRemoved: 4, daysRecurated: 5 },
      durationMs: expect.any(Number),
    });
    // The listing agrees with the report: new generations as reported, b and the other quarantine file untouched.
    const after = new Map((await lake.list('')).filter((o) => !o.name.startsWith('curated/')).map((o) => [o.name, o.generation]));
    for (const o of report.objects) expect(after.get(o.object)).toBe(o.newGeneration ?? undefined);
    expect(after.get(nameOf('b'))).toBe(before.get(nameOf('b')));
    expect(after.get(Q.other.name)).toBe(before.get(Q.other.name));

    // Not one of u1's rows anywhere; every other row exactly as before (e2's two copies included).
    const rowsAfter = await lakeRows();
    expect(rowsAfter.filter((r) => r.endsWith(`:${ERASED}`))).toEqual([]);
    expect(rowsAfter).toEqual(rowsBefore.filter((r) => !r.endsWith(`:${ERASED}`)));
    expect(rowsAfter).toHaveLength(8);

    // A rewritten file is laid out as compaction writes: zstd, sorted by (event, ts).
    const local = join(workDir, 'a.parquet');
    await lake.download(nameOf('a'), local);
    const codecs = (await duck.connection.runAndReadAll(`select distinct compression from parquet_metadata('${local}')`)).getRowObjectsJS();
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
    expect((await duck.connection.runAndReadAll(`select event_id from '${local}'`)).getRowObjectsJS()).toEqual([{ event_id: 'e2' }, { event_id: 'e4' }]);

    // Quarantine: u2's record is all that is left of the mixed file, exactly as it was written.
    await lake.download(Q.mixed.name, local);
    expect(await readFile(local, 'utf8')).toBe(`${Q.mixed.text.split('\n')[1]}\n`);
    expect(lake.read(Q.whole.name)).toBeUndefined();
    expect(lake.read(Q.dead.name)).toBeUndefined();

    // The rollups no longer count u1, the days outside the lateness window included.
    expect(userActions(await readRollup(pool, rollup('daily_active_users')))).toEqual([
      { log_type: 'user_action', dt: D0, users: 1, events: 1 },
      { log_type: 'user_action', dt: D1, users: 3, events: 3 },
      { log_type: 'user_action', dt: D2, users: 1, events: 2 },
    ]);
    expect(userActions(await readRollup(pool, rollup('hourly_event_counts')))).toEqual([
      { log_type: 'user_action', dt: D0, hr: 6, event: 'page_view', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, hr: 10, event: 'page_view', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, hr: 10, event: 'search', events: 2, users: 2 },
      { log_type: 'user_action', dt: D2, hr: 0, event: 'page_view', events: 2, users: 1 },
    ]);
    expect(strip(await readRollup(pool, rollup('daily_order_revenue')))).toEqual([{ dt: D1, currency: 'EUR', orders: 1, revenue: 5 }]);
    // The emptied hours and day are forgotten, not kept as if expired.
    expect((await readCurated(pool)).filter((k) => k.startsWith('user_action/'))).toEqual([`user_action/${D0}/06`, `user_action/${D1}/10`, `user_action/${D2}/00`]);
    // The curated zone follows: DX has no curated files left, D1's say what PostgreSQL says.
    expect((await lake.list(`curated/daily_active_users/dt=${DX}/`))).toEqual([]);
    await lake.download(curatedObjectName('daily_active_users', D1, 'user_action'), local);
    expect((await duck.connection.runAndReadAll(`select users::integer as users, events::integer as events from '${local}'`)).getRowObjectsJS()).toEqual([{ users: 3, events: 3 }]);

    // And they are what a curation from scratch of the erased lake computes.
    const erased = await allRollups();
    await pool.query(`delete from curator_partitions; ${ROLLUPS.map((r) => `delete from ${r.name};`).join(' ')}`);
    await createCurator(deps()).run('all');
    expect(await allRollups()).toEqual(erased);
  });

  it('a second erasure finds nothing to change', async () => {
    await erase();
    const before = await lake.list('');
    const rollups = await allRollups();
    const again = await erase();
    expect(again).toMatchObject({ objects: [], daysRecurated: [], failures: [], totals: { objectsRewritten: 0, objectsRemoved: 0, rowsRemoved: 0, recordsRemoved: 0, daysRecurated: 0 } });
    expect(again.totals.objectsScanned).toBe(7); // a, b, d, f, o and two quarantine files
    expect(await lake.list('')).toEqual(before);
    expect(await allRollups()).toEqual(rollups);
  });

  it('a file rewritten between its read and its upload is not clobbered: it is read again and erased', async () => {
    let raced = false;
    const racing: MemoryLake = {
      ...lake,
      async rewrite(name, path, type, generation) {
        if (!raced && name === nameOf('a')) {
          raced = true;
          // Someone else rewrites the file first, adding a row (u1's and another's).
          lake.put(name, eventsParquet('user_action', [...FILES.a!.rows, ua('e20', 'page_view', `${D1}T10:20:00Z`, 'u1'), ua('e21', 'page_view', `${D1}T10:21:00Z`, 'u4')]));
        }
        return lake.rewrite(name, path, type, generation);
      },
    };
    const report = await erase(ERASED, { lake: racing });
    expect(raced).toBe(true);
    expect(report.failures).toEqual([]);
    expect(report.objects.find((o) => o.object === nameOf('a'))).toMatchObject({ removed: 3, kept: 3 });
    const rows = await lakeRows();
    expect(rows.filter((r) => r.endsWith(`:${ERASED}`))).toEqual([]);
    expect(rows).toContain('e21:u4');
  });

  it('an erasure whose re-curation failed is finished by the next one, though nothing is left to erase', async () => {
    // The curated files cannot be written: every re-curation fails after the files were erased.
    const failing: MemoryLake = {
      ...lake,
      async replace() {
        throw new Error('503 backend error');
      },
    };
    const first = await erase(ERASED, { lake: failing });
    expect(first.totals).toMatchObject({ rowsRemoved: 9, recordsRemoved: 4 });
    // DX was cleared (nothing to upload); the four others are left marked for recomputation.
    expect(first.daysRecurated).toEqual([`user_action/${DX}`]);
    expect(first.failures.map((f) => f.what)).toEqual([`order_event/${D1}`, `user_action/${D0}`, `user_action/${D1}`, `user_action/${D2}`]);

    const second = await erase();
    expect(second).toMatchObject({ objects: [], failures: [], daysRecurated: [`order_event/${D1}`, `user_action/${D0}`, `user_action/${D1}`, `user_action/${D2}`] });
    const local = join(workDir, 'curated.parquet');
    await lake.download(curatedObjectName('daily_active_users', D1, 'user_action'), local);
    expect((await duck.connection.runAndReadAll(`select users::integer as users from '${local}'`)).getRowObjectsJS()).toEqual([{ users: 3 }]);
    // A third finds nothing at all.
    expect(await erase()).toMatchObject({ objects: [], daysRecurated: [], failures: [] });
  });
});

describe('POST /erase', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let workDir: string;
  let lake: MemoryLake;
  const audience = 'https://curator.strata.test/run';
  const email = 'scheduler@strata-test.iam.gserviceaccount.com';
  let issuer: OidcIssuer;
  let certs: ServedCerts;
  beforeAll(async () => {
    db = await testDatabase();
    await resetTestDatabase(db.url);
    await migrate(db.url);
    pool = createPool(db.url, { max: db.poolMax }, logger);
    workDir = await mkdtemp(join(tmpdir(), 'strata-erase-app-'));
    lake = seededLake();
    issuer = await createOidcIssuer();
    certs = await serveCerts(issuer);
  });
  afterAll(async () => {
    await certs?.close();
    await pool?.end();
    await db?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });
  const app = () =>
    createApp({
      config: { projectId: 'strata-test' },
      curator: createCurator(depsOf(lake, pool, workDir)),
      eraser: createEraser(depsOf(lake, pool, workDir)),
      replayer: { replay: () => Promise.reject(new Error('no replay in the erasure tests')) },
      verifier: createOidcVerifier({ audience, serviceAccountEmail: email, certsUrl: certs.certsUrl }),
      logger,
    });

  it('refuses a request without the scheduler token, and erases nothing', async () => {
    const before = await lake.list('');
    const res = await request(app()).post('/erase').send({ user_id: ERASED });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'unauthenticated' });
    expect(await lake.list('')).toEqual(before);
  });

  it.each([
    ['no user_id', {}, 'user_id must be a string, got nothing'],
    ['a number', { user_id: 7 }, 'user_id must be a string, got 7'],
    ['an empty id', { user_id: '' }, `user_id must be 1 to ${MAX_USER_ID_LENGTH} characters, got 0`],
    ['an id longer than the envelope allows', { user_id: 'u'.repeat(MAX_USER_ID_LENGTH + 1) }, `user_id must be 1 to ${MAX_USER_ID_LENGTH} characters, got ${MAX_USER_ID_LENGTH + 1}`],
    ['an array', [ERASED], 'the body must be a JSON object (Content-Type: application/json)'],
  ])('answers 400 for %s', async (_, body, reason) => {
    const token = await issuer.sign({ audience, email });
    const res = await request(app()).post('/erase').set('authorization', `Bearer ${token}`).send(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', reason: `${reason}; send {"user_id": "<the id to erase>"}` });
  });

  it('answers 400 for a body that is not JSON', async () => {
    const token = await issuer.sign({ audience, email });
    const res = await request(app()).post('/erase').set('authorization', `Bearer ${token}`).set('content-type', 'application/json').send('{"user_id":');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_json' });
  });

  it('erases with the token and answers the report', async () => {
    const token = await issuer.sign({ audience, email });
    const res = await request(app()).post('/erase').set('authorization', `Bearer ${token}`).send({ user_id: ERASED });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: ERASED, failures: [], totals: { rowsRemoved: 9, recordsRemoved: 4, daysRecurated: 5 } });
  });
});

describe('the user_id an erasure matches', () => {
  it('is stored as sent: the envelope declares no PII rule on it, and bounds it as erasure requests are', () => {
    // Log types cannot redefine envelope fields (compose.ts), so the envelope alone decides. Were
    // user_id hashed, an erasure would have to match the hash: change erase-parquet.ts with it.
    const field = loadEnvelope().properties!.user_id!;
    expect(field['x-pii']).toBeUndefined();
    expect(field.maxLength).toBe(MAX_USER_ID_LENGTH);
  });
});

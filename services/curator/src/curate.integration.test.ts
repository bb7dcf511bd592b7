import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, createUlidFactory } from '@strata/runtime';
import { bigQueryRollupSchema, curatedObjectName, DEFAULT_EVENT_TIME_WINDOW, rollupApplies, rollupSql, ROLLUPS, type RollupDeclaration } from '@strata/schemas';
import { PGLITE_POOL_MAX, THROWAWAY_DATABASE, resetTestDatabase, startPgliteServer, testDatabase } from '@strata/dev/postgres';
import { createPool } from '@strata/runtime/postgres';
import { DEFAULT_COMPACTION_POLICY } from './compaction-policy.js';
import { createCurator, type CurationSettings, type CurationSummary, type CuratorDeps } from './curate.js';
import { eventRow, eventsParquet, lakeObjectName, NOT_LAKE_OBJECTS, readCurated, readRollup } from './lake-fixtures.js';
import { createMemoryLake, type MemoryLake } from './lake-store.js';
import { migrate } from './migrate.js';
import { openDuckDbEngine } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

interface Backend {
  name: string;
  start(): Promise<{ url: string; poolMax: number; stop(): Promise<void> }>;
}

// Every scenario against a real PostgreSQL and against PGlite behind its socket server (the local stack's).
const backends: Backend[] = [
  { name: 'PostgreSQL from testDatabase()', start: () => testDatabase() },
  {
    name: 'PGlite via startPgliteServer()',
    start: async () => ({ ...(await startPgliteServer({ database: THROWAWAY_DATABASE })), poolMax: PGLITE_POOL_MAX }),
  },
];

const rollup = (name: string): RollupDeclaration => ROLLUPS.find((r) => r.name === name)!;
const strip = (rows: Record<string, unknown>[]) => rows.map(({ updated_at: _, ...row }) => row);

// "Now" is 2025-03-03 12:00 UTC: 2025-03-01 and 2025-03-02 are inside the 7-day lateness window.
const NOW = Date.parse('2025-03-03T12:00:00Z');
const D1 = '2025-03-01';
const D2 = '2025-03-02';
const ua = (id: string, event: string, ts: string, user: string) => eventRow(id, event, ts, { user_id: user });

// user_action: e2 is in both files of hour 10 (at-least-once delivery wrote it twice), e4 twice in one.
const UA = {
  a1: [ua('e1', 'page_view', `${D1}T10:01:00Z`, 'u1'), ua('e2', 'page_view', `${D1}T10:02:00Z`, 'u2'), ua('e3', 'add_to_cart', `${D1}T10:03:00Z`, 'u1')],
  a2: [ua('e2', 'page_view', `${D1}T10:02:00Z`, 'u2'), ua('e4', 'page_view', `${D1}T10:04:00Z`, 'u1'), ua('e4', 'page_view', `${D1}T10:04:00Z`, 'u1')],
  b1: [ua('e5', 'search', `${D1}T11:05:00Z`, 'u3'), ua('e6', 'page_view', `${D1}T11:30:00Z`, 'u2')],
  c1: [ua('e7', 'page_view', `${D2}T00:10:00Z`, 'u1')],
};
const order = (id: string, event: string, hr: string, orderId: string, fields: Record<string, unknown> = {}) => eventRow(id, event, `${D1}T${hr}:00:00Z`, { order_id: orderId, ...fields });
const ORDERS = {
  o1: [
    order('o-1', 'order_created', '09', 'o1', { amount: 10, currency: 'EUR' }),
    order('o-2', 'order_created', '09', 'o2', { amount: 5.5, currency: 'EUR' }),
    order('o-3', 'order_created', '09', 'o3', { amount: 7, currency: 'USD' }),
    order('o-4', 'order_created', '09', 'o4', { amount: 3 }),
  ],
  o2: [order('o-3', 'order_created', '09', 'o3', { amount: 7, currency: 'USD' })],
  o3: [order('o-5', 'order_paid', '10', 'o1'), order('o-6', 'order_paid', '10', 'o2')],
  o4: [order('o-7', 'order_shipped', '15', 'o1'), order('o-8', 'order_delivered', '15', 'o1')],
};
const imp = (id: string, event: string, publisher: string, placement: string, visibleMs?: number) =>
  eventRow(id, event, `${D1}T12:00:00Z`, { publisher_id: publisher, placement, link_url: 'https://shop.example/p/1', ...(visibleMs === undefined ? {} : { visible_ms: visibleMs }) });
const IMPRESSIONS = [
  imp('i1', 'impression', 'p1', 'inline', 1000),
  imp('i2', 'impression', 'p1', 'inline', 2000),
  imp('i3', 'impression', 'p1', 'inline', 3000),
  imp('i4', 'click', 'p1', 'inline'),
  imp('i5', 'click', 'p1', 'widget'),
  imp('i6', 'impression', 'p2', 'inline', 500),
];
const seller = (id: string, event: string, fields: Record<string, unknown>) => eventRow(id, event, `${D1}T08:00:00Z`, { seller_id: 's1', ...fields });
const SELLER = [
  seller('s-1', 'package_status_updated', { package_id: 'pk1', from_status: 'created', to_status: 'packed' }),
  seller('s-2', 'package_status_updated', { package_id: 'pk2', from_status: 'created', to_status: 'packed' }),
  seller('s-3', 'package_status_updated', { package_id: 'pk1', from_status: 'packed', to_status: 'handed_over' }),
  seller('s-4', 'listing_created', { listing_id: 'l1' }),
];

const settings = (overrides: Partial<CurationSettings> = {}): CurationSettings => ({
  eventWindow: DEFAULT_EVENT_TIME_WINDOW,
  marginDays: 2,
  runBudgetMs: 60_000,
  rollupRetentionDays: 0,
  // Off unless a test turns it on: these scenarios are about figures, compaction has its own.
  compaction: { ...DEFAULT_COMPACTION_POLICY, closeAfterMs: 365 * 86_400_000 },
  downloadConcurrency: 4,
  ...overrides,
});

describe.each(backends)('curation against $name', (backend) => {
  let server: Awaited<ReturnType<Backend['start']>>;
  let workDir: string;
  let pool: pg.Pool;
  let lake: MemoryLake;
  let logs: Array<Record<string, unknown>>;
  let logger: ReturnType<typeof createLogger>;

  const put = (logType: string, file: string, rows: Record<string, unknown>[]) => lake.put(lakeObjectName(logType, rows, file), eventsParquet(logType, rows));
  const curatorWith = (overrides: Partial<CuratorDeps> = {}) =>
    createCurator({
      lake,
      store: createPgSummaryStore(pool),
      openEngine: () => openDuckDbEngine(ROLLUPS),
      rollups: ROLLUPS,
      settings: settings(),
      workDir,
      logger,
      newId: createUlidFactory(),
      now: () => NOW,
      ...overrides,
    });
  const run = (overrides: Partial<CuratorDeps> = {}): Promise<CurationSummary> => curatorWith(overrides).run();

  beforeAll(async () => {
    server = await backend.start();
    workDir = await mkdtemp(join(tmpdir(), 'strata-curator-test-'));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await resetTestDatabase(server.url);
    await migrate(server.url);
    logs = [];
    logger = createLogger({ service: 'curator', level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    pool = createPool(server.url, { max: server.poolMax }, logger);
    lake = createMemoryLake();
    for (const [file, rows] of Object.entries(UA)) put('user_action', file, rows);
    for (const [file, rows] of Object.entries(ORDERS)) put('order_event', file, rows);
    put('impression', 'i1', IMPRESSIONS);
    put('seller_action', 's1', SELLER);
    for (const name of NOT_LAKE_OBJECTS) lake.put(name, new TextEncoder().encode('not a lake file'));
  });
  afterEach(async () => {
    await pool.end();
  });

  it('computes every rollup of every log type, duplicates counted once, daily distincts over the day', async () => {
    const summary = await run();
    expect(summary).toMatchObject({ scope: 'window', window: { fromDt: '2025-02-22', toDt: '2025-03-03' }, daysListed: 5, daysChanged: 5, daysCurated: 5, daysFailed: 0 });
    expect(summary.duplicatesRemoved).toBe(3); // e2 and e4 in user_action, o-3 in order_event

    const uaRows = (rows: Record<string, unknown>[]) => rows.filter((r) => r.log_type === 'user_action');
    expect(uaRows(strip(await readRollup(pool, rollup('hourly_event_counts'))))).toEqual([
      { log_type: 'user_action', dt: D1, hr: 10, event: 'add_to_cart', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, hr: 10, event: 'page_view', events: 3, users: 2 },
      { log_type: 'user_action', dt: D1, hr: 11, event: 'page_view', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, hr: 11, event: 'search', events: 1, users: 1 },
      { log_type: 'user_action', dt: D2, hr: 0, event: 'page_view', events: 1, users: 1 },
    ]);
    // page_view on D1: 2 users in hour 10 and 1 in hour 11, but u2 is in both: 2 over the day, not 3.
    expect(uaRows(strip(await readRollup(pool, rollup('daily_event_counts'))))).toEqual([
      { log_type: 'user_action', dt: D1, event: 'add_to_cart', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, event: 'page_view', events: 4, users: 2 },
      { log_type: 'user_action', dt: D1, event: 'search', events: 1, users: 1 },
      { log_type: 'user_action', dt: D2, event: 'page_view', events: 1, users: 1 },
    ]);
    expect(strip(await readRollup(pool, rollup('daily_active_users')))).toEqual([
      { log_type: 'impression', dt: D1, users: 0, events: 6 },
      { log_type: 'order_event', dt: D1, users: 0, events: 8 },
      { log_type: 'seller_action', dt: D1, users: 0, events: 4 },
      { log_type: 'user_action', dt: D1, users: 3, events: 6 },
      { log_type: 'user_action', dt: D2, users: 1, events: 1 },
    ]);
    expect(strip(await readRollup(pool, rollup('daily_order_revenue')))).toEqual([
      { dt: D1, currency: '', orders: 1, revenue: 3 },
      { dt: D1, currency: 'EUR', orders: 2, revenue: 15.5 },
      { dt: D1, currency: 'USD', orders: 1, revenue: 7 },
    ]);
    expect(strip(await readRollup(pool, rollup('daily_order_funnel')))).toEqual([{ dt: D1, created: 4, paid: 2, shipped: 1, delivered: 1 }]);
    expect(strip(await readRollup(pool, rollup('daily_impression_stats')))).toEqual([
      { dt: D1, publisher_id: 'p1', placement: 'inline', impressions: 3, clicks: 1, ctr: 1 / 3, avg_visible_ms: 2000 },
      { dt: D1, publisher_id: 'p1', placement: 'widget', impressions: 0, clicks: 1, ctr: null, avg_visible_ms: null },
      { dt: D1, publisher_id: 'p2', placement: 'inline', impressions: 1, clicks: 0, ctr: 0, avg_visible_ms: 500 },
    ]);
    expect(strip(await readRollup(pool, rollup('daily_package_transitions')))).toEqual([
      { dt: D1, from_status: 'created', to_status: 'packed', transitions: 2, packages: 2 },
      { dt: D1, from_status: 'packed', to_status: 'handed_over', transitions: 1, packages: 1 },
    ]);
    expect(await readdir(workDir)).toEqual([]); // downloads are gone
  });

  it('writes the same rows to the curated zone as Parquet, one object per rollup, day and log type', async () => {
    await run();
    const name = curatedObjectName('daily_event_counts', D1, 'user_action');
    const bytes = lake.read(name);
    expect(bytes).toBeDefined();
    const file = join(workDir, 'curated.parquet');
    await writeFile(file, bytes!);
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const rows = (await duck.runAndReadAll(`select log_type, strftime(dt, '%Y-%m-%d') as dt, event, events::integer as events, users::integer as users from '${file}' order by event`)).getRowObjectsJS();
    duck.closeSync();
    const inPostgres = strip(await readRollup(pool, rollup('daily_event_counts'))).filter((r) => r.log_type === 'user_action' && r.dt === D1);
    expect(rows).toEqual(inPostgres);
    expect((await lake.list('curated/')).map((o) => o.name)).toContain(curatedObjectName('daily_impression_stats', D1, 'impression'));
    await rm(file);
  });

  it("each curated file has the columns of its rollup's BigQuery schema (dt comes from the path)", async () => {
    await run();
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      for (const r of ROLLUPS) {
        const [object] = await lake.list(`curated/${r.name}/`);
        expect(object, r.name).toBeDefined();
        const file = join(workDir, `${r.name}.parquet`);
        await writeFile(file, lake.read(object!.name)!);
        const described = (await duck.runAndReadAll(`select column_name, column_type from (describe select * from '${file}')`)).getRowObjectsJS();
        const bigQuery = { STRING: 'VARCHAR', INT64: ['BIGINT', 'SMALLINT'], FLOAT64: 'DOUBLE' } as const;
        const expected = bigQueryRollupSchema(r).map((f) => [f.name, f.type]);
        const actual = described.filter((c) => c.column_name !== 'dt').map((c) => [c.column_name, Object.entries(bigQuery).find(([, t]) => [t].flat().includes(String(c.column_type) as never))?.[0]]);
        expect(actual, r.name).toEqual(expected);
        await rm(file);
      }
    } finally {
      duck.closeSync();
    }
  });

  it("one definition, two engines: each rollup's generated DuckDB SQL, run by hand over the lake's files, gives the rows in PostgreSQL", async () => {
    await run();
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      for (const logType of ['user_action', 'order_event', 'impression', 'seller_action']) {
        const objects = (await lake.list(`events/log_type=${logType}/`)).filter((o) => o.name.endsWith('.parquet'));
        const files = await Promise.all(objects.map(async (o, i) => {
          const file = join(workDir, `${logType}-${i}.parquet`);
          await writeFile(file, lake.read(o.name)!);
          return file;
        }));
        await duck.run(`create or replace view deduped as select * from read_parquet([${files.map((f) => `'${f}'`).join(', ')}], union_by_name = true) qualify row_number() over (partition by event_id order by received_at) = 1`);
        for (const r of ROLLUPS.filter((x) => rollupApplies(x, logType))) {
          const sql = `select * replace (strftime(dt, '%Y-%m-%d') as dt) from (${rollupSql({ rollup: r, logType, dialect: 'duckdb', source: 'deduped' })})`;
          const byHand = (await duck.runAndReadAll(sql)).getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
          const stored = strip(await readRollup(pool, r)).filter((row) => row.log_type === undefined || row.log_type === logType);
          expect(byHand, `${r.name} for ${logType}`).toEqual(stored);
        }
        for (const f of files) await rm(f);
      }
    } finally {
      duck.closeSync();
    }
  });

  it('a rerun writes nothing, not even updated_at; a recomputation writes identical rows', async () => {
    await run();
    const before = await Promise.all(ROLLUPS.map((r) => readRollup(pool, r, { withUpdatedAt: true })));
    expect(await run()).toMatchObject({ daysChanged: 0, daysCurated: 0, rollupRows: 0 });
    // Forget every fingerprint: each day is recomputed, and every figure comes out the same.
    await pool.query('delete from curator_partitions');
    expect(await run()).toMatchObject({ daysChanged: 5, daysCurated: 5 });
    expect(await Promise.all(ROLLUPS.map((r) => readRollup(pool, r, { withUpdatedAt: true })))).toEqual(before);
  });

  it('a late event re-curates its hour and its day, and nothing else', async () => {
    await run();
    const d2Before = (await readRollup(pool, rollup('daily_event_counts'), { withUpdatedAt: true })).filter((r) => r.dt === D2);
    put('user_action', 'late', [ua('e8', 'page_view', `${D1}T10:50:00Z`, 'u3')]);

    expect(await run()).toMatchObject({ daysChanged: 1, daysCurated: 1 });
    const hourly = strip(await readRollup(pool, rollup('hourly_event_counts'))).filter((r) => r.log_type === 'user_action' && r.dt === D1 && r.hr === 10);
    expect(hourly).toEqual([
      { log_type: 'user_action', dt: D1, hr: 10, event: 'add_to_cart', events: 1, users: 1 },
      { log_type: 'user_action', dt: D1, hr: 10, event: 'page_view', events: 4, users: 3 },
    ]);
    const daily = await readRollup(pool, rollup('daily_event_counts'), { withUpdatedAt: true });
    expect(strip(daily.filter((r) => r.dt === D1 && r.event === 'page_view'))).toEqual([{ log_type: 'user_action', dt: D1, event: 'page_view', events: 5, users: 3 }]);
    expect(daily.filter((r) => r.dt === D2)).toEqual(d2Before);
    expect(strip(await readRollup(pool, rollup('daily_active_users'))).find((r) => r.log_type === 'user_action' && r.dt === D1)).toEqual({ log_type: 'user_action', dt: D1, users: 3, events: 7 });
  });

  it('files leaving the lake (retention) never delete rollups; the rollups have their own retention', async () => {
    await run();
    const before = await Promise.all(ROLLUPS.map((r) => readRollup(pool, r, { withUpdatedAt: true })));
    // Hour 11 of D1 expires, then all of D2: their figures stay.
    for (const rows of [UA.b1, UA.c1]) lake.drop(lakeObjectName('user_action', rows, rows === UA.b1 ? 'b1' : 'c1'));
    expect(await run()).toMatchObject({ daysChanged: 0 });
    expect(await Promise.all(ROLLUPS.map((r) => readRollup(pool, r, { withUpdatedAt: true })))).toEqual(before);

    // A late event in the partly expired D1: hour 10 is recomputed, hour 11 and the day's figures are kept.
    put('user_action', 'late', [ua('e8', 'add_to_cart', `${D1}T10:50:00Z`, 'u9')]);
    expect(await run()).toMatchObject({ daysChanged: 1, daysCurated: 1, daysFailed: 0 });
    const hourly = strip(await readRollup(pool, rollup('hourly_event_counts'))).filter((r) => r.log_type === 'user_action' && r.dt === D1);
    expect(hourly.map((r) => [r.hr, r.event, r.events])).toEqual([
      [10, 'add_to_cart', 2],
      [10, 'page_view', 3],
      [11, 'page_view', 1],
      [11, 'search', 1],
    ]);
    const daily = strip(await readRollup(pool, rollup('daily_event_counts'))).filter((r) => r.log_type === 'user_action');
    expect(daily).toEqual(strip(before[ROLLUPS.indexOf(rollup('daily_event_counts'))]!).filter((r) => r.log_type === 'user_action'));

    // Rollup retention: everything here is from 2025, older than 30 days before today's date.
    expect((await run({ settings: settings({ rollupRetentionDays: 36_500 }) })).rollupRowsExpired).toBe(0);
    const expired = await run({ settings: settings({ rollupRetentionDays: 30 }) });
    expect(expired.rollupRowsExpired).toBeGreaterThan(0);
    expect(await readRollup(pool, rollup('daily_event_counts'))).toEqual([]);
  });

  it('a failing day does not stop the others, answers it in the summary, and is retried next run', async () => {
    const bad = `events/log_type=user_action/dt=${D2}/hr=05/bad.parquet`;
    lake.put(bad, new TextEncoder().encode('PAR1 but not really'));
    const summary = await run();
    expect(summary).toMatchObject({ daysChanged: 5, daysCurated: 4, daysFailed: 1, failures: [{ day: `user_action/${D2}`, reason: expect.any(String) }] });
    expect(await readCurated(pool)).not.toContain(`user_action/${D2}/00`);
    expect(logs).toContainEqual(expect.objectContaining({ severity: 'ERROR', message: 'day not curated; retried next run', day: `user_action/${D2}` }));

    lake.put(bad, eventsParquet('user_action', [ua('e9', 'page_view', `${D2}T05:00:00Z`, 'u1')]));
    expect(await run()).toMatchObject({ daysChanged: 1, daysCurated: 1, daysFailed: 0 });
    expect(await readCurated(pool)).toEqual(expect.arrayContaining([`user_action/${D2}/00`, `user_action/${D2}/05`]));
  });

  it('a day PostgreSQL cannot store (year 0000, seen by a run over all history) fails only itself', async () => {
    lake.put('events/log_type=user_action/dt=0000-06-01/hr=10/bad.parquet', eventsParquet('user_action', [ua('e0', 'page_view', '0000-06-01T10:00:00Z', 'u1')]));
    // The window never lists it; a run over all of history does.
    expect(await run()).toMatchObject({ daysListed: 5, daysFailed: 0 });
    const all = await curatorWith().run('all');
    expect(all).toMatchObject({ scope: 'all', daysListed: 6, daysFailed: 1, failures: [{ day: 'user_action/0000-06-01', reason: expect.stringMatching(/^PostgreSQL refused (its rollups|the day)/) }] });
  });

  it('a run stops at its time budget, and the next one continues with the days it did not reach', async () => {
    // Each day computed "takes" 10 s on this clock; with a 15 s budget a run starts two days.
    let clock = NOW;
    const engine = async () => {
      const real = await openDuckDbEngine(ROLLUPS);
      return { ...real, computeDay: async (...args: Parameters<typeof real.computeDay>) => ((clock += 10_000), real.computeDay(...args)), close: () => real.close() };
    };
    const budgeted = { openEngine: engine, now: () => clock, settings: settings({ runBudgetMs: 15_000 }) };
    const first = await run(budgeted);
    expect(first).toMatchObject({ daysChanged: 5, daysCurated: 2, daysLeft: 3, stoppedAtBudget: true, daysFailed: 0 });
    expect(logs).toContainEqual(expect.objectContaining({ severity: 'WARNING', message: 'run budget spent; the next run continues', daysLeft: 3 }));
    const second = await run(budgeted);
    expect(second).toMatchObject({ daysChanged: 3, daysCurated: 2, daysLeft: 1, stoppedAtBudget: true });
    expect(await run(budgeted)).toMatchObject({ daysChanged: 1, daysCurated: 1, daysLeft: 0, stoppedAtBudget: false });
    expect((await readCurated(pool)).length).toBe(8); // every hour of the five days
  });

  it('compacts closed hours as part of a run, and the figures do not change', async () => {
    await run();
    const before = await Promise.all(ROLLUPS.map((r) => readRollup(pool, r)));
    // Hours on D1 are more than a day old at NOW: aggressive merges, every hour with ≥ 2 files.
    const summary = await run({ settings: settings({ compaction: DEFAULT_COMPACTION_POLICY }) });
    expect(summary).toMatchObject({ compactionsFailed: 0, daysFailed: 0 });
    expect(summary.compactions).toBeGreaterThanOrEqual(2); // user_action D1/10 and order_event D1/09
    const hour10 = await lake.list(`events/log_type=user_action/dt=${D1}/hr=10/`);
    expect(hour10.map((o) => o.name).filter((n) => n.endsWith('.parquet'))).toEqual([expect.stringMatching(/\/compacted-[0-9A-Z]{26}\.parquet$/)]);
    // The duplicates went with the merge: the recomputation found none left.
    expect(summary.duplicatesRemoved).toBe(0);
    expect(await Promise.all(ROLLUPS.map((r) => readRollup(pool, r)))).toEqual(before);
  });

  it('compaction during runs while the writer keeps writing into the same hour: nothing lost, nothing counted twice', async () => {
    await run(); // the other days are curated: the passes below work on D1 alone
    const written = new Set(['e1', 'e2', 'e3', 'e4']);
    let runs = 0;
    let files = 0;
    // The "writer": a file into D1/10 every 20 ms until four passes have run, each file repeating
    // one id of the one before (a redelivery).
    const writer = (async () => {
      for (let n = 0; runs < 4; n++) {
        const rows = [ua(`w${n}`, 'page_view', `${D1}T10:20:00Z`, `u${n % 7}`), ua(`w${n}b`, 'search', `${D1}T10:21:00Z`, 'u1')];
        if (n > 0) rows.push(ua(`w${n - 1}`, 'page_view', `${D1}T10:20:00Z`, `u${(n - 1) % 7}`));
        put('user_action', `writer-${String(n).padStart(4, '0')}`, rows);
        written.add(`w${n}`).add(`w${n}b`);
        files += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const compacting = { settings: settings({ compaction: DEFAULT_COMPACTION_POLICY }) };
    let compactions = 0;
    for (; runs < 4; runs++) compactions += (await run(compacting)).compactions;
    await writer;
    compactions += (await run(compacting)).compactions;
    await run(compacting);
    expect(files).toBeGreaterThan(8);
    expect(compactions).toBeGreaterThanOrEqual(4); // every pass compacted the hour while files kept coming

    // The lake: every id ever written to the hour is there, and once deduplicated, once.
    const objects = (await lake.list(`events/log_type=user_action/dt=${D1}/hr=10/`)).filter((o) => o.name.endsWith('.parquet'));
    const paths = await Promise.all(objects.map(async (o, i) => {
      const file = join(workDir, `hour10-${i}.parquet`);
      await writeFile(file, lake.read(o.name)!);
      return file;
    }));
    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const ids = (await duck.runAndReadAll(`select event_id, count(*) as n from read_parquet([${paths.map((p) => `'${p}'`).join(', ')}]) group by 1`)).getRowObjectsJS();
    duck.closeSync();
    for (const p of paths) await rm(p);
    expect(new Set(ids.map((r) => String(r.event_id)))).toEqual(written);
    expect(ids.filter((r) => Number(r.n) > 1)).toEqual([]); // the last pass merged every file: no duplicate left

    // The rollups count each event once.
    const hour10 = strip(await readRollup(pool, rollup('hourly_event_counts'))).filter((r) => r.log_type === 'user_action' && r.dt === D1 && r.hr === 10);
    expect(hour10.reduce((n, r) => n + Number(r.events), 0)).toBe(written.size);
  });

  it('a change to the rollup declarations recomputes every day in the window', async () => {
    await run();
    const fewer = ROLLUPS.filter((r) => r.name !== 'daily_package_transitions');
    // seller_action's definitions changed (one rollup fewer reads it); the other log types' did not.
    expect(await run({ rollups: fewer, openEngine: () => openDuckDbEngine(fewer) })).toMatchObject({ daysChanged: 1, daysCurated: 1 });
    expect(await run()).toMatchObject({ daysChanged: 1, daysCurated: 1 });
    expect(await run()).toMatchObject({ daysChanged: 0 });
  });

  it('two instances share the backlog: each day is curated once, by one of them', async () => {
    const [a, b] = await Promise.all([run(), run()]);
    expect(a.daysCurated + b.daysCurated).toBe(5);
    expect(a.daysFailed + b.daysFailed).toBe(0);
    if (server.poolMax > 1) {
      // The second took each day's lock after the first, or found it held; either way it did not redo it.
      expect(a.daysLocked + a.daysUnchanged + b.daysLocked + b.daysUnchanged).toBe(a.daysChanged + b.daysChanged - 5);
    }
    expect((await readCurated(pool)).length).toBe(8);
  });

  it('an object compacted away by another instance between listing and download: the day is listed again and curated', async () => {
    let swapped = false;
    const racing: MemoryLake = {
      ...lake,
      async download(name, dest) {
        if (!swapped && name.includes(`dt=${D1}/hr=10/`)) {
          swapped = true;
          // What a compaction does: the merged file first, then the inputs go.
          put('user_action', 'merged-elsewhere', [...UA.a1, UA.a2[1]!]);
          lake.drop(lakeObjectName('user_action', UA.a1, 'a1'));
          lake.drop(lakeObjectName('user_action', UA.a2, 'a2'));
        }
        return lake.download(name, dest);
      },
    };
    expect(await run({ lake: racing })).toMatchObject({ daysCurated: 5, daysFailed: 0 });
    expect(swapped).toBe(true);
    const hour10 = strip(await readRollup(pool, rollup('hourly_event_counts'))).filter((r) => r.log_type === 'user_action' && r.dt === D1 && r.hr === 10);
    expect(hour10.map((r) => [r.event, r.events])).toEqual([['add_to_cart', 1], ['page_view', 3]]);
  });

  it('a curated file that cannot be written marks its day for recomputation; the next run writes both again', async () => {
    let failing = true;
    const flaky: MemoryLake = {
      ...lake,
      async replace(name, path, type) {
        if (failing && name.includes('/dt=2025-03-02/')) throw new Error('503 backend error');
        return lake.replace(name, path, type);
      },
    };
    expect(await run({ lake: flaky })).toMatchObject({ daysCurated: 4, daysFailed: 1, failures: [{ day: `user_action/${D2}`, reason: expect.stringMatching(/curated files could not be written/) }] });
    failing = false;
    expect(await run({ lake: flaky })).toMatchObject({ daysChanged: 1, daysCurated: 1, daysFailed: 0 });
    expect(lake.read(curatedObjectName('daily_event_counts', D2, 'user_action'))).toBeDefined();
  });
});

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import NodeSqlParser from 'node-sql-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundledSchemas } from './bundled.js';
import { createRegistry } from './registry.js';
import { bigQueryRollupSchema, rollupColumns, rollupSql } from './rollup-sql.js';
import { ROLLUPS, rollupApplies, type RollupDeclaration } from './rollups.js';

const logTypes = createRegistry(loadBundledSchemas()).logTypes();
const rollup = (name: string): RollupDeclaration => {
  const found = ROLLUPS.find((r) => r.name === name);
  if (!found) throw new Error(`no rollup ${name}`);
  return found;
};
const applicable = ROLLUPS.flatMap((r) => logTypes.filter((t) => rollupApplies(r, t)).map((logType) => ({ rollup: r, logType, label: `${r.name} × ${logType}` })));

describe('rollupSql for BigQuery', () => {
  const parser = new NodeSqlParser.Parser();
  const parse = (sql: string) => parser.astify(sql, { database: 'BigQuery' });

  it('is checked by a parser that rejects broken SQL', () => {
    expect(() => parse('SELECT COUNTIF(event = FROM `my-project.strata.t`')).toThrow();
  });

  it.each(applicable)('parses for $label, giving the rollup columns in order', ({ rollup, logType }) => {
    const sql = rollupSql({ rollup, logType, dialect: 'bigquery', source: `\`my-project.strata.${logType}_deduped\`` });
    const ast = parse(sql);
    const select = Array.isArray(ast) ? ast[0] : ast;
    expect(select?.type).toBe('select');
    const aliases = (select as { columns: Array<{ as: string | null }> }).columns.map((c) => c.as);
    expect(aliases).toEqual(rollupColumns(rollup).map((c) => c.name));
  });

  it('uses BigQuery functions for conditions, ratios and the UTC date and hour', () => {
    const sql = rollupSql({ rollup: rollup('daily_impression_stats'), logType: 'impression', dialect: 'bigquery', source: 'impression_deduped' });
    expect(sql).toContain("COUNTIF(event = 'impression')");
    expect(sql).toContain("SAFE_DIVIDE(COUNTIF(event = 'click'), COUNTIF(event = 'impression')) AS ctr");
    expect(sql).toContain("AVG(IF(event = 'impression', visible_ms, NULL)) AS avg_visible_ms");
    expect(sql).toContain('DATE(ts) AS dt');
    const hourly = rollupSql({ rollup: rollup('hourly_event_counts'), logType: 'user_action', dialect: 'bigquery', source: 'user_action_deduped' });
    expect(hourly).toContain('EXTRACT(HOUR FROM ts) AS hr');
    // log_type is a literal: one query per log type, grouped by the other keys only.
    expect(hourly).toContain("'user_action' AS log_type");
    expect(hourly).toContain('GROUP BY 2, 3, 4');
  });
});

/** A table of typed rows named as the rollup's source (already one row per event_id). */
async function createSource(conn: DuckDBConnection, name: string, columns: Record<string, string>, rows: Array<Array<string | number | null>>) {
  const literal = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);
  const names = Object.keys(columns);
  const values = rows.map((row) => `(${row.map((v, i) => `cast(${literal(v)} as ${columns[names[i]!]})`).join(', ')})`);
  await conn.run(`create or replace table ${name} as select * from (values ${values.join(', ')}) as t(${names.join(', ')})`);
}

/** The rows a rollup's DuckDB SQL gives: counts as numbers, dates as YYYY-MM-DD. */
async function runRollup(conn: DuckDBConnection, declaration: RollupDeclaration, logType: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const reader = await conn.runAndReadAll(rollupSql({ rollup: declaration, logType, dialect: 'duckdb', source: `${logType}_deduped` }));
  const plain = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString().slice(0, 10) : v);
  return { columns: reader.columnNames(), rows: reader.getRowsJS().map((row) => row.map(plain)) };
}

describe('rollupSql for DuckDB', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    // The dt and hr of an event are UTC whatever the session's zone (New York is UTC-5 in March).
    await conn.run("SET TimeZone = 'America/New_York'");
    await createSource(conn, 'user_action_deduped', { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar' }, [
      ['e1', '2025-03-01 00:10:00+00', 'page_viewed', 'u1'],
      ['e2', '2025-03-01 00:20:00+00', 'page_viewed', 'u2'],
      ['e3', '2025-03-01 05:00:00+00', 'page_viewed', 'u1'],
      ['e4', '2025-03-01 05:30:00+00', 'product_clicked', null],
      ['e5', '2025-03-01 23:59:59.999+00', 'page_viewed', 'u3'],
      ['e6', '2025-03-02 02:30:00+00', 'page_viewed', 'u1'],
    ]);
    await createSource(conn, 'order_event_deduped', { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar', order_id: 'varchar', currency: 'varchar', amount: 'double' }, [
      ['o1c', '2025-03-01 10:00:00+00', 'order_created', 'u1', 'o1', 'EUR', 10],
      ['o2c', '2025-03-01 11:00:00+00', 'order_created', 'u1', 'o2', 'EUR', 5.5],
      ['o3c', '2025-03-01 12:00:00+00', 'order_created', 'u1', 'o3', null, 7],
      ['o4c', '2025-03-01 13:00:00+00', 'order_created', 'u1', 'o4', 'USD', null],
      ['o1p', '2025-03-01 14:00:00+00', 'order_paid', 'u1', 'o1', 'EUR', 10],
      ['o2p', '2025-03-01 15:00:00+00', 'order_paid', 'u1', 'o2', 'EUR', 5.5],
      ['o1s', '2025-03-02 01:00:00+00', 'order_shipped', 'u1', 'o1', 'EUR', null],
    ]);
    await createSource(conn, 'impression_deduped', { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar', publisher_id: 'varchar', placement: 'varchar', visible_ms: 'bigint' }, [
      ['i1', '2025-03-01 09:00:00+00', 'impression', 'u1', 'p1', 'top', 100],
      ['i2', '2025-03-01 09:01:00+00', 'impression', 'u1', 'p1', 'top', 300],
      ['i3', '2025-03-01 09:02:00+00', 'click', 'u1', 'p1', 'top', 999],
      ['i4', '2025-03-01 09:03:00+00', 'click', 'u1', 'p1', 'side', null],
      ['i5', '2025-03-01 09:04:00+00', 'impression', 'u1', 'p2', 'top', null],
    ]);
    await createSource(conn, 'seller_action_deduped', { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar', package_id: 'varchar', from_status: 'varchar', to_status: 'varchar' }, [
      ['s1', '2025-03-01 08:00:00+00', 'package_status_updated', 'u1', 'pk1', 'created', 'shipped'],
      ['s2', '2025-03-01 08:10:00+00', 'package_status_updated', 'u1', 'pk2', 'created', 'shipped'],
      ['s3', '2025-03-01 08:20:00+00', 'package_status_updated', 'u1', 'pk1', 'created', 'shipped'],
      ['s4', '2025-03-01 08:30:00+00', 'package_status_updated', 'u1', 'pk3', null, 'created'],
      ['s5', '2025-03-01 08:40:00+00', 'listing_created', 'u1', null, null, null],
    ]);
    // What ingest's Segment API writes: the generic rollups count them like any log type.
    for (const [logType, event] of [['segment_track', 'order_completed'], ['segment_page', 'page'], ['segment_identify', 'identify']] as const) {
      await createSource(conn, `${logType}_deduped`, { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar' }, [
        [`${logType}-1`, '2025-03-01 07:00:00+00', event, 'u1'],
      ]);
    }
  });
  afterAll(() => {
    conn?.closeSync();
    instance?.closeSync();
  });

  it('is run in a session whose time zone is not UTC', async () => {
    // Without timezone('UTC', …) DuckDB would date e6 (02:30 UTC) on the New York day before.
    const reader = await conn.runAndReadAll("select cast(ts as date)::varchar from user_action_deduped where event_id = 'e6'");
    expect(reader.getRowsJS()).toEqual([['2025-03-01']]);
  });

  it.each(applicable)('gives the rollup columns in order for $label', async ({ rollup, logType }) => {
    expect((await runRollup(conn, rollup, logType)).columns).toEqual(rollupColumns(rollup).map((c) => c.name));
  });

  it('counts events and distinct users per UTC hour, near midnight included', async () => {
    expect((await runRollup(conn, rollup('hourly_event_counts'), 'user_action')).rows).toEqual([
      ['user_action', '2025-03-01', 0, 'page_viewed', 2, 2],
      ['user_action', '2025-03-01', 5, 'page_viewed', 1, 1],
      ['user_action', '2025-03-01', 5, 'product_clicked', 1, 0],
      ['user_action', '2025-03-01', 23, 'page_viewed', 1, 1],
      ['user_action', '2025-03-02', 2, 'page_viewed', 1, 1],
    ]);
  });

  it('counts daily distinct users over the day, not summed from its hours', async () => {
    // u1 is active at 00:10 and 05:00: 3 distinct users on 1 March, where the hours add up to 4.
    expect((await runRollup(conn, rollup('daily_event_counts'), 'user_action')).rows).toEqual([
      ['user_action', '2025-03-01', 'page_viewed', 4, 3],
      ['user_action', '2025-03-01', 'product_clicked', 1, 0],
      ['user_action', '2025-03-02', 'page_viewed', 1, 1],
    ]);
    expect((await runRollup(conn, rollup('daily_active_users'), 'user_action')).rows).toEqual([
      ['user_action', '2025-03-01', 3, 5],
      ['user_action', '2025-03-02', 1, 1],
    ]);
  });

  it("sums revenue of the orders created only, grouping an absent currency under ''", async () => {
    expect((await runRollup(conn, rollup('daily_order_revenue'), 'order_event')).rows).toEqual([
      ['2025-03-01', '', 1, 7],
      ['2025-03-01', 'EUR', 2, 15.5],
      // An order without an amount: counted, but nothing to sum.
      ['2025-03-01', 'USD', 1, null],
    ]);
  });

  it('counts distinct orders at each funnel step by the day of the step', async () => {
    expect((await runRollup(conn, rollup('daily_order_funnel'), 'order_event')).rows).toEqual([
      ['2025-03-01', 4, 2, 0, 0],
      ['2025-03-02', 0, 0, 1, 0],
    ]);
  });

  it('computes CTR and mean visible time, null without impressions', async () => {
    expect((await runRollup(conn, rollup('daily_impression_stats'), 'impression')).rows).toEqual([
      // The click's visible_ms (999) is not an impression's.
      ['2025-03-01', 'p1', 'side', 0, 1, null, null],
      ['2025-03-01', 'p1', 'top', 2, 1, 0.5, 200],
      ['2025-03-01', 'p2', 'top', 1, 0, 0, null],
    ]);
  });

  it('counts package transitions and distinct packages, from an absent status as empty', async () => {
    expect((await runRollup(conn, rollup('daily_package_transitions'), 'seller_action')).rows).toEqual([
      ['2025-03-01', '', 'created', 1, 1],
      ['2025-03-01', 'created', 'shipped', 3, 2],
    ]);
  });

  it('puts events before 1970 and before year 1000 in their UTC day and hour too', async () => {
    await createSource(conn, 'old_deduped', { event_id: 'varchar', ts: 'timestamptz', event: 'varchar', user_id: 'varchar' }, [
      ['x1', '1969-12-31 23:30:00+00', 'page_viewed', 'u1'],
      ['x2', '1970-01-01 00:00:00+00', 'page_viewed', 'u1'],
      ['x3', '0999-06-01 07:15:00+00', 'page_viewed', 'u1'],
    ]);
    expect((await runRollup(conn, rollup('hourly_event_counts'), 'old')).rows.map((r) => r.slice(1, 3))).toEqual([
      ['0999-06-01', 7],
      ['1969-12-31', 23],
      ['1970-01-01', 0],
    ]);
  });

  it('matches a list of values with IN', async () => {
    const declaration: RollupDeclaration = {
      name: 'daily_order_steps',
      description: '',
      logTypes: ['order_event'],
      grain: 'day',
      dimensions: [],
      where: { event: ['order_paid', 'order_shipped'] },
      measures: [{ name: 'steps', kind: 'count', where: { currency: ['EUR', 'USD'] }, description: '' }],
    };
    expect((await runRollup(conn, declaration, 'order_event')).rows).toEqual([
      ['2025-03-01', 2],
      ['2025-03-02', 1],
    ]);
  });
});

describe('rollupColumns', () => {
  it('gives the key columns first, typed for PostgreSQL, then the measures', () => {
    expect(rollupColumns(rollup('hourly_event_counts'))).toEqual([
      { name: 'log_type', type: 'text', key: true },
      { name: 'dt', type: 'date', key: true },
      { name: 'hr', type: 'smallint', key: true },
      { name: 'event', type: 'text', key: true },
      { name: 'events', type: 'bigint', key: false },
      { name: 'users', type: 'bigint', key: false },
    ]);
    expect(rollupColumns(rollup('daily_impression_stats')).filter((c) => !c.key)).toEqual([
      { name: 'impressions', type: 'bigint', key: false },
      { name: 'clicks', type: 'bigint', key: false },
      { name: 'ctr', type: 'double precision', key: false },
      { name: 'avg_visible_ms', type: 'double precision', key: false },
    ]);
  });
});

describe('bigQueryRollupSchema', () => {
  it('leaves dt to the path and makes only doubles nullable', () => {
    expect(bigQueryRollupSchema(rollup('daily_impression_stats'))).toEqual([
      { name: 'publisher_id', type: 'STRING', mode: 'REQUIRED' },
      { name: 'placement', type: 'STRING', mode: 'REQUIRED' },
      { name: 'impressions', type: 'INT64', mode: 'REQUIRED', description: 'Impressions counted.' },
      { name: 'clicks', type: 'INT64', mode: 'REQUIRED', description: 'Clicks.' },
      { name: 'ctr', type: 'FLOAT64', mode: 'NULLABLE', description: 'clicks ÷ impressions; null without impressions.' },
      { name: 'avg_visible_ms', type: 'FLOAT64', mode: 'NULLABLE', description: 'Mean visible_ms of the impressions.' },
    ]);
    expect(bigQueryRollupSchema(rollup('hourly_event_counts')).map((c) => `${c.name}:${c.type}`)).toEqual(['log_type:STRING', 'hr:INT64', 'event:STRING', 'events:INT64', 'users:INT64']);
  });
});

import NodeSqlParser from 'node-sql-parser';
import { ROLLUPS, createRegistry, loadBundledSchemas } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { bigQueryLocation, dedupViewSql, eventTableSchema, liveRollupSql, relaxed, rollupTableSchema, tableRef } from './bigquery-sql.js';

const parser = new NodeSqlParser.Parser();
const parse = (sql: string) => parser.astify(sql, { database: 'BigQuery' });
const registry = createRegistry(loadBundledSchemas());
const logTypes = registry.logTypes();
const source = (t: string) => tableRef('my-project', 'strata_raw', `${t}_deduped`);

describe('bigquery-sql', () => {
  it('quotes fully qualified names and refuses anything that is not a name', () => {
    expect(tableRef('my-project', 'strata_raw', 'user_action')).toBe('`my-project.strata_raw.user_action`');
    expect(() => tableRef('my-project', 'raw`; drop', 't')).toThrow(/not a BigQuery dataset or table name/);
    expect(() => tableRef('My Project', 'd', 't')).toThrow(/project id/);
  });

  it('writes locations as BigQuery does', () => {
    expect(bigQueryLocation('EUROPE-WEST4')).toBe('europe-west4');
    expect(bigQueryLocation('eu')).toBe('EU');
    expect(bigQueryLocation('US')).toBe('US');
  });

  it('relaxes REQUIRED to NULLABLE at every depth and keeps REPEATED', () => {
    const fields = relaxed([
      { name: 'a', type: 'STRING', mode: 'REQUIRED' },
      { name: 'b', type: 'STRING', mode: 'REPEATED' },
      { name: 'c', type: 'RECORD', mode: 'REQUIRED', fields: [{ name: 'd', type: 'INT64', mode: 'REQUIRED' }] },
    ]);
    expect(fields.map((f) => f.mode)).toEqual(['NULLABLE', 'REPEATED', 'NULLABLE']);
    expect(fields[2]!.fields![0]!.mode).toBe('NULLABLE');
  });

  it('gives every log type an external schema without REQUIRED fields or partition keys', () => {
    expect(logTypes).toEqual(['impression', 'order_event', 'segment_identify', 'segment_page', 'segment_track', 'seller_action', 'user_action']);
    for (const t of logTypes) {
      const schema = eventTableSchema(registry.columns(t));
      const all = schema.flatMap(function walk(f): typeof schema { return [f, ...(f.fields ?? []).flatMap(walk)]; });
      expect(all.some((f) => f.mode === 'REQUIRED')).toBe(false);
      expect(schema.map((f) => f.name)).toEqual(expect.arrayContaining(['event_id', 'ts', 'received_at']));
      expect(schema.map((f) => f.name)).not.toContain('dt');
    }
    expect(eventTableSchema(registry.columns('seller_action')).find((f) => f.name === 'changed_fields')?.mode).toBe('REPEATED');
  });

  it('reads dt from the curated files, after log_type and before the other keys', () => {
    const schema = rollupTableSchema(ROLLUPS.find((r) => r.name === 'hourly_event_counts')!);
    expect(schema.map((f) => `${f.name}:${f.type}:${f.mode}`)).toEqual([
      'log_type:STRING:NULLABLE', 'dt:DATE:NULLABLE', 'hr:INT64:NULLABLE', 'event:STRING:NULLABLE', 'events:INT64:NULLABLE', 'users:INT64:NULLABLE',
    ]);
    expect(rollupTableSchema(ROLLUPS.find((r) => r.name === 'daily_order_funnel')!)[0]!.name).toBe('dt');
  });

  it('deduplicates by event_id within the partition keys, so dt/hr filters prune', () => {
    const sql = dedupViewSql(tableRef('my-project', 'strata_raw', 'user_action'));
    expect(() => parse(sql)).not.toThrow();
    expect(sql).toContain('ROW_NUMBER() OVER (PARTITION BY dt, hr, event_id ORDER BY received_at)');
    expect(sql).toContain('SELECT * EXCEPT (_rn)');
    expect(sql).toContain('WHERE _rn = 1');
  });

  it('renders every rollup live over the dedup views, grouped by the partition columns', () => {
    for (const rollup of ROLLUPS) {
      const sql = liveRollupSql(rollup, logTypes, source)!;
      expect(() => parse(sql), rollup.name).not.toThrow();
      expect(sql).not.toMatch(/DATE\(ts\)|EXTRACT\(HOUR FROM ts\)|ORDER BY/);
      expect(sql).toContain('  dt AS dt');
      if (rollup.grain === 'hour') expect(sql).toContain('  hr AS hr');
      const branches = sql.split('\nUNION ALL\n');
      expect(branches).toHaveLength(rollup.logTypes === '*' ? logTypes.length : rollup.logTypes.length);
      for (const branch of branches) expect(() => parse(branch)).not.toThrow();
    }
    const funnel = liveRollupSql(ROLLUPS.find((r) => r.name === 'daily_order_funnel')!, logTypes, source)!;
    expect(funnel).toContain('FROM `my-project.strata_raw.order_event_deduped`');
    expect(funnel).not.toContain('UNION ALL');
  });

  it('has no live SQL for a rollup reading none of the log types', () => {
    expect(liveRollupSql(ROLLUPS.find((r) => r.name === 'daily_order_revenue')!, ['user_action'], source)).toBeUndefined();
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableToIPC } from 'apache-arrow';
import { Compression, Table as ParquetTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { toArrowTable } from './arrow.js';
import { loadBundledSchemas } from './bundled.js';
import { columnsOf } from './columns.js';
import { createRegistry } from './registry.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-arrow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('toArrowTable → Parquet → DuckDB', () => {
  const db = async () => (await DuckDBInstance.create(':memory:')).connect();
  const write = (name: string, table: ReturnType<typeof toArrowTable>) => {
    const path = join(dir, name);
    const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
    writeFileSync(path, writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), props));
    return path;
  };

  it('round-trips every scalar type with nulls and exact microseconds', async () => {
    const columns = columnsOf({
      required: ['id'],
      properties: {
        id: { type: 'string' },
        n: { type: 'integer' },
        x: { type: 'number' },
        ok: { type: 'boolean' },
        tsv: { type: 'string', format: 'date-time' },
        obj: { type: 'object' },
      },
    });
    const rows = [
      { id: 'a', n: Number.MAX_SAFE_INTEGER, x: 1.5, ok: true, tsv: '2026-11-21T10:00:00.000001Z', obj: { k: ['é', 1] } },
      { id: 'ü', n: -1, x: 0, ok: false },
      { id: 'c', ok: true, tsv: '1970-01-01T00:00:00Z' },
    ];
    const table = toArrowTable(columns, rows);
    expect(table.schema.fields.map((f) => [f.name, f.nullable])).toEqual([
      ['id', false], ['n', true], ['x', true], ['ok', true], ['tsv', true], ['obj', true],
    ]);
    const path = write('scalars.parquet', table);
    const conn = await db();
    const types = await conn.runAndReadAll(`describe select * from read_parquet('${path}')`);
    expect(types.getRowObjects().map((r) => `${r.column_name} ${r.column_type}`)).toEqual([
      'id VARCHAR', 'n BIGINT', 'x DOUBLE', 'ok BOOLEAN', 'tsv TIMESTAMP WITH TIME ZONE', 'obj VARCHAR',
    ]);
    const read = await conn.runAndReadAll(`select id, n, x, ok, epoch_us(tsv) as tsv, obj from read_parquet('${path}')`);
    expect(read.getRowObjects()).toEqual([
      { id: 'a', n: 9007199254740991n, x: 1.5, ok: true, tsv: 1795255200000001n, obj: '{"k":["é",1]}' },
      { id: 'ü', n: -1n, x: 0, ok: false, tsv: null, obj: null },
      { id: 'c', n: null, x: null, ok: true, tsv: 0n, obj: null },
    ]);
    conn.closeSync();
  });

  it('writes every bundled log type: enums dictionary-encoded, structs, lists and extra as DuckDB reads them', async () => {
    const registry = createRegistry(loadBundledSchemas());
    const base = { event_id: 'e1', ts: '2026-11-21T10:00:00Z', received_at: '2026-11-21T10:00:01Z', schema_version: 1 };
    const seller = toArrowTable(registry.columns('seller_action'), [
      { ...base, event: 'listing_updated', seller_id: 's1', changed_fields: ['title', 'price'], context: { locale: 'de', page: { url: 'https://x/' } } },
      { ...base, event_id: 'e2', event: 'package_status_updated', seller_id: 's1', from_status: 'packed', to_status: 'in_transit' },
    ]);
    expect(String(seller.schema.fields.find((f) => f.name === 'to_status')!.type)).toBe('Dictionary<Int32, Utf8>');
    const sellerPath = write('seller.parquet', seller);
    const impression = toArrowTable(registry.columns('impression'), [
      { ...base, event: 'impression', publisher_id: 'pub', link_url: 'https://l/', placement: 'widget', visible_ratio: 0.5, ab_test: 'B', slot: 3 },
    ]);
    const impressionPath = write('impression.parquet', impression);

    const conn = await db();
    const types = await conn.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet('${sellerPath}'))`);
    expect(Object.fromEntries(types.getRowsJS())).toMatchObject({
      event: 'VARCHAR',
      to_status: 'VARCHAR',
      changed_fields: 'VARCHAR[]',
      schema_version: 'BIGINT',
      context: 'STRUCT(user_agent VARCHAR, ip VARCHAR, locale VARCHAR, page STRUCT(url VARCHAR, referrer VARCHAR, title VARCHAR))',
    });
    const sellers = await conn.runAndReadAll(
      `select event, from_status, to_status, changed_fields::varchar as fields, context.page.url as url from read_parquet('${sellerPath}') order by event_id`,
    );
    expect(sellers.getRowsJS()).toEqual([
      ['listing_updated', null, null, '[title, price]', 'https://x/'],
      ['package_status_updated', 'packed', 'in_transit', null, null],
    ]);
    const impressions = await conn.runAndReadAll(`select placement, visible_ratio, extra from read_parquet('${impressionPath}')`);
    expect(impressions.getRowsJS()).toEqual([['widget', 0.5, '{"ab_test":"B","slot":3}']]);
    conn.closeSync();
  });

  it('refuses a value outside an enum column rather than writing a wrong one', () => {
    const columns = [{ name: 'placement', type: 'enum' as const, nullable: false, values: ['inline', 'widget'] }];
    expect(() => toArrowTable(columns, [{ placement: 'banner' }])).toThrow('column placement: "banner" is not one of its enum values');
  });
});

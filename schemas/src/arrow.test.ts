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
import { toMicros, toMicrosNumber } from './timestamps.js';

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

  it('encodes any text exactly: short and long, ASCII and not, lone surrogates as U+FFFD', () => {
    const columns = [{ name: 's', type: 'string' as const, nullable: true }];
    const long = 'https://shop.example/' + 'x'.repeat(60);
    const values = ['a', '', 'é', 'naïve café', '😀 emoji', long, long + 'ü', 'x'.repeat(33) + '–', '\ud800', undefined, 'z'];
    const table = toArrowTable(columns, values.map((s) => ({ s })));
    const expected = values.map((v) => (v === undefined ? null : new TextDecoder().decode(new TextEncoder().encode(v))));
    expect(table.getChild('s')!.toArray()).toEqual(expected);
    // All-ASCII short column (the copy path) and all-long column (the native path), with nulls.
    const ids = Array.from({ length: 50 }, (_, i) => (i % 7 === 0 ? undefined : `id-${i}`));
    expect(toArrowTable(columns, ids.map((s) => ({ s }))).getChild('s')!.toArray()).toEqual(ids.map((v) => v ?? null));
    const urls = Array.from({ length: 50 }, (_, i) => (i % 5 === 0 ? null : `${long}/${i}`));
    expect(toArrowTable(columns, urls.map((s) => ({ s }))).getChild('s')!.toArray()).toEqual(urls);
  });

  it('writes timestamps and ints exactly, past 2^53 µs and for negative values', () => {
    const columns = columnsOf({ required: [], properties: { t: { type: 'string', format: 'date-time' }, n: { type: 'integer' } } });
    const ts = ['1969-12-31T23:59:59.999999Z', '2026-11-21T10:00:00.123456+01:00', '9999-12-31T23:59:59.999999Z', '0001-01-01T00:00:00Z'];
    const ns = [-1, -(2 ** 31) - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    const table = toArrowTable(columns, ts.map((t, i) => ({ t, n: ns[i] })));
    expect([...table.getChild('t')!.data[0]!.values]).toEqual(ts.map(toMicros));
    expect([...table.getChild('n')!.data[0]!.values]).toEqual(ns.map(BigInt));
    for (const t of ts) {
      const n = toMicrosNumber(t);
      expect(Number.isNaN(n) ? toMicros(t) > 2n ** 53n || toMicros(t) < -(2n ** 53n) : BigInt(n) === toMicros(t)).toBe(true);
    }
    expect(toMicrosNumber('yesterday')).toBeNaN();
    expect(() => toArrowTable(columns, [{ t: 'yesterday' }])).toThrow('not an RFC 3339 timestamp: yesterday');
  });

  it('sorts by event text (not enum position), then by instant, nulls last, ties in input order', () => {
    const columns = [
      { name: 'event', type: 'enum' as const, nullable: true, values: ['search', 'add_to_cart', 'page_view'] },
      { name: 'ts', type: 'timestamp' as const, nullable: true },
      { name: 'id', type: 'string' as const, nullable: false },
    ];
    const rows = [
      { id: '1', event: 'search', ts: '2026-11-21T10:00:00Z' },
      { id: '2', event: 'add_to_cart', ts: '2026-11-21T11:30:00+02:00' }, // 09:30Z: before 10:00Z
      { id: '3', event: 'add_to_cart', ts: '2026-11-21T10:00:00Z' },
      { id: '4', event: 'page_view' },
      { id: '5', ts: '2026-11-21T09:00:00Z' },
      { id: '6', event: 'page_view', ts: '2026-11-21T08:00:00Z' },
      { id: '7', event: 'add_to_cart', ts: '2026-11-21T10:00:00Z' },
    ];
    const table = toArrowTable(columns, rows, { sortBy: ['event', 'ts'] });
    expect(table.getChild('id')!.toArray()).toEqual(['2', '3', '7', '6', '4', '1', '5']);
    expect(table.getChild('event')!.toArray()).toEqual(['add_to_cart', 'add_to_cart', 'add_to_cart', 'page_view', 'page_view', 'search', null]);
    // Keys whose packed range would pass 2^53 take the comparator path, with the same order.
    const far = rows.map((r, i) => (r.ts ? { ...r, ts: i === 0 ? '9999-01-01T00:00:00Z' : r.ts } : r));
    expect(toArrowTable(columns, far, { sortBy: ['event', 'ts'] }).getChild('id')!.toArray()).toEqual(['2', '3', '7', '6', '4', '1', '5']);
    expect(() => toArrowTable(columns, rows, { sortBy: ['nope'] })).toThrow('sort key nope is not a column');
  });

  it('puts unknown fields in extra, whatever the key order, and builds the same table as row-by-row lookups would', () => {
    const registry = createRegistry(loadBundledSchemas());
    const columns = registry.columns('impression');
    const rows = [
      { slot: 3, event: 'impression', event_id: 'e1', ts: '2026-11-21T10:00:00Z', received_at: '2026-11-21T10:00:01Z', schema_version: 1, publisher_id: 'p', link_url: 'https://l/', placement: 'widget', extra: 'ignored' },
      { event_id: 'e2', event: 'impression', ts: '2026-11-21T10:00:00Z', received_at: '2026-11-21T10:00:01Z', schema_version: 1, publisher_id: 'p', link_url: 'https://l/', placement: 'inline' },
    ];
    const table = toArrowTable(columns, rows);
    expect(table.getChild('extra')!.toArray()).toEqual(['{"slot":3}', null]);
    expect(table.getChild('placement')!.toArray()).toEqual(['widget', 'inline']);
    expect(table.numCols).toBe(columns.length);
  });
});

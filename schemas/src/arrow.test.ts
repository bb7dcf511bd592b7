import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableToIPC } from 'apache-arrow';
import { Compression, Table as ParquetTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { afterAll, describe, expect, it } from 'vitest';
import { toArrowTable } from './arrow.js';
import { columnsOf } from './columns.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-arrow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('toArrowTable → Parquet → DuckDB', () => {
  it('round-trips every column type with nulls and exact microseconds', async () => {
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
    const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
    const path = join(dir, 'all.parquet');
    writeFileSync(path, writeParquet(ParquetTable.fromIPCStream(tableToIPC(table, 'stream')), props));

    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
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
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { createRegistry, loadBundledSchemas } from '@strata/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet } from './parquet.js';

/* encodeParquet's files as a reader sees them: DuckDB reads them from a temp dir. */

const registry = createRegistry(loadBundledSchemas());
const userAction = registry.columns('user_action');
const dir = mkdtempSync(join(tmpdir(), 'strata-parquet-'));
let conn: DuckDBConnection;
beforeAll(async () => {
  conn = await (await DuckDBInstance.create(':memory:')).connect();
});
afterAll(() => {
  conn.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const write = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const rowsOf = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJS();

const EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'];
const START = Date.UTC(2026, 10, 21, 10);

/** Rows in arrival order: events interleaved, timestamps jittered and written with offsets. */
function shuffledRows(count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const ms = START + ((i * 7919) % count) * 1000 + (i % 3);
    // Every third timestamp carries a +02:00 offset: text order would then differ from time order.
    const ts = i % 3 === 0 ? new Date(ms + 2 * 3_600_000).toISOString().replace('Z', '+02:00') : new Date(ms).toISOString();
    return {
      event_id: `e${String(i).padStart(5, '0')}`,
      event: EVENTS[(i * 5) % EVENTS.length],
      ts,
      received_at: new Date(ms + 500).toISOString(),
      schema_version: 1,
      user_id: `user-${i % 50}`,
      source: 'web',
    };
  });
}

/** Per row group of `path`: rows and the min/max statistics of column `col`. */
function groupStats(path: string, col: string) {
  return rowsOf(
    `select row_group_id as id, row_group_num_rows::int as rows, stats_min_value as min, stats_max_value as max
     from parquet_metadata('${path}') where path_in_schema = '${col}' order by row_group_id`,
  ) as Promise<{ id: bigint; rows: number; min: string | null; max: string | null }[]>;
}

describe('encodeParquet → DuckDB', () => {
  it('sorts rows by (event, ts), by instant rather than text, and keeps every row', async () => {
    const rows = shuffledRows(600);
    const path = write('sorted.parquet', encodeParquet(userAction, rows));
    const read = await rowsOf(`select event, epoch_us(ts) as us, event_id from read_parquet('${path}', file_row_number = true) order by file_row_number`);
    expect(read).toHaveLength(rows.length);
    const expected = rows
      .map((r) => ({ event: String(r.event), us: BigInt(Date.parse(String(r.ts))) * 1000n, event_id: String(r.event_id) }))
      .sort((a, b) => (a.event < b.event ? -1 : a.event > b.event ? 1 : a.us < b.us ? -1 : a.us > b.us ? 1 : 0));
    expect(read).toEqual(expected);
  });

  it('keeps nulls, the context struct, enums and unknown fields (extra)', async () => {
    const rows = [
      {
        event_id: 'a', event: 'search', ts: '2026-11-21T10:00:00.000001Z', received_at: '2026-11-21T10:00:01Z', schema_version: 2,
        search_query: 'blaue Tasse – groß', context: { locale: 'de-DE', page: { url: 'https://shop.example/s?q=tasse' } }, ab_test: 'B',
      },
      { event_id: 'b', event: 'add_to_cart', ts: '2026-11-21T10:00:02Z', received_at: '2026-11-21T10:00:03Z', schema_version: 2, price: 12.5, quantity: 2 },
    ];
    const path = write('shapes.parquet', encodeParquet(userAction, rows));
    expect(
      await rowsOf(
        `select event_id, event, epoch_us(ts) as us, search_query, price, quantity, user_id, context.locale as locale, context.page.url as url, extra
         from read_parquet('${path}') order by event_id`,
      ),
    ).toEqual([
      { event_id: 'a', event: 'search', us: 1795255200000001n, search_query: 'blaue Tasse – groß', price: null, quantity: null, user_id: null, locale: 'de-DE', url: 'https://shop.example/s?q=tasse', extra: '{"ab_test":"B"}' },
      { event_id: 'b', event: 'add_to_cart', us: 1795255202000000n, search_query: null, price: 12.5, quantity: 2n, user_id: null, locale: null, url: null, extra: null },
    ]);
  });

  it('writes list columns (seller_action changed_fields)', async () => {
    const base = { ts: '2026-11-21T10:00:00Z', received_at: '2026-11-21T10:00:01Z', schema_version: 1, seller_id: 's1' };
    const path = write('lists.parquet', encodeParquet(registry.columns('seller_action'), [
      { ...base, event_id: 'x', event: 'listing_updated', changed_fields: ['title', 'price'] },
      { ...base, event_id: 'y', event: 'listing_updated', changed_fields: [] },
      { ...base, event_id: 'z', event: 'listing_updated' },
    ]));
    expect(await rowsOf(`select event_id, changed_fields::varchar as f from read_parquet('${path}') order by event_id`)).toEqual([
      { event_id: 'x', f: '[title, price]' },
      { event_id: 'y', f: '[]' },
      { event_id: 'z', f: null },
    ]);
  });

  it('keeps min/max statistics on event and ts, and encodes timestamps with DELTA_BINARY_PACKED', async () => {
    const path = write('stats.parquet', encodeParquet(userAction, shuffledRows(300)));
    const meta = await rowsOf(
      `select path_in_schema as col, stats_min_value as min, stats_max_value as max, encodings from parquet_metadata('${path}')
       where path_in_schema in ('event', 'ts', 'source')`,
    );
    const byCol = Object.fromEntries(meta.map((m) => [m.col, m]));
    expect(byCol.event).toMatchObject({ min: 'add_to_cart', max: 'search' });
    expect(byCol.source).toMatchObject({ min: 'web', max: 'web' });
    expect(byCol.ts!.min).not.toBeNull();
    expect(String(byCol.ts!.encodings)).toContain('DELTA_BINARY_PACKED');
    expect(String(byCol.event!.encodings)).toContain('RLE_DICTIONARY');
  });

  it('bounds row groups by maxRowGroupRows and refuses a bad bound', () => {
    expect(() => encodeParquet(userAction, shuffledRows(3), { maxRowGroupRows: 0 })).toThrow('maxRowGroupRows must be a positive integer');
  });

  it('lets a filter on event skip row groups: each group covers few events, unlike the same rows unsorted', async () => {
    const rows = shuffledRows(3000); // 500 of each of 6 events
    const maxRowGroupRows = 256;
    const sortedPath = write('prune-sorted.parquet', encodeParquet(userAction, rows, { maxRowGroupRows }));
    const unsortedPath = write('prune-unsorted.parquet', encodeParquet(userAction, rows, { maxRowGroupRows, sortBy: [] }));
    const sorted = await groupStats(sortedPath, 'event');
    const unsorted = await groupStats(unsortedPath, 'event');
    expect(sorted).toHaveLength(Math.ceil(rows.length / maxRowGroupRows));
    expect(sorted.every((g) => g.rows <= maxRowGroupRows)).toBe(true);

    // A group may be skipped for `event = 'search'` when 'search' is outside its [min, max].
    const mayHold = (groups: typeof sorted, event: string) => groups.filter((g) => g.min! <= event && event <= g.max!);
    const searchGroups = mayHold(sorted, 'search');
    // 500 search rows in groups of 256: at most 3 groups can hold them, of 12.
    expect(searchGroups.length).toBeLessThanOrEqual(3);
    expect(searchGroups.reduce((n, g) => n + g.rows, 0)).toBeLessThan(rows.length / 3);
    for (const event of EVENTS) expect(mayHold(sorted, event).length).toBeLessThanOrEqual(3);
    // The control: unsorted, every group's range spans (nearly) all events, so nothing is skipped.
    expect(mayHold(unsorted, 'search')).toHaveLength(unsorted.length);

    // And the reader agrees: DuckDB answers from the sorted file, the same as from the unsorted one.
    const count = async (path: string) => (await rowsOf(`select count(*)::int as n from read_parquet('${path}') where event = 'search'`))[0]!.n;
    expect(await count(sortedPath)).toBe(500);
    expect(await count(unsortedPath)).toBe(500);
  });
});

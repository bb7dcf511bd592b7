import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLUPS, rollupColumns } from '@strata/schemas';
import { THROWAWAY_DATABASE, resetTestDatabase, startPgliteServer, testDatabase } from '@strata/dev/postgres';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE, migrate } from './migrate.js';

// Every .sql file is a migration; rollups.snapshot.json beside them is not.
const MIGRATIONS = readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith('.sql'))
  .map((f) => f.slice(0, -'.sql'.length))
  .sort();

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('migrate', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  beforeAll(async () => {
    db = await testDatabase();
    await resetTestDatabase(db.url);
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('applies the SQL migrations once, even when instances start together', async () => {
    // The second caller waits on the lock, then finds nothing left to apply instead of failing.
    // (Not against PGlite: its advisory locks succeed for every connection, see pglite-server.ts.)
    const applied = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect(applied.flat()).toEqual(MIGRATIONS);
    expect(await migrate(db.url)).toEqual([]);

    const tables = await query<{ tablename: string }>(db.url, "select tablename from pg_tables where schemaname = 'public' order by 1");
    expect(tables.map((r) => r.tablename)).toEqual(['curator_partitions', ...ROLLUPS.map((r) => r.name), MIGRATIONS_TABLE].sort());
  });
});

// The tables product code reads must be what the declarations say, on both servers we run.
const backends = [
  { name: 'PostgreSQL from testDatabase()', start: () => testDatabase() },
  { name: 'PGlite via startPgliteServer()', start: () => startPgliteServer({ database: THROWAWAY_DATABASE }) },
];

describe.each(backends)('the rollup tables on $name', ({ start }) => {
  let server: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    server = await start();
    await resetTestDatabase(server.url);
    expect(await migrate(server.url)).toEqual(MIGRATIONS);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(ROLLUPS.map((r) => ({ rollup: r, name: r.name })))('$name has exactly its declared columns and primary key', async ({ rollup }) => {
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string }>(
      server.url,
      "select column_name, data_type, is_nullable from information_schema.columns where table_schema = 'public' and table_name = $1 order by column_name",
      [rollup.name],
    );
    const declared = [...rollupColumns(rollup).map((c) => ({ name: c.name, type: c.type, key: c.key })), { name: 'updated_at', type: 'timestamp with time zone', key: false }];
    expect(columns.map((c) => ({ name: c.column_name, type: c.data_type }))).toEqual(
      declared.map(({ name, type }) => ({ name, type })).sort((a, b) => a.name.localeCompare(b.name)),
    );
    for (const c of columns) if (declared.find((d) => d.name === c.column_name)!.key) expect(c.is_nullable, c.column_name).toBe('NO');

    const key = await query<{ column_name: string }>(
      server.url,
      `select a.attname as column_name
         from pg_index i
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = $1::regclass and i.indisprimary
        order by array_position(i.indkey::int2[], a.attnum)`,
      [rollup.name],
    );
    expect(key.map((k) => k.column_name)).toEqual(rollupColumns(rollup).filter((c) => c.key).map((c) => c.name));
  });
});

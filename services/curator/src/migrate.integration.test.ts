import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetTestDatabase, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { MIGRATIONS_TABLE, migrate } from './migrate.js';

describe('migrate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase();
    await resetTestDatabase(db.url);
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('applies the SQL migrations once, even when instances start together', async () => {
    // The second caller waits on the lock, then finds nothing left to apply instead of failing.
    const applied = await Promise.all([migrate(db.url), migrate(db.url)]);
    expect(applied.flat()).toEqual(['1763683200000_rollup-tables']);
    expect(await migrate(db.url)).toEqual([]);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = await client.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by 1");
      expect(tables.rows.map((r) => r.tablename)).toEqual(['curator_partitions', 'hourly_event_counts', MIGRATIONS_TABLE]);
    } finally {
      await client.end();
    }
  });
});

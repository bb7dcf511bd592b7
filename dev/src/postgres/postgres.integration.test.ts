import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startPgliteServer } from './pglite-server.js';
import { resetTestDatabase, testDatabase } from './test-database.js';
import { findPostgresBinDir, startThrowawayPostgres } from './throwaway.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.allSettled(stops.splice(0).map((stop) => stop()));
});

describe.skipIf(!findPostgresBinDir())('startThrowawayPostgres', () => {
  it('starts a private cluster with a test database and removes it on stop', async () => {
    const server = await startThrowawayPostgres();
    stops.push(server.stop);
    expect(Number(new URL(server.url).port)).toBeLessThan(32_768);
    const [row] = await query<{ version: string; db: string }>(server.url, 'select version(), current_database() as db');
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
    expect(row?.db).toBe('strata_test');

    await server.stop();
    await server.stop(); // idempotent
    await expect(query(server.url, 'select 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('backs testDatabase() when DATABASE_URL is unset, and DATABASE_URL wins when set', async () => {
    const db = await testDatabase({});
    stops.push(db.stop);
    expect(db.kind).toBe('throwaway');
    await query(db.url, 'create table leftovers (id int)');
    await resetTestDatabase(db.url);
    expect(await query(db.url, "select * from pg_tables where schemaname = 'public'")).toEqual([]);

    const fromEnv = await testDatabase({ DATABASE_URL: db.url });
    expect(fromEnv).toMatchObject({ kind: 'env', url: db.url });
    await expect(testDatabase({ DATABASE_URL: db.url.replace('strata_test', 'strata') })).rejects.toThrow(/does not contain "test"/);
  });
});

describe('startPgliteServer', () => {
  it('speaks the wire protocol to pg and keeps its data in dataDir across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-pglite-'));
    stops.push(async () => rmSync(dataDir, { recursive: true, force: true }));

    const first = await startPgliteServer({ dataDir });
    stops.unshift(first.stop);
    const [row] = await query<{ version: string }>(first.url, 'select version()');
    expect(row?.version).toContain('PGlite');
    await query(first.url, "create table kept (v text); insert into kept values ('still here')");
    await first.stop();

    const second = await startPgliteServer({ dataDir });
    stops.unshift(second.stop);
    expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
  });
});

import pg from 'pg';
import { PGLITE_POOL_MAX, startPgliteServer } from './pglite-server.js';
import { THROWAWAY_DATABASE, findPostgresBinDir, startThrowawayPostgres } from './throwaway.js';

/** The database a connection URL names (its path), '' when it names none. */
export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/**
 * Refuses (throws) unless the URL's database name says "test". Every helper that truncates or drops
 * calls it first, so a test pointed at a real database by a stray DATABASE_URL cannot wipe it.
 */
export function assertTestDatabase(url: string): void {
  let name: string;
  try {
    name = databaseNameOf(url);
  } catch {
    throw new Error('refusing to touch a database whose URL cannot be parsed');
  }
  if (!/test/i.test(name)) {
    throw new Error(`refusing to touch database "${name || '(none)'}": its name does not contain "test"`);
  }
}

/** Drops everything in the `public` schema (tables, the migrations table…) so a suite starts empty. */
export async function resetTestDatabase(url: string): Promise<void> {
  assertTestDatabase(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('drop schema if exists public cascade; create schema public');
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  kind: 'env' | 'throwaway' | 'pglite';
  /** How many connections a pool may open: PGlite serves one session (see pglite-server.ts). */
  poolMax: number;
  stop(): Promise<void>;
  /** For outage tests: only a throwaway cluster can be shut down and started again. */
  outage?: { shutDown(): Promise<void>; startUp(): Promise<void> };
}

/**
 * The PostgreSQL a test suite should use: DATABASE_URL when set (CI's service container), else a
 * throwaway cluster from the installed binaries, else PGlite in memory. Says which on the console so
 * the test log shows what the suite really ran against.
 */
export async function testDatabase(env: Record<string, string | undefined> = process.env): Promise<TestDatabase> {
  const fromEnv = env.DATABASE_URL?.trim();
  if (fromEnv) {
    assertTestDatabase(fromEnv);
    console.info(`test database: DATABASE_URL (${redact(fromEnv)})`);
    return { url: fromEnv, kind: 'env', poolMax: 5, stop: async () => undefined };
  }
  if (findPostgresBinDir()) {
    const pg = await startThrowawayPostgres();
    console.info(`test database: throwaway PostgreSQL cluster (${pg.url})`);
    return { url: pg.url, stop: pg.stop, kind: 'throwaway', poolMax: 5, outage: { shutDown: pg.shutDown, startUp: pg.startUp } };
  }
  const lite = await startPgliteServer({ database: THROWAWAY_DATABASE });
  console.info(`test database: PGlite in memory (${lite.url})`);
  return { url: lite.url, stop: lite.stop, kind: 'pglite', poolMax: PGLITE_POOL_MAX };
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

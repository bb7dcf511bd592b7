import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';
import pg from 'pg';

/**
 * PostgreSQL plumbing shared by the curator (rollup tables) and the schema registry. A subpath
 * export (`@strata/runtime/postgres`), so services without a database do not load pg.
 */
export interface PostgresLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  debug?(fields: object, message: string): void;
}

export interface MigrationSet {
  /** SQL migrations (`-- Up Migration` / `-- Down Migration` sections), applied in file-name order. */
  dir: string;
  /** Each set keeps its own table, so several can share one database. */
  migrationsTable: string;
  /**
   * File names in `dir` that are not migrations (a regular expression, anchored). node-pg-migrate
   * takes every other file for one, and by default skips only dotfiles.
   */
  ignorePattern?: string;
}

/**
 * Applies pending migrations; returns the names applied. Several instances may start at once
 * (Cloud Run scales out, a deploy overlaps the old revision, a publish meets a start-up):
 * node-pg-migrate's own lock is try-or-fail, so we first WAIT on the same advisory lock, then let
 * the runner go without its own. Later instances find nothing left to do instead of crashing.
 */
export async function runMigrations(databaseUrl: string, set: MigrationSet, logger?: PostgresLogger): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  // A connection dropped mid-migration also rejects the query in flight; unheard, it would end the process.
  client.on('error', (err) => logger?.warn({ reason: err.message }, 'PostgreSQL connection failed during migrations'));
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [PG_MIGRATE_LOCK_ID]);
    try {
      const applied = await runner({
        dbClient: client,
        dir: set.dir,
        migrationsTable: set.migrationsTable,
        ...(set.ignorePattern ? { ignorePattern: set.ignorePattern } : {}),
        direction: 'up',
        checkOrder: true,
        noLock: true,
        logger: {
          debug: (message: string) => logger?.debug?.({}, message),
          info: (message: string) => logger?.debug?.({}, message),
          warn: (message: string) => logger?.warn({}, message),
          error: (message: string) => logger?.error({}, message),
        },
      });
      const names = applied.map((m) => m.name);
      if (names.length > 0) logger?.info({ migrations: names, table: set.migrationsTable }, 'migrations applied');
      return names;
    } finally {
      // Closing the connection below releases the lock too; do not let this mask the runner's error.
      await client.query('select pg_advisory_unlock($1)', [PG_MIGRATE_LOCK_ID]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

export interface PoolOptions {
  max: number;
  /** Fail fast rather than hold requests when the database hangs. */
  connectionTimeoutMillis?: number;
  queryTimeoutMillis?: number;
}

/**
 * A pg pool whose idle-client errors are logged. An idle client whose connection drops (a Cloud SQL
 * failover or restart) makes the pool emit 'error'; with no listener that would crash the process.
 */
export function createPool(databaseUrl: string, options: PoolOptions, logger: PostgresLogger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
    query_timeout: options.queryTimeoutMillis,
  });
  // Only the message: pg-pool hangs the whole client object on the error.
  pool.on('error', (err) => logger.warn({ reason: err.message }, 'idle PostgreSQL connection failed'));
  return pool;
}

import { fileURLToPath } from 'node:url';
import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';
import pg from 'pg';
import type { Logger } from '@strata/runtime';

/** SQL migrations (`-- Up Migration` / `-- Down Migration` sections), applied in file-name order. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';

/**
 * Applies pending migrations; returns the names applied. Several instances may start at once
 * (Cloud Run scales out, a deploy overlaps the old revision): node-pg-migrate's own lock is
 * try-or-fail, so we first WAIT on the same advisory lock, then let the runner go without its own.
 * The later instances find nothing left to do instead of crashing on start-up.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [PG_MIGRATE_LOCK_ID]);
    try {
      const applied = await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        migrationsTable: MIGRATIONS_TABLE,
        direction: 'up',
        checkOrder: true,
        noLock: true,
        logger: {
          debug: (msg: string) => logger?.debug(msg),
          info: (msg: string) => logger?.debug(msg),
          warn: (msg: string) => logger?.warn(msg),
          error: (msg: string) => logger?.error(msg),
        },
      });
      const names = applied.map((m) => m.name);
      if (names.length > 0) logger?.info({ migrations: names }, 'migrations applied');
      return names;
    } finally {
      // Closing the connection below releases the lock too; do not let this mask the runner's error.
      await client.query('select pg_advisory_unlock($1)', [PG_MIGRATE_LOCK_ID]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

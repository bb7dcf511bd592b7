import { fileURLToPath } from 'node:url';
import type { Logger } from '@strata/runtime';
import { runMigrations } from '@strata/runtime/postgres';

/** The curator's SQL migrations (rollup tables), tracked in node-pg-migrate's default table. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';
// rollups.snapshot.json sits beside the migrations it describes (scripts/rollups-migration.ts).
const NOT_MIGRATIONS = '\\..*|.*\\.json';

/** Applies pending migrations, waiting for any other instance doing the same; returns the names applied. */
export function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  return runMigrations(databaseUrl, { dir: MIGRATIONS_DIR, migrationsTable: MIGRATIONS_TABLE, ignorePattern: NOT_MIGRATIONS }, logger);
}

import { assetPath, type Logger } from '@strata/runtime';
import { runMigrations } from '@strata/runtime/postgres';

/**
 * The curator's SQL migrations (rollup tables), tracked in node-pg-migrate's default table. Through
 * assetPath: in a deployed bundle this module's URL is the bundle's, and the folder is copied beside it.
 */
export const MIGRATIONS_DIR = assetPath(import.meta.url, '../migrations/', 'services/curator/migrations/');
export const MIGRATIONS_TABLE = 'pgmigrations';
// rollups.snapshot.json sits beside the migrations it describes (scripts/rollups-migration.ts).
const NOT_MIGRATIONS = '\\..*|.*\\.json';

/** Applies pending migrations, waiting for any other instance doing the same; returns the names applied. */
export function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  return runMigrations(databaseUrl, { dir: MIGRATIONS_DIR, migrationsTable: MIGRATIONS_TABLE, ignorePattern: NOT_MIGRATIONS }, logger);
}

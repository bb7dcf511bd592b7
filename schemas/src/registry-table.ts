import { assetPath } from '@strata/runtime';
import { createPool, runMigrations, type PostgresLogger } from '@strata/runtime/postgres';
import type pg from 'pg';
import type { JsonSchema, LogTypeVersion } from './log-type.js';

/**
 * The `schema_registry` table: log type versions published at runtime (`npm run schemas:publish`),
 * read by the services beside the versions bundled with their code. Published rows are immutable.
 */
// assetPath: in a deployed bundle this module's URL is the bundle's, and the folder is copied beside it.
export const REGISTRY_MIGRATIONS_DIR = assetPath(import.meta.url, '../migrations/', 'schemas/migrations/');
/** Its own migrations table, so it can share a database with the curator's `pgmigrations`. */
export const REGISTRY_MIGRATIONS_TABLE = 'strata_schema_migrations';

/** pino's Logger fits; only what the registry code logs. */
export type RegistryLogger = PostgresLogger;

export interface PublishedVersion extends LogTypeVersion {
  active: boolean;
}

/** A pg.Pool or a client inside a transaction. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Creates the table if needed; returns the migrations applied. It waits on the same lock as the
 * curator's migrations, so a publish that meets a curator start-up, or another publish, queues.
 */
export function migrateRegistry(databaseUrl: string, logger?: RegistryLogger): Promise<string[]> {
  return runMigrations(databaseUrl, { dir: REGISTRY_MIGRATIONS_DIR, migrationsTable: REGISTRY_MIGRATIONS_TABLE }, logger);
}

/**
 * The pool a service reads published versions through. One connection is enough: refreshes are
 * single-flight. Requests wait on a refresh, so a hung database must fail fast rather than hold them.
 */
export function createRegistryPool(databaseUrl: string, logger: RegistryLogger): pg.Pool {
  return createPool(databaseUrl, { max: 1, connectionTimeoutMillis: 3_000, queryTimeoutMillis: 3_000 }, logger);
}

interface Row {
  log_type: string;
  version: number;
  schema: JsonSchema;
  active: boolean;
}

/** Published versions in (log_type, version) order; `activeOnly` is what the services serve. */
export async function readPublished(db: Queryable, { activeOnly }: { activeOnly: boolean }): Promise<PublishedVersion[]> {
  const where = activeOnly ? 'where active' : '';
  const { rows } = await db.query<Row>(`select log_type, version, schema, active from schema_registry ${where} order by log_type, version`);
  return rows.map((r) => ({ logType: r.log_type, version: r.version, schema: r.schema, active: r.active }));
}

/** undefined_table: nothing was ever published to this database. */
export function isMissingTable(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '42P01';
}

/** The JSON text with object keys sorted at every depth: jsonb does not keep the file's key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameSchema(a: JsonSchema, b: JsonSchema): boolean {
  return canonical(a) === canonical(b);
}

/** A version's place (log type, number) must agree with what its schema says about itself. */
export function identityProblem({ logType, version, schema }: LogTypeVersion): string | undefined {
  if (schema['x-log-type'] === logType && schema['x-version'] === version) return undefined;
  return `${logType} v${version}: its schema says x-log-type ${JSON.stringify(schema['x-log-type'])}, x-version ${JSON.stringify(schema['x-version'])}`;
}

export const versionKey = ({ logType, version }: Pick<LogTypeVersion, 'logType' | 'version'>): string => `${logType}\u0000${version}`;

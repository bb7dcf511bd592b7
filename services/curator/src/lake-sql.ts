import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { ENVELOPE } from '@strata/schemas';

/**
 * How the curator reads downloaded lake files with DuckDB, for rollups and compaction alike.
 * union_by_name: files written under different schema versions of a log type read together, a
 * column a file lacks reads as null. hive_partitioning off: local names carry no partition keys
 * (and the partition columns must not be written into the files; BigQuery takes them from the path).
 */
export const parquetSource = (param: string): string => `read_parquet($${param}, union_by_name = true, hive_partitioning = false)`;

/** The same over files named in the SQL itself, for a view (which cannot take parameters). */
export const parquetFiles = (files: readonly string[]): string => `read_parquet([${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}], union_by_name = true, hive_partitioning = false)`;

/** The envelope columns without which files cannot be curated or compacted. */
export const REQUIRED_COLUMNS: readonly string[] = [ENVELOPE.eventId, ENVELOPE.event, ENVELOPE.ts, ENVELOPE.receivedAt];

/** A query's rows as plain objects (BIGINT as bigint). */
export async function queryRows<T>(connection: DuckDBConnection, sql: string, values: Record<string, DuckDBValue>): Promise<T[]> {
  return (await connection.runAndReadAll(sql, values)).getRowObjectsJS() as T[];
}

/** The columns of local Parquet files read together as above, in order, with their DuckDB types. */
export async function columnsOf(connection: DuckDBConnection, files: string[]): Promise<{ name: string; type: string }[]> {
  const described = await queryRows<{ column_name: string; column_type: string }>(connection, `describe select * from ${parquetSource('files')}`, { files: listValue(files) });
  return described.map((c) => ({ name: c.column_name, type: c.column_type }));
}

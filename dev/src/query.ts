/**
 * `npm run query -- "<sql>"`: DuckDB over the local lake folder. One view per log type, named as
 * the BigQuery external tables are, reading the hive partitions (log_type, dt, hr) from the paths;
 * `<log_type>_deduped`, one row per event_id and hour as every rollup counts them; and `curated_<rollup>`
 * over the curator's Parquet copy of each rollup, for the rollups it has written.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import Table from 'cli-table3';
import { CURATED_ROOT, LAKE_ROOT, ROLLUPS } from '@strata/schemas';
import { dataDirFromEnv, defaultDataDir, lakeDir } from './local-config.js';

const quoted = (path: string) => `'${path.replaceAll("'", "''")}'`;
const holdsParquet = (dir: string) => existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.parquet'));

/** The lake folder's DuckDB connection with its views; `close()` when done. */
export interface LakeConnection {
  conn: DuckDBConnection;
  /** The log types with a view, from the `log_type=` folders. */
  logTypes: string[];
  close(): void;
}

/**
 * `read_parquet` over one log type's files. union_by_name: files written under older schema
 * versions lack newer columns. Partition key types are fixed as the BigQuery external tables
 * declare them ({dt:DATE}/{hr:INTEGER}). `filename` adds the file's path as a column.
 */
export function logTypeSource(dataDir: string, logType: string, options: { filename?: boolean } = {}): string {
  const glob = join(lakeDir(dataDir), LAKE_ROOT, `log_type=${logType}`, '*', '*', '*.parquet');
  return (
    `read_parquet(${quoted(glob)}, hive_partitioning = true, union_by_name = true, ` +
    `hive_types = {'log_type': VARCHAR, 'dt': DATE, 'hr': INTEGER}${options.filename ? ', filename = true' : ''})`
  );
}

export async function openLake(dataDir: string = defaultDataDir): Promise<LakeConnection> {
  const root = join(lakeDir(dataDir), LAKE_ROOT);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const close = () => {
    conn.closeSync();
    db.closeSync();
  };
  try {
    const logTypes = existsSync(root)
      ? readdirSync(root).filter((d) => d.startsWith('log_type=')).map((d) => d.slice('log_type='.length))
      : [];
    for (const logType of logTypes) {
      await conn.run(`create view "${logType}" as select * from ${logTypeSource(dataDir, logType)}`);
      // Pub/Sub delivers at least once, so the lake may hold an event twice: keep the first received.
      // Within its hour, as the curator, compaction and BigQuery's views do: copies share their ts.
      await conn.run(`create view "${logType}_deduped" as select * from "${logType}" qualify row_number() over (partition by dt, hr, event_id order by received_at) = 1`);
    }
    // curated/<rollup>/dt=<day>/<log type>.parquet; read_parquet fails on a glob matching nothing,
    // so a rollup the curator has not written yet gets no view.
    for (const rollup of ROLLUPS) {
      const dir = join(lakeDir(dataDir), CURATED_ROOT, rollup.name);
      if (!holdsParquet(dir)) continue;
      // union_by_name: a file written before a measure was declared lacks its column (NULL here).
      await conn.run(
        `create view "curated_${rollup.name}" as select * from read_parquet(${quoted(join(dir, '**', '*.parquet'))}, ` +
          `hive_partitioning = true, union_by_name = true, hive_types = {'dt': DATE})`,
      );
    }
    return { conn, logTypes, close };
  } catch (err) {
    close();
    throw err;
  }
}

export async function queryLake(sql: string, dataDir: string = defaultDataDir): Promise<{ columns: string[]; rows: unknown[][] }> {
  const lake = await openLake(dataDir);
  try {
    const result = await lake.conn.runAndReadAll(sql);
    return { columns: result.columnNames(), rows: result.getRowsJson() as unknown[][] };
  } finally {
    lake.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const sql = process.argv.slice(2).join(' ').trim();
  if (!sql) {
    console.error('usage: npm run query -- "select event, count(*) from user_action group by event"');
    process.exit(2);
  }
  try {
    const { columns, rows } = await queryLake(sql, dataDirFromEnv());
    const table = new Table({ head: columns });
    for (const row of rows) table.push(row.map((v) => (v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))));
    console.log(table.toString());
    console.log(`${rows.length} row${rows.length === 1 ? '' : 's'}`);
  } catch (err) {
    console.error(`query failed: ${(err as Error).message}`);
    process.exit(1);
  }
}

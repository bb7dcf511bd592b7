/**
 * `npm run query -- "<sql>"`: DuckDB over the local lake folder. One view per log type, named as
 * the BigQuery external tables are, reading the hive partitions (log_type, dt, hr) from the paths.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import Table from 'cli-table3';
import { LAKE_ROOT } from '@strata/schemas';
import { dataDirFromEnv, defaultDataDir, lakeDir } from './local-config.js';

export async function queryLake(sql: string, dataDir: string = defaultDataDir): Promise<{ columns: string[]; rows: unknown[][] }> {
  const root = join(lakeDir(dataDir), LAKE_ROOT);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const logTypes = existsSync(root)
      ? readdirSync(root).filter((d) => d.startsWith('log_type=')).map((d) => d.slice('log_type='.length))
      : [];
    for (const logType of logTypes) {
      const glob = join(root, `log_type=${logType}`, '*', '*', '*.parquet').replaceAll("'", "''");
      // union_by_name: files written under older schema versions lack newer columns. Partition key
      // types are fixed as the BigQuery external tables declare them ({dt:DATE}/{hr:INTEGER}).
      await conn.run(
        `create view "${logType}" as select * from read_parquet('${glob}', hive_partitioning = true, union_by_name = true, ` +
          `hive_types = {'log_type': VARCHAR, 'dt': DATE, 'hr': INTEGER})`,
      );
    }
    const result = await conn.runAndReadAll(sql);
    return { columns: result.columnNames(), rows: result.getRowsJson() as unknown[][] };
  } finally {
    conn.closeSync();
    db.closeSync();
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

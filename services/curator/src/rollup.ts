import { join } from 'node:path';
import { DuckDBInstance, listValue, type DuckDBConnection } from '@duckdb/node-api';
import { ENVELOPE, rollupApplies, rollupSql, type Match, type RollupDeclaration } from '@strata/schemas';
import { inUniquePartitions } from './compaction-names.js';
import { parquetFiles, parquetSource, REQUIRED_COLUMNS } from './lake-sql.js';

/** One row of a rollup, keyed by its column names (dt as YYYY-MM-DD text, numbers as numbers). */
export type RollupRow = Record<string, string | number | null>;

export interface DayRollup {
  rollup: RollupDeclaration;
  rows: RollupRow[];
  /** The same rows as a Parquet file, for the curated zone. */
  parquetPath: string;
}

export type DayResult =
  | {
      ok: true;
      rollups: DayRollup[];
      /** Rows read, duplicates included, and distinct events: rows - events duplicates were removed. */
      rows: number;
      events: number;
    }
  | { ok: false; reason: string };

/**
 * One day's files, split by what is known of them. An event is its (hour, event_id): duplicates of
 * one event share its ts, hence its hour (the lake partitions by ts), as compaction and the BigQuery
 * dedup views also assume.
 */
export interface DayFiles {
  /** Files of hours known to hold each event_id once (compaction-names.ts): read as they are. */
  unique: string[];
  /** Every other file: duplicates are removed within each hour, the first received_at winning. */
  raw: string[];
}

/** Local `files` of the objects `names` (in the same order), split by what their names say. */
export function splitDayFiles(names: readonly string[], files: readonly string[]): DayFiles {
  const unique = inUniquePartitions(names);
  return { unique: files.filter((_, i) => unique.has(names[i]!)), raw: files.filter((_, i) => !unique.has(names[i]!)) };
}

export interface RollupEngine {
  /** DuckDB's connection, shared with compaction (one engine per run). */
  connection: DuckDBConnection;
  /**
   * Every rollup that reads `logType`, computed over one day's Parquet files (local paths), each
   * event counted once (DayFiles). Curated Parquet goes to outDir.
   */
  computeDay(logType: string, files: DayFiles, outDir: string): Promise<DayResult>;
  close(): void;
}

/** The columns a rollup reads, and the DuckDB type it reads each as when no file of the day has it. */
function columnsRead(rollup: RollupDeclaration): Map<string, string> {
  const read = new Map<string, string>();
  const text = (match: Match | undefined) => Object.keys(match ?? {}).forEach((c) => read.set(c, 'varchar'));
  text(rollup.where);
  for (const d of rollup.dimensions) read.set(d.column, 'varchar');
  for (const m of rollup.measures) {
    if (m.kind === 'ratio' || m.kind === 'count') {
      if (m.kind === 'count') text(m.where);
      continue;
    }
    text(m.where);
    read.set(m.column, m.kind === 'distinct' ? 'varchar' : 'double');
  }
  return read;
}

/**
 * The columns these rollups read, with the type each reads as when no file has it: ts, event,
 * user_id and what the declarations name. Only these reach the rollups: carrying every column (the
 * context struct, URLs) made the dedup window most of a day's cost, and even event_id and
 * received_at, which only the window reads, cost a closed day a third of its time (P4).
 */
export function rollupInputColumns(rollups: readonly RollupDeclaration[]): Map<string, string> {
  const needed = new Map<string, string>([ENVELOPE.ts, ENVELOPE.event, ENVELOPE.userId].map((c) => [c, 'varchar']));
  for (const rollup of rollups) for (const [column, type] of columnsRead(rollup)) needed.set(column, type);
  return needed;
}

const plain = (value: unknown): string | number | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
};

/** How much memory DuckDB may hold, and where it spills what does not fit. */
export interface DuckDbLimits {
  /** DuckDB's `memory_limit` (e.g. "1GiB"); its own default is 80 % of the machine's RAM. */
  memoryLimit?: string;
  /** DuckDB's `temp_directory`: where operators and temp tables spill past the limit. */
  spillDir?: string;
}

/**
 * DuckDB in memory, one instance per run, reading the day's downloaded files as lake-sql.ts says.
 * A column no file of the day has yet (a field newer than all of them) reads as NULL.
 *
 * With a memory limit, a day's dedup table and aggregates spill to `spillDir` instead of growing
 * the process: the current day grows all day, and so would every run's peak without one.
 */
export async function openDuckDbEngine(rollups: readonly RollupDeclaration[], limits: DuckDbLimits = {}): Promise<RollupEngine> {
  const options: Record<string, string> = {};
  if (limits.memoryLimit) options.memory_limit = limits.memoryLimit;
  if (limits.spillDir) options.temp_directory = limits.spillDir;
  const instance = await DuckDBInstance.create(':memory:', options);
  const connection = await instance.connect();
  // Nothing here depends on the order rows come out in unless it says ORDER BY (the rollups and
  // compaction's sorted files do, and keep it): without the guarantee a day computes ~20 % faster.
  await connection.run('set preserve_insertion_order = false');
  const source = parquetSource('files');
  return {
    connection,
    async computeDay(logType, files, outDir) {
      const applicable = rollups.filter((r) => rollupApplies(r, logType));
      const parts = (['unique', 'raw'] as const).filter((part) => files[part].length > 0);
      if (parts.length === 0) return { ok: false, reason: 'the day has no files' };
      try {
        const columns = rollupInputColumns(applicable);
        const selects: string[] = [];
        for (const part of parts) {
          const values = { files: listValue(files[part]) };
          const described = await connection.runAndReadAll(`select column_name from (describe select * from ${source})`, values);
          const present = new Set(described.getRowObjectsJS().map((row) => String(row.column_name)));
          const missing = REQUIRED_COLUMNS.filter((c) => !present.has(c));
          if (missing.length > 0) return { ok: false, reason: `the Parquet files have no ${missing.join(' or ')} column` };
          const projection = [...columns].map(([column, type]) => (present.has(column) ? column : `null::${type} as ${column}`)).join(', ');
          if (part === 'unique') {
            selects.push(`select ${projection} from ${parquetFiles(files.unique)}`);
            continue;
          }
          // Pub/Sub delivers at least once, and a compaction swap briefly shows an hour twice. The
          // first received_at wins; ties go to the smaller ts, then the event name. The hour is the
          // one of ts since the epoch: only which rows share it matters, and a day's files hold one day.
          // Rows without an event_id cannot be told apart: all are kept, as compaction keeps them.
          await connection.run(
            `create or replace temp table raw_deduped as
             select ${projection} from ${source}
             qualify ${ENVELOPE.eventId} is null or row_number() over (partition by epoch_us(${ENVELOPE.ts}) // 3600000000, ${ENVELOPE.eventId} order by ${ENVELOPE.receivedAt}, ${ENVELOPE.ts}, ${ENVELOPE.event}) = 1`,
            values,
          );
          selects.push('select * from raw_deduped');
        }
        // A view: each rollup reads only its columns of the unique files, straight from Parquet.
        await connection.run(`create or replace temp view deduped as ${selects.join(' union all ')}`);
        const all = listValue([...files.unique, ...files.raw]);
        const totals = await connection.runAndReadAll(`select (select sum(num_rows) from parquet_file_metadata($files)) as rows, (select count(*) from deduped) as events`, { files: all });
        const [total] = totals.getRowObjectsJS();
        const result: DayRollup[] = [];
        for (const rollup of applicable) {
          const table = `rollup_${rollup.name}`;
          await connection.run(`create or replace temp table ${table} as ${rollupSql({ rollup, logType, dialect: 'duckdb', source: 'deduped' })}`);
          const parquetPath = join(outDir, `${rollup.name}.parquet`);
          await connection.run(`copy ${table} to '${parquetPath.replaceAll("'", "''")}' (format parquet, compression zstd)`);
          const rows = (await connection.runAndReadAll(`select * from ${table}`)).getRowObjectsJS();
          result.push({ rollup, parquetPath, rows: rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)]))) });
        }
        return { ok: true, rollups: result, rows: Number(total!.rows), events: Number(total!.events) };
      } finally {
        // They hold memory until the next day replaces them; a failure to drop them must not hide
        // the day's own error (the next day's `create or replace` replaces them anyway).
        await connection.run('drop view if exists deduped').catch(() => undefined);
        await connection.run('drop table if exists raw_deduped').catch(() => undefined);
      }
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

import { join } from 'node:path';
import { DuckDBInstance, listValue, type DuckDBConnection } from '@duckdb/node-api';
import { ENVELOPE, rollupApplies, rollupKeys, rollupSql, type Match, type RollupDeclaration } from '@strata/schemas';
import { holdsEachEventOnce } from './compaction-names.js';
import { columnsOf, parquetFiles, parquetSource, queryRows, REQUIRED_COLUMNS } from './lake-sql.js';

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
  /** The hours known to hold each event_id once (compaction-names.ts), each as its files: read as they are. */
  uniqueHours: string[][];
  /** Every other file: duplicates are removed within each hour, the first received_at winning. */
  raw: string[];
}

/** Local `files` of the objects `names` (in the same order), split by what their names say. */
export function splitDayFiles(names: readonly string[], files: readonly string[]): DayFiles {
  const hours = new Map<string, number[]>();
  for (const [i, name] of names.entries()) {
    const partition = name.slice(0, name.lastIndexOf('/') + 1);
    hours.set(partition, [...(hours.get(partition) ?? []), i]);
  }
  const split: DayFiles = { uniqueHours: [], raw: [] };
  for (const indexes of hours.values()) {
    if (holdsEachEventOnce(indexes.map((i) => names[i]!))) split.uniqueHours.push(indexes.map((i) => files[i]!));
    else split.raw.push(...indexes.map((i) => files[i]!));
  }
  return split;
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
      const unique = files.uniqueHours.flat();
      if (unique.length === 0 && files.raw.length === 0) return { ok: false, reason: 'the day has no files' };
      const columns = rollupInputColumns(applicable);
      /** The columns of these files, or why they cannot be curated. */
      const presentIn = async (list: string[]): Promise<Set<string> | { reason: string }> => {
        const present = new Set((await columnsOf(connection, list)).map((c) => c.name));
        const missing = REQUIRED_COLUMNS.filter((c) => !present.has(c));
        return missing.length > 0 ? { reason: `the Parquet files have no ${missing.join(' or ')} column` } : present;
      };
      /** What the rollups read, a column the files lack as NULL. */
      const projection = (present: Set<string>) => [...columns].map(([column, type]) => (present.has(column) ? column : `null::${type} as ${column}`)).join(', ');
      try {
        // Each unique hour read on its own, with its own columns: an hour-grain rollup is computed
        // an hour at a time (its groups never span hours, and a small hash table is a fast one:
        // the hourly rollup of a closed day took 2.7 s at once, 1.8 s an hour at a time, P4).
        const hourSources: string[] = [];
        const inUniqueHours = new Set<string>();
        for (const hour of files.uniqueHours) {
          const present = await presentIn(hour);
          if (!(present instanceof Set)) return { ok: false, ...present };
          present.forEach((c) => inUniqueHours.add(c));
          hourSources.push(`(select ${projection(present)} from ${parquetFiles(hour)})`);
        }
        if (files.raw.length > 0) {
          const present = await presentIn(files.raw);
          if (!(present instanceof Set)) return { ok: false, ...present };
          // Pub/Sub delivers at least once, and a compaction swap briefly shows an hour twice. The
          // first received_at wins; ties go to the smaller ts, then the event name. The hour is the
          // one of ts since the epoch: only which rows share it matters, and a day's files hold one day.
          // Rows without an event_id cannot be told apart: all are kept, as compaction keeps them.
          await connection.run(
            `create or replace temp table raw_deduped as
             select ${projection(present)} from ${source}
             qualify ${ENVELOPE.eventId} is null or row_number() over (partition by epoch_us(${ENVELOPE.ts}) // 3600000000, ${ENVELOPE.eventId} order by ${ENVELOPE.receivedAt}, ${ENVELOPE.ts}, ${ENVELOPE.event}) = 1`,
            { files: listValue(files.raw) },
          );
          hourSources.push('raw_deduped');
        }
        // The day as one view for day-grain rollups: the unique files straight from Parquet, in one
        // read, whose columns (union_by_name) are all the hours' columns.
        const daySources: string[] = [];
        if (unique.length > 0) daySources.push(`select ${projection(inUniqueHours)} from ${parquetFiles(unique)}`);
        if (files.raw.length > 0) daySources.push('select * from raw_deduped');
        await connection.run(`create or replace temp view deduped as ${daySources.join(' union all ')}`);
        // Rows from the footers; events too for the unique files, which hold each once.
        const rowsOf = async (list: string[]) => (list.length === 0 ? 0 : Number((await queryRows<{ n: bigint }>(connection, 'select sum(num_rows) as n from parquet_file_metadata($files)', { files: listValue(list) }))[0]!.n));
        const uniqueRows = await rowsOf(unique);
        const rawEvents = files.raw.length === 0 ? 0 : Number((await queryRows<{ n: bigint }>(connection, 'select count(*) as n from raw_deduped', {}))[0]!.n);
        const total = { rows: uniqueRows + (await rowsOf(files.raw)), events: uniqueRows + rawEvents };
        const result: DayRollup[] = [];
        for (const rollup of applicable) {
          const table = `rollup_${rollup.name}`;
          const sql = (from: string) => rollupSql({ rollup, logType, dialect: 'duckdb', source: from });
          if (rollup.grain === 'hour') {
            await connection.run(`create or replace temp table hours as ${sql(hourSources[0]!)}`);
            for (const from of hourSources.slice(1)) await connection.run(`insert into hours ${sql(from)}`);
            const order = rollupKeys(rollup).filter((k) => k !== 'log_type');
            await connection.run(`create or replace temp table ${table} as select * from hours order by ${order.join(', ')}`);
            await connection.run('drop table hours');
          } else {
            await connection.run(`create or replace temp table ${table} as ${sql('deduped')}`);
          }
          const parquetPath = join(outDir, `${rollup.name}.parquet`);
          await connection.run(`copy ${table} to '${parquetPath.replaceAll("'", "''")}' (format parquet, compression zstd)`);
          const rows = (await connection.runAndReadAll(`select * from ${table}`)).getRowObjectsJS();
          result.push({ rollup, parquetPath, rows: rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)]))) });
        }
        return { ok: true, rollups: result, ...total };
      } finally {
        // They hold memory until the next day replaces them; a failure to drop them must not hide
        // the day's own error (the next day's `create or replace` replaces them anyway).
        await connection.run('drop view if exists deduped').catch(() => undefined);
        await connection.run('drop table if exists raw_deduped').catch(() => undefined);
        await connection.run('drop table if exists hours').catch(() => undefined);
      }
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

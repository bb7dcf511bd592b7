import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { ENVELOPE } from '@strata/schemas';
import { columnsOf, parquetSource, queryRows, REQUIRED_COLUMNS } from './lake-sql.js';

/**
 * The DuckDB half of compaction, on local files only: deduplicate and sort a partition's Parquet
 * files into new ones, then prove the new ones hold exactly the same events.
 */

/**
 * Rows per row group, as the writer's DEFAULT_MAX_ROW_GROUP_ROWS (services/writer/src/parquet.ts):
 * large groups for BigQuery (it asks for ≥ 16 MiB) and DuckDB, each covering a run of (event, ts)
 * that a filter on event can skip. A multiple of DuckDB's 2,048-row vector, as it requires.
 */
export const ROW_GROUP_ROWS = 131_072;

export interface MergeResult {
  /** Output files in row order: each holds the next run of (event, ts). */
  files: string[];
  bytesOut: number;
}

/** What verifyMerged counted. */
export interface MergeCounts {
  rowsIn: number;
  rowsOut: number;
}

/** The merged files do not hold exactly the inputs' events; nothing may be replaced by them. */
export class CompactionVerificationFailed extends Error {
  constructor(readonly problems: string[]) {
    super(`compaction output does not match its inputs: ${problems.join('; ')}`);
    this.name = 'CompactionVerificationFailed';
  }
}

const { eventId, event, ts, receivedAt } = ENVELOPE;

// Columns DuckDB's Parquet reader adds on request (virtual columns); the dedup below orders by them.
const VIRTUAL_COLUMNS = ['file_index', 'file_row_number'];

/*
 * COPY options. ZSTD (DuckDB's level 3; the writer's parquet-wasm uses 1) and row groups of
 * ROW_GROUP_ROWS. Parquet format version 1 (DuckDB's default) keeps to the encodings every reader
 * has (PLAIN, RLE_DICTIONARY), whatever BigQuery's external tables support. DuckDB writes
 * TIMESTAMPTZ as INT64 TIMESTAMP(isAdjustedToUTC, MICROS), VARCHAR as UTF8 BYTE_ARRAY, STRUCT as a
 * group, LIST as the standard three-level list: the writer's types (compact.integration.test.ts
 * compares the two schemas column by column). Every column is OPTIONAL, though: DuckDB 1.5 cannot
 * write REQUIRED, which the writer uses for non-nullable columns.
 */
const COPY_OPTIONS = `FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}`;

/**
 * Writes the rows of `select` to the Parquet file `out` as every lake file is laid out: the
 * writer's order (event, ts), nulls last, with event_id making it total so the output is
 * deterministic, in the lake's format (COPY_OPTIONS). Compaction and erasure both write this way.
 */
export async function copySorted(connection: DuckDBConnection, select: string, values: Record<string, DuckDBValue>, out: string): Promise<void> {
  await connection.run(
    `copy (${select}
       order by ${event} asc nulls last, ${ts} asc nulls last, ${eventId} asc nulls last
     ) to $out (${COPY_OPTIONS})`,
    { ...values, out },
  );
}

/**
 * Deduplicates `inputs` on event_id and writes the rows sorted by (event, ts) into Parquet files in
 * `outDir` (which must exist), each closed at the first row group past `targetFileBytes`.
 *
 * Of the copies of an event, the one received first wins: later ones are redeliveries or replays.
 * Ties (a redelivery carries the same publish time) go to the earliest input in the given order,
 * then the earliest row in it, so the same inputs always give the same output. Rows without an
 * event_id cannot be told apart, so all of them are kept (the envelope requires one; none should exist).
 */
export async function mergeParquet(connection: DuckDBConnection, inputs: string[], outDir: string, targetFileBytes: number): Promise<MergeResult> {
  if (inputs.length === 0) throw new Error('nothing to merge');
  const columns = new Set((await columnsOf(connection, inputs)).map((c) => c.name));
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length > 0) throw new Error(`cannot compact files without ${missing.join(', ')}`);
  // A real column of that name would hide the virtual one, and the dedup would order by data.
  const shadowed = VIRTUAL_COLUMNS.filter((c) => columns.has(c));
  if (shadowed.length > 0) throw new Error(`cannot compact files with a column named ${shadowed.join(', ')}`);

  const merged = join(outDir, 'merged.parquet');
  await copySorted(
    connection,
    `select * from ${parquetSource('files')}
     qualify ${eventId} is null
       or row_number() over (partition by ${eventId} order by ${receivedAt} asc nulls last, file_index, file_row_number) = 1`,
    { files: listValue(inputs) },
    merged,
  );
  const files = await splitBySize(connection, merged, outDir, targetFileBytes);
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  return { files, bytesOut: sizes.reduce((a, b) => a + b, 0) };
}

/**
 * `merged` as is when it is at most `targetFileBytes`, else cut into consecutive runs of its row
 * groups, each closed at the first row group that takes it past the target (what DuckDB's
 * FILE_SIZE_BYTES does). Not FILE_SIZE_BYTES itself: in DuckDB 1.5 it writes files in parallel and
 * does not keep the order (files and even row groups overlap in (event, ts), so none could be
 * skipped by a filter on event), and PRESERVE_ORDER is refused with it. Cutting at the target
 * rather than below it makes every file but the last at least the target, so the policy leaves
 * them alone and an aged hour is not rewritten again on the next pass.
 */
async function splitBySize(connection: DuckDBConnection, merged: string, outDir: string, targetFileBytes: number): Promise<string[]> {
  if ((await stat(merged)).size <= targetFileBytes) return [merged];
  const groups = await queryRows<{ num_rows: bigint; bytes: bigint }>(
    connection,
    `select row_group_num_rows as num_rows, row_group_compressed_bytes as bytes
     from (select distinct row_group_id, row_group_num_rows, row_group_compressed_bytes from parquet_metadata($file)) order by row_group_id`,
    { file: merged },
  );
  const runs: { from: number; to: number }[] = [];
  let from = 0;
  let at = 0;
  let bytes = 0;
  for (const group of groups) {
    at += Number(group.num_rows);
    bytes += Number(group.bytes);
    if (bytes >= targetFileBytes) {
      runs.push({ from, to: at });
      from = at;
      bytes = 0;
    }
  }
  if (at > from) runs.push({ from, to: at });
  if (runs.length === 1) return [merged];

  const files: string[] = [];
  for (const [i, run] of runs.entries()) {
    const file = join(outDir, `part-${i}.parquet`);
    // file_row_number is the row's position in merged: the runs keep its order and row groups.
    await connection.run(
      `copy (select * from read_parquet($merged) where file_row_number >= $from and file_row_number < $to order by file_row_number) to $out (${COPY_OPTIONS})`,
      { merged, from: run.from, to: run.to, out: file },
    );
    files.push(file);
  }
  return files;
}

/** A problem when `outputs` do not have exactly the columns (names, order, types) of `inputs`. */
export async function columnsDiffer(connection: DuckDBConnection, inputs: string[], outputs: string[]): Promise<string | undefined> {
  const columnList = async (files: string[]) => (await columnsOf(connection, files)).map((c) => `${c.name} ${c.type}`).join(', ');
  const [before, after] = [await columnList(inputs), await columnList(outputs)];
  return before === after ? undefined : `columns differ: inputs (${before}), outputs (${after})`;
}

type Count = 'in_rows' | 'in_ids' | 'in_null' | 'out_rows' | 'out_ids' | 'out_null' | 'only_in' | 'only_out';

/**
 * Reads `outputs` back and counts the rows in and out. Throws CompactionVerificationFailed unless
 * the outputs hold exactly one row per distinct event_id of `inputs` (plus every id-less row), the
 * same set of event_ids, and the same columns of the same types. This is the last check before
 * inputs are deleted, so it reads the files as written rather than trusting the query that wrote them.
 */
export async function verifyMerged(connection: DuckDBConnection, inputs: string[], outputs: string[]): Promise<MergeCounts> {
  const problems: string[] = [];
  const values = { inputs: listValue(inputs), outputs: listValue(outputs) };
  const columns = await columnsDiffer(connection, inputs, outputs);
  if (columns) problems.push(columns);

  const [stats] = await queryRows<Record<Count, bigint>>(
    connection,
    `with i as materialized (select ${eventId} as id from ${parquetSource('inputs')}),
          o as materialized (select ${eventId} as id from ${parquetSource('outputs')}),
          di as (select distinct id from i where id is not null),
          dout as (select distinct id from o where id is not null)
     select (select count(*) from i) as in_rows,
            (select count(*) from di) as in_ids,
            (select count(*) from i where id is null) as in_null,
            (select count(*) from o) as out_rows,
            (select count(*) from dout) as out_ids,
            (select count(*) from o where id is null) as out_null,
            (select count(*) from di anti join dout using (id)) as only_in,
            (select count(*) from dout anti join di using (id)) as only_out`,
    values,
  );
  const n = Object.fromEntries(Object.entries(stats!).map(([k, v]) => [k, Number(v)])) as Record<Count, number>;
  if (n.out_rows !== n.in_ids + n.in_null) problems.push(`${n.out_rows} rows written for ${n.in_ids} distinct event_ids and ${n.in_null} rows without one`);
  if (n.out_rows !== n.out_ids + n.out_null) problems.push(`${n.out_rows - n.out_ids - n.out_null} duplicate event_ids written`);
  if (n.only_in > 0) problems.push(`${n.only_in} event_ids missing from the output`);
  if (n.only_out > 0) problems.push(`${n.only_out} event_ids in the output that no input has`);
  if (n.out_null !== n.in_null) problems.push(`${n.out_null} rows without event_id written for ${n.in_null} read`);
  if (problems.length > 0) throw new CompactionVerificationFailed(problems);
  return { rowsIn: n.in_rows, rowsOut: n.out_rows };
}

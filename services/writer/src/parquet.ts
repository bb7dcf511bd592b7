import { tableToIPC, type Table as ArrowTable } from 'apache-arrow';
import { Compression, EnabledStatistics, Encoding, Table, WriterPropertiesBuilder, writeParquet, type WriterProperties } from 'parquet-wasm';
import { ENVELOPE, toArrowTable, type Column } from '@strata/schemas';

export { PARQUET_CONTENT_TYPE } from '@strata/schemas';

/**
 * Rows per row group unless told otherwise: 128Ki, about DuckDB's default of 122,880
 * (https://duckdb.org/docs/stable/data/parquet/tips.html). Readers want large row groups: BigQuery
 * asks for at least 16 MiB (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-parquet),
 * Parquet itself suggests far more (https://parquet.apache.org/docs/file-format/configurations/).
 * So every file the writer makes (FLUSH_MAX_ROWS, 50,000 rows by default, ≤ 32 MiB of JSON) is one row
 * group; only larger files, such as compaction's, get several, each covering a run of (event, ts)
 * that a filter on event can skip. Memory is bounded by the file, not by this: the whole batch is
 * in wasm memory either way.
 */
export const DEFAULT_MAX_ROW_GROUP_ROWS = 131_072;

export interface EncodeOptions {
  /** Upper bound on rows per row group (default DEFAULT_MAX_ROW_GROUP_ROWS). */
  maxRowGroupRows?: number;
  /**
   * Row order within the file: ascending by these top-level columns, nulls last. Default (event,
   * ts), IceDB's layout: a row group then holds few event names, so its min/max statistics let
   * BigQuery and DuckDB skip it for a filter on event, and ts runs in order within each event,
   * which also makes the delta-encoded timestamps small.
   */
  sortBy?: readonly string[];
}

const defaultSort = (columns: Column[]) => [ENVELOPE.event, ENVELOPE.ts].filter((name) => columns.some((c) => c.name === name));

/**
 * Validated rows → one Parquet file (ZSTD), sorted by (event, ts). Arrow JS builds the columns
 * (schemas/src/arrow.ts), parquet-wasm writes the file; the hand-off is an Arrow IPC stream.
 * Synchronous, so only one batch occupies wasm memory at a time (it never shrinks; the buffer's
 * limits bound the batch). services/writer/bench/encoder.ts measures it against DuckDB.
 */
export function encodeParquet(columns: Column[], rows: Record<string, unknown>[], options: EncodeOptions = {}): Uint8Array {
  const properties = writerProperties(columns, rows, options);
  const table = toArrowTable(columns, rows, { sortBy: options.sortBy ?? defaultSort(columns) });
  return parquetFromArrow(table, properties);
}

/** The last step of encodeParquet: an Arrow table → Parquet bytes. */
export function parquetFromArrow(table: ArrowTable, properties: WriterProperties): Uint8Array {
  // writeParquet takes ownership of the wasm table and the properties and frees both.
  return writeParquet(Table.fromIPCStream(tableToIPC(table, 'stream')), properties);
}

/*
 * Encodings, chosen per column from what parquet-wasm 0.7.1 can set: the global defaults plus
 * per-column settings addressed by a top-level name (its string column paths have one part, so
 * fields inside a struct follow the defaults). Measured on the encoder bench's events (10,000-row
 * files): these choices took files from 61 to 45 B/event and cut parquet-wasm's time by a third.
 *
 * - Dictionary (RLE_DICTIONARY) stays the default: it is what makes low-cardinality strings
 *   (user agent, locale, source, page title, currency) and near-constant ints small.
 * - A column whose sampled values are mostly distinct (ids, URLs, prices) skips the dictionary:
 *   it would only grow past the page limit and fall back to PLAIN after costing time; PLAIN with
 *   ZSTD is smaller for it. Struct fields cannot be set one by one, so a small dictionary page
 *   limit makes a high-cardinality one (context.page.url) fall back after its first pages.
 * - Timestamps use DELTA_BINARY_PACKED: sorted by (event, ts), consecutive values differ by
 *   milliseconds, and deltas of those pack into a few bytes (ts and received_at: 3.7 → 3.1 B/event).
 *   DuckDB (tested here) and Arrow's readers decode it; some older readers (Spark's early
 *   vectorized reader, parquet-dotnet, hyparquet before 2025) did not, and BigQuery's external
 *   tables are not tested from here: check one file there before relying on it.
 *   BYTE_STREAM_SPLIT (for received_at, or price) and DELTA_BYTE_ARRAY / DELTA_LENGTH_BYTE_ARRAY
 *   (ids, URLs) were measured and did not beat dictionary-or-PLAIN with ZSTD.
 * - Chunk statistics (min/max per row group) are what BigQuery and DuckDB prune row groups with:
 *   on for event, timestamps, numbers and low-cardinality strings (nested ones included); off
 *   for mostly-distinct top-level strings (ids, URLs), whose ranges span everything unsorted.
 * - ZSTD at parquet-wasm's fixed level (1): the bench compares it with DuckDB's level 3.
 * Encodings: https://parquet.apache.org/docs/file-format/data-pages/encodings/
 */
const DICTIONARY_PAGE_LIMIT = 16 * 1024;
const SAMPLE = 512;

export function writerProperties(columns: Column[], rows: Record<string, unknown>[], options: EncodeOptions): WriterProperties {
  const maxRowGroupRows = options.maxRowGroupRows ?? DEFAULT_MAX_ROW_GROUP_ROWS;
  if (!Number.isSafeInteger(maxRowGroupRows) || maxRowGroupRows < 1) throw new Error(`maxRowGroupRows must be a positive integer, got ${maxRowGroupRows}`);
  let builder = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setMaxRowGroupSize(maxRowGroupRows)
    .setStatisticsEnabled(EnabledStatistics.Chunk)
    .setDictionaryPageSizeLimit(DICTIONARY_PAGE_LIMIT);
  for (const column of columns) {
    const { name, type } = column;
    if (type === 'timestamp') {
      builder = builder.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, Encoding.DELTA_BINARY_PACKED);
    } else if ((type === 'string' || type === 'json' || type === 'int64' || type === 'double') && mostlyDistinct(rows, name)) {
      builder = builder.setColumnDictionaryEnabled(name, false);
      // Min/max of scattered ids and URLs prunes nothing and costs a byte comparison per value.
      if (type === 'string' || type === 'json') builder = builder.setColumnStatisticsEnabled(name, EnabledStatistics.None);
    }
  }
  return builder.build();
}

/** Whether more than half of an evenly spaced sample of a column's present values are distinct. */
function mostlyDistinct(rows: Record<string, unknown>[], name: string): boolean {
  const step = Math.max(1, rows.length / SAMPLE);
  const seen = new Set<unknown>();
  let present = 0;
  for (let i = 0; i < rows.length; i += step) {
    const v = rows[Math.floor(i)]![name];
    if (v === undefined || v === null) continue;
    present++;
    seen.add(typeof v === 'object' ? JSON.stringify(v) : v);
  }
  return seen.size * 2 > present;
}

import { tableToIPC } from 'apache-arrow';
import { Compression, Table, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { toArrowTable, type Column } from '@strata/schemas';

export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/**
 * Validated rows → one Parquet file (ZSTD). Arrow JS builds the columns, parquet-wasm writes
 * the file; the hand-off is an Arrow IPC stream. Synchronous, so only one batch occupies wasm
 * memory at a time (it never shrinks; the buffer's limits bound the batch).
 */
export function encodeParquet(columns: Column[], rows: Record<string, unknown>[]): Uint8Array {
  const ipc = tableToIPC(toArrowTable(columns, rows), 'stream');
  // writeParquet takes ownership of the wasm table and the properties and frees both.
  const table = Table.fromIPCStream(ipc);
  const properties = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
  return writeParquet(table, properties);
}

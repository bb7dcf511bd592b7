import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { createLogger, type Logger } from '@strata/runtime';
import { createRegistry, loadBundledSchemas, partitionPrefix, type Partition } from '@strata/schemas';
import { encodeParquet } from '@strata/writer';
import type { LakeObject, LakeStore } from './lake-store.js';

/* Test fixtures for compaction: files made by the writer's own encoder, and the lake read back. */

export const registry = createRegistry(loadBundledSchemas());

export const PARTITION: Partition = { logType: 'user_action', dt: '2025-03-01', hr: '10' };
export const PREFIX = partitionPrefix(PARTITION);

/** A user_action row in PARTITION: `minute` past 10:00, received `delayS` seconds later. */
export function action(eventId: string, event: string, minute: number, fields: Record<string, unknown> = {}, delayS = 1): Record<string, unknown> {
  const ms = Date.UTC(2025, 2, 1, 10, 0, 0) + minute * 60_000;
  return {
    event_id: eventId,
    event,
    ts: new Date(ms).toISOString(),
    received_at: new Date(ms + delayS * 1000).toISOString(),
    schema_version: 1,
    ...fields,
  };
}

/** Rows → Parquet bytes exactly as the writer makes its files. */
export const writerFile = (rows: Record<string, unknown>[], logType = 'user_action'): Uint8Array => encodeParquet(registry.columns(logType), rows);

/** A row as read back: the columns the tests look at, timestamps in µs, and where it was. */
export interface ReadRow {
  event_id: string;
  event: string;
  ts: number;
  received_at: number;
  user_id: string | null;
  source: string | null;
  file: string;
  row: number;
}

/** Every row of local Parquet files, in file then row order; `names[i]` names `files[i]`. */
export async function readRows(connection: DuckDBConnection, files: string[], names = files): Promise<ReadRow[]> {
  if (files.length === 0) return [];
  const reader = await connection.runAndReadAll(
    `select event_id, event, epoch_us(ts) as ts, epoch_us(received_at) as received_at, user_id, source, file_index, file_row_number
     from read_parquet($files, union_by_name = true, hive_partitioning = false) order by file_index, file_row_number`,
    { files: listValue(files) },
  );
  return reader.getRowObjectsJS().map((r) => ({
    event_id: String(r.event_id),
    event: String(r.event),
    ts: Number(r.ts),
    received_at: Number(r.received_at),
    user_id: r.user_id === null ? null : String(r.user_id),
    source: r.source === null ? null : String(r.source),
    file: names[Number(r.file_index)]!,
    row: Number(r.file_row_number),
  }));
}

/** One listing of a lake prefix and the rows of everything in it. */
export async function readLake(lake: LakeStore, prefix: string, connection: DuckDBConnection, workDir: string): Promise<{ objects: LakeObject[]; rows: ReadRow[] }> {
  const dir = await mkdtemp(join(workDir, 'read-'));
  try {
    const objects = await lake.list(prefix);
    const files = objects.map((_, i) => join(dir, `${i}.parquet`));
    for (const [i, object] of objects.entries()) await lake.download(object.name, files[i]!);
    return { objects, rows: await readRows(connection, files, objects.map((o) => o.name)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A logger that keeps its lines. */
export function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'curator', level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

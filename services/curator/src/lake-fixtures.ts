import { tableToIPC } from 'apache-arrow';
import { Table, writeParquet } from 'parquet-wasm';
import { LAKE_ROOT, createRegistry, loadBundledSchemas, partitionOf, partitionPrefix, rollupColumns, toArrowTable, type RollupDeclaration } from '@strata/schemas';
import type pg from 'pg';

/* Test fixtures: real Parquet files shaped like the writer's, put into a lake, and rollups read back. */

const registry = createRegistry(loadBundledSchemas());

/** A user_action row (received_at = ts). */
export function userAction(eventId: string, event: string, ts: string, userId: string): Record<string, unknown> {
  return { event_id: eventId, event, ts, received_at: ts, schema_version: 1, user_id: userId };
}

/** A row of any log type: the envelope (received_at = ts) plus its own fields. */
export function eventRow(eventId: string, event: string, ts: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { event_id: eventId, event, ts, received_at: ts, schema_version: 1, ...fields };
}

/** Rows of a log type → Parquet bytes through the schema's Arrow mapping, as the writer encodes them. */
export function eventsParquet(logType: string, rows: Record<string, unknown>[]): Uint8Array {
  const ipc = tableToIPC(toArrowTable(registry.columns(logType), rows), 'stream');
  return writeParquet(Table.fromIPCStream(ipc));
}

export function userActionParquet(rows: Record<string, unknown>[]): Uint8Array {
  return eventsParquet('user_action', rows);
}

/** The lake object name for a file of rows of a log type (partition from the first row's ts). */
export function lakeObjectName(logType: string, rows: Record<string, unknown>[], file: string): string {
  return `${partitionPrefix(partitionOf(logType, String(rows[0]!.ts)))}${file}.parquet`;
}

export function objectNameFor(rows: Record<string, unknown>[], file: string): string {
  return lakeObjectName('user_action', rows, file);
}

export const NOT_LAKE_OBJECTS = [`${LAKE_ROOT}/README.txt`, `${LAKE_ROOT}/log_type=user_action/dt=2025-03-01/hr=10/_tmp.json`];

/** A rollup's rows in key order, dt as text, numbers as numbers; updated_at separately when asked. */
export async function readRollup(db: pg.Pool | pg.Client, rollup: RollupDeclaration, { withUpdatedAt = false } = {}): Promise<Record<string, unknown>[]> {
  const columns = rollupColumns(rollup);
  const select = columns.map((c) => (c.type === 'date' ? `${c.name}::text as ${c.name}` : c.name));
  if (withUpdatedAt) select.push('updated_at::text as updated_at');
  const keys = columns.filter((c) => c.key).map((c) => c.name);
  const { rows } = await db.query<Record<string, unknown>>(`select ${select.join(', ')} from ${rollup.name} order by ${keys.join(', ')}`);
  const numeric = new Set(columns.filter((c) => c.type === 'bigint' || c.type === 'double precision' || c.type === 'smallint').map((c) => c.name));
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, numeric.has(k) && v !== null ? Number(v) : v])));
}

/** The hours the store remembers, in key order. */
export async function readCurated(db: pg.Pool | pg.Client): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(
    `select log_type || '/' || dt::text || '/' || lpad(hr::text, 2, '0') as key from curator_partitions order by 1`,
  );
  return rows.map((r) => r.key);
}

import { tableToIPC } from 'apache-arrow';
import { Table, writeParquet } from 'parquet-wasm';
import { LAKE_ROOT, createRegistry, loadBundledSchemas, partitionOf, partitionPrefix, toArrowTable } from '@strata/schemas';
import type pg from 'pg';

/* Test fixtures: real Parquet files shaped like the writer's, put into a lake, and rollups read back. */

const registry = () => createRegistry(loadBundledSchemas());

/** A user_action row (received_at = ts). */
export function userAction(eventId: string, event: string, ts: string, userId: string): Record<string, unknown> {
  return { event_id: eventId, event, ts, received_at: ts, schema_version: 1, user_id: userId };
}

/** user_action rows → Parquet bytes through the schema's Arrow mapping, as the writer encodes them. */
export function userActionParquet(rows: Record<string, unknown>[]): Uint8Array {
  const ipc = tableToIPC(toArrowTable(registry().columns('user_action'), rows), 'stream');
  return writeParquet(Table.fromIPCStream(ipc));
}

/** The lake object name for a file of user_action rows (partition from the first row's ts). */
export function objectNameFor(rows: Record<string, unknown>[], file: string): string {
  return `${partitionPrefix(partitionOf('user_action', String(rows[0]!.ts)))}${file}.parquet`;
}

export const NOT_LAKE_OBJECTS = [`${LAKE_ROOT}/README.txt`, `${LAKE_ROOT}/log_type=user_action/dt=2025-03-01/hr=10/_tmp.json`];

export interface CountRow {
  partition: string;
  event: string;
  events: number;
  users: number | null;
  updated_at: string;
}

/** Every rollup row, in key order, with dt as text and counts as numbers. */
export async function readCounts(db: pg.Pool | pg.Client): Promise<CountRow[]> {
  const { rows } = await db.query<{ partition: string; event: string; events: string; users: string | null; updated_at: string }>(
    `select log_type || '/' || dt::text || '/' || lpad(hr::text, 2, '0') as partition, event, events, users, updated_at::text as updated_at
     from hourly_event_counts order by log_type, dt, hr, event`,
  );
  return rows.map((r) => ({ ...r, events: Number(r.events), users: r.users === null ? null : Number(r.users) }));
}

/** The partitions the store remembers, in key order. */
export async function readCurated(db: pg.Pool | pg.Client): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>(
    `select log_type || '/' || dt::text || '/' || lpad(hr::text, 2, '0') as key from curator_partitions order by 1`,
  );
  return rows.map((r) => r.key);
}

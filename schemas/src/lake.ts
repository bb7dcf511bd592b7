import { toMillis } from './timestamps.js';

/**
 * The lake's layout, shared by the writer (writes), curator (lists) and query tool (reads):
 * `events/log_type=<t>/dt=<YYYY-MM-DD>/hr=<HH>/<unique>.parquet`, hive-style so BigQuery external
 * tables and DuckDB both read the partition keys from the path. Partitions follow the event's own
 * `ts` in UTC (event time, not arrival time).
 */
export const LAKE_ROOT = 'events';

export interface Partition {
  logType: string;
  dt: string;
  hr: string;
}

export function partitionOf(logType: string, ts: string): Partition {
  const iso = new Date(toMillis(ts)).toISOString();
  return { logType, dt: iso.slice(0, 10), hr: iso.slice(11, 13) };
}

export function partitionPrefix(p: Partition): string {
  return `${LAKE_ROOT}/log_type=${p.logType}/dt=${p.dt}/hr=${p.hr}/`;
}

export function partitionKey(p: Partition): string {
  return `${p.logType}/${p.dt}/${p.hr}`;
}

const OBJECT = /^events\/log_type=([a-z][a-z0-9_]*)\/dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\/[^/]+\.parquet$/;

/** The partition an object belongs to, or undefined for anything that is not a lake Parquet file. */
export function parseObjectName(name: string): Partition | undefined {
  const match = OBJECT.exec(name);
  if (!match) return undefined;
  return { logType: match[1]!, dt: match[2]!, hr: match[3]! };
}

import { toMillis } from './timestamps.js';

/**
 * The lake's layout, shared by the writer (writes), curator (lists) and query tool (reads):
 * `events/log_type=<t>/dt=<YYYY-MM-DD>/hr=<HH>/<unique>.parquet`, hive-style so BigQuery external
 * tables and DuckDB both read the partition keys from the path. Partitions follow the event's own
 * `ts` in UTC (event time, not arrival time).
 */
export const LAKE_ROOT = 'events';

/** Every Parquet object Strata writes, in any zone. */
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/** Every JSON-lines object Strata writes (quarantine, dead letters): one JSON record per line. */
export const JSON_LINES_CONTENT_TYPE = 'application/x-ndjson';

/**
 * The curated zone: each rollup's rows as Parquet, `curated/<rollup>/dt=<YYYY-MM-DD>/<log type>.parquet`,
 * one object per rollup, day and log type, rewritten whenever the curator recomputes that day.
 * Hive-style dt, so BigQuery external tables and DuckDB read it from the path.
 */
export const CURATED_ROOT = 'curated';

export function curatedObjectName(rollup: string, dt: string, logType: string): string {
  return `${CURATED_ROOT}/${rollup}/dt=${dt}/${logType}.parquet`;
}

/** Where rejected events are filed with their reasons (see the writer's quarantine). */
export const QUARANTINE_ROOT = 'quarantine';

/**
 * Where the writer files the messages Pub/Sub dead-lettered (it gave up delivering them), one JSON
 * line per message with its attributes, PII protected like quarantine: the lake, not the
 * dead-letter topic, is where they wait to be fixed and replayed (services/writer/src/dead-letter.ts).
 */
export const DEAD_LETTER_ROOT = 'dead-letter';

/**
 * Where replay (services/curator/src/replay.ts) marks what it has republished: one JSON object per
 * record file, `replayed/<zone>/<the file's name below its zone>.json`, listing the records sent
 * and when, so a second replay does not send them again. Markers hold ids and times, no event data.
 */
export const REPLAYED_ROOT = 'replayed';

/**
 * How long each zone stays in which storage class: infra turns this into the bucket's lifecycle
 * rules. Raw events cool down (queries of old days are rare, and BigQuery reads every class);
 * quarantine and dead letters are kept long enough to fix a schema and replay, then deleted; curated files are small
 * and read by dashboards, so they stay Standard. Rollups in PostgreSQL have their own retention
 * (ROLLUP_RETENTION_DAYS): the lake's lifecycle never deletes a figure.
 */
export interface ZoneLifecycle {
  prefix: string;
  /** Days after creation → storage class. */
  transitions: Array<{ afterDays: number; storageClass: 'NEARLINE' | 'COLDLINE' | 'ARCHIVE' }>;
  /** Days after creation when objects are deleted; undefined keeps them. */
  deleteAfterDays?: number;
}

export const LAKE_ZONES: readonly ZoneLifecycle[] = [
  {
    prefix: `${LAKE_ROOT}/`,
    transitions: [
      { afterDays: 30, storageClass: 'NEARLINE' },
      { afterDays: 90, storageClass: 'COLDLINE' },
      { afterDays: 365, storageClass: 'ARCHIVE' },
    ],
  },
  { prefix: `${QUARANTINE_ROOT}/`, transitions: [{ afterDays: 30, storageClass: 'NEARLINE' }], deleteAfterDays: 90 },
  { prefix: `${DEAD_LETTER_ROOT}/`, transitions: [{ afterDays: 30, storageClass: 'NEARLINE' }], deleteAfterDays: 90 },
  // A marker is written after its record file, so it outlives the file it describes.
  { prefix: `${REPLAYED_ROOT}/`, transitions: [], deleteAfterDays: 90 },
  { prefix: `${CURATED_ROOT}/`, transitions: [] },
];

export interface Partition {
  logType: string;
  dt: string;
  hr: string;
}

export function partitionOf(logType: string, ts: string): Partition {
  const iso = new Date(toMillis(ts)).toISOString();
  return { logType, dt: iso.slice(0, 10), hr: iso.slice(11, 13) };
}

/** Where a log type's objects are, then one day of them, then one hour (the partition). */
export function logTypePrefix(logType: string): string {
  return `${LAKE_ROOT}/log_type=${logType}/`;
}

export function dayPrefix(logType: string, dt: string): string {
  return `${logTypePrefix(logType)}dt=${dt}/`;
}

export function partitionPrefix(p: Partition): string {
  return `${dayPrefix(p.logType, p.dt)}hr=${p.hr}/`;
}

export function partitionKey(p: Partition): string {
  return `${p.logType}/${p.dt}/${p.hr}`;
}

const OBJECT = /^events\/log_type=([a-z][a-z0-9_]*)\/dt=(\d{4}-\d{2}-\d{2})\/hr=([01]\d|2[0-3])\/[^/]+\.parquet$/;

/** Whether YYYY-MM-DD is a date of the calendar (not 2025-02-30). */
const isCalendarDate = (dt: string): boolean => {
  const [y, m, d] = dt.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  // Date.UTC maps years 0–99 to 1900–1999: set the full year explicitly.
  date.setUTCFullYear(y);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
};

/**
 * The partition an object belongs to, or undefined for anything that is not a lake Parquet file.
 * A stray name with hour 24 or 2025-02-30 is not a partition: the curator would fail on it forever.
 */
export function parseObjectName(name: string): Partition | undefined {
  const match = OBJECT.exec(name);
  if (!match || !isCalendarDate(match[2]!)) return undefined;
  return { logType: match[1]!, dt: match[2]!, hr: match[3]! };
}

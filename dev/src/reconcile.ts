import { readFileSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openLake } from './query.js';

/**
 * Every accepted event_id against the local lake (`<dataDir>/gcs/<bucket>/events/`), in DuckDB:
 * the check behind "a 2xx means durable" for the soak run, the chaos test and the benchmark.
 */
export interface Reconciliation {
  /** Distinct event_ids the producer was told were accepted. */
  accepted: number;
  /** Of those, the ones in the lake (under any log type). */
  inLake: number;
  /** accepted − inLake: acknowledged, and not in the lake. */
  lost: number;
  /** Lake rows − distinct event_ids in the lake: the copies at-least-once delivery (and producer retries) left. */
  duplicatesRaw: number;
  /**
   * The same count over the `<log_type>_deduped` views `npm run query` and the rollups read: 0
   * unless the dedup is broken or one event_id sits under two log types (which it cannot merge).
   */
  duplicatesAfterDedup: number;
  /** Distinct event_ids in the lake that were never accepted (e.g. a batch published in part, then given up on). */
  unaccepted: number;
}

/** The ids a producer appended to a file, one a line (the benchmark's and the soak's producers do). */
export function readIdsFile(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

/** `acceptedIds` may repeat an id (a producer's retry of an accepted batch); it counts once. */
export async function reconcile(acceptedIds: Iterable<string>, dataDir: string): Promise<Reconciliation> {
  const lake = await openLake(dataDir);
  try {
    const { conn, logTypes } = lake;
    await loadIds(conn, acceptedIds);
    const union = (suffix: string) =>
      logTypes.length === 0
        ? 'select null::varchar as event_id where false'
        : logTypes.map((t) => `select event_id from "${t}${suffix}"`).join(' union all ');
    await conn.run(`create table lake_ids as ${union('')}`);
    await conn.run(`create view deduped_ids as ${union('_deduped')}`);
    const result = await conn.runAndReadAll(`
      with lake_distinct as (select distinct event_id from lake_ids)
      select
        (select count(*) from accepted)::double,
        (select count(*) from accepted semi join lake_distinct using (event_id))::double,
        (select count(*) - count(distinct event_id) from lake_ids)::double,
        (select count(*) - count(distinct event_id) from deduped_ids)::double,
        (select count(*) from lake_distinct anti join accepted using (event_id))::double`);
    const [accepted, inLake, duplicatesRaw, duplicatesAfterDedup, unaccepted] = (result.getRowsJS()[0] ?? []).map(Number) as number[];
    return { accepted: accepted!, inLake: inLake!, lost: accepted! - inLake!, duplicatesRaw: duplicatesRaw!, duplicatesAfterDedup: duplicatesAfterDedup!, unaccepted: unaccepted! };
  } finally {
    lake.close();
  }
}

/** The ids into a table of distinct ids `accepted(event_id)`, through the appender: a soak accepts millions. */
async function loadIds(conn: DuckDBConnection, ids: Iterable<string>): Promise<void> {
  await conn.run('create table accepted_raw (event_id varchar)');
  const appender = await conn.createAppender('accepted_raw');
  try {
    for (const id of ids) {
      appender.appendVarchar(id);
      appender.endRow();
    }
  } finally {
    appender.closeSync();
  }
  await conn.run('create table accepted as select distinct event_id from accepted_raw');
}

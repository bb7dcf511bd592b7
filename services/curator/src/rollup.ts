import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { ENVELOPE } from '@strata/schemas';

/** One rollup row of a partition. */
export interface EventCount {
  event: string;
  /** Distinct event_id: Pub/Sub delivers at least once, so a file may repeat an event another holds. */
  events: number;
  /** Rows read, duplicates included (rows - events = duplicates removed). */
  rows: number;
  /** Distinct user_id; null when the log type has no user_id column. */
  users: number | null;
}

export type RollupResult = { ok: true; counts: EventCount[] } | { ok: false; reason: string };

export interface Rollup {
  /** Counts events in one partition's Parquet files (local paths). */
  countEvents(files: string[]): Promise<RollupResult>;
  close(): void;
}

/**
 * DuckDB in memory, one instance per run. `union_by_name` reads files written under different
 * schema versions of a log type together; hive_partitioning is off because the downloaded files'
 * local paths carry no partition keys (the partition is known from the object names).
 */
export async function openDuckDbRollup(): Promise<Rollup> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const source = 'read_parquet($files, union_by_name = true, hive_partitioning = false)';
  return {
    async countEvents(files) {
      if (files.length === 0) return { ok: true, counts: [] };
      const values = { files: listValue(files) };
      const described = await connection.runAndReadAll(`select column_name from (describe select * from ${source})`, values);
      const columns = new Set(described.getRowObjectsJS().map((row) => String(row.column_name)));
      const { event, eventId, userId } = ENVELOPE;
      const missing = [event, eventId].filter((c) => !columns.has(c));
      if (missing.length > 0) return { ok: false, reason: `the Parquet files have no ${missing.join(' or ')} column` };
      const users = columns.has(userId) ? `count(distinct ${userId})` : 'null::bigint';
      const reader = await connection.runAndReadAll(
        `select ${event} as event, count(distinct ${eventId}) as events, count(*) as rows, ${users} as users
         from ${source} where ${event} is not null group by 1 order by 1`,
        values,
      );
      return {
        ok: true,
        counts: reader.getRowObjectsJS().map((row) => ({
          event: String(row.event),
          events: Number(row.events),
          rows: Number(row.rows),
          users: row.users === null ? null : Number(row.users),
        })),
      };
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

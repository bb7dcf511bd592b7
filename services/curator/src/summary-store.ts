import type pg from 'pg';
import { partitionKey, type Partition } from '@strata/schemas';
import type { StoredPartition } from './partitions.js';
import type { EventCount } from './rollup.js';

/** The summary tables, seen from one run's PostgreSQL session. */
export interface CurationSession {
  storedPartitions(): Promise<Map<string, StoredPartition>>;
  /** Writes a partition's rollup and fingerprint in one transaction; returns the rows written. */
  replacePartition(stored: StoredPartition, counts: EventCount[]): Promise<number>;
  /** Deletes a partition's rollup and fingerprint in one transaction. */
  removePartition(partition: Partition): Promise<void>;
}

export type LockedRun<T> = { acquired: true; value: T } | { acquired: false };

export interface SummaryStore {
  /**
   * Runs `fn` on one session that holds the curator's advisory lock, or reports the lock taken by
   * another run (another request, another Cloud Run instance). A session-level lock is released by
   * PostgreSQL when the connection drops, so a crashed run cannot wedge the next ones.
   */
  withRunLock<T>(fn: (session: CurationSession) => Promise<T>): Promise<LockedRun<T>>;
}

/** pg_try_advisory_lock key for curation runs ('strata' in ASCII; node-pg-migrate uses its own). */
export const CURATOR_LOCK_KEY = 0x737472617461;

const UPSERT_COUNTS = `
  insert into hourly_event_counts as h (log_type, dt, hr, event, events, users, updated_at)
  select $1, $2::date, $3::smallint, c.event, c.events, c.users, now()
  from unnest($4::text[], $5::bigint[], $6::bigint[]) as c(event, events, users)
  on conflict (log_type, dt, hr, event) do update
    set events = excluded.events, users = excluded.users, updated_at = excluded.updated_at
    -- A rerun over the same files writes nothing, so updated_at says when a figure last changed.
    where (h.events, h.users) is distinct from (excluded.events, excluded.users)`;

const DELETE_GONE_EVENTS = `
  delete from hourly_event_counts
  where log_type = $1 and dt = $2::date and hr = $3::smallint and event <> all($4::text[])`;

const UPSERT_PARTITION = `
  insert into curator_partitions (log_type, dt, hr, fingerprint, object_count, curated_at)
  values ($1, $2::date, $3::smallint, $4, $5, now())
  on conflict (log_type, dt, hr) do update
    set fingerprint = excluded.fingerprint, object_count = excluded.object_count, curated_at = excluded.curated_at`;

async function inTransaction(client: pg.PoolClient, work: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await work();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

function keyParams(p: Partition): [string, string, number] {
  return [p.logType, p.dt, Number(p.hr)];
}

function sessionOn(client: pg.PoolClient): CurationSession {
  return {
    async storedPartitions() {
      // dt as text: pg would turn a date into a local-time JS Date.
      const { rows } = await client.query<{ log_type: string; dt: string; hr: number; fingerprint: string; object_count: number }>(
        'select log_type, dt::text as dt, hr, fingerprint, object_count from curator_partitions',
      );
      const stored = new Map<string, StoredPartition>();
      for (const row of rows) {
        const partition = { logType: row.log_type, dt: row.dt, hr: String(row.hr).padStart(2, '0') };
        stored.set(partitionKey(partition), { partition, fingerprint: row.fingerprint, objectCount: row.object_count });
      }
      return stored;
    },
    async replacePartition({ partition, fingerprint, objectCount }, counts) {
      const key = keyParams(partition);
      const events = counts.map((c) => c.event);
      await inTransaction(client, async () => {
        await client.query(UPSERT_COUNTS, [...key, events, counts.map((c) => c.events), counts.map((c) => c.users)]);
        await client.query(DELETE_GONE_EVENTS, [...key, events]);
        await client.query(UPSERT_PARTITION, [...key, fingerprint, objectCount]);
      });
      return counts.length;
    },
    async removePartition(partition) {
      const key = keyParams(partition);
      await inTransaction(client, async () => {
        await client.query('delete from hourly_event_counts where log_type = $1 and dt = $2::date and hr = $3::smallint', key);
        await client.query('delete from curator_partitions where log_type = $1 and dt = $2::date and hr = $3::smallint', key);
      });
    },
  };
}

/**
 * The store over a pg pool. A run checks out ONE client, takes the lock on it and does all its
 * work there, so it needs a single connection: that is what lets the local stack run it against
 * PGlite with DATABASE_POOL_MAX=1 (PGlite is one shared session, where advisory locks cannot tell
 * runs apart; a pool of one queues the second run behind the first instead).
 */
export function createPgSummaryStore(pool: pg.Pool): SummaryStore {
  return {
    async withRunLock(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [CURATOR_LOCK_KEY]);
        if (!rows[0]?.locked) return { acquired: false };
        try {
          return { acquired: true, value: await fn(sessionOn(client)) };
        } finally {
          await client.query('select pg_advisory_unlock($1)', [CURATOR_LOCK_KEY]).catch((err: Error) => {
            // Cannot tell whether the lock is still held: drop the connection, which releases it.
            broken = err;
          });
        }
      } catch (err) {
        broken ??= err as Error;
        throw err;
      } finally {
        client.release(broken);
      }
    },
  };
}

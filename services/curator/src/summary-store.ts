import type pg from 'pg';
import { hasLogTypeKey, partitionKey, rollupColumns, rollupKeys, type Partition, type RollupDeclaration } from '@strata/schemas';
import type { StoredPartition } from './partitions.js';
import type { RollupRow } from './rollup.js';

/** One day of one log type, as the curator writes it back. */
export interface DayWrite {
  logType: string;
  dt: string;
  /** The day's hours as listed now: their fingerprints are stored with the figures. */
  hours: StoredPartition[];
  /** Hours curated before whose files have all gone (retention): their rows are kept as they are. */
  vanishedHours: string[];
  rollups: Array<{ rollup: RollupDeclaration; rows: RollupRow[] }>;
}

/** The summary tables, seen from one run's PostgreSQL session. */
export interface CurationSession {
  /** What was curated for days from fromDt (the window a run looks at) to toDt, keyed by partitionKey. */
  storedPartitions(fromDt: string, toDt?: string): Promise<Map<string, StoredPartition>>;
  /**
   * Marks the day's stored hours RECOMPUTE, so the next run recomputes it (its curated files failed
   * to upload; an erasure is rewriting it).
   */
  forgetDay(logType: string, dt: string): Promise<void>;
  /**
   * Deletes what is stored about these hours, so a recomputation of the day sees them as never
   * curated, not as expired (whose figures it would keep): an erasure left them with no files.
   */
  forgetHours(logType: string, dt: string, hours: string[]): Promise<void>;
  /**
   * A lock on one day of one log type, so instances sharing a backlog never work on the same day
   * at once. Released by unlockDay, or by PostgreSQL when the connection drops.
   */
  tryLockDay(logType: string, dt: string): Promise<boolean>;
  unlockDay(logType: string, dt: string): Promise<void>;
  /** The day's rollup rows and hour fingerprints, in one transaction; returns the rows written. */
  writeDay(day: DayWrite): Promise<number>;
  /** Deletes rollup rows older than the retention (days); the lake's own lifecycle never touches them. */
  pruneRollups(rollups: readonly RollupDeclaration[], retentionDays: number): Promise<number>;
}

export interface SummaryStore {
  /** Runs `fn` on one session (one connection for the whole run: the day locks live on it). */
  withSession<T>(fn: (session: CurationSession) => Promise<T>): Promise<T>;
}

/** The fingerprint forgetDay stores: no listing has it, so every hour of the day is "changed". */
export const RECOMPUTE = 'recompute';

/** pg advisory lock namespace for curation ('strt' in ASCII); the second key is hashtext of the day. */
export const CURATOR_LOCK_NAMESPACE = 0x73747274;

const UPSERT_PARTITIONS = `
  insert into curator_partitions (log_type, dt, hr, fingerprint, object_count, curated_at)
  select $1, $2::date, p.hr, p.fingerprint, p.object_count, now()
  from unnest($3::smallint[], $4::text[], $5::integer[]) as p(hr, fingerprint, object_count)
  on conflict (log_type, dt, hr) do update
    set fingerprint = excluded.fingerprint, object_count = excluded.object_count, curated_at = excluded.curated_at`;

/**
 * Upsert of a rollup's rows from one JSON parameter (json_populate_recordset casts each field to its
 * column's type), then removal of the rows of the same scope that the recomputation no longer has
 * (an event name that vanished after dedup). A rerun over the same files writes nothing: updated_at
 * says when a figure last changed.
 */
function rollupStatements(rollup: RollupDeclaration): { upsert: string; prune: string } {
  const columns = rollupColumns(rollup);
  const keys = rollupKeys(rollup);
  const measures = columns.filter((c) => !c.key).map((c) => c.name);
  const all = columns.map((c) => c.name);
  const rows = `json_populate_recordset(null::${rollup.name}, $1::json)`;
  const upsert = `
    insert into ${rollup.name} as t (${all.join(', ')}, updated_at)
    select ${all.join(', ')}, now() from ${rows}
    on conflict (${keys.join(', ')}) do update
      set ${measures.map((m) => `${m} = excluded.${m}`).join(', ')}, updated_at = excluded.updated_at
      where (${measures.map((m) => `t.${m}`).join(', ')}) is distinct from (${measures.map((m) => `excluded.${m}`).join(', ')})`;
  // $2 the log type, $3 the day, $4 the hours to leave alone. Every statement takes all four so one
  // call fits every rollup; a parameter a table has no use for is still typed (PostgreSQL must know
  // each parameter's type) in a condition that always holds.
  const scope = [
    hasLogTypeKey(rollup) ? 't.log_type = $2' : '$2::text is not null',
    't.dt = $3::date',
    rollup.grain === 'hour' ? 't.hr <> all($4::smallint[])' : 'cardinality($4::smallint[]) >= 0',
  ];
  const prune = `
    delete from ${rollup.name} t
    where ${scope.join(' and ')}
      and not exists (select 1 from ${rows} r where ${keys.map((k) => `r.${k} = t.${k}`).join(' and ')})`;
  return { upsert, prune };
}

async function inTransaction<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const result = await work();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

const dayKey = (logType: string, dt: string) => `${logType}/${dt}`;

function sessionOn(client: pg.PoolClient): CurationSession {
  const statements = new Map<string, { upsert: string; prune: string }>();
  const statementsOf = (rollup: RollupDeclaration) => {
    let s = statements.get(rollup.name);
    if (!s) statements.set(rollup.name, (s = rollupStatements(rollup)));
    return s;
  };
  return {
    async storedPartitions(fromDt, toDt = '9999-12-31') {
      // dt as text: pg would turn a date into a local-time JS Date.
      const { rows } = await client.query<{ log_type: string; dt: string; hr: number; fingerprint: string; object_count: number; curated_at: string }>(
        `select log_type, dt::text as dt, hr, fingerprint, object_count, curated_at::text as curated_at
         from curator_partitions where dt between $1::date and $2::date`,
        [fromDt, toDt],
      );
      const stored = new Map<string, StoredPartition>();
      for (const row of rows) {
        const partition: Partition = { logType: row.log_type, dt: row.dt, hr: String(row.hr).padStart(2, '0') };
        stored.set(partitionKey(partition), { partition, fingerprint: row.fingerprint, objectCount: row.object_count, curatedAt: row.curated_at });
      }
      return stored;
    },
    async forgetDay(logType, dt) {
      // Keep the rows (their object counts say which hours vanished); a fingerprint no listing has
      // makes every hour of the day "changed".
      await client.query(`update curator_partitions set fingerprint = $3 where log_type = $1 and dt = $2::date`, [logType, dt, RECOMPUTE]);
    },
    async forgetHours(logType, dt, hours) {
      await client.query('delete from curator_partitions where log_type = $1 and dt = $2::date and hr = any($3::smallint[])', [logType, dt, hours.map(Number)]);
    },
    async tryLockDay(logType, dt) {
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as locked', [CURATOR_LOCK_NAMESPACE, dayKey(logType, dt)]);
      return rows[0]?.locked === true;
    },
    async unlockDay(logType, dt) {
      await client.query('select pg_advisory_unlock($1, hashtext($2))', [CURATOR_LOCK_NAMESPACE, dayKey(logType, dt)]);
    },
    async writeDay({ logType, dt, hours, vanishedHours, rollups }) {
      const keep = vanishedHours.map(Number);
      return inTransaction(client, async () => {
        let written = 0;
        for (const { rollup, rows } of rollups) {
          const { upsert, prune } = statementsOf(rollup);
          // An hour whose files have gone keeps the rows it had: the recomputation cannot see it.
          const kept = rollup.grain === 'hour' ? rows.filter((r) => !keep.includes(Number(r.hr))) : rows;
          const json = JSON.stringify(kept);
          await client.query(upsert, [json]);
          await client.query(prune, [json, logType, dt, keep]);
          written += kept.length;
        }
        await client.query(UPSERT_PARTITIONS, [logType, dt, hours.map((h) => Number(h.partition.hr)), hours.map((h) => h.fingerprint), hours.map((h) => h.objectCount)]);
        return written;
      });
    },
    async pruneRollups(rollups, retentionDays) {
      let deleted = 0;
      for (const rollup of rollups) {
        const result = await client.query(`delete from ${rollup.name} where dt < current_date - $1::integer`, [retentionDays]);
        deleted += result.rowCount ?? 0;
      }
      return deleted;
    },
  };
}

/**
 * The store over a pg pool. A run checks out ONE client and does all its work there, so it needs
 * a single connection: that is what lets the local stack run it against PGlite with
 * DATABASE_POOL_MAX=1 (PGlite is one shared session, where advisory locks cannot tell runs apart;
 * a pool of one queues the second run behind the first instead).
 */
export function createPgSummaryStore(pool: pg.Pool): SummaryStore {
  return {
    async withSession(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client whose server goes away (a restart, a failover) emits 'error'; the pool
      // listens only on idle ones, and an unheard 'error' would end the process. The query in
      // flight rejects as well, so the run fails with a 500 and Scheduler retries it.
      const onError = (err: Error) => (broken ??= err);
      client.on('error', onError);
      try {
        return await fn(sessionOn(client));
      } catch (err) {
        // A failed query may leave the session in an unknown state (a lock held, a transaction
        // open): drop the connection rather than return it to the pool.
        broken = err as Error;
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
  };
}
